"""Sample entropy of time-normalised trajectories (mousetrap's ``mt_sample_entropy``), vectorised over trials.

Definition (Richman & Moorman, 2000; applied to mouse tracking by Dale, Kehoe & Spivey, 2007 and Hehman,
Stolier & Freeman, 2015; mousetrap's implementation, Kieslich et al., 2019): each trial is time-normalised
to ``n_steps`` positions and differenced, giving ``d_1 .. d_N``. For window length ``m``, the windows
``(d_i .. d_{i+m-1})`` for ``i = 1 .. N-m`` (the last m-window is dropped so that both counts use the same
start positions) are compared pairwise (``i < j``) with the Chebyshev distance. ``B`` counts pairs of
m-windows within tolerance ``r``, ``A`` pairs whose (m+1)-windows are also within ``r``;
sample entropy = ``-log(A / B)``. The tolerance defaults to ``0.2 * SD`` (ddof 1) of all within-trial
differences pooled over **every trial passed in** (a data-set property, as in mousetrap).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mouselab.measures._context import TrialArrays
from mouselab.preprocess.normalize import equally_spaced_times, interpolate_segments

#: Trials per block when counting matches (memory about chunk * N * 13 bytes, ~2.7 MB for 101 steps).
DEFAULT_CHUNK_TRIALS = 2048


def pooled_tolerance(diffs: np.ndarray, *, factor: float = 0.2) -> float:
    """``factor`` times the sample SD (ddof 1) of all differences in ``diffs`` (any shape)."""
    flat = diffs.ravel()
    if flat.size < 2:
        return float("nan")
    return factor * float(np.std(flat, ddof=1))


def _count_matches(d: np.ndarray, m: int, r: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) match counts for a block of rows of differences ``d`` (see :func:`sample_entropy_matrix`).

    Works on the transposed block (positions x trials) so that every shifted slice is one contiguous run of
    memory; per-position match counts are accumulated over lags and summed once at the end.
    """
    rows, n = d.shape
    n_win = n - m
    dt = np.ascontiguousarray(d.T)  # (n, rows)
    count_type = np.uint8 if n_win < 2**8 else np.uint16 if n_win < 2**16 else np.int64
    buf = np.empty((n, rows))
    close_buf = np.empty((n, rows), dtype=bool)
    win_buf = np.empty((n, rows), dtype=bool)
    acc_b = np.zeros((n_win, rows), dtype=count_type)
    acc_a = np.zeros((n_win, rows), dtype=count_type)
    for lag in range(1, n_win):
        width = n - lag
        diff = np.subtract(dt[:width], dt[lag:], out=buf[:width])
        np.abs(diff, out=diff)
        close = np.less_equal(diff, r, out=close_buf[:width])  # row i: pair (i, i + lag)
        k = n_win - lag  # window starts i with i + lag < n_win
        win = np.logical_and(close[:k], close[1: 1 + k], out=win_buf[:k]) if m > 1 else close[:k].copy()
        for s in range(2, m):
            np.logical_and(win, close[s: s + k], out=win)
        acc_b[:k] += win
        np.logical_and(win, close[m: m + k], out=win)
        acc_a[:k] += win
    return acc_a.sum(axis=0, dtype=np.int64), acc_b.sum(axis=0, dtype=np.int64)


def sample_entropy_matrix(diffs: np.ndarray, *, m: int = 3, r: float, chunk_trials: int = DEFAULT_CHUNK_TRIALS,
                          n_threads: int | None = 1) -> np.ndarray:
    """Sample entropy of every row of ``diffs`` (n_trials, N) with window ``m`` and tolerance ``r``.

    Matches are counted lag by lag: for lag L the booleans ``|d_i - d_{i+L}| <= r`` are ANDed over ``m``
    (and ``m + 1``) consecutive positions, which covers every pair ``i < j = i + L`` exactly once (the
    same pairs as a (windows x windows) comparison matrix, in half the work). The loops
    run over lags and blocks of ``chunk_trials`` trials (bounding memory), never over single trials; blocks
    run on up to ``n_threads`` threads (None: the CPU count, at most 8; NumPy releases the GIL).
    Rows too short for the windows (fewer than ``m + 2`` differences) give NaN; ``A = 0 < B`` gives ``inf``
    (R's ``-log(0)``) and ``B = 0`` NaN.
    """
    if m < 1:
        raise ValueError(f"entropy window m must be >= 1, got {m}")
    n_trials, n = diffs.shape
    out = np.full(n_trials, np.nan)
    if n - m < 2 or n_trials == 0:
        return out
    diffs = np.ascontiguousarray(diffs, dtype=np.float64)
    blocks = [(lo, min(lo + chunk_trials, n_trials)) for lo in range(0, n_trials, chunk_trials)]
    n_threads = max(1, min(n_threads or os.cpu_count() or 1, 8, len(blocks)))

    def run(block: tuple[int, int]) -> None:
        lo, hi = block
        a, b = _count_matches(diffs[lo:hi], m, r)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[lo:hi] = -np.log(a / b)

    if n_threads == 1:
        for block in blocks:
            run(block)
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(run, blocks))
    return out


def entropy_diffs(ctx: TrialArrays) -> np.ndarray:
    """Differences of the time-normalised positions used by sample entropy: shape (n_trials, n_steps - 1)."""
    n_steps = int(ctx.param("entropy_n_steps"))
    dimension = ctx.param("entropy_dimension")
    if dimension not in ("x", "y"):
        raise ValueError(f"entropy_dimension must be 'x' or 'y', got {dimension!r}")
    if n_steps < 2:
        raise ValueError(f"entropy_n_steps must be >= 2, got {n_steps}")
    times = equally_spaced_times(ctx.t_first, ctx.t_last, n_steps)
    (tn,) = interpolate_segments(ctx.t, [ctx.x if dimension == "x" else ctx.y], ctx.segs, times)
    return np.diff(tn, axis=1)


def sample_entropy(ctx: TrialArrays) -> np.ndarray:
    """Sample entropy of the time-normalised x-positions (unitless); see the module docstring.

    Parameters (from the context): ``entropy_m`` (3), ``entropy_r`` (None = pooled 0.2 SD over the trials
    of this context), ``entropy_n_steps`` (101), ``entropy_dimension`` ("x" or "y").
    """
    if ctx.segs.n_trials == 0:
        return np.zeros(0)
    diffs = ctx.cached("entropy_diffs", entropy_diffs)
    r = ctx.param("entropy_r")
    r = pooled_tolerance(diffs) if r is None else float(r)
    return sample_entropy_matrix(diffs, m=int(ctx.param("entropy_m")), r=r, n_threads=1)
