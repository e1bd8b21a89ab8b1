"""Shared helpers of the pure layer: frame checks and trial segments as NumPy offsets.

Samples are long and flat (see :mod:`mouselab.schema`): rows of one trial are contiguous and time-sorted.
Vectorised code works on whole columns as NumPy arrays and describes trials by their *segment offsets*
(``starts``, ``lengths``), so reductions run over all trials at once with ``np.ufunc.reduceat``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

#: Columns that identify one trial (one trajectory).
TRIAL_KEY: tuple[str, ...] = ("study", "participant", "session", "trial")
#: Columns a trajectory needs besides its key.
TRAJECTORY_COLUMNS: tuple[str, ...] = ("t_ms", "x", "y")

FrameLike = pl.DataFrame | pl.LazyFrame


def require_columns(frame: FrameLike, columns: tuple[str, ...] | list[str], *, what: str = "samples") -> None:
    """Raise ``ValueError`` naming every column of ``columns`` that ``frame`` lacks."""
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"expected at least {', '.join(columns)} (have: {', '.join(names) or 'no columns'})"
        )


def collect_columns(
    samples: FrameLike, columns: tuple[str, ...] | list[str], *, what: str = "samples"
) -> pl.DataFrame:
    """Check and select ``columns`` from an eager or lazy frame; return an eager frame.

    ``t_ms``, ``x`` and ``y`` (when requested) are cast to Float64 and must hold no nulls.
    """
    if not isinstance(samples, (pl.DataFrame, pl.LazyFrame)):
        raise TypeError(f"{what}: expected a polars DataFrame or LazyFrame, got {type(samples).__name__}")
    require_columns(samples, columns, what=what)
    casts = [
        pl.col(c).cast(pl.Float64) if c in TRAJECTORY_COLUMNS else pl.col(c) for c in columns
    ]
    frame = samples.select(casts)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    for c in TRAJECTORY_COLUMNS:
        if c in columns and frame[c].null_count():
            row = int(frame[c].is_null().arg_max())
            raise ValueError(f"{what}: column {c!r} row {row + 1} is empty; a number is required")
    return frame


def as_float_array(frame: pl.DataFrame, column: str) -> np.ndarray:
    """The column as a contiguous float64 NumPy array (zero-copy when possible)."""
    return np.ascontiguousarray(frame.get_column(column).cast(pl.Float64).to_numpy())


@dataclass(frozen=True)
class Segments:
    """Trials as contiguous segments of a flat sample array.

    ``starts[i]`` is the first row of trial ``i`` and ``lengths[i]`` its number of samples (always >= 1).
    """

    starts: np.ndarray
    lengths: np.ndarray

    @property
    def n_trials(self) -> int:
        return int(self.starts.size)

    @cached_property
    def n_samples(self) -> int:
        return int(self.lengths.sum())

    @cached_property
    def lasts(self) -> np.ndarray:
        """Index of the last sample of each trial."""
        return self.starts + self.lengths - 1

    @cached_property
    def ids(self) -> np.ndarray:
        """Trial index (0..n_trials-1) of every sample."""
        return np.repeat(np.arange(self.n_trials, dtype=np.int64), self.lengths)

    @cached_property
    def is_first(self) -> np.ndarray:
        """Boolean mask of the first sample of each trial."""
        mask = np.zeros(self.n_samples, dtype=bool)
        mask[self.starts] = True
        return mask

    @cached_property
    def is_last(self) -> np.ndarray:
        """Boolean mask of the last sample of each trial."""
        mask = np.zeros(self.n_samples, dtype=bool)
        mask[self.lasts] = True
        return mask

    @cached_property
    def positions(self) -> np.ndarray:
        """Row index 0..n_samples-1 (cached: used as candidate indices in arg-reductions)."""
        return np.arange(self.n_samples, dtype=np.int64)

    def broadcast(self, per_trial: np.ndarray) -> np.ndarray:
        """Repeat one value per trial onto every sample of that trial."""
        return np.repeat(per_trial, self.lengths)


def segments_from_starts(starts: np.ndarray, n_samples: int) -> Segments:
    """Build :class:`Segments` from sorted start offsets of a flat array of ``n_samples`` rows."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(np.append(starts, n_samples)).astype(np.int64)
    return Segments(starts=starts, lengths=lengths)


