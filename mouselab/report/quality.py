"""Data-quality summaries for the ``01_data_quality`` notebook: frames in, frames out, no I/O.

A *recording unit* is one trial, or one free-use session (``trial`` is null): the stretch of samples that
shares a clock. Sampling rates and gaps are computed within units, never across them.
"""

from __future__ import annotations

import polars as pl

UNIT_KEY = ["study", "participant", "session", "trial"]
#: Default threshold above which an inter-sample interval counts as a gap (ms).
GAP_THRESHOLD_MS = 100.0


def _lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _kind() -> pl.Expr:
    return pl.when(pl.col("trial").is_null()).then(pl.lit("free use")).otherwise(pl.lit("trials")).alias("kind")


def sessions_overview(samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per session name: kind (trials / free use), participants, units, samples, minutes recorded."""
    units = recording_units(samples)
    return (
        units.group_by(["session", "kind"])
        .agg(
            pl.col("participant").n_unique().alias("participants"),
            pl.col("trial").drop_nulls().n_unique().alias("trials"),
            pl.col("n_samples").sum().alias("samples"),
            (pl.col("duration_ms").sum() / 60_000).alias("minutes"),
        )
        .sort(["kind", "session"], descending=[True, False])
    )


def recording_units(samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per trial / free-use session: ``n_samples``, ``duration_ms``, ``median_dt_ms``,
    ``rate_hz`` (1000 / median interval), ``max_gap_ms`` and ``kind``."""
    dt = pl.col("t_ms").diff().over(UNIT_KEY)
    return (
        _lazy(samples)
        .select(UNIT_KEY + ["t_ms"])
        .with_columns(dt.alias("dt_ms"))
        .group_by(UNIT_KEY, maintain_order=True)
        .agg(
            pl.len().alias("n_samples"),
            (pl.col("t_ms").max() - pl.col("t_ms").min()).alias("duration_ms"),
            pl.col("dt_ms").median().alias("median_dt_ms"),
            pl.col("dt_ms").max().alias("max_gap_ms"),
        )
        .with_columns(
            pl.when(pl.col("median_dt_ms") > 0).then(1000.0 / pl.col("median_dt_ms")).alias("rate_hz"),
            _kind(),
        )
        .sort(UNIT_KEY, nulls_last=True)
        .collect()
    )


def sampling_intervals(samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Every inter-sample interval within a recording unit: ``participant, session, trial, kind, dt_ms``."""
    return (
        _lazy(samples)
        .select(UNIT_KEY + ["t_ms"])
        .with_columns(pl.col("t_ms").diff().over(UNIT_KEY).alias("dt_ms"), _kind())
        .filter(pl.col("dt_ms").is_not_null())
        .select(["participant", "session", "trial", "kind", "dt_ms"])
        .collect()
    )


def gap_summary(intervals: pl.DataFrame | pl.LazyFrame, *, threshold_ms: float = GAP_THRESHOLD_MS) -> pl.DataFrame:
    """Per kind of unit: intervals, gaps longer than ``threshold_ms``, their share, longest and median gap."""
    gap = pl.col("dt_ms") > threshold_ms
    return (
        _lazy(intervals)
        .group_by("kind")
        .agg(
            pl.len().alias("intervals"),
            gap.sum().alias("gaps"),
            (gap.mean() * 100).alias("gaps_pct"),
            pl.col("dt_ms").filter(gap).median().alias("median_gap_ms"),
            pl.col("dt_ms").max().alias("longest_ms"),
        )
        .with_columns(pl.lit(float(threshold_ms)).alias("threshold_ms"))
        .sort("kind", descending=True)
        .collect()
    )


def trial_counts(trials: pl.DataFrame | pl.LazyFrame, *, by: str = "condition") -> pl.DataFrame:
    """Trials per participant and ``by`` level (long: ``participant, <by>, trials``)."""
    return (
        _lazy(trials)
        .group_by(["participant", by])
        .agg(pl.len().alias("trials"))
        .sort(["participant", by], nulls_last=True)
        .collect()
    )


def trial_count_summary(counts: pl.DataFrame, *, by: str = "condition") -> pl.DataFrame:
    """Per ``by`` level: participants, total trials and min / median / max trials per participant."""
    return (
        counts.group_by(by)
        .agg(
            pl.col("participant").n_unique().alias("participants"),
            pl.col("trials").sum().alias("trials"),
            pl.col("trials").min().alias("min_per_participant"),
            pl.col("trials").median().alias("median_per_participant"),
            pl.col("trials").max().alias("max_per_participant"),
        )
        .sort(by, nulls_last=True)
    )


def idle_periods(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Idle periods recorded in the events table (``idle_start`` rows; duration from ``duration_ms``)
    summarised per session: count, total and longest idle time in seconds."""
    return (
        _lazy(events)
        .filter(pl.col("kind") == "idle_start")
        .group_by(["participant", "session"])
        .agg(
            pl.len().alias("idle_periods"),
            (pl.col("duration_ms").sum() / 1000).alias("idle_s"),
            (pl.col("duration_ms").max() / 1000).alias("longest_idle_s"),
        )
        .sort(["participant", "session"])
        .collect()
    )


def event_counts(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Events per session kind and event kind (``session, kind, events, participants``)."""
    return (
        _lazy(events)
        .group_by(["session", "kind"])
        .agg(pl.len().alias("events"), pl.col("participant").n_unique().alias("participants"))
        .sort(["session", "kind"])
        .collect()
    )


def rate_summary(units: pl.DataFrame) -> pl.DataFrame:
    """Per kind of recording unit (from :func:`recording_units`): units and sampling-rate quantiles (Hz)."""
    rate = pl.col("rate_hz")
    return (
        units.group_by("kind")
        .agg(
            pl.len().alias("units"),
            rate.min().alias("min_hz"),
            rate.quantile(0.05).alias("p05_hz"),
            rate.median().alias("median_hz"),
            rate.quantile(0.95).alias("p95_hz"),
            rate.max().alias("max_hz"),
            pl.col("n_samples").median().alias("median_samples"),
        )
        .sort("kind", descending=True)
    )


def measure_completeness(measures: pl.DataFrame, *, key: list[str] | None = None) -> pl.DataFrame:
    """Per measure column: trials, missing (null), non-finite values and the share usable (%)."""
    key = key if key is not None else [c for c in measures.columns if c in UNIT_KEY]
    rows = []
    for name, dtype in measures.schema.items():
        if name in key or not dtype.is_numeric():
            continue
        col = measures[name]
        nulls = col.null_count()
        nonfinite = int((~col.cast(pl.Float64).is_finite()).fill_null(False).sum())
        rows.append({
            "measure": name,
            "trials": measures.height,
            "missing": nulls,
            "non_finite": nonfinite,
            "usable_pct": 100.0 * (measures.height - nulls - nonfinite) / measures.height if measures.height else None,
        })
    return pl.DataFrame(rows, schema={"measure": pl.String, "trials": pl.Int64, "missing": pl.Int64,
                                      "non_finite": pl.Int64, "usable_pct": pl.Float64})


def completeness_note(completeness: pl.DataFrame, *, preset: str | None = None) -> str:
    """One Markdown sentence on :func:`measure_completeness`: all usable, or which measures are not."""
    if completeness.height == 0:
        return "No measures were computed."
    trials = int(completeness["trials"].max())
    bad = completeness.filter(pl.col("usable_pct") < 100)
    what = f"the {preset} preset" if preset else "the measures"
    if bad.height == 0:
        return f"All {completeness.height} measures of {what} have a finite value for all {trials:,} trials."
    listed = ", ".join(f"{r['measure']} ({r['usable_pct']:.1f} % usable)" for r in bad.iter_rows(named=True))
    return f"**{bad.height} of {completeness.height} measures** of {what} lack values for some trials: {listed}."


def participant_summary(participants: pl.DataFrame, *, attributes: tuple[str, ...] = (
        "cohort", "handedness", "age_band", "device")) -> pl.DataFrame:
    """Participants per value of each coarse attribute (``attribute, value, participants``)."""
    parts = [
        participants.group_by(name).agg(pl.col("participant").n_unique().alias("participants"))
        .select(pl.lit(name).alias("attribute"), pl.col(name).cast(pl.String).fill_null("(not given)").alias("value"),
                "participants")
        .sort("value")
        for name in attributes if name in participants.columns
    ]
    if not parts:
        return pl.DataFrame(schema={"attribute": pl.String, "value": pl.String, "participants": pl.UInt32})
    return pl.concat(parts)
