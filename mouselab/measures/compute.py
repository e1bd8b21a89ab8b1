"""Compute registered measures for every trial at once (vectorised or compiled; no Python loop over trials).

Two engines compute the same numbers:

* ``numba`` (extra ``fast``; the default when installed): one compiled pass per trial computes the whole
  mousetrap set, a second kernel time-normalises and counts sample-entropy matches.
* ``numpy``: every measure is a handful of NumPy operations over all trials of a block (the reference
  implementation, and the only one for measures outside the mousetrap set).

Trials are processed in blocks of whole trials (about ``BLOCK_SAMPLES`` samples each) on a small thread
pool (both engines release the GIL). The only data-set-level quantity, sample entropy's pooled tolerance,
needs every trial's time-normalised differences before any entropy is counted. The computation is
therefore split into passes that :class:`MeasureRun` exposes for streaming and distributed use:

1. :meth:`MeasureRun.first_pass` on any chunk of whole trials: every measure except sample entropy, plus the
   per-trial sums and sums of squares of the time-normalised differences (and the differences themselves);
2. :meth:`MeasureRun.tolerance` combines the per-trial sums of all chunks **exactly** (``math.fsum`` over
   all trials, then exact rational arithmetic), so the tolerance does not depend on how the data were
   chunked, on the order of the chunks or on the machine that computed them;
3. :meth:`MeasureRun.finish` counts sample-entropy matches with that tolerance.

:func:`compute_measures` runs the three steps on one frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import polars as pl

from mouselab.measures._context import TrialArrays
from mouselab.measures._kernels import kernels, resolve_engine
from mouselab.measures.entropy import entropy_diffs, sample_entropy_matrix
from mouselab.measures.registry import MEASURES, PARAMETERS, resolve_measures
from mouselab.preprocess._frames import (
    TRIAL_KEY,
    Block,
    FrameLike,
    Segments,
    as_float_array,
    check_time_order,
    collect_columns,
    segments_from_starts,
    split_blocks,
)

#: Samples per block of trials (about 2 MB per float64 temporary of the NumPy engine).
BLOCK_SAMPLES = 1 << 18
#: Per-trial geometry columns measures may use (joined from the trials table; NaN when unknown).
GEOMETRY_COLUMNS = ("start_x", "start_y", "target_x", "target_y", "target_w", "target_h")
ENTROPY = "sample_entropy"


def _map(func: Callable, items: Sequence, n_threads: int) -> list:
    if n_threads <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(n_threads, len(items))) as pool:
        return list(pool.map(func, items))


def default_threads(n_threads: int | None) -> int:
    """Threads to use: ``n_threads`` or the CPU count (at most 4)."""
    return max(1, n_threads if n_threads is not None else min(os.cpu_count() or 1, 4))


# ----------------------------------------------------------------------------------------- frames -> arrays
def find_segments(frame: pl.DataFrame, keys: Sequence[str], *, what: str = "samples") -> tuple[Segments, pl.DataFrame]:
    """Contiguous trials of ``frame`` by the key columns ``keys`` (one run of equal keys = one trial), and the
    key values of each trial (one row per trial).

    Raises ``ValueError`` when a trial's rows are split into several runs.
    """
    n = frame.height
    keys = list(keys)
    if n == 0:
        return (Segments(starts=np.zeros(0, dtype=np.int64), lengths=np.zeros(0, dtype=np.int64)),
                frame.select(keys).clear())
    if not keys:
        return segments_from_starts(np.zeros(1, dtype=np.int64), n), pl.DataFrame()
    runs = frame.select(pl.struct(keys).rle().alias("r")).unnest("r")  # one polars pass: lengths and values
    lengths = runs.get_column("len").to_numpy().astype(np.int64)
    heads = runs.get_column("value").struct.unnest()
    starts = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    dup = heads.is_duplicated()
    if dup.any():
        row = heads.filter(dup).row(0, named=True)
        raise ValueError(
            f"{what}: the rows of trial {row} are not contiguous; sort the samples by "
            f"{', '.join(keys)}, t_ms (one trial's samples must form one block)"
        )
    return Segments(starts=starts, lengths=lengths), heads


@dataclass
class Chunk:
    """Whole trials of one call as flat arrays: key columns per trial, t/x/y per sample, segments, geometry."""

    keys: pl.DataFrame  # key columns that vary within the chunk, one row per trial
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    segs: Segments
    geometry: dict[str, np.ndarray] = field(default_factory=dict)
    frame: pl.DataFrame | None = None  # the samples (for error messages)
    constants: dict[str, str] = field(default_factory=dict)  # key columns with one value for the whole chunk

    @property
    def n_trials(self) -> int:
        return self.segs.n_trials


def chunk_from_frame(
    samples: FrameLike,
    *,
    keys: Sequence[str] = TRIAL_KEY,
    constant_keys: Mapping[str, str] | None = None,
    targets: pl.DataFrame | None = None,
) -> Chunk:
    """Check a samples frame and turn it into a :class:`Chunk`.

    ``keys`` are the columns that identify a trial inside ``samples``; ``constant_keys`` adds key columns
    with one value for the whole frame (e.g. the study and participant of one store partition) without
    materialising them per sample. ``targets`` (optional) holds per-trial geometry (:data:`GEOMETRY_COLUMNS`)
    with the trial key columns; it is joined onto the trials (missing values become NaN).
    """
    constant_keys = dict(constant_keys or {})
    frame = collect_columns(samples, tuple(keys) + ("t_ms", "x", "y"))
    segs, head = find_segments(frame, keys)
    t = as_float_array(frame, "t_ms")
    chunk = Chunk(keys=head, t=t, x=as_float_array(frame, "x"), y=as_float_array(frame, "y"),
                  segs=segs, frame=frame, constants=constant_keys)
    if targets is not None:
        chunk.geometry = _geometry(chunk.keys, targets)
    return chunk


def _geometry(keys: pl.DataFrame, targets: pl.DataFrame) -> dict[str, np.ndarray]:
    on = [k for k in keys.columns if k in targets.columns]
    cols = [c for c in GEOMETRY_COLUMNS if c in targets.columns]
    if not on or not cols:
        return {}
    joined = keys.select(on).join(
        targets.select(on + cols).unique(subset=on, keep="first"), on=on, how="left", maintain_order="left"
    )
    return {c: joined.get_column(c).cast(pl.Float64).fill_null(float("nan")).to_numpy() for c in cols}


def _context(chunk: Chunk, block: Block, params: dict) -> TrialArrays:
    sl = slice(block.row_lo, block.row_hi)
    geometry = {k: v[block.trial_lo:block.trial_hi] for k, v in chunk.geometry.items()}
    return TrialArrays(t=chunk.t[sl], x=chunk.x[sl], y=chunk.y[sl], segs=block.segs, params=params,
                       geometry=geometry)


def _raise_time_order(chunk: Chunk, row: int) -> None:
    t = chunk.t
    kind = "a duplicate" if t[row] == t[row - 1] else "a decreasing"
    trial = int(np.searchsorted(chunk.segs.starts, row, side="right") - 1)
    key = {**chunk.constants, **chunk.keys.row(trial, named=True)}
    raise ValueError(
        f"samples: row {row + 1}, column 't_ms': {kind} timestamp {t[row]} in trial {key}; "
        "timestamps must strictly increase within a trial (sort by t_ms and drop duplicate samples)"
    )


# ----------------------------------------------------------------------------------------- the passes
@dataclass
class PartialMeasures:
    """Result of :meth:`MeasureRun.first_pass` on one chunk of trials.

    ``values`` maps measure names to one value per trial; ``entropy_sums`` holds per trial the sum and the
    sum of squares of its time-normalised differences (for the pooled tolerance) and ``entropy_n`` their
    count; ``diffs`` the differences themselves (None when dropped to save memory -- :meth:`MeasureRun.finish`
    then needs the samples again).
    """

    keys: pl.DataFrame
    values: dict[str, np.ndarray]
    entropy_sums: np.ndarray | None = None
    entropy_n: int = 0
    diffs: np.ndarray | None = None
    constants: dict[str, str] = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return self.keys.height

    @property
    def diffs_bytes(self) -> int:
        return 0 if self.diffs is None else int(self.diffs.nbytes)


def exact_pooled_sd(sums: Sequence[np.ndarray], count: int) -> float:
    """Sample SD (ddof 1) of all values from per-group sums and sums of squares (arrays of shape (k, 2)).

    The group sums are added with ``math.fsum`` (exactly, then rounded once) and the variance is formed
    in exact rational arithmetic, so the result does not depend on how the values were grouped or ordered.
    """
    if count < 2:
        return float("nan")
    s1 = math.fsum(v for arr in sums for v in arr[:, 0].tolist())
    s2 = math.fsum(v for arr in sums for v in arr[:, 1].tolist())
    if not (math.isfinite(s1) and math.isfinite(s2)):
        return float("nan")
    var = (Fraction(s2) - Fraction(s1) ** 2 / count) / (count - 1)
    return math.sqrt(max(float(var), 0.0))


@dataclass(frozen=True)
class MeasureRun:
    """What to compute (measure names, parameters, engine), independent of the data; picklable.

    Build one with :meth:`create`, then call :meth:`first_pass` on chunks of whole trials,
    :meth:`tolerance` on all partial results and :meth:`finish` per chunk (see the module docstring).
    """

    names: tuple[str, ...]
    params: Mapping[str, Any]
    engine: str

    @classmethod
    def create(
        cls,
        *,
        preset: str | None = "mousetrap",
        measures: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        engine: Literal["auto", "numba", "numpy"] = "auto",
    ) -> MeasureRun:
        names = tuple(resolve_measures(preset=preset, measures=measures))
        return cls(names=names, params=resolve_params(params), engine=resolve_engine(engine))

    # -- helpers
    @property
    def needs_entropy(self) -> bool:
        return ENTROPY in self.names

    @property
    def kernel_names(self) -> list[str]:
        """Measures the compiled kernel provides (empty for the NumPy engine)."""
        if self.engine != "numba":
            return []
        cols = set(kernels().MOUSETRAP_COLUMNS)
        return [n for n in self.names if n in cols]

    def first_pass(self, chunk: Chunk, *, n_threads: int | None = 1, keep_diffs: bool = True) -> PartialMeasures:
        """Every measure except sample entropy for the trials of ``chunk``; entropy's sums and differences."""
        threads = default_threads(n_threads)
        params = dict(self.params)
        blocks = split_blocks(chunk.segs, max_samples=BLOCK_SAMPLES)
        kernel_names = self.kernel_names
        numpy_names = [n for n in self.names if n != ENTROPY and n not in kernel_names]
        mod = kernels() if kernel_names or (self.needs_entropy and self.engine == "numba") else None

        if not kernel_names:
            check_time_order(chunk.t, chunk.segs, chunk.frame if chunk.frame is not None else _KeysOnly(chunk))

        def run(block: Block) -> dict[str, Any]:
            out: dict[str, Any] = {}
            sl = slice(block.row_lo, block.row_hi)
            if kernel_names:
                table = np.empty((block.segs.n_trials, len(mod.MOUSETRAP_COLUMNS)))
                bad = mod.mousetrap_block(chunk.t[sl], chunk.x[sl], chunk.y[sl], block.segs.starts,
                                          block.segs.lengths, float(params["flip_threshold_px"]), table)
                if bad >= 0:
                    _raise_time_order(chunk, block.row_lo + int(bad))
                for i, name in enumerate(mod.MOUSETRAP_COLUMNS):
                    out[name] = table[:, i]
            ctx = _context(chunk, block, params) if (numpy_names or (self.needs_entropy and mod is None)) else None
            for name in numpy_names:
                out[name] = MEASURES[name].func(ctx)
            if self.needs_entropy:
                out["__diffs"], out["__sums"] = self._entropy_diffs(chunk, block, ctx, mod)
            return out

        parts = _map(run, blocks, threads)
        values = {n: _cat([p[n] for p in parts]) for n in self.names if n != ENTROPY}
        partial = PartialMeasures(keys=chunk.keys, values=values, constants=dict(chunk.constants))
        if self.needs_entropy:
            diffs = _cat([p["__diffs"] for p in parts], shape=(0, int(params["entropy_n_steps"]) - 1))
            partial.entropy_sums = _cat([p["__sums"] for p in parts], shape=(0, 2))
            partial.entropy_n = int(diffs.size)
            partial.diffs = diffs if keep_diffs else None
        return partial

    def _entropy_diffs(self, chunk: Chunk, block: Block, ctx: TrialArrays | None, mod) -> tuple[np.ndarray, np.ndarray]:
        n_steps = int(self.params["entropy_n_steps"])
        if n_steps < 2:
            raise ValueError(f"entropy_n_steps must be >= 2, got {n_steps}")
        dim = self.params["entropy_dimension"]
        if mod is not None:
            sl = slice(block.row_lo, block.row_hi)
            values = (chunk.x if dim == "x" else chunk.y)[sl]
            diffs = np.empty((block.segs.n_trials, n_steps - 1))
            sums = np.empty((block.segs.n_trials, 2))
            mod.time_normalized_diffs(chunk.t[sl], values, block.segs.starts, block.segs.lengths, n_steps,
                                      diffs, sums)
            return diffs, sums
        diffs = entropy_diffs(ctx)
        sums = np.stack([diffs.sum(axis=1), (diffs * diffs).sum(axis=1)], axis=1)
        return diffs, sums

    def entropy_diffs(self, chunk: Chunk) -> np.ndarray:
        """The time-normalised differences of every trial of ``chunk`` (for a :class:`PartialMeasures` whose
        differences were dropped)."""
        mod = kernels() if self.engine == "numba" else None
        blocks = split_blocks(chunk.segs, max_samples=BLOCK_SAMPLES)
        parts = [self._entropy_diffs(chunk, b, None if mod else _context(chunk, b, dict(self.params)), mod)[0]
                 for b in blocks]
        return _cat(parts, shape=(0, int(self.params["entropy_n_steps"]) - 1))

    def tolerance(self, partials: Sequence[PartialMeasures]) -> float | None:
        """Sample entropy's tolerance: ``entropy_r`` when given, else 0.2 x the SD (ddof 1) of the
        time-normalised differences pooled over **all** partial results (combined exactly)."""
        if not self.needs_entropy:
            return None
        if self.params["entropy_r"] is not None:
            return float(self.params["entropy_r"])
        sums = [p.entropy_sums for p in partials if p.entropy_sums is not None and p.entropy_sums.size]
        count = sum(p.entropy_n for p in partials)
        return 0.2 * exact_pooled_sd(sums, count)

    def finish_values(self, partial: PartialMeasures, *, r: float | None, diffs: np.ndarray | None = None,
                      n_threads: int | None = 1) -> dict[str, np.ndarray]:
        """Every measure of one chunk as arrays (sample entropy counted with tolerance ``r``). ``diffs``
        replaces ``partial.diffs`` when those were dropped."""
        values = dict(partial.values)
        if self.needs_entropy:
            d = partial.diffs if diffs is None else diffs
            if d is None:
                raise ValueError("finish(): the differences were dropped; pass diffs=run.entropy_diffs(chunk)")
            values[ENTROPY] = self._entropy(d, r, default_threads(n_threads))
        return values

    def assemble(self, keys: Sequence[pl.DataFrame], values: Sequence[Mapping[str, np.ndarray]],
                 constants: Sequence[Mapping[str, str]] | None = None) -> pl.DataFrame:
        """One measures frame from the keys and values of several chunks (in the given order); ``constants``
        (one mapping per chunk) adds the chunks' constant key columns."""
        key_frame = pl.concat(list(keys), how="vertical") if len(keys) > 1 else keys[0]
        if constants and any(constants):
            counts = np.array([k.height for k in keys], dtype=np.int64)
            which = np.repeat(np.arange(len(keys)), counts)
            names = [n for n in dict.fromkeys(n for c in constants for n in c)]
            key_frame = key_frame.with_columns([
                pl.Series(n, [c.get(n) for c in constants], dtype=pl.String).gather(which) for n in names
            ])
        order = [k for k in TRIAL_KEY if k in key_frame.columns] + [k for k in key_frame.columns if k not in TRIAL_KEY]
        key_frame = key_frame.select(order)
        cols = []
        for n in self.names:
            series = pl.Series(n, _cat([v[n] for v in values]))
            dtype = MEASURES[n].dtype
            if series.dtype.is_float() and dtype.is_integer():
                series = series.fill_nan(None)  # undefined counts (e.g. no target geometry) become null
            cols.append(series.cast(dtype))
        return key_frame.with_columns(cols)

    def finish(self, partial: PartialMeasures, *, r: float | None, diffs: np.ndarray | None = None,
               n_threads: int | None = 1) -> pl.DataFrame:
        """The measures frame of one chunk: keys, then one column per measure (see :meth:`finish_values`)."""
        return self.assemble([partial.keys], [self.finish_values(partial, r=r, diffs=diffs, n_threads=n_threads)],
                             [partial.constants])

    def _entropy(self, diffs: np.ndarray, r: float | None, threads: int) -> np.ndarray:
        m = int(self.params["entropy_m"])
        if m < 1:
            raise ValueError(f"entropy window m must be >= 1, got {m}")
        n_trials = diffs.shape[0]
        out = np.full(n_trials, np.nan)
        if n_trials == 0 or r is None or not math.isfinite(r):
            return out
        if self.engine == "numba":
            step = max(1, -(-n_trials // max(1, threads * 4)))
            spans = [(lo, min(lo + step, n_trials)) for lo in range(0, n_trials, step)]

            def run(span: tuple[int, int]) -> None:
                lo, hi = span
                kernels().sample_entropy_rows(diffs[lo:hi], m, float(r), out[lo:hi])

            _map(run, spans, threads)
            return out
        return sample_entropy_matrix(diffs, m=m, r=float(r), n_threads=threads)


class _KeysOnly:
    """Adapter giving :func:`check_time_order` the trial keys of a chunk built without its frame."""

    def __init__(self, chunk: Chunk):
        self.chunk = chunk

    def select(self, keys):
        return self

    def row(self, row: int, named: bool = True) -> dict:
        trial = int(np.searchsorted(self.chunk.segs.starts, row, side="right") - 1)
        return {**self.chunk.constants, **self.chunk.keys.row(trial, named=True)}


def _cat(parts: list[np.ndarray], *, shape: tuple[int, ...] = (0,)) -> np.ndarray:
    if not parts:
        return np.zeros(shape)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Registry defaults overridden by ``params``; unknown names raise ``ValueError``."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown measure parameter(s) {', '.join(unknown)}; known: {', '.join(PARAMETERS)}")
    out = {name: p.default for name, p in PARAMETERS.items()}
    for name, value in params.items():
        out[name] = PARAMETERS[name].cast(value)
    if out["entropy_dimension"] not in ("x", "y"):
        raise ValueError(f"entropy_dimension must be 'x' or 'y', got {out['entropy_dimension']!r}")
    return out


def compute_measures(
    samples: FrameLike,
    *,
    preset: str = "mousetrap",
    measures: list[str] | tuple[str, ...] | None = None,
    flip_threshold_px: float | None = None,
    pause_threshold_ms: float | None = None,
    pause_speed_px_per_ms: float | None = None,
    peak_smoothing_samples: int | None = None,
    peak_min_speed_fraction: float | None = None,
    entropy_m: int | None = None,
    entropy_r: float | None = None,
    entropy_n_steps: int | None = None,
    entropy_dimension: Literal["x", "y"] | None = None,
    params: Mapping[str, Any] | None = None,
    targets: pl.DataFrame | None = None,
    n_threads: int | None = None,
    engine: Literal["auto", "numba", "numpy"] = "auto",
) -> pl.DataFrame:
    """Per-trial measures of a long samples frame, one row per trial.

    Parameters
    ----------
    samples:
        Eager or lazy frame with ``study, participant, session, trial, t_ms, x, y``; the rows of a trial
        contiguous and strictly increasing in ``t_ms``. Coordinates are used exactly as given (mousetrap's
        math on whatever orientation the data has: remap first with :mod:`mouselab.preprocess` to get
        mousetrap's y-up, movement-upwards convention).
    preset:
        ``"mousetrap"`` (mousetrap's ``mt_measures`` defaults + ``sample_entropy``, with mousetrap's column
        names and quirks), ``"kinematic"`` (clean kinematic definitions) or ``"all"``; see
        :data:`mouselab.measures.PRESETS`.
    measures:
        Explicit list of measure names (overrides ``preset``); see :func:`list_measures`.
    flip_threshold_px, pause_threshold_ms, pause_speed_px_per_ms, peak_smoothing_samples,
    peak_min_speed_fraction, entropy_m, entropy_r, entropy_n_steps, entropy_dimension:
        Common measure parameters (None: the registry default). ``entropy_r=None`` uses 0.2 x SD of all
        time-normalised differences pooled over **all trials passed in**, so sample entropy of a trial
        depends on the data set it is computed with (as in mousetrap).
    params:
        Any registered parameter by name (:data:`mouselab.measures.PARAMETERS`), e.g.
        ``{"hover_threshold_ms": 250}``; validated against the registry.
    targets:
        Optional per-trial geometry: the trial key columns plus any of ``start_x, start_y, target_x,
        target_y, target_w, target_h`` (the trials table). Measures that need target geometry are NaN for
        trials without it.
    n_threads:
        Threads for blocks of trials (None: the CPU count, at most 4). Results do not depend on it.
    engine:
        ``"auto"`` (compiled kernels when numba is installed), ``"numba"`` or ``"numpy"``. Both engines
        agree within a few ulp.

    Returns
    -------
    polars.DataFrame
        ``study, participant, session, trial`` followed by one column per measure, trials in input order.
    """
    explicit = {
        "flip_threshold_px": flip_threshold_px, "pause_threshold_ms": pause_threshold_ms,
        "pause_speed_px_per_ms": pause_speed_px_per_ms, "peak_smoothing_samples": peak_smoothing_samples,
        "peak_min_speed_fraction": peak_min_speed_fraction, "entropy_m": entropy_m, "entropy_r": entropy_r,
        "entropy_n_steps": entropy_n_steps, "entropy_dimension": entropy_dimension,
    }
    merged = dict(params or {})
    for name, value in explicit.items():
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ValueError(f"{name} given twice (as an argument and in params) with different values")
        merged[name] = value
    run = MeasureRun.create(preset=preset, measures=measures, params=merged, engine=engine)
    chunk = chunk_from_frame(samples, targets=targets)
    partial = run.first_pass(chunk, n_threads=n_threads)
    return run.finish(partial, r=run.tolerance([partial]), n_threads=n_threads)


def sample_measures(samples: FrameLike) -> pl.DataFrame:
    """Per-sample derivatives and deviations (mousetrap's ``mt_derivatives`` + ``mt_deviations``).

    Returns the key columns, ``t_ms, x, y`` and ``dist`` (px), ``vel`` (px/ms), ``acc`` (px/ms², null at
    each trial's last sample), ``x_ideal``, ``y_ideal`` (px) and ``dev_ideal`` (px); see
    :data:`mouselab.measures.registry.SAMPLE_MEASURES` for definitions.
    """
    frame = collect_columns(samples, TRIAL_KEY + ("t_ms", "x", "y"))
    segs, _ = find_segments(frame, TRIAL_KEY)
    t = as_float_array(frame, "t_ms")
    check_time_order(t, segs, frame)
    ctx = TrialArrays(t=t, x=as_float_array(frame, "x"), y=as_float_array(frame, "y"), segs=segs)
    px, py = ctx.ideal
    return frame.with_columns(
        pl.Series("dist", ctx.dist),
        pl.Series("vel", ctx.vel),
        pl.Series("acc", ctx.acc).fill_nan(None),
        pl.Series("x_ideal", px),
        pl.Series("y_ideal", py),
        pl.Series("dev_ideal", ctx.dev),
    )
