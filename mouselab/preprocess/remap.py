"""Remapping and alignment of trajectories as mousetrap defines them (``mt_remap_symmetric``, ``mt_align_start``)."""

from __future__ import annotations

from typing import Literal

import polars as pl

from mouselab.preprocess._frames import TRIAL_KEY, FrameLike, require_columns

_REMAP_X = ("left", "right", "no")
_REMAP_Y = ("up", "down", "no")


def _last_in_trial(column: str) -> pl.Expr:
    return pl.col(column).last().over(list(TRIAL_KEY))


def remap_symmetric(
    samples: FrameLike,
    *,
    remap_x: Literal["left", "right", "no"] = "left",
    remap_y: Literal["up", "down", "no"] = "up",
) -> FrameLike:
    """Mirror whole trials so that all end on one side (or in one quadrant) of a centred coordinate system.

    Definition (mousetrap's ``mt_remap_symmetric``, Kieslich et al., 2019): with ``remap_x="left"`` every
    trial whose *last* x is > 0 gets ``x -> -x`` (``"right"``: last x < 0); with ``remap_y="up"`` every
    trial whose last y is < 0 gets ``y -> -y`` (``"down"``: last y > 0); ``"no"`` leaves that axis alone.
    It assumes coordinates centred on the screen centre and symmetric response buttons (as in
    OpenSesame/mousetrap data). The arithmetic is applied to the coordinates exactly as given: on y-down
    screen coordinates ``"up"`` makes every trial end at positive y, i.e. the frame is then y-up relative
    to the movement (mousetrap's convention for its measures).

    Returns the same kind of frame (eager or lazy) with ``x``/``y`` replaced; rows and other columns kept.
    """
    if remap_x not in _REMAP_X:
        raise ValueError(f"remap_x must be one of {', '.join(_REMAP_X)}, got {remap_x!r}")
    if remap_y not in _REMAP_Y:
        raise ValueError(f"remap_y must be one of {', '.join(_REMAP_Y)}, got {remap_y!r}")
    require_columns(samples, TRIAL_KEY + ("x", "y"))
    exprs = []
    for axis, mode, flip_if in (
        ("x", remap_x, {"left": lambda e: e > 0, "right": lambda e: e < 0}),
        ("y", remap_y, {"up": lambda e: e < 0, "down": lambda e: e > 0}),
    ):
        if mode == "no":
            continue
        flip = flip_if[mode](_last_in_trial(axis))
        exprs.append(pl.when(flip).then(-pl.col(axis)).otherwise(pl.col(axis)).alias(axis))
    return samples.with_columns(exprs) if exprs else samples


def align_start(samples: FrameLike, *, start_x: float = 0.0, start_y: float = 0.0) -> FrameLike:
    """Translate every trial so that its first sample lies at (``start_x``, ``start_y``).

    Definition (mousetrap's ``mt_align_start(start = c(0, 0))``): ``x -> x - x_first + start_x`` and
    ``y -> y - y_first + start_y`` per trial; shapes, directions and timestamps are unchanged.
    Returns the same kind of frame (eager or lazy).
    """
    require_columns(samples, TRIAL_KEY + ("x", "y"))
    key = list(TRIAL_KEY)
    return samples.with_columns(
        (pl.col("x") - pl.col("x").first().over(key) + start_x).alias("x"),
        (pl.col("y") - pl.col("y").first().over(key) + start_y).alias("y"),
    )
