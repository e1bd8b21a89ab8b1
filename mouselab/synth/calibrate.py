"""Calibrate the movement generators to real trajectories (pure: frames in, a :class:`Calibration` out).

:func:`calibrate` fits a generator to a samples frame in four steps:

1. **Describe** every real trial (:func:`~mouselab.synth.describe.describe_movements`): latency, movement
   time, dwell, deviation and where it peaks, primary-submovement reach, peak-speed timing, hesitations,
   final position in the target, sampling rate and path jitter.
2. **Fitts' law**: the moving time (movement time minus hesitations) is regressed on the index of difficulty
   ``log2(1 + A/W)`` (:func:`fit_fitts`). When the data hold too little spread in difficulty (a choice task
   with one distance and one target size) the slope is not identifiable: it is then fixed at
   ``prior_b_ms`` and only the intercept is fitted (``b_fixed`` says so).
3. **Recorder and noise**: the mouse's report rate (polling aliases against it) and the execution-noise
   level are chosen so that generated paths have the data's median jitter and step roughness (a small
   grid search, by simulation).
4. **Self-consistency** (indirect inference): the generator is run on the real trials' geometry with the
   descriptors as its specification, the generated trials are described again, and every descriptor the
   kernel distorts (blending shortens deviations, lognormal tails move the measured onset …) is corrected by
   the inverse of the observed distortion — a linear map (in the specified value and the log amplitude)
   where the generated value follows the specified one closely, a shift of the median otherwise.

The result holds the corrected per-trial specifications (the *pool*: an empirical joint distribution,
kept per participant) and a parametric summary (:class:`~mouselab.synth.movement.MovementParams`). New
movements for any geometry draw whole trials from the pool — by default one calibration participant per
generated participant, so between-person differences survive — and rescale their moving time to the new
index of difficulty with the generator's Fitts law.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import polars as pl

from mouselab.synth.describe import PAUSE_SLOTS, TrialSet, describe_movements, trial_set
from mouselab.synth.kinematics import rng_from
from mouselab.synth.movement import (
    GEOMETRY_COLUMNS,
    KERNELS,
    MovementParams,
    MovementSpec,
    Recording,
    fitts_id,
    generate_movements,
    geometry_arrays,
)

__all__ = ["Calibration", "FittsFit", "calibrate", "fit_fitts", "geometry_frame"]

#: Descriptors corrected in the self-consistency step, and how (``linear`` or ``shift``), with their limits.
_CORRECTED = {
    "latency_ms": (0.0, np.inf),
    "movement_ms": (60.0, np.inf),
    "dwell_ms": (0.0, np.inf),
    "deviation": (-2.0, 2.0),
    "deviation_at": (0.02, 0.98),
    "primary_gain": (0.3, 1.3),
    "peak_fraction": (0.1, 0.9),
    "speed_ratio": (1.0, 12.0),
}


@dataclass(frozen=True)
class FittsFit:
    """Fitts' law ``MT = a + b·log2(1 + A/W)`` fitted by least squares.

    ``a_ms``, ``b_ms`` (ms, ms/bit), ``r2``, ``n`` trials, ``id_mean`` / ``id_sd`` (bits) of the data,
    ``b_fixed`` when the slope was fixed at a prior (too little spread in ID), ``width`` = ``"target"``
    (``min(target_w, target_h)``) or ``"nominal"`` (``default_width_px``, no target geometry).
    """

    a_ms: float
    b_ms: float
    r2: float
    n: int
    id_mean: float
    id_sd: float
    b_fixed: bool
    width: str

    def predict(self, index_of_difficulty) -> np.ndarray:
        return self.a_ms + self.b_ms * np.asarray(index_of_difficulty, dtype=float)

    def as_dict(self) -> dict:
        return asdict(self)


def _widths(frame: pl.DataFrame, default_width_px: float) -> tuple[np.ndarray, str]:
    w = frame.get_column("target_w").cast(pl.Float64).fill_null(np.nan).to_numpy() if "target_w" in frame.columns \
        else np.full(frame.height, np.nan)
    h = frame.get_column("target_h").cast(pl.Float64).fill_null(np.nan).to_numpy() if "target_h" in frame.columns \
        else np.full(frame.height, np.nan)
    width = np.fmin(w, h)
    known = np.isfinite(width) & (width > 0)
    return np.where(known, width, default_width_px), ("target" if known.all() and known.size else "nominal")


def _amplitude(frame: pl.DataFrame) -> np.ndarray:
    start, aim, _ = geometry_arrays(frame)
    return np.hypot(*(aim - start).T)


def fit_fitts(
    frame: pl.DataFrame,
    *,
    time_column: str = "moving_ms",
    default_width_px: float = 100.0,
    min_id_sd: float = 0.25,
    prior_b_ms: float = 140.0,
) -> FittsFit:
    """Fit Fitts' law to one row per movement.

    ``frame`` holds the geometry (:data:`~mouselab.synth.movement.GEOMETRY_COLUMNS`) and ``time_column``
    (ms). ``moving_ms`` is derived when absent as ``movement_ms − pause_ms`` (descriptor columns). With an
    ID standard deviation below ``min_id_sd`` bits the slope is fixed at ``prior_b_ms`` (MacKenzie 1992
    reports 100–200 ms/bit for mouse pointing) and only the intercept is estimated.
    """
    if time_column == "moving_ms" and "moving_ms" not in frame.columns:
        frame = frame.with_columns(moving_ms=pl.col("movement_ms") - pl.col("pause_ms").fill_null(0.0))
    width, kind = _widths(frame, default_width_px)
    ids = fitts_id(_amplitude(frame), width)
    mt = frame.get_column(time_column).cast(pl.Float64).fill_null(np.nan).to_numpy()
    ok = np.isfinite(ids) & np.isfinite(mt)
    ids, mt = ids[ok], mt[ok]
    n = int(ok.sum())
    if n < 2:
        return FittsFit(float(np.nanmean(mt)) if n else float("nan"), float("nan"), float("nan"), n, float("nan"),
                        float("nan"), True, kind)
    sd = float(np.std(ids))
    if sd < min_id_sd:
        b = float(prior_b_ms)
        a = float(np.mean(mt - b * ids))
        fixed = True
    else:
        b, a = (float(v) for v in np.polyfit(ids, mt, 1))
        fixed = False
    resid = mt - (a + b * ids)
    total = float(np.sum((mt - mt.mean()) ** 2))
    r2 = float(1.0 - np.sum(resid**2) / total) if total > 0 and not fixed else float("nan")
    return FittsFit(a, b, r2, n, float(np.mean(ids)), sd, fixed, kind)


def geometry_frame(descriptors: pl.DataFrame) -> pl.DataFrame:
    """The key and geometry columns of a descriptor frame: what a generator needs to replay those trials."""
    keys = [k for k in ("study", "participant", "session", "trial") if k in descriptors.columns]
    return descriptors.select(keys + list(GEOMETRY_COLUMNS))


@dataclass(frozen=True)
class Calibration:
    """A generator fitted to data by :func:`calibrate`.

    Attributes
    ----------
    kernel : ``"lognormal"`` or ``"minjerk"``.
    fitts : Fitts' law of the data (observed moving time on ID).
    generator_fitts : Fitts' law of the corrected specifications (the generator's internal timing).
    pool : one corrected :class:`~mouselab.synth.movement.MovementSpec` row per calibration trial, with
        ``participant``, ``fitts_id`` and the spec's ``moving_ms``.
    observed : the descriptors of the calibration data.
    params : parametric summary of the pool (:class:`~mouselab.synth.movement.MovementParams`).
    recording : sampling and noise settings fitted to the data.
    default_width_px : Fitts width used where targets have no size.
    noise_multiplier : factor applied to the default execution noise to match the data's jitter.
    """

    kernel: str
    fitts: FittsFit
    generator_fitts: FittsFit
    pool: pl.DataFrame
    observed: pl.DataFrame
    params: MovementParams
    recording: Recording
    default_width_px: float
    noise_multiplier: float

    def specs(self, geometry: pl.DataFrame, *, seed: int | np.random.Generator, by_participant: bool = True
              ) -> MovementSpec:
        """Specifications for the movements of ``geometry``, drawn from the pool.

        With ``by_participant`` every participant of ``geometry`` is assigned one calibration participant
        (a random permutation, recycled when there are more), and its trials are drawn from that person's
        pool; otherwise from the whole pool. The moving time is rescaled to each new movement's index of
        difficulty with :attr:`generator_fitts`.
        """
        rng = rng_from(seed)
        n = geometry.height
        pool_people = self.pool.get_column("participant").to_numpy()
        if by_participant and "participant" in geometry.columns:
            wanted = geometry.get_column("participant").cast(pl.String).to_numpy()
            people = np.unique(pool_people)
            targets = list(dict.fromkeys(wanted.tolist()))
            order = np.concatenate([rng.permutation(people) for _ in range(len(targets) // len(people) + 1)])
            assign = dict(zip(targets, order[: len(targets)]))
            rows = np.empty(n, dtype=int)
            for person, source in assign.items():
                mine = np.flatnonzero(wanted == person)
                candidates = np.flatnonzero(pool_people == source)
                rows[mine] = rng.choice(candidates, size=mine.size, replace=True)
        else:
            rows = rng.integers(0, self.pool.height, size=n)
        spec = MovementSpec.from_frame(self.pool[rows])
        width, _ = _widths(geometry, self.default_width_px)
        new_id = fitts_id(_amplitude(geometry), width)
        old_id = self.pool.get_column("fitts_id").to_numpy()[rows]
        ratio = self.generator_fitts.predict(new_id) / self.generator_fitts.predict(old_id)
        ratio = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
        pauses = np.nansum(np.column_stack([getattr(spec, f"pause{j}_ms") for j in range(1, PAUSE_SLOTS + 1)]), axis=1)
        moving = (spec.movement_ms - pauses) * ratio
        return replace(spec, movement_ms=moving + pauses)

    def generate(self, geometry: pl.DataFrame, *, seed: int | np.random.Generator, by_participant: bool = True,
                 kernel: str | None = None) -> pl.DataFrame:
        """Generated samples (samples schema) for every row of ``geometry`` (see :meth:`specs`)."""
        rng = rng_from(seed)
        spec = self.specs(geometry, seed=rng, by_participant=by_participant)
        return generate_movements(geometry, spec, seed=rng, kernel=kernel or self.kernel, recording=self.recording)

    def summary(self) -> pl.DataFrame:
        """The fitted parameters as a tidy table: ``parameter``, ``value``, ``unit``, ``meaning``."""
        p = self.params
        rows = [
            ("fitts_a_ms", self.fitts.a_ms, "ms", "Fitts intercept of the data (moving time)"),
            ("fitts_b_ms", self.fitts.b_ms, "ms/bit", "Fitts slope of the data" + (" (fixed: ID spread too small)" if self.fitts.b_fixed else "")),
            ("generator_fitts_a_ms", self.generator_fitts.a_ms, "ms", "Fitts intercept of the generator's plan"),
            ("generator_fitts_b_ms", self.generator_fitts.b_ms, "ms/bit", "Fitts slope of the generator's plan"),
            ("latency_median_ms", p.latency_median_ms, "ms", "initiation latency, median"),
            ("dwell_median_ms", p.dwell_median_ms, "ms", "rest on the target before the response, median"),
            ("peak_fraction", p.peak_fraction_mean, "-", "time of peak speed / moving time (spec), mean"),
            ("deviation_mean", p.deviation_mean, "-", "signed lateral deviation / amplitude (spec), mean"),
            ("deviation_sd", p.deviation_sd, "-", "… its SD"),
            ("primary_gain", p.primary_gain_mean, "-", "reach of the primary submovement (spec), mean"),
            ("pause_rate", p.pause_rate, "1/trial", "hesitations per trial"),
            ("pause_median_ms", p.pause_median_ms, "ms", "hesitation duration, median"),
            ("endpoint_sd", p.endpoint_sd, "half-widths", "final position scatter inside the target"),
            ("rate_hz", self.recording.rate_hz, "Hz", "sampling rate"),
            ("device_hz", self.recording.device_hz if self.recording.device_hz else float("nan"), "Hz",
             "report rate of the pointing device (NaN: continuous)"),
            ("noise_multiplier", self.noise_multiplier, "-", "execution noise relative to the default"),
        ]
        return pl.DataFrame(rows, schema={"parameter": pl.String, "value": pl.Float64, "unit": pl.String,
                                          "meaning": pl.String}, orient="row")


def _recording_from(ts: TrialSet) -> Recording:
    dts = np.concatenate([np.diff(t) for t in ts.t if t.size > 1]) if ts.n_trials else np.array([1000 / 60])
    period = float(np.median(dts))
    normal = dts[dts < 1.5 * period]
    drop = float(np.mean((dts >= 1.5 * period) & (dts < 2.5 * period)))
    jitter = float(np.std(normal)) if normal.size > 2 else 0.0
    resolution = 1.0 if np.allclose(dts, np.round(dts)) and period > 2.0 else None
    return Recording(rate_hz=1000.0 / period, jitter_sd_ms=min(jitter, 0.2 * period), drop_prob=min(drop, 0.2),
                     resolution_ms=resolution)


def _column(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _robust_log_sd(values: np.ndarray, floor: float) -> float:
    v = np.log(np.maximum(values[np.isfinite(values)], floor))
    if v.size < 3:
        return 0.3
    lo, hi = np.percentile(v, [16, 84])
    return float(max((hi - lo) / 2.0, 0.01))


def _summarise(pool: pl.DataFrame, gfit: FittsFit, recording: Recording, default_width_px: float) -> MovementParams:
    def med(name, default):
        v = _column(pool, name)
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else default

    def mean_sd(name, default_mean, default_sd):
        v = _column(pool, name)
        v = v[np.isfinite(v)]
        return (float(np.mean(v)), float(np.std(v))) if v.size > 1 else (default_mean, default_sd)

    moving = _column(pool, "moving_ms")
    ratio = moving / gfit.predict(_column(pool, "fitts_id"))
    pause_ms = np.concatenate([_column(pool, f"pause{j}_ms") for j in range(1, PAUSE_SLOTS + 1)])
    pause_ms = pause_ms[np.isfinite(pause_ms) & (pause_ms > 0)]
    n_pause = np.sum(np.column_stack([np.isfinite(_column(pool, f"pause{j}_ms")) for j in range(1, PAUSE_SLOTS + 1)]),
                     axis=1)
    dev = mean_sd("deviation", 0.0, 0.06)
    dev_at = mean_sd("deviation_at", 0.45, 0.1)
    gain = mean_sd("primary_gain", 0.95, 0.05)
    peak = mean_sd("peak_fraction", 0.45, 0.05)
    ratio_ms = mean_sd("speed_ratio", float("nan"), 0.0)
    ends = np.concatenate([_column(pool, "end_dx"), _column(pool, "end_dy")])
    ends = ends[np.isfinite(ends)]
    return MovementParams(
        fitts_a_ms=gfit.a_ms, fitts_b_ms=gfit.b_ms, mt_sd_log=_robust_log_sd(ratio, 1e-3),
        latency_median_ms=med("latency_ms", 350.0), latency_sd_log=_robust_log_sd(_column(pool, "latency_ms"), 20.0),
        dwell_median_ms=med("dwell_ms", 150.0), dwell_sd_log=_robust_log_sd(_column(pool, "dwell_ms"), 10.0),
        deviation_mean=dev[0], deviation_sd=dev[1], deviation_at_mean=dev_at[0], deviation_at_sd=dev_at[1],
        primary_gain_mean=gain[0], primary_gain_sd=gain[1], peak_fraction_mean=peak[0], peak_fraction_sd=peak[1],
        speed_ratio_mean=ratio_ms[0], speed_ratio_sd=ratio_ms[1],
        pause_rate=float(np.mean(n_pause)) if n_pause.size else 0.0,
        pause_median_ms=float(np.median(pause_ms)) if pause_ms.size else 200.0,
        pause_sd_log=_robust_log_sd(pause_ms, 1.0) if pause_ms.size > 2 else 0.4,
        endpoint_sd=float(np.std(ends)) if ends.size > 2 else 0.3,
        default_width_px=default_width_px, recording=recording,
    )


def calibrate(
    samples: pl.DataFrame | pl.LazyFrame,
    trials: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    seed: int | np.random.Generator,
    kernel: str = "lognormal",
    default_width_px: float = 100.0,
    prior_b_ms: float = 140.0,
    refine_rounds: int = 2,
    refine_trials: int = 400,
    noise_grid: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0),
    device_grid: tuple[float | None, ...] = (None, 125.0, 250.0, 500.0),
    still_px: float = 2.0,
    pause_ms: float = 100.0,
) -> Calibration:
    """Fit a movement generator to the trials of ``samples`` (see the module docstring).

    Parameters
    ----------
    samples : long samples frame of the calibration trials (free-use rows with a null trial are ignored).
    trials : optional trials table with target geometry (``target_x/y/w/h``); without it each movement is
        taken to aim at its last sample and Fitts' law uses ``default_width_px``.
    seed : int or numpy Generator (the simulations of the noise search and the self-consistency step).
    kernel : ``"lognormal"`` or ``"minjerk"``.
    default_width_px : Fitts width where targets have no size.
    prior_b_ms : Fitts slope used when the data cannot identify it (see :func:`fit_fitts`).
    refine_rounds : rounds of the self-consistency correction (0: use the descriptors as they are).
    refine_trials : at most this many trials are simulated per round (a seeded subsample).
    noise_grid, device_grid : execution-noise multipliers and device report rates (Hz; None = continuous)
        tried (first the rate at the default noise, then the noise at that rate); the setting whose generated
        paths best match the data's median ``jitter`` and ``step_roughness`` is kept.
    still_px, pause_ms : see :func:`~mouselab.synth.describe.describe_movements`.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    rng = rng_from(seed)
    ts = trial_set(samples, trials)
    observed = describe_movements(ts, still_px=still_px, pause_ms=pause_ms)
    keep = (pl.col("amplitude_px") > 0) & (pl.col("movement_ms") > 0)
    observed = observed.filter(keep)
    if observed.height < 5:
        raise ValueError(f"calibrate: {observed.height} usable trials (moving, with an amplitude); need at least 5")
    if "participant" not in observed.columns:
        observed = observed.with_columns(participant=pl.lit("all"))
    fitts = fit_fitts(observed, default_width_px=default_width_px, prior_b_ms=prior_b_ms)
    base = Recording()
    recording = _recording_from(ts)
    geometry = geometry_frame(observed)
    target = MovementSpec.from_frame(observed)
    sub = np.sort(rng.choice(observed.height, size=min(refine_trials, observed.height), replace=False))

    def simulate(spec: MovementSpec, rec: Recording, rows: np.ndarray) -> pl.DataFrame:
        geo = geometry[rows]
        sim = generate_movements(geo, spec.take(rows), seed=rng, kernel=kernel, recording=rec)
        geo_t = geo.with_columns(target_x=pl.col("aim_x"), target_y=pl.col("aim_y"))
        return describe_movements(sim, geo_t, still_px=still_px, pause_ms=pause_ms)

    # recorder and noise: match the data's path jitter and step roughness (device report rate x noise level)
    want = np.array([np.nanmedian(_column(observed, "jitter")), np.nanmedian(_column(observed, "step_roughness"))])
    small = sub[: min(100, sub.size)]

    def loss_of(rec: Recording) -> float:
        out = simulate(target, rec, small)
        got = np.array([np.nanmedian(_column(out, "jitter")), np.nanmedian(_column(out, "step_roughness"))])
        ok = np.isfinite(want) & np.isfinite(got) & (got > 0) & (want > 0)
        return float(np.sum(np.log(got[ok] / want[ok]) ** 2)) if ok.any() else np.inf

    # the report rate first (at the default noise), then the noise level with that rate
    losses = [loss_of(replace(recording, device_hz=d)) for d in device_grid]
    device = device_grid[int(np.argmin(losses))]
    best = (np.inf, 1.0, device)
    for m in noise_grid:
        loss = loss_of(replace(recording, device_hz=device, sdn_coef=base.sdn_coef * m,
                               const_noise_px_per_ms=base.const_noise_px_per_ms * m))
        if loss < best[0]:
            best = (loss, m, device)
    _, mult, device = best
    recording = replace(recording, device_hz=device, sdn_coef=base.sdn_coef * mult,
                        const_noise_px_per_ms=base.const_noise_px_per_ms * mult)

    # self-consistency: invert the kernel's distortion of each descriptor
    spec = target
    log_amp = np.log(np.maximum(_column(observed, "amplitude_px"), 1.0))
    for _ in range(refine_rounds):
        out = simulate(spec, recording, sub)
        changes = {}
        for name, (lo, hi) in _CORRECTED.items():
            s_all = np.asarray(getattr(spec, name), dtype=float)
            s_sub = s_all[sub]
            o_sub = _column(out, name)
            t_sub = np.asarray(getattr(target, name), dtype=float)[sub]
            ok = np.isfinite(s_sub) & np.isfinite(o_sub) & np.isfinite(t_sub)
            if ok.sum() < 10:
                continue
            corr = np.corrcoef(s_sub[ok], o_sub[ok])[0, 1] if np.std(s_sub[ok]) > 0 and np.std(o_sub[ok]) > 0 else 0.0
            t_all = np.asarray(getattr(target, name), dtype=float)
            if corr > 0.8:
                # out ≈ alpha + beta·spec + gamma·log(amplitude): the distortion may depend on the movement's size
                design = np.column_stack([np.ones(ok.sum()), s_sub[ok], log_amp[sub][ok]])
                (alpha, beta, gamma), *_ = np.linalg.lstsq(design, o_sub[ok], rcond=None)
                beta = beta if abs(beta) > 0.2 else 1.0
                # move each spec by the inverse map of its remaining error
                new = s_all + (t_all - (alpha + beta * s_all + gamma * log_amp)) / beta
            else:
                new = s_all + float(np.median(t_sub[ok] - o_sub[ok]))
            changes[name] = np.where(np.isfinite(s_all), np.clip(new, lo, hi), s_all)
        spec = replace(spec, **changes)

    pool = spec.to_frame()
    width, _ = _widths(observed, default_width_px)
    pauses = np.nansum(np.column_stack([getattr(spec, f"pause{j}_ms") for j in range(1, PAUSE_SLOTS + 1)]), axis=1)
    pool = pool.with_columns(
        participant=observed.get_column("participant").cast(pl.String),
        fitts_id=fitts_id(_amplitude(observed), width),
        moving_ms=spec.movement_ms - pauses,
    )
    generator_fitts = fit_fitts(pool.with_columns(geometry.select(GEOMETRY_COLUMNS)), default_width_px=default_width_px,
                                prior_b_ms=fitts.b_ms if fitts.b_fixed else prior_b_ms)
    if fitts.b_fixed:  # keep the prior slope in the generator too
        generator_fitts = replace(generator_fitts, b_ms=fitts.b_ms, b_fixed=True)
    params = _summarise(pool, generator_fitts, recording, default_width_px)
    return Calibration(kernel, fitts, generator_fitts, pool, observed, params, recording, default_width_px, mult)
