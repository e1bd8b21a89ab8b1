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


def align_start_end(
    samples: FrameLike,
    *,
    start_x: float = 0.0,
    start_y: float = 0.0,
    end_x: float = -1.0,
    end_y: float = 1.5,
) -> FrameLike:
    """Rescale every trial so that it starts at (``start_x``, ``start_y``) and ends at (``end_x``, ``end_y``).

    Definition (mousetrap's ``mt_align_start_end``; the defaults are mousetrap's ``"mt"`` coordinates, the
    frame of its trajectory prototypes): per trial and per axis, ``x -> start_x + (x - x_first) *
    (end_x - start_x) / (x_last - x_first)`` (and the same for y). The two axes are scaled independently,
    so shapes are stretched differently in x and y. An axis on which a trial does not move from start to
    end (``x_last == x_first``) cannot be scaled: it is only translated to ``start_x``.
    Returns the same kind of frame (eager or lazy); other columns are kept.
    """
    require_columns(samples, TRIAL_KEY + ("x", "y"))
    key = list(TRIAL_KEY)
    exprs = []
    for axis, a, b in (("x", start_x, end_x), ("y", start_y, end_y)):
        first = pl.col(axis).first().over(key)
        span = pl.col(axis).last().over(key) - first
        scaled = (pl.col(axis) - first) * ((b - a) / span) + a
        exprs.append(pl.when(span != 0).then(scaled).otherwise(pl.col(axis) - first + a).alias(axis))
    return samples.with_columns(exprs)


def to_task_coordinates(
    samples: FrameLike,
    *,
    geometry: pl.DataFrame | None = None,
    scale: Literal["px", "amplitude"] = "amplitude",
) -> pl.DataFrame:
    """Express trajectories in screen-independent task coordinates: origin at the start, the task axis
    (start -> target) pointing up.

    For every trial, ``along`` is the position projected on the axis from the start point to the target
    centre and ``across`` the signed perpendicular offset (positive to the right of the movement
    direction on a y-down screen, i.e. clockwise from the task axis). With ``scale="amplitude"`` both are
    divided by the start-target distance, so the start is (0, 0) and the target (0, 1) whatever the screen
    size, resolution or layout; ``scale="px"`` keeps pixels (a rigid rotation).

    Start and target come from ``geometry`` (the trials table: trial key + ``start_x, start_y, target_x,
    target_y``) where given, else from the trial's first and last samples. The frame gains ``along`` and
    ``across``; ``x``/``y`` are kept. Trials whose start and target coincide get NaN.
    """
    if scale not in ("px", "amplitude"):
        raise ValueError(f"scale must be 'px' or 'amplitude', got {scale!r}")
    require_columns(samples, TRIAL_KEY + ("x", "y"))
    frame = samples.collect() if isinstance(samples, pl.LazyFrame) else samples
    key = list(TRIAL_KEY)
    sx, sy = pl.col("x").first().over(key), pl.col("y").first().over(key)
    tx, ty = pl.col("x").last().over(key), pl.col("y").last().over(key)
    helper = []
    if geometry is not None:
        cols = [c for c in ("start_x", "start_y", "target_x", "target_y") if c in geometry.columns]
        on = [k for k in key if k in geometry.columns]
        if cols and on:
            frame = frame.join(
                geometry.select(on + cols).unique(subset=on, keep="first").rename({c: f"__{c}" for c in cols}),
                on=on, how="left", maintain_order="left",
            )
            helper = [f"__{c}" for c in cols]
            if "start_x" in cols:
                sx = pl.coalesce(pl.col("__start_x"), sx)
            if "start_y" in cols:
                sy = pl.coalesce(pl.col("__start_y"), sy)
            if "target_x" in cols:
                tx = pl.coalesce(pl.col("__target_x"), tx)
            if "target_y" in cols:
                ty = pl.coalesce(pl.col("__target_y"), ty)
    ax, ay = tx - sx, ty - sy
    amp = (ax * ax + ay * ay).sqrt()
    ux, uy = ax / amp, ay / amp
    px, py = pl.col("x") - sx, pl.col("y") - sy
    along = px * ux + py * uy
    across = -(px * uy - py * ux)  # right of the movement direction on a y-down screen
    if scale == "amplitude":
        along, across = along / amp, across / amp
    out = frame.with_columns(
        pl.when(amp > 0).then(along).otherwise(None).fill_null(float("nan")).alias("along"),
        pl.when(amp > 0).then(across).otherwise(None).fill_null(float("nan")).alias("across"),
    )
    return out.drop(helper) if helper else out
