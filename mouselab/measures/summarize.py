"""Standardising and aggregating per-trial measures (mousetrap's ``mt_standardize``, ``mt_aggregate`` and
``mt_aggregate_per_subject``). Frames in, frames out."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mouselab.preprocess._frames import FrameLike, require_columns


def _numeric_columns(frame: FrameLike, exclude: Sequence[str]) -> list[str]:
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    return [c for c, dt in schema.items() if dt.is_numeric() and c not in exclude]


def standardize(
    measures: FrameLike,
    *,
    columns: Sequence[str],
    within: str | Sequence[str] | None = None,
    prefix: str = "z_",
) -> FrameLike:
    """Add z-scores ``prefix + column`` for each column: ``(value - mean) / SD`` (SD with ddof 1).

    With ``within`` (e.g. the participant column) means and SDs are taken per group, as mousetrap's
    ``mt_standardize(within = "subject_nr")`` (MouseTracker standardises within subject before the
    bimodality coefficient). A group whose SD is 0 or undefined gets NaN/null z-scores, as R's ``scale()``.
    Returns the same kind of frame (eager or lazy) with the z columns appended.
    """
    within_cols = [within] if isinstance(within, str) else list(within or [])
    require_columns(measures, list(columns) + within_cols, what="measures")
    exprs = []
    for c in columns:
        value = pl.col(c).cast(pl.Float64)
        mean, sd = value.mean(), value.std(ddof=1)
        if within_cols:
            mean, sd = mean.over(within_cols), sd.over(within_cols)
        exprs.append(((value - mean) / sd).alias(f"{prefix}{c}"))
    return measures.with_columns(exprs)


def aggregate_per_subject(
    measures: FrameLike,
    *,
    by: Sequence[str],
    subject: str,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Mean of each column per subject and group of ``by`` (mousetrap's ``mt_aggregate_per_subject``).

    ``columns`` defaults to every numeric column except ``subject`` and ``by``. Null values are ignored.
    Rows are sorted by subject, then ``by``.
    """
    by = list(by)
    require_columns(measures, [subject, *by, *(columns or [])], what="measures")
    cols = list(columns) if columns is not None else _numeric_columns(measures, [subject, *by])
    out = (
        measures.lazy()
        .group_by([subject, *by])
        .agg([pl.col(c).cast(pl.Float64).mean() for c in cols])
        .sort([subject, *by])
        .collect()
    )
    return out


def aggregate(
    measures: FrameLike,
    *,
    by: Sequence[str],
    subject: str | None = None,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Mean of each column per group of ``by`` (mousetrap's ``mt_aggregate``).

    With ``subject``, means are taken per subject and group first and those subject means are then averaged
    per group, so every subject weighs the same regardless of its number of trials (mousetrap's
    ``subject_id``). ``columns`` defaults to every numeric column except ``subject`` and ``by``.
    Rows are sorted by ``by``.
    """
    by = list(by)
    if subject is None:
        require_columns(measures, [*by, *(columns or [])], what="measures")
        cols = list(columns) if columns is not None else _numeric_columns(measures, by)
        return (
            measures.lazy().group_by(by).agg([pl.col(c).cast(pl.Float64).mean() for c in cols]).sort(by).collect()
        )
    per_subject = aggregate_per_subject(measures, by=by, subject=subject, columns=columns)
    cols = [c for c in per_subject.columns if c not in (subject, *by)]
    return per_subject.group_by(by).agg([pl.col(c).mean() for c in cols]).sort(by)


def aggregate_time_normalized(
    trajectories: FrameLike,
    *,
    by: Sequence[str],
    subject: str | None = None,
    step: str = "step",
    columns: Sequence[str] = ("t_ms", "x", "y"),
) -> pl.DataFrame:
    """Average time-normalised trajectories per group (mousetrap's ``mt_aggregate(use = "tn_trajectories")``).

    ``trajectories`` is the output of :func:`mouselab.preprocess.time_normalize` joined with the grouping
    columns ``by`` (e.g. the condition). Positions are averaged per group and time step; with ``subject``
    per subject first, then over subjects (every subject weighs the same). Rows sorted by ``by`` and step.
    """
    return aggregate(trajectories, by=[*by, step], subject=subject, columns=list(columns))
