"""Per-action kinematics: the standard feature set of mouse-dynamics research, vectorised over all actions.

From the samples of each action (labelled by :class:`~mouselab.segmentation.ActionSplitter`), with steps
``k`` between consecutive samples (Δt in s, Δx, Δy, step length Δs in px):

* velocities ``vx = Δx/Δt``, ``vy = Δy/Δt``, speed ``v = Δs/Δt`` (px/s); acceleration ``a = Δv/Δt``
  (px/s²); jerk ``j = Δa/Δt`` (px/s³);
* movement direction ``θ = atan2(Δy, Δx)`` of steps that move; its change ``Δθ`` (wrapped to (−π, π]);
  angular velocity ``ω = Δθ/Δt`` (rad/s); curvature ``c = Δθ/Δs`` (rad/px);
* mean, standard deviation, minimum and maximum of each of ``vx, vy, speed, acc, jerk,
  angular_velocity, curvature`` (Gamboa & Fred 2004; Ahmed & Traore 2007; Antal & Egyed-Zsigmond 2019);
* ``duration_ms``, ``distance_px`` (path length), ``displacement_px``, ``straightness`` (displacement /
  distance), ``direction`` (8 sectors of the displacement, 0 = right, counter-clockwise with y up),
  ``largest_deviation_px`` from the start–end line, ``sum_of_angles`` (Σ|Δθ|), ``sharp_angles``
  (|Δθ| > 90°), ``acc_time_ms`` (start → peak speed), ``pauses`` (hesitations: runs of steps slower than
  ``pause_speed_px_per_ms`` lasting ≥ ``pause_ms``; event-driven recorders write no samples while still, so
  such a run is often a single long step).

Everything is one grouped Polars computation over all actions: no Python loop over actions.

References: Gamboa, H., & Fred, A. (2004). A behavioral biometric system based on human-computer
interaction. *Proc. SPIE* 5404, 381–392. See :mod:`mouselab.segmentation.splitters` for the others.
"""

from __future__ import annotations

import math

import polars as pl

from mouselab.schema import ACTIONS

UNIT = ["participant", "session", "trial"]
STATS = ("vx", "vy", "speed", "acc", "jerk", "angular_velocity", "curvature")
_BUTTON_NAMES = {1: "left", 2: "right", 4: "middle"}