def trial_segments(frame: pl.DataFrame, *, keys: tuple[str, ...] = TRIAL_KEY, what: str = "samples") -> Segments:
    """Find the contiguous trials of ``frame`` (rows of one trial must be contiguous).

    Raises ``ValueError`` when a trial's rows are split into several blocks.
    """
    n = frame.height
    if n == 0:
        return Segments(starts=np.zeros(0, dtype=np.int64), lengths=np.zeros(0, dtype=np.int64))
    changed = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
    new = frame.select((changed | (pl.int_range(pl.len()) == 0)).alias("new")).get_column("new")
    starts = np.flatnonzero(new.to_numpy())
    segs = segments_from_starts(starts, n)
    heads = frame.select(keys)[starts]
    dup = heads.is_duplicated()
    if dup.any():
        row = heads.filter(dup).row(0, named=True)
        raise ValueError(
            f"{what}: the rows of trial {row} are not contiguous; sort the samples by "
            f"{', '.join(keys)}, t_ms (one trial's samples must form one block)"
        )
    return segs


def check_time_order(t: np.ndarray, segs: Segments, frame: pl.DataFrame, *, keys: tuple[str, ...] = TRIAL_KEY,
                     what: str = "samples") -> None:
    """Raise ``ValueError`` when ``t_ms`` does not strictly increase within a trial."""
    if t.size < 2:
        return
    bad = (np.diff(t) <= 0) & ~segs.is_first[1:]
    if bad.any():
        row = int(np.argmax(bad)) + 1
        kind = "a duplicate" if t[row] == t[row - 1] else "a decreasing"
        key = frame.select(keys).row(row, named=True)
        raise ValueError(
            f"{what}: row {row + 1}, column 't_ms': {kind} timestamp {t[row]} in trial {key}; "
            "timestamps must strictly increase within a trial (sort by t_ms and drop duplicate samples)"
        )


def trial_keys_frame(frame: pl.DataFrame, segs: Segments, *, keys: tuple[str, ...] = TRIAL_KEY) -> pl.DataFrame:
    """One row per trial holding its key columns, in segment order."""
    return frame.select(keys)[segs.starts]


@dataclass(frozen=True)
class Block:
    """A run of whole trials: rows ``row_lo:row_hi`` and trials ``trial_lo:trial_hi`` of the full arrays."""

    row_lo: int
    row_hi: int
    trial_lo: int
    trial_hi: int
    segs: Segments  # segments relative to row_lo


def split_blocks(segs: Segments, *, max_samples: int) -> list[Block]:
    """Cut the trials into consecutive blocks of whole trials holding about ``max_samples`` rows each.

    Working block by block keeps temporaries small (cache-friendly, reused heap memory) while every block
    is still processed vectorised. A trial longer than ``max_samples`` forms a block of its own.
    """
    if segs.n_trials == 0:
        return []
    ends = np.cumsum(segs.lengths)
    cuts = [0]
    while cuts[-1] < segs.n_trials:
        lo = cuts[-1]
        base = ends[lo - 1] if lo else 0
        hi = int(np.searchsorted(ends, base + max_samples, side="right"))
        cuts.append(max(hi, lo + 1))
    blocks = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        row_lo = int(segs.starts[lo])
        row_hi = int(segs.starts[hi - 1] + segs.lengths[hi - 1])
        sub = Segments(starts=segs.starts[lo:hi] - row_lo, lengths=segs.lengths[lo:hi])
        blocks.append(Block(row_lo=row_lo, row_hi=row_hi, trial_lo=lo, trial_hi=hi, segs=sub))
    return blocks


def segmented_cumsum(values: np.ndarray, segs: Segments) -> np.ndarray:
    """Cumulative sum restarting at every trial, computed per trial (sequentially from its first sample).

    The result of a trial does not depend on the other trials (unlike a global cumsum minus offsets, whose
    rounding depends on everything before). Trials are bucketed by length (powers of two) into padded
    matrices summed along rows, so memory stays within twice the data.
    """
    out = np.empty_like(values, dtype=np.float64)
    if segs.n_trials == 0:
        return out
    width = np.maximum(1, 1 << np.ceil(np.log2(np.maximum(segs.lengths, 1))).astype(np.int64))
    for w in np.unique(width):
        which = np.flatnonzero(width == w)
        lengths = segs.lengths[which]
        cols = np.arange(w)[None, :]
        valid = cols < lengths[:, None]
        idx = (segs.starts[which][:, None] + cols)[valid]
        mat = np.zeros((which.size, w))
        mat[valid] = values[idx]
        np.cumsum(mat, axis=1, out=mat)
        out[idx] = mat[valid]
    return out
