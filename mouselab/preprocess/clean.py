"""Cleaning trajectories: duplicate timestamps, initial and final still phases, gaps. Frames in, frames out.

* :func:`remove_duplicate_timestamps` -- mousetrap's import rule ``duplicates = "remove_first"``.
* :func:`exclude_initiation` / :func:`exclude_finish` -- mousetrap's ``mt_exclude_initiation`` /
  ``mt_exclude_finish``: drop the still phase before the first movement / after the last one.
* :func:`interpolate_gaps` -- fill recording gaps longer than a threshold with linearly interpolated samples.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mouselab.preprocess._frames import (
    TRIAL_KEY,
    FrameLike,
    as_float_array,
    check_time_order,
    collect_columns,
    require_columns,
    trial_keys_frame,
    trial_segments,
)
from mouselab.preprocess.normalize import interpolate_flat


def _eager(samples: FrameLike) -> pl.DataFrame:
    return samples.collect() if isinstance(samples, pl.LazyFrame) else samples


def remove_duplicate_timestamps(samples: FrameLike) -> FrameLike:
    """Keep only the **last** of consecutive samples of a trial that share a timestamp.

    This is mousetrap's ``mt_import_*(duplicates = "remove_first")`` (KH2017's import): when a recorder
    logs several positions with one timestamp, the later position is the more recent one. Rows must be in
    recording order within each trial. Returns the same kind of frame with the other rows and columns kept.
    (``mouselab ingest --duplicates remove_first`` applies the same rule while reading files.)
    """
    require_columns(samples, TRIAL_KEY + ("t_ms",))
    nxt = pl.col("t_ms").shift(-1).over(list(TRIAL_KEY))
    return samples.filter(nxt.is_null() | (nxt != pl.col("t_ms")))


def _moved_flags(frame: pl.DataFrame):
    segs = trial_segments(frame)
    x, y = as_float_array(frame, "x"), as_float_array(frame, "y")
    moved = np.zeros(frame.height, dtype=bool)
    if frame.height > 1:
        moved[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    moved[segs.starts] = False
    return segs, moved


def exclude_initiation(samples: FrameLike, *, reset_time: bool = False) -> pl.DataFrame:
    """Drop the initial phase without movement (mousetrap's ``mt_exclude_initiation``).

    Per trial, every sample before the *last* sample at the starting position (the one just before the
    first movement) is removed, so the trajectory starts when the cursor starts moving. Trials that never
    move keep only their last sample. With ``reset_time`` the remaining timestamps are shifted so that each
    trial starts at 0 ms (mousetrap's ``reset_timestamps``). Other columns are kept.
    """
    frame = _eager(samples)
    require_columns(frame, TRIAL_KEY + ("t_ms", "x", "y"))
    if frame.height == 0:
        return frame
    segs, moved = _moved_flags(frame)
    pos = np.arange(frame.height)
    first_move = np.minimum.reduceat(np.where(moved, pos, np.iinfo(np.int64).max), segs.starts)
    keep_from = np.where(first_move <= segs.lasts, first_move - 1, segs.lasts)
    keep = pos >= segs.broadcast(keep_from)
    out = frame.filter(pl.Series(keep))
    if reset_time:
        out = out.with_columns((pl.col("t_ms") - pl.col("t_ms").first().over(list(TRIAL_KEY))).alias("t_ms"))
    return out


def exclude_finish(samples: FrameLike) -> pl.DataFrame:
    """Drop the final phase without movement (mousetrap's ``mt_exclude_finish``).

    Per trial, every sample after the first sample at the final position (the end of the last movement)
    is removed, so the trajectory ends when the cursor stops for good. Other columns are kept.
    """
    frame = _eager(samples)
    require_columns(frame, TRIAL_KEY + ("t_ms", "x", "y"))
    if frame.height == 0:
        return frame
    segs, moved = _moved_flags(frame)
    pos = np.arange(frame.height)
    last_move = np.maximum.reduceat(np.where(moved, pos, -1), segs.starts)
    keep_to = np.where(last_move >= 0, last_move, segs.starts)
    keep = pos <= segs.broadcast(keep_to)
    return frame.filter(pl.Series(keep))


def interpolate_gaps(samples: FrameLike, *, max_gap_ms: float, step_ms: float) -> pl.DataFrame:
    """Fill gaps in the recording: where consecutive samples of a trial are more than ``max_gap_ms`` apart,
    insert samples every ``step_ms`` (ms) on the straight line between them (linear interpolation in time).

    Useful before measures that assume regular sampling (smoothing, velocity peaks) when a recorder dropped
    frames. Inserted rows get ``interpolated = true`` (original rows false); columns other than the trial
    key, ``t_ms``, ``x`` and ``y`` are null on inserted rows. Rows are returned in time order per trial.
    """
    max_gap_ms, step_ms = float(max_gap_ms), float(step_ms)
    if not (max_gap_ms > 0 and step_ms > 0):
        raise ValueError(f"max_gap_ms and step_ms must be positive, got {max_gap_ms!r}, {step_ms!r}")
    frame = _eager(samples)
    base = collect_columns(frame, TRIAL_KEY + ("t_ms", "x", "y"))
    segs = trial_segments(base)
    t = as_float_array(base, "t_ms")
    check_time_order(t, segs, base)
    x, y = as_float_array(base, "x"), as_float_array(base, "y")
    original = frame.with_columns(pl.lit(False).alias("interpolated"))
    if t.size < 2:
        return original
    gap = np.diff(t)
    gap[segs.starts[1:] - 1] = 0.0  # no gap across trials
    where = np.flatnonzero(gap > max_gap_ms)  # gap between samples where and where + 1
    if where.size == 0:
        return original
    n_new = np.ceil(gap[where] / step_ms).astype(np.int64) - 1
    n_new = np.maximum(n_new, 0)
    gap_of = np.repeat(np.arange(where.size), n_new)
    offsets = np.concatenate(([0], np.cumsum(n_new)[:-1]))
    k = np.arange(gap_of.size) - offsets[gap_of] + 1
    needles = t[where[gap_of]] + k * step_ms
    trial_of = segs.ids[where[gap_of]]
    nx, ny = interpolate_flat(t, [x, y], segs, trial_of, needles)
    keys = trial_keys_frame(base, segs)
    inserted = keys[trial_of].with_columns(
        pl.Series("t_ms", needles), pl.Series("x", nx), pl.Series("y", ny), pl.lit(True).alias("interpolated"),
    )
    order = pl.concat([original.with_row_index("__row").with_columns(pl.col("__row").cast(pl.Float64)),
                       inserted.with_columns(pl.Series("__row", where[gap_of] + k / (n_new[gap_of] + 1.0)))],
                      how="diagonal_relaxed")
    return order.sort("__row").drop("__row")
