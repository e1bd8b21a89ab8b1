"""Trial tables for trial-based formats: covariates collected from accepted samples, mapped onto the contract.

:class:`TrialCollector` receives, batch by batch, the accepted samples of a file together with their
covariate columns (everything the format does not use for samples) and builds the ``trials`` table at the
end: covariates constant within every trial become trial columns (``Condition`` → ``condition``,
``count_trial`` → ``trial_index``, ``correct`` → bool, ``response``, ``stimulus``); the rest keep their
names and are typed as numbers where every value parses. A trial appears only when at least one of its
samples was stored.
"""

from __future__ import annotations

import polars as pl

from mouselab.ingest.validate import INJECTION_PREFIXES, bad_values, flag_rules, injection_expr

KEY = ["participant", "session", "trial"]
_CONDITION_NAMES = ("Condition", "condition")
_RESERVED = {"study", "trial_index", "condition", "response", "stimulus", "correct", *KEY}


def flag_injection(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Set ``csv_injection`` on rows where any of ``columns`` holds formula-looking text (checked on the
    distinct values of each column)."""
    rules = []
    for col in columns:
        if frame.schema.get(col) == pl.String:
            bad = bad_values(frame, col, injection_expr(col))
            if bad:
                rules.append((pl.col(col).is_in(bad), "csv_injection", col, pl.col(col)))
    return flag_rules(frame, rules)


class TrialCollector:
    """Accumulate per-trial covariate summaries over batches; build the trials table at the end."""

    def __init__(self, covariates: list[str], *, study: str, fixed: dict[str, pl.Expr] | None = None) -> None:
        self.covariates = list(covariates)
        self.study = study
        self.parts: list[pl.DataFrame] = []
        self.fixed = fixed or {}

    def add(self, accepted: pl.DataFrame) -> None:
        if accepted.height == 0:
            return
        covs = [c for c in self.covariates if c in accepted.columns]
        aggs = [pl.len().alias("__n"), pl.col("_line").min().alias("__first")]
        for c in covs:
            text = pl.col(c).cast(pl.String)
            aggs += [text.first().alias(f"{c}__first"), text.min().alias(f"{c}__min"), text.max().alias(f"{c}__max"),
                     text.null_count().alias(f"{c}__nulls")]
        self.parts.append(accepted.group_by(KEY, maintain_order=True).agg(aggs))

    def build(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame()
        allp = pl.concat(self.parts, how="diagonal_relaxed")
        covs = [c for c in self.covariates if f"{c}__first" in allp.columns]
        aggs = [pl.col("__n").sum(), pl.col("__first").min()]
        for c in covs:
            aggs += [pl.col(f"{c}__first").first(), pl.col(f"{c}__min").min(), pl.col(f"{c}__max").max(),
                     pl.col(f"{c}__nulls").sum()]
        per = allp.group_by(KEY, maintain_order=True).agg(aggs).sort("__first")
        constant = []
        for c in covs:
            same = (pl.col(f"{c}__min") == pl.col(f"{c}__max")) & (pl.col(f"{c}__nulls") == 0)
            all_null = pl.col(f"{c}__nulls") == pl.col("__n")
            if per.select((same | all_null).fill_null(False).all()).item():
                constant.append(c)
        trials = per.select(KEY + [pl.col(f"{c}__first").alias(c) for c in constant])
        return finish_trials(trials, study=self.study)


class CollectsTrials:
    """Mixin for readers of trial-based formats: accepted samples feed ``self.collector`` (a
    :class:`TrialCollector` the reader creates once it knows the covariates); :meth:`trials_tables` turns
    the collected trials (after the reader's own ``adjust``) into the ``trials`` and ``participants`` tables."""

    collector: TrialCollector | None = None

    def on_accepted(self, accepted: pl.DataFrame) -> dict[str, pl.DataFrame]:
        if self.collector is not None:
            self.collector.add(accepted)
        return {}

    def collected_trials(self) -> pl.DataFrame | None:
        """The trials table built so far, or None when no trial had a stored sample."""
        if self.collector is None:
            return None
        trials = self.collector.build()
        return trials if trials.height else None

    @staticmethod
    def trials_tables(trials: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
        if trials is None:
            return {}
        return {"trials": trials, "participants": trials.select("study", "participant").unique(maintain_order=True)}


def finish_trials(trials: pl.DataFrame, *, study: str) -> pl.DataFrame:
    """Map covariates onto the contract's trial columns (mousetrap conventions) and type the rest."""
    trials = trials.with_columns(
        pl.lit(study).alias("study"),
        pl.int_range(1, pl.len() + 1).over(["participant", "session"]).cast(pl.Int32).alias("trial_index"),
    )
    renames = {}
    condition = next((c for c in _CONDITION_NAMES if c in trials.columns), None)
    if condition and condition != "condition":
        renames[condition] = "condition"
    if "count_trial" in trials.columns:
        trials = trials.with_columns(
            pl.col("count_trial").cast(pl.Float64, strict=False).cast(pl.Int32, strict=False)
            .fill_null(pl.col("trial_index")).alias("trial_index")
        )
    trials = trials.rename(renames)
    if "correct" in trials.columns:
        trials = trials.with_columns(as_bool(pl.col("correct")).alias("correct"))
    for name in ("condition", "response", "stimulus"):
        if name in trials.columns:
            trials = trials.with_columns(pl.col(name).cast(pl.String))
    extras = [c for c in trials.columns if c not in _RESERVED]
    return trials.with_columns(narrow(trials[c]).alias(c) for c in extras)


def as_bool(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "1.0", "true", "t", "yes"])).then(True)
        .when(text.is_in(["0", "0.0", "false", "f", "no"])).then(False)
        .otherwise(None)
    )


def narrow(series: pl.Series) -> pl.Series:
    """Cast a text covariate to Int64 or Float64 when every non-missing value parses as such."""
    if series.dtype != pl.String:
        return series
    for dtype in (pl.Int64, pl.Float64):
        cast = series.str.strip_chars().cast(dtype, strict=False)
        if cast.null_count() == series.null_count():
            return cast
    return series


__all__ = ["INJECTION_PREFIXES", "TrialCollector", "as_bool", "finish_trials", "flag_injection", "narrow"]
