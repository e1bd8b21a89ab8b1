"""Spatial trial measures: extremes, deviations from the direct path, area under curve, flips, reversals,
distance and path efficiency. Each function maps a :class:`TrialArrays` to one value per trial.

References: Freeman & Ambady (2010) for MAD/AD/AUC; Kieslich, Henninger, Wulff, Haslbeck & Schulte-Mecklenbeck
(2019) for mousetrap's exact definitions; MacKenzie, Kauppinen & Silfverberg (2001) for path-based measures.
"""

from __future__ import annotations

import numpy as np

from mouselab.measures._context import TrialArrays, count_sign_changes, seg_argmax, seg_argmin, seg_max, seg_min


def xpos_max(ctx: TrialArrays) -> np.ndarray:
    """Largest x of the trial (px)."""
    return seg_max(ctx.x, ctx.segs)


def xpos_min(ctx: TrialArrays) -> np.ndarray:
    """Smallest x of the trial (px)."""
    return seg_min(ctx.x, ctx.segs)


def ypos_max(ctx: TrialArrays) -> np.ndarray:
    """Largest y of the trial (px)."""
    return seg_max(ctx.y, ctx.segs)


def ypos_min(ctx: TrialArrays) -> np.ndarray:
    """Smallest y of the trial (px)."""
    return seg_min(ctx.y, ctx.segs)


def mad(ctx: TrialArrays) -> np.ndarray:
    """Maximum absolute deviation from the direct path, with its sign (px): the signed deviation at the
    first sample where ``|dev|`` is largest (Freeman & Ambady, 2010; mousetrap ``MAD``)."""
    return ctx.dev[ctx.abs_dev_argmax]


def mad_time(ctx: TrialArrays) -> np.ndarray:
    """Timestamp (ms) of the first sample where the MAD is reached (mousetrap ``MAD_time``)."""
    return ctx.time_at(ctx.abs_dev_argmax)


def md_above(ctx: TrialArrays) -> np.ndarray:
    """Largest signed deviation (px), i.e. the maximum deviation above the direct path (mousetrap ``MD_above``)."""
    return ctx.dev_max


def md_above_time(ctx: TrialArrays) -> np.ndarray:
    """Timestamp (ms) of the first sample where ``MD_above`` is reached."""
    return ctx.time_at(seg_argmax(ctx.dev, ctx.segs, ctx.dev_max))


def md_below(ctx: TrialArrays) -> np.ndarray:
    """Smallest signed deviation (px), i.e. the maximum deviation below the direct path (mousetrap ``MD_below``)."""
    return ctx.dev_min


def md_below_time(ctx: TrialArrays) -> np.ndarray:
    """Timestamp (ms) of the first sample where ``MD_below`` is reached."""
    return ctx.time_at(seg_argmin(ctx.dev, ctx.segs, ctx.dev_min))


def ad(ctx: TrialArrays) -> np.ndarray:
    """Average deviation (px): arithmetic mean of the signed deviations over samples, not time-weighted."""
    return np.add.reduceat(ctx.dev, ctx.segs.starts) / ctx.segs.lengths


def auc(ctx: TrialArrays) -> np.ndarray:
    """Signed area between the trajectory and the direct path (px²), mousetrap's ``AUC``.

    The samples are expressed in path coordinates (u = signed distance of the projection from the start,
    negative where the projection lies on the far side of the start in y; v = signed deviation); AUC is
    the negated shoelace area of that closed polygon, so areas above the path count positive and areas
    below negative.
    """
    segs, n = ctx.segs, ctx.segs.n_samples
    u, v = ctx.path_position, ctx.dev
    # Shoelace terms u_k v_{k+1} - u_{k+1} v_k for consecutive samples of the same trial. The closing term
    # (last -> first) vanishes because the first sample lies on the path at its start (u = v = 0).
    cross = np.zeros(n)
    if n > 1:
        cross[:-1] = u[:-1] * v[1:]
        cross[:-1] -= u[1:] * v[:-1]
        cross[segs.lasts] = 0.0
    return -0.5 * np.add.reduceat(cross, segs.starts)


def xpos_flips(ctx: TrialArrays) -> np.ndarray:
    """Number of direction changes along x (mousetrap ``xpos_flips``; zero steps ignored, steps of equal sign
    merged; with ``flip_threshold_px > 0`` merged runs not exceeding it are ignored)."""
    return count_sign_changes(ctx.dx, ctx.segs, threshold=ctx.param("flip_threshold_px"))


def ypos_flips(ctx: TrialArrays) -> np.ndarray:
    """Number of direction changes along y (see :func:`xpos_flips`)."""
    return count_sign_changes(ctx.dy, ctx.segs, threshold=ctx.param("flip_threshold_px"))


def _crossings(values: np.ndarray, ctx: TrialArrays) -> np.ndarray:
    keep = np.flatnonzero(values != 0)
    trial = ctx.segs.ids[keep]
    side = values[keep] > 0
    change = (trial[1:] == trial[:-1]) & (side[1:] != side[:-1])
    return np.bincount(trial[1:][change], minlength=ctx.segs.n_trials).astype(np.int64)


def xpos_reversals(ctx: TrialArrays) -> np.ndarray:
    """Number of crossings of the vertical axis x = 0 (samples exactly at 0 ignored; mousetrap ``xpos_reversals``)."""
    return _crossings(ctx.x, ctx)


def ypos_reversals(ctx: TrialArrays) -> np.ndarray:
    """Number of crossings of the horizontal axis y = 0 (samples exactly at 0 ignored)."""
    return _crossings(ctx.y, ctx)


def total_dist(ctx: TrialArrays) -> np.ndarray:
    """Length of the travelled path (px): sum of Euclidean steps between consecutive samples."""
    return ctx.total_dist


def path_efficiency(ctx: TrialArrays) -> np.ndarray:
    """Straight-line distance from first to last sample divided by the travelled distance (unitless, 0..1).

    1 for a straight movement; smaller the more the path wanders (MacKenzie, Kauppinen & Silfverberg, 2001,
    discuss path-based accuracy measures). Defined as 1 when the cursor never moved (total distance 0).
    """
    segs = ctx.segs
    ex = ctx.x[segs.lasts] - ctx.x[segs.starts]
    ey = ctx.y[segs.lasts] - ctx.y[segs.starts]
    straight = np.sqrt(ex * ex + ey * ey)
    total = ctx.total_dist
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = straight / total
    return np.where(total > 0, np.minimum(eff, 1.0), 1.0)
