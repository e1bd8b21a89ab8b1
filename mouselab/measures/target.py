"""Measures that need the target's geometry (HCI pointing): overshoot, target re-entries and Fitts' law.

Target geometry comes per trial from the trials table (``target_x, target_y, target_w, target_h`` and,
when recorded, ``start_x, start_y``; the first sample is the start otherwise) -- see ``targets=`` of
:func:`mouselab.measures.compute_measures`. Trials without a target get NaN.

The *task axis* of a trial runs from the start to the target centre; positions are projected on it.
The target's extent along the axis is that of its rectangle projected on the axis
(``|u_x| w + |u_y| h`` for the unit axis vector u): the width for horizontal movements, the height for
vertical ones.

Fitts' law follows ISO 9241-9 as described by Soukoreff & MacKenzie (2004): per participant and condition
the effective width ``We = 4.133 x SD`` of the endpoint deviations along the task axis, the effective
amplitude ``Ae`` = mean distance travelled along the axis, ``IDe = log2(Ae / We + 1)`` and throughput
``TP = IDe / MT`` (bits/s, MT = mean movement time in s), computed per A x W cell and averaged over cells;
the regression ``MT = a + b ID`` on the nominal Shannon index of difficulty ``ID = log2(A / W + 1)``
(MacKenzie, 1992).

References: MacKenzie, I. S. (1992). Fitts' law as a research and design tool in human-computer
interaction. HCI 7, 91-139; MacKenzie, Kauppinen & Silfverberg (2001), Accuracy measures for evaluating
computer pointing devices, CHI 2001; Soukoreff, R. W., & MacKenzie, I. S. (2004). Towards a standard for
pointing device evaluation. IJHCS 61(6), 751-789; ISO 9241-9:2000.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from mouselab.measures._context import TrialArrays

#: ISO 9241-9 factor from the SD of endpoints to the effective width (sqrt(2 pi e)).
WE_FACTOR = 4.133


def _axis(ctx: TrialArrays) -> dict[str, np.ndarray]:
    segs = ctx.segs
    sx = np.where(np.isnan(ctx.geo("start_x")), ctx.x[segs.starts], ctx.geo("start_x"))
    sy = np.where(np.isnan(ctx.geo("start_y")), ctx.y[segs.starts], ctx.geo("start_y"))
    tx, ty = ctx.geo("target_x"), ctx.geo("target_y")
    ax, ay = tx - sx, ty - sy
    amp = np.sqrt(ax * ax + ay * ay)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = ax / amp, ay / amp
    width = np.abs(ux) * ctx.geo("target_w") + np.abs(uy) * ctx.geo("target_h")
    return {"sx": sx, "sy": sy, "tx": tx, "ty": ty, "ux": ux, "uy": uy, "amp": amp, "width": width}


def axis(ctx: TrialArrays) -> dict[str, np.ndarray]:
    return ctx.cached("target_axis", _axis)


def _along(ctx: TrialArrays) -> np.ndarray:
    a = axis(ctx)
    b = ctx.segs.broadcast
    return (ctx.x - b(a["sx"])) * b(a["ux"]) + (ctx.y - b(a["sy"])) * b(a["uy"])


def overshoot(ctx: TrialArrays) -> np.ndarray:
    """How far the cursor went beyond the target's far edge along the task axis (px): ``max(0, max_k
    along_k - (A + W_axis / 2))`` with A the start-target distance and W_axis the target's extent along the
    axis. 0 when the movement stops short of or inside the target; NaN without target geometry."""
    a = axis(ctx)
    along = ctx.cached("target_along", _along)
    far = np.fmax.reduceat(along, ctx.segs.starts) if ctx.segs.n_samples else np.zeros(0)
    edge = a["amp"] + 0.5 * a["width"]
    out = np.maximum(far - edge, 0.0)
    return np.where(np.isnan(edge) | np.isnan(far), np.nan, out)


def target_reentries(ctx: TrialArrays) -> np.ndarray:
    """Target re-entries (count; MacKenzie et al., 2001): how often the cursor entered the target rectangle
    (``|x - target_x| <= target_w / 2`` and ``|y - target_y| <= target_h / 2``) again after having left it:
    entries - 1, at least 0. NaN without target geometry."""
    segs = ctx.segs
    b = segs.broadcast
    inside = (np.abs(ctx.x - b(ctx.geo("target_x"))) <= b(ctx.geo("target_w")) / 2) & \
             (np.abs(ctx.y - b(ctx.geo("target_y"))) <= b(ctx.geo("target_h")) / 2)
    enter = inside.copy()
    enter[1:] &= ~inside[:-1]
    enter[segs.starts] = inside[segs.starts]
    entries = np.add.reduceat(enter.astype(np.int64), segs.starts) if segs.n_samples else np.zeros(0, np.int64)
    known = ~(np.isnan(ctx.geo("target_x")) | np.isnan(ctx.geo("target_w")) | np.isnan(ctx.geo("target_h"))
              | np.isnan(ctx.geo("target_y")))
    return np.where(known, np.maximum(entries - 1, 0), np.nan)


def fitts_amplitude(ctx: TrialArrays) -> np.ndarray:
    """Nominal amplitude A (px): distance from the start to the target centre."""
    return axis(ctx)["amp"]


def fitts_width(ctx: TrialArrays) -> np.ndarray:
    """Nominal width W (px): the target's extent along the task axis."""
    return axis(ctx)["width"]


