"""Summaries of long (workday) sessions for notebooks: activity over time, idle periods, actions, drift.

Pure functions over samples / actions frames (no I/O). Time is session time (ms since the session's first
sample): the stores carry no wall-clock time, so "across the day" means "across the session".
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats

SESSION = ["participant", "session"]


def _lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def session_overview(samples: pl.DataFrame | pl.LazyFrame, *, idle_threshold_ms: float = 2000.0) -> pl.DataFrame:
    """Per session: duration, samples, active time (steps shorter than the idle threshold), idle time."""
    dt = pl.col("t_ms").diff().over(SESSION)
    return (
        _lazy(samples).sort(SESSION + ["t_ms"]).with_columns(dt.alias("_dt"))
        .group_by(SESSION, maintain_order=True).agg(
            pl.len().alias("samples"),
            ((pl.col("t_ms").max() - pl.col("t_ms").min()) / 60_000).alias("duration_min"),
            (pl.col("_dt").filter(pl.col("_dt") < idle_threshold_ms).sum() / 60_000).alias("active_min"),
            (pl.col("_dt").filter(pl.col("_dt") >= idle_threshold_ms).sum() / 60_000).alias("idle_min"),
            (pl.col("_dt") >= idle_threshold_ms).sum().alias("idle_periods"),
        )
        .with_columns((100 * pl.col("active_min") / pl.col("duration_min")).alias("active_pct"))
        .sort(SESSION).collect()
    )


def activity_timeline(samples: pl.DataFrame | pl.LazyFrame, *, bin_s: float = 60.0, idle_threshold_ms: float = 2000.0
                      ) -> pl.DataFrame:
    """Per session and time bin (``bin_start_min`` since the session start): active seconds, samples,
    clicks, scroll steps and path length. Steps longer than the idle threshold count as idle."""
    bin_ms = bin_s * 1000.0
    lazy = _lazy(samples).sort(SESSION + ["t_ms"])
    t0 = pl.col("t_ms").min().over(SESSION)
    dt = pl.col("t_ms").diff().over(SESSION)
    step = ((pl.col("x").diff().over(SESSION)) ** 2 + (pl.col("y").diff().over(SESSION)) ** 2).sqrt()
    lazy = lazy.with_columns(
        (((pl.col("t_ms") - t0) // bin_ms) * bin_s / 60.0).alias("bin_start_min"),
        dt.alias("_dt"), step.alias("_step"),
    )
    active = pl.col("_dt") < idle_threshold_ms
    return (
        lazy.group_by(SESSION + ["bin_start_min"]).agg(
            pl.len().alias("samples"),
            (pl.col("_dt").filter(active).sum() / 1000.0).alias("active_s"),
            (pl.col("event") == "down").sum().alias("clicks"),
            (pl.col("event") == "scroll").sum().alias("scroll_steps"),
            pl.col("_step").filter(active).sum().alias("path_px"),
        )
        .with_columns((100 * pl.col("active_s") / bin_s).clip(0, 100).alias("active_pct"))
        .sort(SESSION + ["bin_start_min"]).collect()
    )


def idle_summary(periods: pl.DataFrame) -> pl.DataFrame:
    """Idle periods (from :meth:`IdleSplitter.periods`) per session: count, median, 90th percentile, longest
    and total idle time in seconds."""
    d = pl.col("duration_ms") / 1000.0
    return periods.group_by(SESSION, maintain_order=True).agg(
        pl.len().alias("idle_periods"), d.median().alias("median_s"), d.quantile(0.9).alias("p90_s"),
        d.max().alias("longest_s"), d.sum().alias("total_s"),
    ).sort(SESSION)


def action_summary(actions: pl.DataFrame) -> pl.DataFrame:
    """Per action type: count, share, and medians of duration, distance, straightness, speed, pauses."""
    total = actions.height
    return (
        actions.group_by("type").agg(
            pl.len().alias("actions"),
            pl.col("duration_ms").median().alias("median_duration_ms"),
            pl.col("distance_px").median().alias("median_distance_px"),
            pl.col("straightness").median().alias("median_straightness"),
            pl.col("speed_mean").median().alias("median_speed_px_s"),
            pl.col("pauses").mean().alias("pauses_per_action"),
        )
        .with_columns((100 * pl.col("actions") / max(total, 1)).alias("share_pct"))
        .sort("type")
        .select("type", "actions", "share_pct", pl.exclude("type", "actions", "share_pct"))
    )


def actions_over_time(actions: pl.DataFrame, *, bin_min: float = 10.0) -> pl.DataFrame:
    """Per session and bin of session time: actions, median path efficiency (straightness), hesitations
    per action and median speed. Time is the action start since the session's first action."""
    t0 = pl.col("t_start_ms").min().over(SESSION)
    binned = actions.with_columns((((pl.col("t_start_ms") - t0) / 60_000.0) // bin_min * bin_min).alias("bin_start_min"))
    return binned.group_by(SESSION + ["bin_start_min"]).agg(
        pl.len().alias("actions"),
        pl.col("straightness").median().alias("median_straightness"),
        pl.col("pauses").mean().alias("pauses_per_action"),
        pl.col("speed_mean").median().alias("median_speed_px_s"),
    ).sort(SESSION + ["bin_start_min"])


def drift(actions: pl.DataFrame, *, measures: tuple[str, ...] = ("straightness", "speed_mean", "pauses", "duration_ms"),
          alpha: float = 0.05, min_actions: int = 10) -> pl.DataFrame:
    """Linear trend of action measures over session time (per hour), within sessions.

    For each measure: ``y = b · hours + session intercepts`` (least squares on session-centred values), with a
    t-based ``1 - alpha`` confidence interval. Actions are treated as independent, which they are not
    (neighbouring actions are correlated), so the interval is too narrow: read it as descriptive.
    """
    hours = (pl.col("t_start_ms") - pl.col("t_start_ms").min().over(SESSION)) / 3_600_000.0
    base = actions.with_columns(hours.alias("_h"))
    rows = []
    for measure in measures:
        data = base.filter(pl.col(measure).is_not_null() & pl.col(measure).cast(pl.Float64).is_finite()).with_columns(
            pl.col(measure).cast(pl.Float64).alias("_y"))
        if data.height < min_actions:
            rows.append({"measure": measure, "actions": data.height, "sessions": 0, "slope_per_hour": None,
                         "ci_low": None, "ci_high": None, "p": None, "mean": None})
            continue
        centred = data.with_columns(
            (pl.col("_h") - pl.col("_h").mean().over(SESSION)).alias("_hc"),
            (pl.col("_y") - pl.col("_y").mean().over(SESSION)).alias("_yc"),
        )
        h = centred["_hc"].to_numpy()
        y = centred["_yc"].to_numpy()
        sessions = centred.select(SESSION).n_unique()
        sxx = float(np.dot(h, h))
        df = len(y) - sessions - 1
        if sxx <= 0 or df < 1:
            slope = se = None
        else:
            slope = float(np.dot(h, y) / sxx)
            resid = y - slope * h
            se = math.sqrt(float(np.dot(resid, resid)) / df / sxx)
        if slope is None or se is None or se == 0:
            lo = hi = p = None
        else:
            q = float(stats.t.ppf(1 - alpha / 2, df))
            lo, hi = slope - q * se, slope + q * se
            p = float(2 * stats.t.sf(abs(slope / se), df))
        rows.append({"measure": measure, "actions": len(y), "sessions": sessions, "slope_per_hour": slope,
                     "ci_low": lo, "ci_high": hi, "p": p, "mean": float(data["_y"].mean())})
    return pl.DataFrame(rows, schema={"measure": pl.String, "actions": pl.Int64, "sessions": pl.Int64,
                                      "slope_per_hour": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                                      "p": pl.Float64, "mean": pl.Float64})
