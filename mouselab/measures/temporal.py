"""Temporal and kinematic trial measures: response time, initiation and idle time, velocity and acceleration
extremes and micro-hesitations (velocity peaks / submovements: :mod:`mouselab.measures.kinematic`). Each function maps a :class:`TrialArrays` to one value per trial.

Times are on the trial clock (``t_ms``, ms since trial start). Durations are measured from the trial start at
0 ms: mousetrap assumes an unrecorded still phase between 0 and a positive first timestamp (it rejects negative
first timestamps; here they are measured from the first sample instead).

References: Kieslich et al. (2019) for mousetrap's definitions; Freeman & Ambady (2010); Meyer, Abrams,
Kornblum, Wright & Smith (1988) for submovements (velocity peaks, hesitations).
"""

from __future__ import annotations

import numpy as np

from mouselab.measures._context import TrialArrays, seg_argmax, seg_argmin, seg_first_index_of, seg_sum


def rt(ctx: TrialArrays) -> np.ndarray:
    """Response time (ms): the last timestamp of the trial (mousetrap ``RT``)."""
    return ctx.t_last


def _lead_in(ctx: TrialArrays) -> np.ndarray:
    """Still phase before the first sample (ms): the first timestamp when it is positive, else 0."""
    return np.maximum(ctx.t_first, 0.0)


def initiation_time(ctx: TrialArrays) -> np.ndarray:
    """Time until the cursor first moves (ms): the timestamp of the last sample before the first sample whose
    position differs from the previous one, measured from 0 ms; RT when the cursor never moves."""
    first_move = seg_first_index_of(ctx.moved, ctx.segs)
    moved = first_move >= 0
    before = ctx.t[np.where(moved, first_move - 1, ctx.segs.lasts)]
    return before - ctx.t_first + _lead_in(ctx)


def idle_time(ctx: TrialArrays) -> np.ndarray:
    """Total time without movement (ms): sum of Δt over steps whose position did not change (plus a still
    lead-in before a positive first timestamp; mousetrap ``idle_time``)."""
    still_dt = np.where(ctx.moved, 0.0, ctx.dt)
    return seg_sum(still_dt, ctx.segs) + _lead_in(ctx)


def vel_max(ctx: TrialArrays) -> np.ndarray:
    """Largest step speed (px/ms); speeds are ``dist / Δt`` per step (mousetrap ``vel_max``)."""
    return ctx.vel_max


def vel_max_time(ctx: TrialArrays) -> np.ndarray:
    """Time of the first maximal speed (ms): the timestamp of sample k-1, where step k (k-1 -> k) is the
    first fastest step; the first timestamp when the maximum is the padding 0 at the first sample.

    mousetrap's code intends the mean of the timestamps k-1 and k, but R's ``ifelse()`` keeps only the first
    element of ``c(k-1, k)``, so the values mousetrap reports (and the conformance data) are ``t[k-1]``;
    this reproduces the reported values.
    """
    k = seg_argmax(ctx.vel, ctx.segs, ctx.vel_max)
    return ctx.t[np.where(k == ctx.segs.starts, k, k - 1)]


def vel_min(ctx: TrialArrays) -> np.ndarray:
    """Smallest step speed (px/ms). As in mousetrap the first sample's speed is padded with 0, so this is 0."""
    return np.fmin.reduceat(ctx.vel, ctx.segs.starts)


def vel_min_time(ctx: TrialArrays) -> np.ndarray:
    """Time of the first minimal speed (ms), timed as :func:`vel_max_time` (the first timestamp in practice,
    because the first sample's speed is padded with 0)."""
    k = seg_argmin(ctx.vel, ctx.segs)
    return ctx.t[np.where(k == ctx.segs.starts, k, k - 1)]


def acc_max(ctx: TrialArrays) -> np.ndarray:
    """Largest acceleration (px/ms²) with mousetrap's definition ``(vel[k+1] - vel[k]) / Δt[k]`` (the
    previous step's Δt), 0 at the first sample and undefined at the last one."""
    return ctx.acc_max


def acc_max_time(ctx: TrialArrays) -> np.ndarray:
    """Timestamp (ms) of the sample ``k`` where the acceleration is first maximal."""
    return ctx.t[seg_argmax(ctx.acc, ctx.segs, ctx.acc_max)]


def acc_min(ctx: TrialArrays) -> np.ndarray:
    """Smallest acceleration (px/ms²), see :func:`acc_max`."""
    return ctx.acc_min


def acc_min_time(ctx: TrialArrays) -> np.ndarray:
    """Timestamp (ms) of the sample ``k`` where the acceleration is first minimal."""
    return ctx.t[seg_argmin(ctx.acc, ctx.segs, ctx.acc_min)]


def _hesitations(ctx: TrialArrays) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial count and total duration of micro-hesitations (see :func:`micro_hesitation_count`)."""
    segs = ctx.segs
    n_trials = segs.n_trials
    threshold_ms = float(ctx.param("pause_threshold_ms"))
    speed = float(ctx.param("pause_speed_px_per_ms"))
    # A step is "still" when the cursor did not move or moved slower than the speed threshold.
    still = ~ctx.moved | (ctx.vel < speed)
    still &= ~segs.is_first  # the first sample closes no step
    moving = ~still & ~segs.is_first
    if not still.any():
        return np.zeros(n_trials, dtype=np.int64), np.zeros(n_trials)
    # maximal runs of still steps
    s = still.astype(np.int8)
    edges = np.diff(np.concatenate(([0], s, [0])))
    run_start = np.flatnonzero(edges == 1)  # first still step of the run
    run_end = np.flatnonzero(edges == -1) - 1  # last still step of the run
    # runs never span trials: the first sample of each trial is never still
    before = run_start - 1  # the step just before the run (same trial unless it is the first sample)
    after = run_end + 1
    n = segs.n_samples
    inside = moving[before] & (after < n)
    inside[inside] &= moving[after[inside]] & (segs.ids[after[inside]] == segs.ids[run_start[inside]])
    # duration: from the sample where the run starts (run_start - 1) to the run's last sample
    duration = ctx.t[run_end] - ctx.t[run_start - 1]
    counted = inside & (duration >= threshold_ms)
    trial = segs.ids[run_start[counted]]
    count = np.bincount(trial, minlength=n_trials).astype(np.int64)
    total = np.bincount(trial, weights=duration[counted], minlength=n_trials)
    return count, total


def micro_hesitation_count(ctx: TrialArrays) -> np.ndarray:
    """Number of pauses inside the movement (count).

    A *still step* is a step (sample k-1 -> k) without movement or slower than ``pause_speed_px_per_ms``.
    A pause is a maximal run of consecutive still steps that is preceded **and** followed by a moving step
    of the same trial -- so the initial rest before initiation and the final dwell before the response are
    excluded -- and lasts at least ``pause_threshold_ms`` (duration = time from the sample where the run
    starts to its last sample). Hesitations as brief stops within an otherwise continuous movement follow
    the submovement view of Meyer et al. (1988) and the "hesitation" idea of Freeman & Ambady (2010).
    """
    return ctx.cached("hesitations", _hesitations)[0]


def micro_hesitation_time(ctx: TrialArrays) -> np.ndarray:
    """Total duration (ms) of the pauses counted by :func:`micro_hesitation_count` (same definition and
    references: Meyer et al., 1988; Freeman & Ambady, 2010)."""
    return ctx.cached("hesitations", _hesitations)[1]