def action_features(
    labelled: pl.DataFrame | pl.LazyFrame,
    *,
    pause_ms: float = 100.0,
    pause_speed_px_per_ms: float = 0.05,
) -> pl.DataFrame:
    """One row per action with the columns of the ``actions`` table (see :data:`mouselab.schema.ACTIONS`).

    ``labelled`` holds samples with ``action`` and ``type`` (rows with a null action are ignored).
    """
    lazy = labelled.lazy() if isinstance(labelled, pl.DataFrame) else labelled
    names = lazy.collect_schema().names()
    if "study" not in names:
        lazy = lazy.with_columns(pl.lit(None, dtype=pl.String).alias("study"))
    keys = ["study"] + UNIT + ["action"]
    lazy = lazy.filter(pl.col("action").is_not_null()).sort(keys + ["t_ms"], nulls_last=True, maintain_order=True)
    over = lambda e: e.over(keys)  # noqa: E731
    dt_s = over(pl.col("t_ms").diff()) / 1000.0
    dx, dy = over(pl.col("x").diff()), over(pl.col("y").diff())
    lazy = lazy.with_columns(dt_s.alias("_dt"), dx.alias("_dx"), dy.alias("_dy"))
    ds = (pl.col("_dx") ** 2 + pl.col("_dy") ** 2).sqrt()
    lazy = lazy.with_columns(
        ds.alias("_ds"),
        (pl.col("_dx") / pl.col("_dt")).alias("vx"),
        (pl.col("_dy") / pl.col("_dt")).alias("vy"),
        (ds / pl.col("_dt")).alias("speed"),
        pl.when(ds > 0).then(pl.arctan2(pl.col("_dy"), pl.col("_dx"))).otherwise(None).alias("_theta"),
    )
    lazy = lazy.with_columns((over(pl.col("speed").diff()) / pl.col("_dt")).alias("acc"))
    lazy = lazy.with_columns((over(pl.col("acc").diff()) / pl.col("_dt")).alias("jerk"))
    # direction change between consecutive moving steps (still steps carry the previous direction)
    prev_theta = over(pl.col("_theta").forward_fill().shift())
    raw_turn = pl.col("_theta") - prev_theta
    turn = (raw_turn + math.pi) % (2 * math.pi) - math.pi
    lazy = lazy.with_columns(turn.alias("_turn"))
    lazy = lazy.with_columns(
        (pl.col("_turn") / pl.col("_dt")).alias("angular_velocity"),
        pl.when(pl.col("_ds") > 0).then(pl.col("_turn") / pl.col("_ds")).otherwise(None).alias("curvature"),
    )
    # hesitations: runs of slow steps (speed in px/ms) whose total duration reaches pause_ms
    slow = ((pl.col("speed") / 1000.0) < pause_speed_px_per_ms).fill_null(False)
    lazy = lazy.with_columns(slow.alias("_slow"))
    lazy = lazy.with_columns(over((pl.col("_slow") != pl.col("_slow").shift()).fill_null(True).cum_sum()).alias("_run"))
    lazy = lazy.with_columns(
        (pl.when(pl.col("_slow")).then(pl.col("_dt")).otherwise(0.0).sum().over(keys + ["_run"]) * 1000.0).alias("_run_ms"),
        (pl.int_range(pl.len()).over(keys + ["_run"]) == 0).alias("_run_first"),
    )
    first, last = pl.col("x").first(), pl.col("x").last()
    fy, ly = pl.col("y").first(), pl.col("y").last()
    ex, ey = last - first, ly - fy
    disp = (ex ** 2 + ey ** 2).sqrt()
    deviation = ((ex * (pl.col("y") - fy) - ey * (pl.col("x") - first)).abs() / disp).max()
    peak_t = pl.col("t_ms").sort_by(pl.col("speed").fill_null(-1.0), descending=True).first()
    angle = pl.arctan2(-ey, ex)  # math convention: y up
    sector = (((angle + math.pi / 8) % (2 * math.pi)) / (math.pi / 4)).floor().cast(pl.Int8) % 8
    down_bits = pl.col("buttons").filter(pl.col("event") == "down").first()
    held_bits = pl.col("buttons").filter(pl.col("buttons") > 0).first()
    bits = pl.coalesce(down_bits, held_bits).cast(pl.Int64)
    aggs = [
        pl.col("type").first(),
        pl.col("t_ms").first().alias("t_start_ms"),
        pl.col("t_ms").last().alias("t_end_ms"),
        pl.len().cast(pl.Int32).alias("n_samples"),
        first.alias("start_x"), fy.alias("start_y"), last.alias("end_x"), ly.alias("end_y"),
        bits.alias("_bits"),
        (pl.col("t_ms").last() - pl.col("t_ms").first()).alias("duration_ms"),
        pl.col("_ds").sum().alias("distance_px"),
        disp.alias("displacement_px"),
        pl.when(pl.col("_ds").sum() > 0).then(disp / pl.col("_ds").sum()).otherwise(None).alias("straightness"),
        pl.when(disp > 0).then(sector).otherwise(None).alias("direction"),
        pl.when(disp > 0).then(deviation).otherwise(None).alias("largest_deviation_px"),
        pl.col("_turn").abs().sum().alias("sum_of_angles"),
        (pl.col("_turn").abs() > math.pi / 2).sum().cast(pl.Int32).alias("sharp_angles"),
        (pl.col("_run_first") & pl.col("_slow") & (pl.col("_run_ms") >= pause_ms)).sum().cast(pl.Int32).alias("pauses"),
        (peak_t - pl.col("t_ms").first()).alias("acc_time_ms"),
    ]
    for name in STATS:
        col = pl.col(name).filter(pl.col(name).is_finite())
        aggs += [col.mean().alias(f"{name}_mean"), col.std().alias(f"{name}_sd"), col.min().alias(f"{name}_min"),
                 col.max().alias(f"{name}_max")]
    out = lazy.group_by(keys, maintain_order=True).agg(aggs).with_columns(
        pl.col("_bits").replace_strict(_BUTTON_NAMES, default=None, return_dtype=pl.String).alias("button")
    ).drop("_bits")
    out = out.with_columns(pl.when(pl.col("type") == "MM").then(None).otherwise(pl.col("button")).alias("button"))
    return out.select([c.name for c in ACTIONS.columns]).collect()


def action_table(
    samples: pl.DataFrame | pl.LazyFrame,
    *,
    max_gap_ms: float = 10_000.0,
    min_samples: int = 4,
    pause_ms: float = 100.0,
    pause_speed_px_per_ms: float = 0.05,
) -> pl.DataFrame:
    """Segment ``samples`` into MM / PC / DD actions and compute their features: the ``actions`` table."""
    from mouselab.segmentation.splitters import ActionSplitter

    labelled = ActionSplitter(max_gap_ms=max_gap_ms, min_samples=min_samples).label(samples)
    return action_features(labelled, pause_ms=pause_ms, pause_speed_px_per_ms=pause_speed_px_per_ms)
