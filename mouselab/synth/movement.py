"""Whole pointing movements from a per-trial specification, with two kinematic kernels (pure, seeded).

A movement is specified per trial by a :class:`MovementSpec` — the same observable quantities that
:mod:`mouselab.synth.describe` measures on real data: initiation latency, movement time, dwell on the
target, lateral deviation of the path (and where it peaks), the reach of the primary submovement
(undershoot < 1 < overshoot), where the speed peaks, up to two hesitations (duration and position) and the
final position inside the target. :func:`generate_movements` turns a spec into waypoints along a curved
base path, plans one submovement per leg and renders them with either kernel:

* ``"lognormal"`` — sigma-lognormal strokes (:mod:`mouselab.synth.lognormal`, Plamondon 1995); the log-
  response time ``sigma`` of every stroke follows from the spec's ``peak_fraction``;
* ``"minjerk"`` — minimum-jerk submovements (:mod:`mouselab.synth.kinematics`, Flash & Hogan 1985).

Legs without a hesitation overlap (the next starts after ``blend`` × the previous leg's duration), so the
path is smooth; after a hesitation the next leg starts only when the pause is over (the cursor is still).
The leg after the primary submovement is the correction (Meyer et al. 1988). Execution noise is signal
dependent (:func:`mouselab.synth.kinematics.perturb`) and samples are polled like a recorder
(:func:`mouselab.synth.kinematics.sample_times`), rounded to integer pixels.

:class:`MovementParams` is a parametric population (Fitts' law, log-normal latencies and pauses, Poisson
hesitations, Gaussian deviations …) that draws specs; :class:`mouselab.synth.calibrate.Calibration` draws
them from trials fitted to real data. Both feed :func:`generate_movements`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import polars as pl

from mouselab.synth.describe import PAUSE_SLOTS, mirror_normal
from mouselab.synth.kinematics import VIA, SubmovementPlan, perturb, rng_from, sample_times, superpose
from mouselab.synth.lognormal import SUPPORT, StrokePlan, sigma_for_peak_fraction, stroke_between, superpose_strokes

__all__ = [
    "GEOMETRY_COLUMNS",
    "KERNELS",
    "MovementParams",
    "MovementSpec",
    "Recording",
    "fitts_id",
    "generate_movements",
    "plan_legs",
    "reported_times",
]

#: Kinematic kernels of :func:`generate_movements`.
KERNELS = ("lognormal", "minjerk")
#: Columns of a geometry frame: where each movement starts, where it is aimed and the target size (px).
GEOMETRY_COLUMNS = ("start_x", "start_y", "aim_x", "aim_y", "target_w", "target_h")
_KEY = ("study", "participant", "session", "trial")


def fitts_id(amplitude_px, width_px) -> np.ndarray:
    """Fitts' index of difficulty, Shannon formulation ``log2(1 + A/W)`` (bits; MacKenzie 1992)."""
    a = np.abs(np.asarray(amplitude_px, dtype=float))
    w = np.asarray(width_px, dtype=float)
    return np.log2(1.0 + a / w)


@dataclass(frozen=True)
class Recording:
    """How samples are recorded and how noisy the hand is.

    rate_hz, jitter_sd_ms, drop_prob, resolution_ms : polling recorder (:func:`~mouselab.synth.kinematics.sample_times`).
    device_hz : report rate of the pointing device (Hz; USB mice commonly 125). The recorder sees the position
        of the latest report, so polling at ``rate_hz`` aliases against it: at 100 Hz with a 125 Hz mouse
        every fourth step spans two reports and is twice as long — a pattern plainly visible in real
        mouse-tracking data. ``None``: the position is read continuously.
    sdn_coef, const_noise_px_per_ms, noise_smoothing_ms : execution noise (:func:`~mouselab.synth.kinematics.perturb`).
    """

    rate_hz: float = 60.0
    jitter_sd_ms: float = 1.0
    drop_prob: float = 0.005
    resolution_ms: float | None = 1.0
    device_hz: float | None = None
    sdn_coef: float = 0.03
    const_noise_px_per_ms: float = 0.03
    noise_smoothing_ms: float = 30.0


