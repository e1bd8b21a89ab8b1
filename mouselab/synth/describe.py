"""Per-trial movement descriptors: what the generators are calibrated on (pure, self-contained: synth never uses the measures registry).

:func:`describe_movements` reduces every trajectory of a samples frame to a handful of *movement
descriptors* — the observable quantities the generators of :mod:`mouselab.synth` are built from:

=================  ======  ============================================================================
descriptor         unit    definition
=================  ======  ============================================================================
``amplitude_px``   px      straight distance first → last sample
``latency_ms``     ms      time until the movement starts: the last sample before which the cursor never
                           left ``still_px`` of its start
``movement_ms``    ms      movement onset → movement end (the first sample after which the cursor stays
                           within ``still_px`` of its final position); hesitations included
``dwell_ms``       ms      movement end → last sample (resting on the target before the response)
``peak_fraction``  -       time of peak speed inside the movement (pauses removed), as a fraction of the
                           moving time
``peak_speed``     px/ms   peak of the speed smoothed over ``smooth_ms``
``speed_ratio``    -       peak speed × moving time / amplitude: how peaked the speed profile is (1.875 for
                           one minimum-jerk stroke)
``deviation``      -       signed perpendicular deviation from the start–end line at its largest absolute
                           value, divided by the amplitude; the sign is mirror invariant (positive = to the
                           right of the direction of travel for rightward movements and to the left for
                           leftward ones, so attraction towards the centre of a symmetric two-choice
                           layout has one sign whichever side was chosen)
``deviation_at``   -       progress (projection on the start–end line / amplitude) at that sample
``primary_gain``   -       progress when the speed first falls below ``primary_speed_fraction`` × peak
                           after the peak: the end of the primary submovement (> 1 is an overshoot)
``overshoot``      -       largest progress beyond the end (max progress − 1, ≥ 0)
``n_pauses``       count   hesitations inside the movement: the cursor still (no pixel change) ≥ ``pause_ms``
``pause_ms``       ms      total duration of those hesitations
``pause1_ms``,     ms, -   duration and progress of the first three hesitations (NaN when absent);
``pause1_at``, …           ``pause4_*`` sums any further ones, placed at the first of them
``end_dx``,        -       final position minus target centre, in units of the target half-width / half-
``end_dy``                 height (NaN without target geometry)
``jitter``         -       path jitter: mean absolute second difference of the position during the movement
                           divided by the mean step (unitless roughness)
``step_roughness`` -       mean ``|log(step_k / step_k−1)|`` of consecutive steps while the speed exceeds 30 %
                           of its peak: uneven steps of a fast movement (e.g. polling aliased against the
                           mouse's report rate)
=================  ======  ============================================================================

Trajectories come from a long samples frame (``study, participant, session, trial, t_ms, x, y``; one trial's
rows contiguous and time-sorted) and an optional trials table with target geometry (``target_x``,
``target_y``, ``target_w``, ``target_h``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "DESCRIPTORS",
    "PAUSE_SLOTS",
    "TrialSet",
    "describe_arrays",
    "describe_movements",
    "mirror_normal",
    "movement_phases",
    "trial_set",
]

_KEY = ("study", "participant", "session", "trial")
_GEOMETRY = ("target_x", "target_y", "target_w", "target_h")

#: Descriptor columns of :func:`describe_movements` (after the trial key and geometry).
DESCRIPTORS = (
    "amplitude_px", "latency_ms", "movement_ms", "dwell_ms", "duration_ms", "peak_fraction", "peak_speed", "speed_ratio",
    "deviation", "deviation_at", "primary_gain", "overshoot", "n_pauses", "pause_ms",
    *[f"pause{j}_{what}" for j in range(1, 5) for what in ("ms", "at")],
    "end_dx", "end_dy", "jitter", "step_roughness", "rate_hz", "jitter_sd_ms",
)
#: Hesitations described one by one; the last slot holds the sum of any further ones (at the position of the first of them).
PAUSE_SLOTS = 4


@dataclass(frozen=True)
class TrialSet:
    """Trajectories of a samples frame as per-trial arrays, with their keys and target geometry.

    ``keys`` has one row per trial (the key columns present in the samples); ``t``, ``x``, ``y`` hold one
    array per trial; ``start`` (n, 2) is the first sample, ``end`` (n, 2) the last; ``target`` (n, 2) and
    ``size`` (n, 2) come from the trials table (NaN where unknown).
    """

    keys: pl.DataFrame
    t: list[np.ndarray]
    x: list[np.ndarray]
    y: list[np.ndarray]
    target: np.ndarray
    size: np.ndarray

    @property
    def n_trials(self) -> int:
        return self.keys.height

    @property
    def start(self) -> np.ndarray:
        return np.array([[x[0], y[0]] for x, y in zip(self.x, self.y)]).reshape(-1, 2)

    @property
    def end(self) -> np.ndarray:
        return np.array([[x[-1], y[-1]] for x, y in zip(self.x, self.y)]).reshape(-1, 2)

    @property
    def aim(self) -> np.ndarray:
        """(n, 2) where each movement was headed: the target centre when known, else the last sample."""
        return np.where(np.isfinite(self.target), self.target, self.end)

    @property
    def participant(self) -> np.ndarray:
        if "participant" in self.keys.columns:
            return self.keys.get_column("participant").cast(pl.String).fill_null("").to_numpy()
        return np.full(self.n_trials, "", dtype=object)

    def subset(self, index: Sequence[int] | np.ndarray) -> "TrialSet":
        idx = np.asarray(index, dtype=int)
        return TrialSet(
            keys=self.keys[idx], t=[self.t[i] for i in idx], x=[self.x[i] for i in idx], y=[self.y[i] for i in idx],
            target=self.target[idx], size=self.size[idx],
        )


def trial_set(samples: pl.DataFrame | pl.LazyFrame, trials: pl.DataFrame | pl.LazyFrame | None = None) -> TrialSet:
    """Split a long samples frame into per-trial arrays (rows with a null ``trial`` are left out).

    Raises ``ValueError`` when a column is missing, a trial's rows are not contiguous or its times do not
    strictly increase.
    """
    if isinstance(samples, pl.LazyFrame):
        samples = samples.collect()
    missing = [c for c in ("t_ms", "x", "y") if c not in samples.columns]
    if missing:
        raise ValueError(f"samples: missing column(s) {', '.join(missing)}; expected t_ms, x, y and the trial key")
    key = [k for k in _KEY if k in samples.columns]
    if "trial" in samples.columns:
        samples = samples.filter(pl.col("trial").is_not_null())
    frame = samples.select(key + [pl.col(c).cast(pl.Float64) for c in ("t_ms", "x", "y")])
    n = frame.height
    if n == 0:
        empty = pl.DataFrame(schema={k: pl.String for k in key})
        return TrialSet(empty, [], [], [], np.zeros((0, 2)), np.zeros((0, 2)))
    if key:
        ids = frame.select(pl.struct(key).rle_id().alias("r")).get_column("r").to_numpy()
        starts = np.flatnonzero(np.diff(ids, prepend=-1))
    else:
        starts = np.zeros(1, dtype=int)
    bounds = np.append(starts, n)
    keys = frame.select(key)[starts] if key else pl.DataFrame({"trial": ["1"]})
    if key and keys.is_duplicated().any():
        row = keys.filter(keys.is_duplicated()).row(0, named=True)
        raise ValueError(f"samples: the rows of trial {row} are not contiguous; sort by {', '.join(key)}, t_ms")
    t_all, x_all, y_all = (frame.get_column(c).to_numpy() for c in ("t_ms", "x", "y"))
    t = [t_all[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for i, ti in enumerate(t):
        if ti.size > 1 and np.any(np.diff(ti) <= 0):
            raise ValueError(f"samples: timestamps of trial {keys.row(i, named=True)} do not strictly increase")
    x = [x_all[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    y = [y_all[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    target = np.full((len(t), 2), np.nan)
    size = np.full((len(t), 2), np.nan)
    if trials is not None:
        if isinstance(trials, pl.LazyFrame):
            trials = trials.collect()
        on = [k for k in key if k in trials.columns]
        cols = [c for c in _GEOMETRY if c in trials.columns]
        if on and cols:
            geo = keys.select(on).join(trials.select(on + cols).unique(subset=on, keep="first"), on=on, how="left",
                                       maintain_order="left")
            get = {c: geo.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() if c in cols else np.full(len(t), np.nan)
                   for c in _GEOMETRY}
            target = np.column_stack([get["target_x"], get["target_y"]])
            size = np.column_stack([get["target_w"], get["target_h"]])
    return TrialSet(keys, t, x, y, target, size)


def mirror_normal(direction: np.ndarray) -> np.ndarray:
    """Unit normals (n, 2) of directions (n, 2) with a mirror-invariant sign (see :data:`DESCRIPTORS`).

    The normal is the direction rotated by +90° in the screen frame, flipped for leftward movements, so a
    left–right mirror image of a path has the same signed deviations.
    """
    d = np.asarray(direction, dtype=float)
    length = np.hypot(d[..., 0], d[..., 1])
    u = np.divide(d, length[..., None], out=np.zeros_like(d), where=length[..., None] > 0)
    sign = np.where(u[..., 0] < 0, -1.0, 1.0)
    return np.stack([-u[..., 1] * sign, u[..., 0] * sign], axis=-1)


def movement_phases(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, still_px: float = 2.0) -> tuple[int, int]:
    """Indices ``(onset, end)`` of the movement of one trajectory.

    ``onset`` is the last sample up to which the cursor never left ``still_px`` of its first position;
    ``end`` the first sample from which it never leaves ``still_px`` of its last position. A trajectory that
    never moves gives ``(0, 0)``.
    """
    d0 = np.hypot(x - x[0], y - y[0])
    d1 = np.hypot(x - x[-1], y - y[-1])
    away = np.flatnonzero(d0 > still_px)
    onset = int(away[0]) - 1 if away.size else 0
    left = np.flatnonzero(d1 > still_px)
    end = int(left[-1]) + 1 if left.size else 0
    return max(onset, 0), max(end, onset)


def _smooth_speed(t: np.ndarray, x: np.ndarray, y: np.ndarray, smooth_ms: float) -> np.ndarray:
    """Speed (px/ms) per sample from central differences of Gaussian-smoothed positions."""
    if t.size < 3:
        return np.zeros_like(t)
    period = float(np.median(np.diff(t)))
    sigma = smooth_ms / period if period > 0 else 0.0
    if sigma > 0.3:
        from scipy.ndimage import gaussian_filter1d

        x = gaussian_filter1d(x, sigma, mode="nearest")
        y = gaussian_filter1d(y, sigma, mode="nearest")
    vx = np.gradient(x, t)
    vy = np.gradient(y, t)
    return np.hypot(vx, vy)


def describe_arrays(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    target=None,
    size=None,
    still_px: float = 2.0,
    pause_ms: float = 100.0,
    smooth_ms: float = 20.0,
    primary_speed_fraction: float = 0.2,
) -> dict[str, float]:
    """The descriptors (:data:`DESCRIPTORS`) of one trajectory given as arrays (ms, px)."""
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    nan = float("nan")
    out = dict.fromkeys(DESCRIPTORS, nan)
    dts = np.diff(t)
    out["rate_hz"] = 1000.0 / float(np.median(dts)) if dts.size else nan
    out["jitter_sd_ms"] = float(np.std(dts[dts < 1.5 * np.median(dts)])) if dts.size > 2 else nan
    chord = np.array([x[-1] - x[0], y[-1] - y[0]])
    amp = float(np.hypot(*chord))
    out["amplitude_px"] = amp
    out["duration_ms"] = float(t[-1] - t[0])
    on, end = movement_phases(t, x, y, still_px=still_px)
    out["latency_ms"] = float(t[on] - t[0])
    out["movement_ms"] = float(t[end] - t[on])
    out["dwell_ms"] = float(t[-1] - t[end])
    out["n_pauses"] = 0.0
    out["pause_ms"] = 0.0
    if target is not None and size is not None and np.all(np.isfinite(target)) and np.all(np.isfinite(size)):
        out["end_dx"] = float((x[-1] - target[0]) / (size[0] / 2.0))
        out["end_dy"] = float((y[-1] - target[1]) / (size[1] / 2.0))
    if amp <= 0 or end <= on:
        return out
    u = chord / amp
    nrm = mirror_normal(chord[None, :])[0]
    px, py = x - x[0], y - y[0]
    progress = (px * u[0] + py * u[1]) / amp
    lateral = (px * nrm[0] + py * nrm[1]) / amp
    i_dev = int(np.argmax(np.abs(lateral)))
    out["deviation"] = float(lateral[i_dev])
    out["deviation_at"] = float(progress[i_dev])
    out["overshoot"] = float(max(progress.max() - 1.0, 0.0))
    seg = slice(on, end + 1)
    ts, xs, ys = t[seg], x[seg], y[seg]
    # hesitations: runs of identical positions inside the movement lasting >= pause_ms
    moved = np.flatnonzero((np.diff(xs) != 0) | (np.diff(ys) != 0))
    pauses = []
    if moved.size > 1:
        gap = ts[moved[1:]] - ts[moved[:-1] + 1]
        for k in np.flatnonzero(gap >= pause_ms):
            i0 = moved[k] + 1
            pauses.append((float(gap[k]), float(progress[on + i0]), float(ts[i0]), float(ts[moved[k + 1]])))
    out["n_pauses"] = float(len(pauses))
    out["pause_ms"] = float(sum(p[0] for p in pauses))
    for j, p in enumerate(pauses[:PAUSE_SLOTS], start=1):
        out[f"pause{j}_ms"], out[f"pause{j}_at"] = p[0], p[1]
    if len(pauses) > PAUSE_SLOTS:
        out[f"pause{PAUSE_SLOTS}_ms"] = float(sum(p[0] for p in pauses[PAUSE_SLOTS - 1:]))
    speed = _smooth_speed(ts, xs, ys, smooth_ms)
    i_peak = int(np.argmax(speed))
    out["peak_speed"] = float(speed[i_peak])
    before = sum(min(p[3], ts[i_peak]) - p[2] for p in pauses if p[2] < ts[i_peak])
    moving = out["movement_ms"] - out["pause_ms"]
    if moving > 0:
        out["peak_fraction"] = float(np.clip((ts[i_peak] - ts[0] - before) / moving, 0.0, 1.0))
        out["speed_ratio"] = float(out["peak_speed"] * moving / amp)
    slow = np.flatnonzero(speed[i_peak:] < primary_speed_fraction * speed[i_peak])
    j = on + i_peak + (int(slow[0]) if slow.size else len(speed) - 1 - i_peak)
    out["primary_gain"] = float(progress[min(j, len(progress) - 1)])
    steps = np.hypot(np.diff(xs), np.diff(ys))
    if steps.size > 3 and np.any(steps > 0):
        acc = np.hypot(np.diff(xs, 2), np.diff(ys, 2))
        out["jitter"] = float(np.mean(acc[steps[1:] > 0]) / np.mean(steps[steps > 0]))
        fast = (steps[1:] > 0) & (steps[:-1] > 0) & (speed[1:-1] > 0.3 * speed[i_peak])
        if fast.sum() >= 3:
            out["step_roughness"] = float(np.mean(np.abs(np.log(steps[1:][fast] / steps[:-1][fast]))))
    return out


def describe_movements(
    samples: pl.DataFrame | pl.LazyFrame | TrialSet,
    trials: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    still_px: float = 2.0,
    pause_ms: float = 100.0,
    smooth_ms: float = 20.0,
    primary_speed_fraction: float = 0.2,
) -> pl.DataFrame:
    """One row per trial: the trial key, start / aim / target size and the movement descriptors.

    Parameters
    ----------
    samples : long samples frame (or a :class:`TrialSet`); trials with a null ``trial`` are ignored.
    trials : optional trials table with ``target_x, target_y, target_w, target_h``.
    still_px : radius (px) within which the cursor counts as resting at its start or end.
    pause_ms : shortest stillness (ms) counted as a hesitation inside the movement.
    smooth_ms : SD (ms) of the Gaussian smoothing of positions before speeds are taken.
    primary_speed_fraction : the primary submovement ends when the speed first falls below this fraction of
        its peak.
    """
    ts = samples if isinstance(samples, TrialSet) else trial_set(samples, trials)
    rows = []
    for i in range(ts.n_trials):
        rows.append(describe_arrays(
            ts.t[i], ts.x[i], ts.y[i], target=ts.target[i], size=ts.size[i], still_px=still_px, pause_ms=pause_ms,
            smooth_ms=smooth_ms, primary_speed_fraction=primary_speed_fraction,
        ))
    values = pl.DataFrame(rows, schema={k: pl.Float64 for k in DESCRIPTORS}) if rows else \
        pl.DataFrame(schema={k: pl.Float64 for k in DESCRIPTORS})
    start, aim = (ts.start, ts.aim) if ts.n_trials else (np.zeros((0, 2)), np.zeros((0, 2)))
    geometry = pl.DataFrame({
        "start_x": start[:, 0], "start_y": start[:, 1], "aim_x": aim[:, 0], "aim_y": aim[:, 1],
        "target_w": ts.size[:, 0], "target_h": ts.size[:, 1],
    })
    return pl.concat([ts.keys, geometry, values], how="horizontal")
