"""Time normalisation, resampling and length normalisation of trajectories (mousetrap's ``mt_time_normalize``,
``mt_resample``, ``mt_length_normalize``), vectorised over all trials."""

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
    segmented_cumsum,
    segments_from_starts,
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


def interpolate_flat(t: np.ndarray, values: list[np.ndarray], segs: Segments, trial_of: np.ndarray,
                     needles: np.ndarray) -> list[np.ndarray]:
    """Linear interpolation at a *variable* number of needles per trial (R's ``approx`` rule, as
    :func:`interpolate_segments`): ``trial_of[k]`` is the trial of needle ``needles[k]``; needles must lie
    within their trial's first..last time and be grouped by trial in segment order."""
    if needles.size == 0:
        return [np.zeros(0) for _ in values]
    t0 = t[segs.starts]
    durations = t[segs.lasts] - t0
    offset = np.concatenate(([0.0], np.cumsum(durations + 1.0)[:-1])) - t0
    key = t + segs.broadcast(offset)
    i = np.searchsorted(key, needles + offset[trial_of], side="right") - 1
    np.clip(i, segs.starts[trial_of], np.maximum(segs.lasts - 1, segs.starts)[trial_of], out=i)
    j = np.minimum(i + 1, segs.lasts[trial_of])
    ti, tj = t[i], t[j]
    hit_i, hit_j = needles == ti, needles == tj
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (needles - ti) / (tj - ti)
    out = []
    for v in values:
        yi, yj = v[i], v[j]
        res = (yj - yi) * frac + yi
        np.copyto(res, yi, where=hit_i)
        np.copyto(res, yj, where=hit_j)
        out.append(res)
    return out


def _prepared(samples: FrameLike) -> tuple[pl.DataFrame, Segments, np.ndarray, np.ndarray, np.ndarray]:
    frame = collect_columns(samples, TRIAL_KEY + ("t_ms", "x", "y"))
    segs = trial_segments(frame)
    t = as_float_array(frame, "t_ms")
    check_time_order(t, segs, frame)
    return frame, segs, t, as_float_array(frame, "x"), as_float_array(frame, "y")


def resample(samples: FrameLike, *, step_ms: float, include_last: bool = True) -> pl.DataFrame:
    """Resample every trial at a fixed rate by linear interpolation (mousetrap's ``mt_resample``).

    New timestamps run from each trial's first timestamp in steps of ``step_ms`` (ms) up to, not beyond,
    its last timestamp; with ``include_last`` the last timestamp is added when it is not on the grid
    (mousetrap's ``exact_last_timestamp = TRUE``), so RT is preserved. ``x`` and ``y`` are linearly
    interpolated between the bracketing samples (exact sample values where a new time hits a sample).

    Returns ``study, participant, session, trial, t_ms, x, y`` (one row per new sample, trials in input
    order). Vectorised over all trials.
    """
    step_ms = float(step_ms)
    if not step_ms > 0:
        raise ValueError(f"step_ms must be a positive number of milliseconds, got {step_ms!r}")
    frame, segs, t, x, y = _prepared(samples)
    first, last = t[segs.starts], t[segs.lasts]
    n_grid = np.floor((last - first) / step_ms + 1e-9).astype(np.int64) + 1
    on_grid = np.isclose(first + (n_grid - 1) * step_ms, last, rtol=0, atol=1e-9)
    extra = (include_last & ~on_grid).astype(np.int64)
    counts = n_grid + extra
    trial_of = np.repeat(np.arange(segs.n_trials), counts)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    k = np.arange(trial_of.size) - offsets[trial_of]
    needles = first[trial_of] + k * step_ms
    is_extra = k >= n_grid[trial_of]
    needles[is_extra] = last[trial_of[is_extra]]
    needles = np.minimum(needles, last[trial_of])
    if include_last:  # the grid's last point sits exactly on the last timestamp when it is on the grid
        ends = offsets + counts - 1
        needles[ends] = last
    nx, ny = interpolate_flat(t, [x, y], segs, trial_of, needles)
    keys = trial_keys_frame(frame, segs)
    return keys[trial_of].with_columns(pl.Series("t_ms", needles), pl.Series("x", nx), pl.Series("y", ny))


def length_normalize(samples: FrameLike, *, n_points: int = 20) -> pl.DataFrame:
    """Re-represent every trajectory by ``n_points`` points equally spaced along its path (mousetrap's
    ``mt_length_normalize``, formerly ``mt_spatialize``; Wulff et al., 2019).

    The cumulative path length ``s`` (sum of Euclidean steps) is computed per trial, samples that do not
    move are dropped (they add no length), and ``x``, ``y`` are linearly interpolated at ``n_points``
    equally spaced values of ``s`` from 0 to the total length, so adjacent points are equidistant along
    the path. A trial that never moves gives ``n_points`` copies of its position. Time is not kept (the
    result is a shape); ``point`` numbers the points 1..n_points.

    Returns ``study, participant, session, trial, point, x, y``.
    """
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    n_points = int(n_points)
    frame = collect_columns(samples, TRIAL_KEY + ("x", "y"))
    segs = trial_segments(frame)
    x, y = as_float_array(frame, "x"), as_float_array(frame, "y")
    keys = trial_keys_frame(frame, segs)
    xs, ys = length_normalize_arrays(x, y, segs, n_points=n_points)
    rows = np.repeat(np.arange(segs.n_trials), n_points)
    return keys[rows].with_columns(
        pl.Series("point", np.tile(np.arange(1, n_points + 1, dtype=np.int32), segs.n_trials)),
        pl.Series("x", xs.ravel()),
        pl.Series("y", ys.ravel()),
    )


def length_normalize_arrays(x: np.ndarray, y: np.ndarray, segs: Segments, *, n_points: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """NumPy core of :func:`length_normalize`: (x, y) each of shape (n_trials, n_points)."""
    if segs.n_trials == 0:
        return np.zeros((0, n_points)), np.zeros((0, n_points))
    dx = np.diff(x, prepend=x[:1])
    dy = np.diff(y, prepend=y[:1])
    dx[segs.starts] = 0.0
    dy[segs.starts] = 0.0
    step = np.sqrt(dx * dx + dy * dy)
    keep = (step > 0) | segs.is_first
    kx, ky, ks = x[keep], y[keep], step[keep]
    kept_ids = segs.ids[keep]
    kstarts = np.searchsorted(kept_ids, np.arange(segs.n_trials))
    ksegs = segments_from_starts(kstarts, kx.size)
    arc = segmented_cumsum(ks, ksegs)  # 0 at each trial's first sample (its step is 0)
    total = arc[ksegs.lasts]
    frac = np.linspace(0.0, 1.0, n_points)[None, :]
    needles = total[:, None] * frac
    needles[:, -1] = total
    xs, ys = interpolate_segments(arc, [kx, ky], ksegs, needles)
    still = total == 0
    if still.any():
        xs[still] = kx[ksegs.starts[still]][:, None]
        ys[still] = ky[ksegs.starts[still]][:, None]
    return xs, ys