@dataclass(frozen=True)
class MovementSpec:
    """Per-trial specification of ``n`` movements; every field is an (n,) float array.

    ``pause1…4_ms`` / ``pause1…4_at`` are NaN (or 0 ms) for absent hesitations; ``end_dx`` / ``end_dy`` are the
    final position relative to the target centre in half-widths / half-heights (NaN: the centre).
    ``movement_ms`` includes the hesitations. See :mod:`mouselab.synth.describe` for the definitions.
    """

    latency_ms: np.ndarray
    movement_ms: np.ndarray
    dwell_ms: np.ndarray
    deviation: np.ndarray
    deviation_at: np.ndarray
    primary_gain: np.ndarray
    peak_fraction: np.ndarray
    speed_ratio: np.ndarray
    pause1_ms: np.ndarray
    pause1_at: np.ndarray
    pause2_ms: np.ndarray
    pause2_at: np.ndarray
    pause3_ms: np.ndarray
    pause3_at: np.ndarray
    pause4_ms: np.ndarray
    pause4_at: np.ndarray
    end_dx: np.ndarray
    end_dy: np.ndarray
    blend: np.ndarray

    @property
    def n_trials(self) -> int:
        return int(np.asarray(self.latency_ms).shape[0])

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, *, blend: float = 0.65) -> "MovementSpec":
        """A spec from a frame with the descriptor columns (e.g. :func:`~mouselab.synth.describe.describe_movements`)."""
        out = {}
        for name in cls.names():
            if name in frame.columns:
                out[name] = frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy().copy()
            elif name == "blend":
                out[name] = np.full(frame.height, blend)
            else:
                out[name] = np.full(frame.height, np.nan)
        return cls(**out)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame({k: np.asarray(v, dtype=float) for k, v in asdict(self).items()})

    def take(self, index) -> "MovementSpec":
        idx = np.asarray(index, dtype=int)
        return MovementSpec(**{k: np.asarray(v)[idx] for k, v in asdict(self).items()})


