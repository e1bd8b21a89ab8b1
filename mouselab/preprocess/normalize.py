"""Time normalisation of trajectories (mousetrap's ``mt_time_normalize``), vectorised over all trials."""

from __future__ import annotations

import numpy as np
import polars as pl

from mouselab.preprocess._frames import (
    TRIAL_KEY,
    FrameLike,
    Segments,
    as_float_array,
    check_time_order,
    collect_columns,
    trial_keys_frame,
    trial_segments,
)


def equally_spaced_times(first: np.ndarray, last: np.ndarray, n_steps: int) -> np.ndarray:
    """``n_steps`` equally spaced times from ``first`` to ``last`` for every trial: shape (n_trials, n_steps).

    Follows R's ``seq(from, to, length.out = n)``: the ends are exact, points in the first half are
    ``from + i * by`` and points in the second half ``to - (n - 1 - i) * by``.
    """
    first = np.asarray(first, dtype=np.float64)[:, None]
    last = np.asarray(last, dtype=np.float64)[:, None]
    if n_steps == 1:
        return first.copy()
    i = np.arange(n_steps, dtype=np.float64)[None, :]
    by = (last - first) / (n_steps - 1)
    lower = np.arange(n_steps) < n_steps // 2
    out = np.where(lower[None, :], first + i * by, last - (n_steps - 1 - i) * by)
    out[:, 0] = first[:, 0]
    out[:, -1] = last[:, 0]
    return out


def interpolate_segments(t: np.ndarray, values: list[np.ndarray], segs: Segments, times: np.ndarray) -> list[np.ndarray]:
    """Linear interpolation of each array in ``values`` at ``times`` (n_trials, k), trial by trial, vectorised.

    ``t`` must strictly increase within each trial and ``times`` lie within each trial's first..last time.
    Matches R's ``approx()``: ``y[i] + (y[j] - y[i]) * ((v - x[i]) / (x[j] - x[i]))`` with exact hits
    returning the sample value. Returns arrays of shape (n_trials, k).
    """
    n_trials, k = times.shape
    if n_trials == 0:
        return [np.zeros((0, k)) for _ in values]
    t0 = t[segs.starts]
    durations = t[segs.lasts] - t0
    # A globally non-decreasing key (time + per-trial offset, trials 1 ms apart) lets one searchsorted call
    # find the bracketing samples of every trial at once. Rounding can only move a needle that sits on a
    # sample time to the neighbouring bracket, where the interpolated value is the same (continuity).
    offset = np.concatenate(([0.0], np.cumsum(durations + 1.0)[:-1])) - t0
    key = t + segs.broadcast(offset)
    needles = times + offset[:, None]
    i = np.searchsorted(key, needles.ravel(), side="right").reshape(n_trials, k)
    i -= 1
    np.clip(i, segs.starts[:, None], np.maximum(segs.lasts - 1, segs.starts)[:, None], out=i)
    j = np.minimum(i + 1, segs.lasts[:, None])
    ti, tj = t[i], t[j]
    hit_i, hit_j = times == ti, times == tj
    with np.errstate(invalid="ignore", divide="ignore"):
        span = np.subtract(tj, ti, out=tj)
        frac = np.subtract(times, ti, out=ti)
        frac /= span
    out = []
    for v in values:
        yi, yj = v[i], v[j]
        res = yj - yi
        res *= frac
        res += yi
        np.copyto(res, yi, where=hit_i)
        np.copyto(res, yj, where=hit_j)
        out.append(res)
    return out


def time_normalize_arrays(t: np.ndarray, x: np.ndarray, y: np.ndarray, segs: Segments, *, n_steps: int = 101
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy core of :func:`time_normalize`: (t, x, y) each of shape (n_trials, n_steps)."""
    times = equally_spaced_times(t[segs.starts], t[segs.lasts], n_steps)
    tn_t, tn_x, tn_y = interpolate_segments(t, [t, x, y], segs, times)
    return tn_t, tn_x, tn_y


def time_normalize(samples: FrameLike, *, n_steps: int = 101) -> pl.DataFrame:
    """Resample every trial at ``n_steps`` equally spaced times from its first to its last sample.

    Definition (mousetrap's ``mt_time_normalize``; Spivey, Grosjean & Knoblich, 2005): for each trial,
    times ``t_1 .. t_n`` run from the first to the last timestamp in equal steps and ``x``, ``y`` are
    linearly interpolated between the two bracketing samples. All trials are processed at once.

    Parameters
    ----------
    samples:
        Long samples frame (eager or lazy) with ``study, participant, session, trial, t_ms, x, y``; rows of
        a trial contiguous and strictly increasing in ``t_ms``.
    n_steps:
        Number of time steps per trial (mousetrap's ``nsteps``, default 101).

    Returns
    -------
    polars.DataFrame
        ``study, participant, session, trial, step`` (1-based, Int32), ``t_ms``, ``x``, ``y``:
        ``n_steps`` rows per trial in input trial order.
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    n_steps = int(n_steps)
    frame = collect_columns(samples, TRIAL_KEY + ("t_ms", "x", "y"))
    segs = trial_segments(frame)
    t = as_float_array(frame, "t_ms")
    check_time_order(t, segs, frame)
    tn_t, tn_x, tn_y = time_normalize_arrays(t, as_float_array(frame, "x"), as_float_array(frame, "y"), segs,
                                             n_steps=n_steps)
    keys = trial_keys_frame(frame, segs)
    rows = np.repeat(np.arange(segs.n_trials), n_steps)
    return keys[rows].with_columns(
        pl.Series("step", np.tile(np.arange(1, n_steps + 1, dtype=np.int32), segs.n_trials)),
        pl.Series("t_ms", tn_t.ravel()),
        pl.Series("x", tn_x.ravel()),
        pl.Series("y", tn_y.ravel()),
    )
