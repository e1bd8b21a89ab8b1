"""Kinematic trial measures with clean (textbook) definitions: velocity, acceleration and jerk as finite
differences placed at the right times, peak-velocity timing, curvature, submovements and hovers.

Conventions (the ``kinematic`` preset; contrast with mousetrap's quirks documented in the registry):

* step k (sample k-1 -> k) has speed ``v_k = dist_k / Δt_k`` and velocity vector ``(dx_k, dy_k) / Δt_k``,
  placed at the step's midpoint time ``m_k = (t_{k-1} + t_k) / 2`` (no padding value at the first sample);
* acceleration between consecutive steps: ``(v_{k+1} - v_k) / (m_{k+1} - m_k)`` at ``(m_k + m_{k+1}) / 2``;
* jerk: the same difference once more, on the velocity *vectors* (magnitude of the third derivative).

References: Flash & Hogan (1985) for jerk and the minimum-jerk profile; Hogan & Sternad (2009) for jerk
measures; Meyer et al. (1988) for submovements; Kieslich et al. (2019) for hovers (mousetrap's
``hover_threshold``).
"""

from __future__ import annotations

import numpy as np

from mouselab.measures._context import TrialArrays, seg_first_index_of
from mouselab.preprocess._frames import segmented_cumsum, segments_from_starts
from mouselab.preprocess.normalize import interpolate_flat


def _steps(ctx: TrialArrays) -> dict[str, np.ndarray]:
    """Real steps only (first samples dropped): trial id, midpoint time, speed, velocity vector, Δt."""
    keep = ~ctx.segs.is_first
    idx = np.flatnonzero(keep)
    dt = ctx.dt[idx]
    return {
        "idx": idx,
        "trial": ctx.segs.ids[idx],
        "mid": 0.5 * (ctx.t[idx - 1] + ctx.t[idx]),
        "speed": ctx.dist[idx] / dt,
        "vx": ctx.dx[idx] / dt,
        "vy": ctx.dy[idx] / dt,
    }


def steps(ctx: TrialArrays) -> dict[str, np.ndarray]:
    return ctx.cached("kin_steps", _steps)