@dataclass(frozen=True)
class MovementParams:
    """A parametric population of movements; :meth:`specs` draws a :class:`MovementSpec` for a geometry.

    Times in ms, deviations and gains as fractions of the amplitude (see :mod:`mouselab.synth.describe`).
    The moving time (movement time without hesitations) follows Fitts' law ``a + b·log2(1 + A/W)`` with
    log-normal trial noise ``mt_sd_log``; ``W`` is ``min(target_w, target_h)`` or ``default_width_px``.
    """

    fitts_a_ms: float = 150.0
    fitts_b_ms: float = 140.0
    mt_sd_log: float = 0.15
    latency_median_ms: float = 350.0
    latency_sd_log: float = 0.35
    dwell_median_ms: float = 150.0
    dwell_sd_log: float = 0.4
    deviation_mean: float = 0.0
    deviation_sd: float = 0.06
    deviation_at_mean: float = 0.45
    deviation_at_sd: float = 0.1
    primary_gain_mean: float = 0.95
    primary_gain_sd: float = 0.05
    peak_fraction_mean: float = 0.45
    peak_fraction_sd: float = 0.05
    speed_ratio_mean: float = float("nan")  # NaN: the lognormal kernel's default window (SUPPORT)
    speed_ratio_sd: float = 0.0
    pause_rate: float = 0.2
    pause_median_ms: float = 200.0
    pause_sd_log: float = 0.4
    endpoint_sd: float = 0.3
    blend: float = 0.65
    default_width_px: float = 100.0
    recording: Recording = Recording()

    def specs(self, geometry: pl.DataFrame, *, seed: int | np.random.Generator) -> MovementSpec:
        """Draw one spec per row of ``geometry`` (:data:`GEOMETRY_COLUMNS`)."""
        rng = rng_from(seed)
        start, aim, size = geometry_arrays(geometry)
        n = start.shape[0]
        width = np.where(np.isfinite(size).all(axis=1), np.nanmin(np.where(np.isfinite(size), size, np.inf), axis=1),
                         self.default_width_px)
        amp = np.hypot(*(aim - start).T)
        moving = (self.fitts_a_ms + self.fitts_b_ms * fitts_id(amp, width)) * np.exp(rng.normal(0, self.mt_sd_log, n))
        k = PAUSE_SLOTS
        n_pause = np.minimum(rng.poisson(self.pause_rate, n), k)
        p_ms = self.pause_median_ms * np.exp(rng.normal(0, self.pause_sd_log, (n, k)))
        p_at = np.sort(rng.uniform(0.15, 0.85, (n, k)), axis=1)
        has = np.arange(k)[None, :] < n_pause[:, None]
        p_ms = np.where(has, p_ms, np.nan)
        p_at = np.where(has, p_at, np.nan)
        pauses = {f"pause{j + 1}_{w}": a[:, j] for j in range(k) for w, a in (("ms", p_ms), ("at", p_at))}
        return MovementSpec(
            latency_ms=self.latency_median_ms * np.exp(rng.normal(0, self.latency_sd_log, n)),
            movement_ms=moving + np.nansum(p_ms, axis=1),
            dwell_ms=self.dwell_median_ms * np.exp(rng.normal(0, self.dwell_sd_log, n)),
            deviation=rng.normal(self.deviation_mean, self.deviation_sd, n),
            deviation_at=np.clip(rng.normal(self.deviation_at_mean, self.deviation_at_sd, n), 0.05, 0.95),
            primary_gain=rng.normal(self.primary_gain_mean, self.primary_gain_sd, n),
            peak_fraction=np.clip(rng.normal(self.peak_fraction_mean, self.peak_fraction_sd, n), 0.15, 0.85),
            speed_ratio=np.clip(rng.normal(self.speed_ratio_mean, self.speed_ratio_sd, n), 1.0, 12.0),
            **pauses,
            end_dx=np.clip(rng.normal(0, self.endpoint_sd, n), -0.9, 0.9),
            end_dy=np.clip(rng.normal(0, self.endpoint_sd, n), -0.9, 0.9),
            blend=np.full(n, self.blend),
        )

    def replace(self, **changes) -> "MovementParams":
        return replace(self, **changes)


def reported_times(t_ms: np.ndarray, *, device_hz: float | None, seed: int | np.random.Generator) -> np.ndarray:
    """Times of the latest device report at each sample time ``t_ms`` (n, L): what a poller actually reads.

    Each row gets a random report phase; ``device_hz=None`` returns ``t_ms`` unchanged.
    """
    t = np.asarray(t_ms, dtype=float)
    if device_hz is None or device_hz <= 0:
        return t
    period = 1000.0 / device_hz
    phase = rng_from(seed).uniform(0.0, period, (t.shape[0], 1))
    return np.maximum(np.floor((t - phase) / period) * period + phase, t[:, :1])


