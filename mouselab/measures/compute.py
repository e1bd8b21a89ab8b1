"""Compute registered measures for every trial at once (vectorised; no Python loop over trials).

The trials are processed in blocks of whole trials (about ``BLOCK_SAMPLES`` samples each); inside a block
every measure is a handful of NumPy operations over all its trials. Blocks keep temporaries small and run on
a small thread pool (NumPy releases the GIL). The only data-set-level quantity, sample entropy's pooled
tolerance, is resolved over all blocks before entropy is computed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import polars as pl

from mouselab.measures._context import TrialArrays
from mouselab.measures.entropy import entropy_diffs, pooled_tolerance
from mouselab.measures.registry import MEASURES, PARAMETERS, resolve_measures
from mouselab.preprocess._frames import (
    TRIAL_KEY,
    Block,
    FrameLike,
    as_float_array,
    check_time_order,
    collect_columns,
    split_blocks,
    trial_keys_frame,
    trial_segments,
)

_NEEDED = TRIAL_KEY + ("t_ms", "x", "y")
#: Samples per block of trials (about 2 MB per float64 temporary).
BLOCK_SAMPLES = 1 << 18


def _arrays(samples: FrameLike) -> tuple[pl.DataFrame, TrialArrays]:
    frame = collect_columns(samples, _NEEDED)
    segs = trial_segments(frame)
    t = as_float_array(frame, "t_ms")
    check_time_order(t, segs, frame)
    return frame, TrialArrays(t=t, x=as_float_array(frame, "x"), y=as_float_array(frame, "y"), segs=segs)


def _block_context(full: TrialArrays, block: Block, params: dict) -> TrialArrays:
    sl = slice(block.row_lo, block.row_hi)
    return TrialArrays(t=full.t[sl], x=full.x[sl], y=full.y[sl], segs=block.segs, params=params)


def _map(func, items: list, n_threads: int) -> list:
    if n_threads <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(n_threads, len(items))) as pool:
        return list(pool.map(func, items))


def compute_measures(
    samples: FrameLike,
    *,
    preset: str = "mousetrap",
    measures: list[str] | tuple[str, ...] | None = None,
    flip_threshold_px: float = PARAMETERS["flip_threshold_px"].default,
    pause_threshold_ms: float = PARAMETERS["pause_threshold_ms"].default,
    pause_speed_px_per_ms: float = PARAMETERS["pause_speed_px_per_ms"].default,
    peak_smoothing_samples: int = PARAMETERS["peak_smoothing_samples"].default,
    peak_min_speed_fraction: float = PARAMETERS["peak_min_speed_fraction"].default,
    entropy_m: int = PARAMETERS["entropy_m"].default,
    entropy_r: float | None = PARAMETERS["entropy_r"].default,
    entropy_n_steps: int = PARAMETERS["entropy_n_steps"].default,
    entropy_dimension: Literal["x", "y"] = PARAMETERS["entropy_dimension"].default,
    n_threads: int | None = None,
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
        names), ``"kinematic"`` or ``"all"``; see :data:`mouselab.measures.PRESETS`.
    measures:
        Explicit list of measure names (overrides ``preset``); see :func:`list_measures`.
    flip_threshold_px, pause_threshold_ms, pause_speed_px_per_ms, peak_smoothing_samples,
    peak_min_speed_fraction, entropy_m, entropy_r, entropy_n_steps, entropy_dimension:
        Measure parameters, documented in :data:`mouselab.measures.PARAMETERS`. ``entropy_r=None`` uses
        0.2 x SD of all time-normalised differences pooled over **all trials passed in**, so sample entropy
        of a trial depends on the data set it is computed with (as in mousetrap).
    n_threads:
        Threads for blocks of trials (None: the CPU count, at most 4). Results do not depend on it.

    Returns
    -------
    polars.DataFrame
        ``study, participant, session, trial`` followed by one column per measure, trials in input order.
    """
    names = resolve_measures(preset=preset, measures=measures)
    params = {
        "flip_threshold_px": float(flip_threshold_px),
        "pause_threshold_ms": float(pause_threshold_ms),
        "pause_speed_px_per_ms": float(pause_speed_px_per_ms),
        "peak_smoothing_samples": int(peak_smoothing_samples),
        "peak_min_speed_fraction": float(peak_min_speed_fraction),
        "entropy_m": int(entropy_m),
        "entropy_r": None if entropy_r is None else float(entropy_r),
        "entropy_n_steps": int(entropy_n_steps),
        "entropy_dimension": entropy_dimension,
    }
    if entropy_dimension not in ("x", "y"):
        raise ValueError(f"entropy_dimension must be 'x' or 'y', got {entropy_dimension!r}")
    threads = max(1, n_threads if n_threads is not None else min(os.cpu_count() or 1, 4))
    frame, full = _arrays(samples)
    keys = trial_keys_frame(frame, full.segs)
    blocks = [_block_context(full, b, params) for b in split_blocks(full.segs, max_samples=BLOCK_SAMPLES)]
    late = [n for n in names if n == "sample_entropy"]
    early = [n for n in names if n not in late]

    def run(names_: list[str]):
        return lambda ctx: [MEASURES[n].func(ctx) for n in names_]

    results = dict.fromkeys(names)
    parts = _map(run(early), blocks, threads)
    for i, name in enumerate(early):
        results[name] = np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
    if late:
        if params["entropy_r"] is None and blocks:
            diffs = _map(lambda ctx: ctx.cached("entropy_diffs", entropy_diffs), blocks, threads)
            params["entropy_r"] = pooled_tolerance(np.concatenate(diffs))  # blocks share this dict
        parts = _map(run(late), blocks, threads)
        for i, name in enumerate(late):
            results[name] = np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
    return keys.with_columns([pl.Series(n, results[n]).cast(MEASURES[n].dtype) for n in names])


def sample_measures(samples: FrameLike) -> pl.DataFrame:
    """Per-sample derivatives and deviations (mousetrap's ``mt_derivatives`` + ``mt_deviations``).

    Returns the key columns, ``t_ms, x, y`` and ``dist`` (px), ``vel`` (px/ms), ``acc`` (px/ms², null at
    each trial's last sample), ``x_ideal``, ``y_ideal`` (px) and ``dev_ideal`` (px); see
    :data:`mouselab.measures.registry.SAMPLE_MEASURES` for definitions.
    """
    frame, ctx = _arrays(samples)
    px, py = ctx.ideal
    return frame.with_columns(
        pl.Series("dist", ctx.dist),
        pl.Series("vel", ctx.vel),
        pl.Series("acc", ctx.acc).fill_nan(None),
        pl.Series("x_ideal", px),
        pl.Series("y_ideal", py),
        pl.Series("dev_ideal", ctx.dev),
    )