def _first_arg(values: np.ndarray, trial: np.ndarray, n_trials: int, *, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per trial: extreme value and position (index into ``values``) of its first occurrence; NaN / -1 when
    the trial has no value."""
    best = np.full(n_trials, np.nan)
    pos = np.full(n_trials, -1, dtype=np.int64)
    if values.size == 0:
        return best, pos
    fill = -np.inf if largest else np.inf
    ufunc = np.fmax if largest else np.fmin
    acc = np.full(n_trials, fill)
    ufunc.at(acc, trial, values)
    has = np.bincount(trial, minlength=n_trials) > 0
    hit = np.flatnonzero(values == acc[trial])
    first = np.full(n_trials, values.size, dtype=np.int64)
    np.minimum.at(first, trial[hit], hit)
    best[has] = acc[has]
    pos[has] = first[has]
    return best, pos


def _peak(ctx: TrialArrays):
    s = steps(ctx)
    return _first_arg(s["speed"], s["trial"], ctx.segs.n_trials, largest=True)


def peak_velocity(ctx: TrialArrays) -> np.ndarray:
    """Largest step speed (px/ms); NaN for single-sample trials."""
    return ctx.cached("kin_peak", _peak)[0]


def peak_velocity_time(ctx: TrialArrays) -> np.ndarray:
    """Time of the first fastest step (ms): the midpoint of its two timestamps (the clean definition;
    mousetrap's ``vel_max_time`` reports the step's first timestamp)."""
    _, pos = ctx.cached("kin_peak", _peak)
    mid = steps(ctx)["mid"]
    return np.where(pos >= 0, mid[np.maximum(pos, 0)] if mid.size else np.nan, np.nan)


def movement_bounds(ctx: TrialArrays) -> tuple[np.ndarray, np.ndarray]:
    """Movement onset (timestamp of the last sample before the first movement) and end (timestamp of the
    sample that ends the last movement) per trial (ms); NaN when the cursor never moves."""
    def compute(c: TrialArrays):
        segs = c.segs
        first = seg_first_index_of(c.moved, segs)
        pos = np.arange(segs.n_samples)
        last = np.maximum.reduceat(np.where(c.moved, pos, -1), segs.starts) if segs.n_samples else np.zeros(0, int)
        onset = np.where(first >= 0, c.t[np.maximum(first - 1, 0)], np.nan)
        end = np.where(last >= 0, c.t[np.maximum(last, 0)], np.nan)
        return onset, end
    return ctx.cached("kin_bounds", compute)


def peak_velocity_relative_time(ctx: TrialArrays) -> np.ndarray:
    """When the speed peaks, as a fraction of the movement (0 = movement onset, 1 = end of the last
    movement). Values below 0.5 mean a fast ballistic start and a long homing phase (Meyer et al., 1988)."""
    onset, end = movement_bounds(ctx)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (peak_velocity_time(ctx) - onset) / (end - onset)
    return np.where(end > onset, rel, np.nan)


def min_velocity(ctx: TrialArrays) -> np.ndarray:
    """Smallest step speed (px/ms) over real steps (no padding value; mousetrap's ``vel_min`` is always 0)."""
    s = steps(ctx)
    return _first_arg(s["speed"], s["trial"], ctx.segs.n_trials, largest=False)[0]


def _acceleration(ctx: TrialArrays) -> dict[str, np.ndarray]:
    s = steps(ctx)
    trial = s["trial"]
    same = trial[1:] == trial[:-1]
    span = s["mid"][1:] - s["mid"][:-1]
    with np.errstate(invalid="ignore", divide="ignore"):  # pairs across trials are dropped below
        acc = (s["speed"][1:] - s["speed"][:-1]) / span
        ax = (s["vx"][1:] - s["vx"][:-1]) / span
        ay = (s["vy"][1:] - s["vy"][:-1]) / span
    time = 0.5 * (s["mid"][1:] + s["mid"][:-1])
    return {"trial": trial[1:][same], "acc": acc[same], "ax": ax[same], "ay": ay[same], "time": time[same]}


def acceleration(ctx: TrialArrays) -> dict[str, np.ndarray]:
    return ctx.cached("kin_acc", _acceleration)


def peak_acceleration(ctx: TrialArrays) -> np.ndarray:
    """Largest rate of change of speed between consecutive steps (px/ms²), with the clean Δt (time between
    the steps' midpoints; mousetrap's ``acc_max`` divides by the previous step's Δt)."""
    a = acceleration(ctx)
    return _first_arg(a["acc"], a["trial"], ctx.segs.n_trials, largest=True)[0]


def peak_deceleration(ctx: TrialArrays) -> np.ndarray:
    """Most negative rate of change of speed (px/ms²), see :func:`peak_acceleration`."""
    a = acceleration(ctx)
    return _first_arg(a["acc"], a["trial"], ctx.segs.n_trials, largest=False)[0]


def _jerk(ctx: TrialArrays) -> tuple[np.ndarray, np.ndarray]:
    a = acceleration(ctx)
    trial = a["trial"]
    same = trial[1:] == trial[:-1]
    span = a["time"][1:] - a["time"][:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        jx = (a["ax"][1:] - a["ax"][:-1]) / span
        jy = (a["ay"][1:] - a["ay"][:-1]) / span
    mag2 = (jx * jx + jy * jy)[same]
    w = span[same]
    tr = trial[1:][same]
    n = ctx.segs.n_trials
    wsum = np.bincount(tr, weights=w, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(tr, weights=w * np.sqrt(mag2), minlength=n) / wsum
        rms = np.sqrt(np.bincount(tr, weights=w * mag2, minlength=n) / wsum)
    return np.where(wsum > 0, mean, np.nan), np.where(wsum > 0, rms, np.nan)


def jerk_mean(ctx: TrialArrays) -> np.ndarray:
    """Time-weighted mean magnitude of the jerk vector (px/ms³): third finite difference of position
    (velocity vectors at step midpoints, differenced twice over the elapsed time), each value weighted by
    the time it spans. Needs 4 samples (NaN otherwise). Still phases count (jerk 0 there)."""
    return ctx.cached("kin_jerk", _jerk)[0]


def jerk_rms(ctx: TrialArrays) -> np.ndarray:
    """Root mean square of the jerk magnitude (px/ms³), time-weighted as :func:`jerk_mean`. For a straight
    minimum-jerk reach of amplitude D and duration T it is sqrt(720) D / T³ (Flash & Hogan, 1985)."""
    return ctx.cached("kin_jerk", _jerk)[1]


def curvature(ctx: TrialArrays) -> np.ndarray:
    """Mean absolute curvature of the path (rad/px): the path is resampled every ``curvature_step_px`` px
    of arc length (so pixel staircases and sampling rate do not count as bends), and the absolute turning
    angles between consecutive chords are summed and divided by the resampled path length. 0 for a
    straight path, 1/R for a circular arc of radius R; NaN when the path is shorter than two chords."""
    segs, n = ctx.segs, ctx.segs.n_trials
    step = float(ctx.param("curvature_step_px"))
    if step <= 0:
        raise ValueError(f"curvature_step_px must be positive, got {step}")
    keep = ctx.moved | segs.is_first
    kx, ky, kd = ctx.x[keep], ctx.y[keep], ctx.dist[keep]
    ids = segs.ids[keep]
    kstarts = np.searchsorted(ids, np.arange(n))
    ksegs = segments_from_starts(kstarts, kx.size)
    arc = segmented_cumsum(kd, ksegs)
    total = arc[ksegs.lasts] if kx.size else np.zeros(n)
    counts = np.floor(total / step).astype(np.int64) + 1  # points at 0, step, 2 step, ...
    trial_of = np.repeat(np.arange(n), counts)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    needles = (np.arange(trial_of.size) - offsets[trial_of]) * step
    rx, ry = interpolate_flat(arc, [kx, ky], ksegs, trial_of, needles)
    cx, cy = np.diff(rx), np.diff(ry)
    same = trial_of[1:] == trial_of[:-1]
    cx, cy, ct = cx[same], cy[same], trial_of[1:][same]
    pair = ct[1:] == ct[:-1]
    cross = cx[:-1] * cy[1:] - cy[:-1] * cx[1:]
    dot = cx[:-1] * cx[1:] + cy[:-1] * cy[1:]
    angle = np.abs(np.arctan2(cross, dot))[pair]
    turning = np.bincount(ct[1:][pair], weights=angle, minlength=n)
    length = (counts - 1) * step
    with np.errstate(invalid="ignore", divide="ignore"):
        out = turning / length
    return np.where(counts >= 3, out, np.nan)


# ------------------------------------------------------------------------------------------- submovements
def smoothed_speed_ms(ctx: TrialArrays) -> np.ndarray:
    """Step speed (px/ms, 0 at each first sample) smoothed by a centred moving average over
    ``peak_smoothing_ms`` (converted to samples with each trial's mean sampling interval; the window shrinks
    at trial edges)."""
    segs = ctx.segs
    vel = ctx.vel
    if segs.n_samples == 0:
        return vel
    window_ms = float(ctx.param("peak_smoothing_ms"))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_dt = (ctx.t_last - ctx.t_first) / np.maximum(segs.lengths - 1, 1)
        half_t = np.where(mean_dt > 0, np.round(window_ms / mean_dt / 2.0), 0).astype(np.int64)
    half = segs.broadcast(np.maximum(half_t, 0))
    pos = segs.positions
    lo = np.maximum(pos - half, segs.broadcast(segs.starts))
    hi = np.minimum(pos + half, segs.broadcast(segs.lasts))
    csum = np.concatenate(([0.0], np.cumsum(vel)))
    return (csum[hi + 1] - csum[lo]) / (hi - lo + 1)


def velocity_peaks(ctx: TrialArrays) -> np.ndarray:
    """Number of submovements by velocity-peak segmentation (count; Meyer et al., 1988).

    The speed is smoothed (:func:`smoothed_speed_ms`, ``peak_smoothing_ms``). Candidate peaks are local
    maxima (plateaus once) reaching ``peak_min_speed_fraction`` of the trial's highest smoothed speed. Going
    through the candidates in time order, a candidate starts a new submovement only when the speed between
    it and the current submovement's peak fell to at most ``peak_valley_fraction`` times the lower of the
    two peaks (a clear dip); otherwise it belongs to the current submovement (whose peak becomes the higher
    of the two). Noise wiggles on one speed bump therefore count once. A trial that never moves has 0.
    """
    segs = ctx.segs
    n = segs.n_trials
    s = smoothed_speed_ms(ctx)
    frac = float(ctx.param("peak_min_speed_fraction"))
    valley = float(ctx.param("peak_valley_fraction"))
    if segs.n_samples < 2:
        return np.zeros(n, dtype=np.int64)
    d = np.zeros(segs.n_samples)
    d[1:] = s[1:] - s[:-1]
    d[segs.starts] = 0.0
    nz = np.flatnonzero(d != 0)
    trial = segs.ids[nz]
    rising = d[nz] > 0
    # a peak: a rise followed by a fall in the same trial, or by the end of the trial (the speed returns to 0
    # after the last sample, e.g. a movement cut off at the response)
    next_same = np.zeros(nz.size, dtype=bool)
    next_same[:-1] = trial[1:] == trial[:-1]
    next_falls = np.zeros(nz.size, dtype=bool)
    next_falls[:-1] = ~rising[1:]
    is_peak = rising & (next_falls | ~next_same)
    top = nz[is_peak]  # sample at the end of the last rise = the peak (first sample of a plateau)
    peak_trial = trial[is_peak]
    smax = np.fmax.reduceat(s, segs.starts)
    high = s[top] >= frac * smax[peak_trial]
    top, peak_trial = top[high], peak_trial[high]
    count = np.zeros(n, dtype=np.int64)
    if top.size == 0:
        return count
    # minimum of the smoothed speed between consecutive candidates of a trial (prefix minima per pair)
    same = peak_trial[1:] == peak_trial[:-1]
    mins = np.minimum.reduceat(s, top)[:-1] if top.size > 1 else np.zeros(0)
    heights = s[top]
    # sequential merge over the (few) candidates: one Python step per candidate, not per sample
    cur_trial, cur_peak, cur_valley = -1, 0.0, np.inf
    for i in range(top.size):
        tr, h = int(peak_trial[i]), float(heights[i])
        if tr != cur_trial:
            count[tr] += 1
            cur_trial, cur_peak, cur_valley = tr, h, np.inf
            continue
        cur_valley = min(cur_valley, float(mins[i - 1]) if same[i - 1] else np.inf)
        if cur_valley <= valley * min(cur_peak, h):
            count[tr] += 1
            cur_peak, cur_valley = h, np.inf
        elif h > cur_peak:
            cur_peak = h
    return count


# ------------------------------------------------------------------------------------------------- hovers
def _hovers(ctx: TrialArrays) -> tuple[np.ndarray, np.ndarray]:
    segs = ctx.segs
    n = segs.n_trials
    threshold = float(ctx.param("hover_threshold_ms"))
    include_initial = bool(ctx.param("hover_include_initial"))
    still = ~ctx.moved & ~segs.is_first
    if not still.any():
        lead = np.maximum(ctx.t_first, 0.0)
        keep = (lead > threshold) & include_initial
        return keep.astype(np.int64), np.where(keep, lead, 0.0)
    s = np.concatenate(([0], still.astype(np.int8), [0]))
    edges = np.diff(s)
    start = np.flatnonzero(edges == 1)
    end = np.flatnonzero(edges == -1) - 1
    csum = np.concatenate(([0.0], np.cumsum(np.where(still, ctx.dt, 0.0))))
    duration = csum[end + 1] - csum[start]
    run_trial = segs.ids[start]
    initial = start == segs.starts[run_trial] + 1
    duration = duration + np.where(initial, np.maximum(ctx.t_first[run_trial], 0.0), 0.0)
    # a positive first timestamp with immediate movement: the lead-in alone is an initial still phase
    lead = np.maximum(ctx.t_first, 0.0)
    lead_only = (lead > 0) & ~np.isin(np.arange(n), run_trial[initial])
    keep = duration > threshold
    if not include_initial:
        keep &= ~initial
    count = np.bincount(run_trial[keep], minlength=n).astype(np.int64)
    total = np.bincount(run_trial[keep], weights=duration[keep], minlength=n).astype(np.float64)
    if include_initial:
        extra = lead_only & (lead > threshold)
        count += extra
        total += np.where(extra, lead, 0.0)
    return count, total


def hovers(ctx: TrialArrays) -> np.ndarray:
    """Number of hovers (count): maximal periods without any movement lasting longer than
    ``hover_threshold_ms`` (mousetrap's ``hovers`` with ``hover_threshold``). The initial still phase (from
    0 ms, as ``idle_time``) counts unless ``hover_include_initial`` is false."""
    return ctx.cached("hovers", _hovers)[0]


def hover_time(ctx: TrialArrays) -> np.ndarray:
    """Total duration of the hovers counted by :func:`hovers` (ms; mousetrap's ``hover_time``)."""
    return ctx.cached("hovers", _hovers)[1]