def fitts_id(ctx: TrialArrays) -> np.ndarray:
    """Nominal index of difficulty, Shannon formulation ``log2(A / W + 1)`` (bits; MacKenzie, 1992)."""
    a = axis(ctx)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log2(a["amp"] / a["width"] + 1.0)


def endpoint_deviation(ctx: TrialArrays) -> np.ndarray:
    """Signed distance of the endpoint (last sample) from the target centre along the task axis (px):
    positive beyond the centre, negative short of it (the ISO 9241-9 endpoint spread uses its SD)."""
    a = axis(ctx)
    along = ctx.cached("target_along", _along)
    return along[ctx.segs.lasts] - a["amp"]


# --------------------------------------------------------------------------------------- Fitts' law tables
def fitts_throughput(
    measures: pl.DataFrame,
    *,
    by: Sequence[str] = ("participant", "condition"),
    cell: Sequence[str] = ("fitts_amplitude", "fitts_width"),
    movement_time: str = "RT",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """ISO 9241-9 effective measures and throughput per group of ``by`` (default participant x condition).

    ``measures`` needs ``movement_time`` (ms, default ``RT``), ``fitts_amplitude``, ``fitts_width`` and
    ``endpoint_deviation`` per trial (the ``hci`` preset computes them). Per group and A x W cell:
    ``We = 4.133 SD(endpoint_deviation)`` (ddof 1), ``Ae = A + mean(endpoint_deviation)``,
    ``IDe = log2(Ae / We + 1)``, ``MT`` mean movement time (ms) and ``TP = IDe / (MT / 1000)`` (bits/s);
    then per group the mean over cells (``throughput``) and the number of cells and trials.
    Returns ``(cells, groups)``: the per-cell table and the per-group table.
    """
    by = [c for c in by if c in measures.columns]
    need = [movement_time, *cell, "endpoint_deviation"]
    missing = [c for c in need if c not in measures.columns]
    if missing:
        raise ValueError(f"fitts_throughput: missing column(s) {', '.join(missing)}; compute the 'hci' preset")
    valid = measures.filter(pl.all_horizontal([pl.col(c).is_not_null() & pl.col(c).is_not_nan() for c in need]))
    a_col, w_col = cell[0], cell[1]
    cells = (
        valid.group_by([*by, *cell])
        .agg(
            pl.len().alias("trials"),
            pl.col(movement_time).mean().alias("MT_ms"),
            (WE_FACTOR * pl.col("endpoint_deviation").std(ddof=1)).alias("We"),
            (pl.col(a_col).first() + pl.col("endpoint_deviation").mean()).alias("Ae"),
        )
        .with_columns(
            (pl.col(a_col) / pl.col(w_col) + 1).log(2).alias("ID"),
            (pl.col("Ae") / pl.col("We") + 1).log(2).alias("IDe"),
        )
        .with_columns((pl.col("IDe") / (pl.col("MT_ms") / 1000.0)).alias("TP"))
        .sort([*by, *cell])
    )
    groups = (
        cells.group_by(by or [pl.lit("all").alias("group")])
        .agg(pl.col("TP").mean().alias("throughput"), pl.len().alias("cells"), pl.col("trials").sum())
        .sort(by or "group")
    )
    return cells, groups


def fitts_regression(
    measures: pl.DataFrame,
    *,
    by: Sequence[str] = (),
    cell: Sequence[str] = ("fitts_amplitude", "fitts_width"),
    movement_time: str = "RT",
    effective: bool = False,
) -> pl.DataFrame:
    """Least-squares regression of movement time on the index of difficulty over A x W cell means:
    ``MT = a + b ID`` (ms, ms/bit), with ``r2`` and the number of cells, per group of ``by`` (default:
    one regression over all trials). ``effective=True`` regresses on ``IDe`` instead of the nominal ID."""
    by = list(by)
    cells, _ = fitts_throughput(measures, by=by, cell=cell, movement_time=movement_time)
    x = "IDe" if effective else "ID"
    rows = []
    groups = cells.partition_by(by, maintain_order=True, as_dict=True) if by else {("all",): cells}
    for key, g in groups.items():
        g = g.filter(pl.col(x).is_finite() & pl.col("MT_ms").is_finite())
        ids, mt = g[x].to_numpy(), g["MT_ms"].to_numpy()
        if ids.size < 2 or np.ptp(ids) == 0:
            a = b = r2 = float("nan")
        else:
            b, a = np.polyfit(ids, mt, 1)
            pred = a + b * ids
            ss_res = float(np.sum((mt - pred) ** 2))
            ss_tot = float(np.sum((mt - mt.mean()) ** 2))
            r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
        rows.append({**dict(zip(by, key)), "a_ms": float(a), "b_ms_per_bit": float(b), "r2": r2,
                     "cells": int(ids.size)})
    return pl.DataFrame(rows)