def geometry_arrays(geometry: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``start``, ``aim`` and ``size`` (n, 2) arrays of a geometry frame (size NaN where unknown)."""
    missing = [c for c in GEOMETRY_COLUMNS[:4] if c not in geometry.columns]
    if missing:
        raise ValueError(f"geometry: missing column(s) {', '.join(missing)}; expected {', '.join(GEOMETRY_COLUMNS)}")

    def col(name):
        if name not in geometry.columns:
            return np.full(geometry.height, np.nan)
        return geometry.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()

    start = np.column_stack([col("start_x"), col("start_y")])
    aim = np.column_stack([col("aim_x"), col("aim_y")])
    size = np.column_stack([col("target_w"), col("target_h")])
    return start, aim, size


# ----------------------------------------------------------------------------------------- legs
@dataclass(frozen=True)
class Legs:
    """Planned legs of ``n`` movements, ``k`` slots: onset, duration (ms), from/to points (px), kinds."""

    start: np.ndarray  # (n, 2)
    onset: np.ndarray  # (n, k)
    duration: np.ndarray  # (n, k); 0 = unused
    p_from: np.ndarray  # (n, k, 2)
    p_to: np.ndarray  # (n, k, 2)
    kinds: tuple[str, ...]
    end_ms: np.ndarray  # (n,) movement end

    @property
    def final(self) -> np.ndarray:
        return self.start + np.where((self.duration > 0)[..., None], self.p_to - self.p_from, 0.0).sum(axis=1)


def _lateral_profile(p: float, peak_at: float) -> float:
    if p <= 0 or p >= 1:
        return 0.0
    return p / peak_at if p <= peak_at else (1.0 - p) / (1.0 - peak_at)


def plan_legs(start, aim, size, spec: MovementSpec, *, max_legs: int = PAUSE_SLOTS + 3) -> Legs:
    """Waypoints and leg timing of each movement (see the module docstring)."""
    n = spec.n_trials
    onset = np.zeros((n, max_legs))
    duration = np.zeros((n, max_legs))
    p_from = np.zeros((n, max_legs, 2))
    p_to = np.zeros((n, max_legs, 2))
    end_ms = np.zeros(n)
    kinds = (VIA,) * max_legs
    s = spec
    p_ms = np.column_stack([getattr(s, f"pause{j}_ms") for j in range(1, PAUSE_SLOTS + 1)])
    p_at = np.column_stack([getattr(s, f"pause{j}_at") for j in range(1, PAUSE_SLOTS + 1)])
    pause_pairs = [list(zip(p_ms[i], p_at[i])) for i in range(n)]
    for i in range(n):
        half = np.where(np.isfinite(size[i]), size[i] / 2.0, 0.0)
        offset = np.array([np.nan_to_num(s.end_dx[i]), np.nan_to_num(s.end_dy[i])]) * half
        final = aim[i] + offset
        chord = final - start[i]
        amp = float(np.hypot(*chord))
        lat = float(max(s.latency_ms[i], 0.0))
        if amp < 1e-9:
            end_ms[i] = lat
            continue
        normal = mirror_normal(chord[None, :])[0]
        dev = float(np.nan_to_num(s.deviation[i]))
        peak_at = float(np.clip(np.nan_to_num(s.deviation_at[i], nan=0.5), 0.05, 0.95))
        gain = float(np.nan_to_num(s.primary_gain[i], nan=1.0))
        gain = float(np.clip(gain, 0.3, 1.3))
        points: list[tuple[float, float]] = []  # (progress, pause after)
        if abs(dev) > 0.005:
            points.append((peak_at, 0.0))
        pause_total = 0.0
        for ms, at in pause_pairs[i]:
            if np.isfinite(ms) and ms > 0:
                at = float(np.clip(np.nan_to_num(at, nan=0.5), 0.02, max(0.03, min(0.98, gain - 0.01))))
                points.append((at, float(ms)))
                pause_total += float(ms)
        has_primary = abs(gain - 1.0) > 0.015
        if has_primary:
            points.append((gain, 0.0))
        points.sort(key=lambda p: p[0])
        merged: list[list[float]] = []
        for p, pause in points:
            if merged and abs(p - merged[-1][0]) < 0.02:
                merged[-1][1] = max(merged[-1][1], pause)
            else:
                merged.append([p, pause])
        merged = merged[: max_legs - 1]
        waypoints = [start[i] + p * chord + dev * amp * _lateral_profile(p, peak_at) * normal for p, _ in merged]
        waypoints.append(final)
        pauses = [m[1] for m in merged] + [0.0]
        pts = np.vstack([start[i][None, :], np.array(waypoints)])
        d = np.hypot(*np.diff(pts, axis=0).T)
        w = np.sqrt(np.maximum(d, 1e-6))
        m = len(d)
        blend = float(np.clip(np.nan_to_num(s.blend[i], nan=0.65), 0.2, 1.0))
        c = np.array([1.0 if (pauses[j] > 0 or j == m - 1) else blend for j in range(m)])
        if has_primary and m >= 2:
            c[m - 2] = max(c[m - 2], 0.8)  # the correction starts late in the primary submovement
        moving = float(max(np.nan_to_num(s.movement_ms[i], nan=500.0) - pause_total, 60.0))
        scale = moving / float(np.sum(c * w))
        dur = scale * w
        t = lat
        for j in range(m):
            onset[i, j], duration[i, j] = t, dur[j]
            p_from[i, j], p_to[i, j] = pts[j], pts[j + 1]
            t = t + c[j] * dur[j] + pauses[j]
        end_ms[i] = max(onset[i, :m].max() + dur[m - 1], (onset[i, :m] + dur[:m]).max())
    return Legs(np.array(start, dtype=float), onset, duration, p_from, p_to, kinds, end_ms)


def lognormal_shape(peak_fraction, speed_ratio) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial ``(sigma, support)`` of lognormal strokes with the wanted peak timing and peakedness.

    ``support`` ``k`` (the visible window is ``±k·sigma`` in log time) follows from the speed ratio
    ``r = v_peak·T/D = 2·sinh(kσ)·e^(σ²/2) / (σ·sqrt(2π))`` and ``sigma`` from the peak fraction at that
    support (:func:`~mouselab.synth.lognormal.sigma_for_peak_fraction`); two fixed-point passes. A NaN
    speed ratio keeps the default support :data:`~mouselab.synth.lognormal.SUPPORT`.
    """
    f = np.nan_to_num(np.asarray(peak_fraction, dtype=float), nan=0.45)
    r = np.asarray(speed_ratio, dtype=float)
    support = np.full(f.shape, SUPPORT)
    sigma = sigma_for_peak_fraction(f, support=SUPPORT)
    has = np.isfinite(r)
    for _ in range(2):
        arg = np.clip(r, 1.0, 12.0) * sigma * np.sqrt(2.0 * np.pi) / (2.0 * np.exp(sigma**2 / 2.0))
        k = np.clip(np.arcsinh(arg) / sigma, 1.5, 8.0)
        support = np.where(has, k, SUPPORT)
        sigma = sigma_for_peak_fraction(f, support=support)
    return sigma, support


def _kernel_positions(legs: Legs, spec: MovementSpec, t: np.ndarray, kernel: str):
    used = legs.duration > 0
    if kernel == "minjerk":
        plan = SubmovementPlan(legs.start, legs.onset, legs.duration, np.where(used[..., None], legs.p_to - legs.p_from, 0.0),
                               legs.kinds)
        return superpose(plan, t)
    sigma, support = lognormal_shape(spec.peak_fraction, spec.speed_ratio)
    sig = np.broadcast_to(sigma[:, None], legs.duration.shape)
    sup = np.broadcast_to(support[:, None], legs.duration.shape)
    stroke = stroke_between(legs.p_from, legs.p_to, onset_ms=legs.onset, duration_ms=np.where(used, legs.duration, 1.0),
                            sigma=sig, support=sup)
    plan = StrokePlan(
        start_px=legs.start, t0_ms=stroke["t0_ms"], mu=stroke["mu"], sigma=stroke["sigma"],
        amplitude_px=np.where(used, stroke["amplitude_px"], 0.0), theta_start=stroke["theta_start"],
        theta_end=stroke["theta_end"], support=sup,
    )
    return superpose_strokes(plan, t)


def generate_movements(
    geometry: pl.DataFrame,
    spec: MovementSpec,
    *,
    seed: int | np.random.Generator,
    kernel: str = "lognormal",
    recording: Recording = Recording(),
    batch_trials: int = 256,
) -> pl.DataFrame:
    """Sampled movements in the samples schema (``t_ms`` from 0 per trial, ``event = "move"``).

    Parameters
    ----------
    geometry : one row per movement with :data:`GEOMETRY_COLUMNS` and, optionally, the trial key columns
        (``study``, ``participant``, ``session``, ``trial``), which are copied to the samples (defaults:
        study ``synthetic``, participant ``S01``, session ``s1``, trial ``t00001`` …).
    spec : one specification per row (:class:`MovementSpec`).
    seed : int or numpy Generator.
    kernel : ``"lognormal"`` (sigma-lognormal strokes) or ``"minjerk"`` (minimum-jerk submovements).
    recording : sampling and execution-noise settings (:class:`Recording`).
    batch_trials : trials rendered at once (memory bound).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    rng = rng_from(seed)
    start, aim, size = geometry_arrays(geometry)
    n = start.shape[0]
    if spec.n_trials != n:
        raise ValueError(f"spec has {spec.n_trials} trials but geometry has {n} rows")
    keys = _keys(geometry)
    legs = plan_legs(start, aim, size, spec)
    total = legs.end_ms + np.maximum(np.nan_to_num(spec.dwell_ms, nan=0.0), 0.0)
    order = np.argsort(total, kind="stable")
    parts = []
    for lo in range(0, n, batch_trials):
        idx = order[lo:lo + batch_trials]
        t, n_samples = sample_times(total[idx], seed=rng, rate_hz=recording.rate_hz, jitter_sd_ms=recording.jitter_sd_ms,
                                    drop_prob=recording.drop_prob, resolution_ms=recording.resolution_ms)
        sub = Legs(legs.start[idx], legs.onset[idx], legs.duration[idx], legs.p_from[idx], legs.p_to[idx], legs.kinds,
                   legs.end_ms[idx])
        t_seen = reported_times(t, device_hz=recording.device_hz, seed=rng)
        pos, vel = _kernel_positions(sub, spec.take(idx), t_seen, kernel)
        pos = perturb(pos, vel, t_seen, seed=rng, sdn_coef=recording.sdn_coef,
                      const_noise_px_per_ms=recording.const_noise_px_per_ms,
                      noise_smoothing_ms=recording.noise_smoothing_ms,
                      moving_speed_px_per_ms=0.0 if kernel == "minjerk" else 0.01, pixels=True)
        n_samples = np.maximum(n_samples, 2)
        valid = np.arange(t.shape[1])[None, :] < n_samples[:, None]
        parts.append(pl.DataFrame({
            "row": np.repeat(idx, n_samples), "t_ms": t[valid], "x": pos[..., 0][valid], "y": pos[..., 1][valid],
        }))
    body = pl.concat(parts).sort("row", maintain_order=True) if parts else pl.DataFrame(
        schema={"row": pl.Int64, "t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64})
    out = keys.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64)).join(
        body.with_columns(pl.col("row").cast(pl.Int64)), on="row", how="inner", maintain_order="right")
    return out.drop("row").with_columns(event=pl.lit("move"), buttons=pl.lit(0, dtype=pl.UInt8))


def _keys(geometry: pl.DataFrame) -> pl.DataFrame:
    n = geometry.height
    defaults = {"study": "synthetic", "participant": "S01", "session": "s1"}
    cols = {}
    for k in _KEY:
        if k in geometry.columns:
            cols[k] = geometry.get_column(k).cast(pl.String)
        elif k == "trial":
            cols[k] = pl.Series([f"t{i + 1:05d}" for i in range(n)], dtype=pl.String)
        else:
            cols[k] = pl.Series([defaults[k]] * n, dtype=pl.String)
    return pl.DataFrame(cols)
