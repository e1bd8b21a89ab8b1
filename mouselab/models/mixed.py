"""Statistical models as tidy Polars frames: linear mixed models, effect sizes, condition means with CIs.

All functions take a per-trial measures frame first (one row per trial, with the outcome, the condition and
the participant) and return a new frame; nothing is printed or written. statsmodels does the fitting.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl

MODEL_COLUMNS = [
    "outcome", "term", "estimate", "se", "ci_low", "ci_high", "p", "n_obs", "n_groups", "converged", "method",
]
_TERM = re.compile(r"^(?P<var>[A-Za-z_][A-Za-z0-9_]*)\[T\.(?P<level>.+)\]$")


class ModelFallbackWarning(UserWarning):
    """The mixed model did not converge; the result comes from OLS with cluster-robust standard errors."""


def _eager(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {', '.join(repr(c) for c in missing)} (have: {', '.join(frame.columns)})"
        )


def split_formula(formula: str) -> tuple[str, str]:
    """``"MAD ~ condition"`` → ``("MAD", "condition")``."""
    if formula.count("~") != 1:
        raise ValueError(f"formula {formula!r} must look like 'outcome ~ predictors'")
    left, right = (part.strip() for part in formula.split("~"))
    if not left or not right:
        raise ValueError(f"formula {formula!r} must look like 'outcome ~ predictors'")
    return left, right


def _formula_columns(formula: str, columns: Sequence[str]) -> list[str]:
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula))
    return [c for c in columns if c in names]


def _prepare(
    measures: pl.DataFrame, *, formula: str, group: str, reference: str | dict[str, str] | None
) -> tuple["object", str, list[str]]:
    import pandas as pd

    outcome, _ = split_formula(formula)
    _require(measures, [outcome, group], "mixed_model")
    used = _formula_columns(formula, measures.columns)
    cols = list(dict.fromkeys(used + [group]))
    frame = measures.select(cols).filter(pl.col(outcome).is_not_null() & pl.col(outcome).cast(pl.Float64).is_finite())
    frame = frame.drop_nulls()
    if frame.height == 0:
        raise ValueError(f"mixed_model: no rows with a finite {outcome!r} and complete predictors")
    refs = reference if isinstance(reference, dict) else {}
    categorical = [c for c in cols if c not in (outcome, group) and frame.schema[c] in (pl.String, pl.Categorical,
                                                                                       pl.Enum, pl.Boolean)]
    if isinstance(reference, str):
        if len(categorical) != 1:
            raise ValueError(
                f"mixed_model: reference={reference!r} is ambiguous; pass a dict such as {{'condition': "
                f"{reference!r}}} (categorical predictors: {', '.join(categorical) or 'none'})"
            )
        refs = {categorical[0]: reference}
    pdf = frame.with_columns(pl.col(outcome).cast(pl.Float64)).to_pandas()
    for col in categorical:
        levels = sorted(str(v) for v in frame[col].unique().to_list())
        ref = refs.get(col)
        if ref is not None:
            if str(ref) not in levels:
                raise ValueError(f"mixed_model: reference {ref!r} is not a level of {col!r} (levels: {', '.join(levels)})")
            levels = [str(ref)] + [v for v in levels if v != str(ref)]
        pdf[col] = pd.Categorical(pdf[col].astype(str), categories=levels)
    pdf[group] = pdf[group].astype(str)
    return pdf, outcome, categorical


def mixed_model(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    formula: str = "MAD ~ condition",
    group: str = "participant",
    reference: str | dict[str, str] | None = None,
    alpha: float = 0.05,
    reml: bool = True,
) -> pl.DataFrame:
    """Linear mixed model ``formula`` with a random intercept per ``group``, as a tidy frame.

    Fits ``statsmodels.formula.api.mixedlm(formula, groups=group)`` (REML by default) and returns one row
    per fixed-effect term: ``outcome, term, estimate, se, ci_low, ci_high, p, n_obs, n_groups, converged,
    method`` plus ``group_sd`` (SD of the random intercepts). CIs and p-values are Wald (normal) ones.
    Rows with a missing or non-finite outcome are dropped. Categorical predictors use treatment coding;
    ``reference`` names the baseline level (a string when there is one categorical predictor, else a dict),
    otherwise the first level in sorted order is the baseline. Terms read ``condition[T.high]``.

    When the fit does not converge (or gives non-finite standard errors) a :class:`ModelFallbackWarning`
    is issued and the table comes from OLS with standard errors clustered by ``group`` (t-based CIs with
    ``n_groups - 1`` degrees of freedom); ``converged`` is then False and ``method`` says so.
    """
    import statsmodels.formula.api as smf

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    data = _eager(measures)
    pdf, outcome, _ = _prepare(data, formula=formula, group=group, reference=reference)
    n_obs = len(pdf)
    n_groups = int(pdf[group].nunique())
    problem = None
    result = None
    if n_groups < 2:
        problem = f"only {n_groups} {group}"
    else:
        for attempt in ({}, {"method": "nm", "maxiter": 5000}):  # statsmodels' default optimisers, then Nelder-Mead
            result, problem = _fit_lmm(smf.mixedlm(formula, pdf, groups=pdf[group]), reml=reml, **attempt)
            if problem is None:
                break
    if problem is None and result is not None:
        fe = result.fe_params.index
        ci = result.conf_int(alpha=alpha).loc[fe]
        group_sd = float(math.sqrt(max(float(result.cov_re.iloc[0, 0]), 0.0))) if result.cov_re.size else None
        method = f"LMM ({'REML' if reml else 'ML'}), random intercept per {group}; Wald z CI and p"
        rows = {
            "outcome": [outcome] * len(fe),
            "term": list(fe),
            "estimate": result.fe_params.to_numpy(dtype=float),
            "se": np.asarray(result.bse[fe], dtype=float),
            "ci_low": ci.iloc[:, 0].to_numpy(dtype=float),
            "ci_high": ci.iloc[:, 1].to_numpy(dtype=float),
            "p": np.asarray(result.pvalues[fe], dtype=float),
            "n_obs": [n_obs] * len(fe),
            "n_groups": [n_groups] * len(fe),
            "converged": [True] * len(fe),
            "method": [method] * len(fe),
            "group_sd": [group_sd] * len(fe),
        }
        return pl.DataFrame(rows)
    warnings.warn(
        f"mixed model {formula!r} with random intercept per {group!r} did not converge ({problem}); "
        "falling back to OLS with cluster-robust standard errors",
        ModelFallbackWarning,
        stacklevel=2,
    )
    return _ols_cluster(pdf, formula=formula, outcome=outcome, group=group, alpha=alpha, reason=problem,
                        n_groups=n_groups)


def _fit_lmm(model, *, reml: bool, **fit_kwargs):
    """Fit a MixedLM; return (result, problem) where problem is None for a usable fit."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = model.fit(reml=reml, **fit_kwargs)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    fe = result.fe_params.index
    bse = np.asarray(result.bse[fe], dtype=float)
    if not result.converged:
        return result, "optimizer did not converge"
    if not np.all(np.isfinite(bse)) or not np.all(np.isfinite(result.fe_params.to_numpy(dtype=float))):
        return result, "non-finite estimates or standard errors"
    if any("Hessian" in m or "not positive definite" in m for m in messages):
        return result, "Hessian not positive definite"
    return result, None


def _ols_cluster(pdf, *, formula: str, outcome: str, group: str, alpha: float, reason: str | None,
                 n_groups: int) -> pl.DataFrame:
    import statsmodels.formula.api as smf

    codes = pdf[group].astype("category").cat.codes.to_numpy()
    model = smf.ols(formula, pdf)
    if n_groups >= 2:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        se_kind = f"cluster-robust SE by {group}"
    else:
        fit = model.fit()
        se_kind = "ordinary SE (a single group: no clustering possible)"
    ci = fit.conf_int(alpha=alpha)
    terms = list(fit.params.index)
    method = f"OLS, {se_kind}; t-based CI (mixed model did not converge: {reason})"
    return pl.DataFrame({
        "outcome": [outcome] * len(terms),
        "term": terms,
        "estimate": fit.params.to_numpy(dtype=float),
        "se": fit.bse.to_numpy(dtype=float),
        "ci_low": ci.iloc[:, 0].to_numpy(dtype=float),
        "ci_high": ci.iloc[:, 1].to_numpy(dtype=float),
        "p": fit.pvalues.to_numpy(dtype=float),
        "n_obs": [len(pdf)] * len(terms),
        "n_groups": [n_groups] * len(terms),
        "converged": [False] * len(terms),
        "method": [method] * len(terms),
        "group_sd": pl.Series([None] * len(terms), dtype=pl.Float64),
    })


def ols_model(
    measures: pl.DataFrame | pl.LazyFrame, *, formula: str = "MAD ~ condition", reference: str | dict | None = None,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Plain OLS (independent errors) with the same tidy columns — for comparison and checks only."""
    import statsmodels.formula.api as smf

    data = _eager(measures)
    outcome, _ = split_formula(formula)
    # _prepare needs a grouping column; use a constant one for plain OLS
    data = data.with_columns(pl.lit("all").alias("__all__"))
    pdf, outcome, _ = _prepare(data, formula=formula, group="__all__", reference=reference)
    fit = smf.ols(formula, pdf).fit()
    ci = fit.conf_int(alpha=alpha)
    terms = list(fit.params.index)
    return pl.DataFrame({
        "outcome": [outcome] * len(terms), "term": terms, "estimate": fit.params.to_numpy(dtype=float),
        "se": fit.bse.to_numpy(dtype=float), "ci_low": ci.iloc[:, 0].to_numpy(dtype=float),
        "ci_high": ci.iloc[:, 1].to_numpy(dtype=float), "p": fit.pvalues.to_numpy(dtype=float),
        "n_obs": [len(pdf)] * len(terms), "n_groups": [1] * len(terms), "converged": [True] * len(terms),
        "method": ["OLS, independent errors"] * len(terms),
    })


EFFECT_SIZE_METHOD = (
    "standardised estimate = estimate / SD of the outcome over all analysed trials (both conditions, all "
    "participants); the SD includes between-participant variance, so values are smaller than a "
    "within-participant d_z"
)


def effect_size(model: pl.DataFrame, measures: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Add standardised effects to a :func:`mixed_model` table: ``std_estimate``, ``std_ci_low``,
    ``std_ci_high`` (estimate and CI divided by the outcome's SD over the analysed trials) and
    ``effect_size_method`` (how it was computed). The intercept row gets nulls."""
    data = _eager(measures)
    _require(model, ["outcome", "term", "estimate", "ci_low", "ci_high"], "effect_size")
    sds = {}
    for outcome in model["outcome"].unique().to_list():
        _require(data, [outcome], "effect_size")
        values = data[outcome].cast(pl.Float64)
        values = values.filter(values.is_finite())
        sd = values.std()
        sds[outcome] = float(sd) if sd is not None and sd > 0 else None
    sd_col = pl.col("outcome").replace_strict(sds, return_dtype=pl.Float64, default=None)
    not_intercept = pl.col("term") != "Intercept"
    return model.with_columns(
        pl.when(not_intercept).then(pl.col("estimate") / sd_col).alias("std_estimate"),
        pl.when(not_intercept).then(pl.col("ci_low") / sd_col).alias("std_ci_low"),
        pl.when(not_intercept).then(pl.col("ci_high") / sd_col).alias("std_ci_high"),
        sd_col.alias("outcome_sd"),
        pl.lit(EFFECT_SIZE_METHOD).alias("effect_size_method"),
    )


def fit_measures(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    outcomes: Sequence[str],
    predictor: str = "condition",
    group: str = "participant",
    reference: str | None = None,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """One :func:`mixed_model` ``outcome ~ predictor + (1 | group)`` per outcome, with effect sizes.

    Returns the stacked tables (intercepts included) with the columns of :func:`effect_size`. Outcomes
    missing from ``measures`` raise ``ValueError``.
    """
    data = _eager(measures)
    _require(data, list(outcomes) + [predictor, group], "fit_measures")
    tables = []
    for outcome in outcomes:
        table = mixed_model(data, formula=f"{outcome} ~ {predictor}", group=group,
                            reference={predictor: reference} if reference is not None else None, alpha=alpha)
        tables.append(effect_size(table, data))
    return pl.concat(tables, how="diagonal_relaxed")


def subject_means(
    measures: pl.DataFrame | pl.LazyFrame, *, measure: str, by: str = "condition", subject: str = "participant"
) -> pl.DataFrame:
    """Mean of ``measure`` per ``subject`` and ``by`` level: ``subject, by, n_trials, mean`` (+ ``measure``)."""
    data = _eager(measures)
    _require(data, [measure, by, subject], "subject_means")
    return (
        data.filter(pl.col(by).is_not_null() & pl.col(measure).cast(pl.Float64).is_finite())
        .group_by([subject, by])
        .agg(pl.len().alias("n_trials"), pl.col(measure).cast(pl.Float64).mean().alias("mean"))
        .with_columns(pl.lit(measure).alias("measure"))
        .sort([subject, by])
        .select(["measure", subject, by, "n_trials", "mean"])
    )


def condition_means_ci(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    measure: str | Sequence[str],
    by: str = "condition",
    subject: str = "participant",
    alpha: float = 0.05,
    reference: str | None = None,
) -> pl.DataFrame:
    """Condition means with t-based confidence intervals over participants.

    Trials are first averaged per participant and condition (so every participant weighs the same), then
    per condition: ``measure, <by>, n_subjects, mean, sd, se, ci_low, ci_high`` with
    ``mean ± t(1 - alpha/2, n_subjects - 1) · sd / √n_subjects``. Several measures may be given at once.
    Levels are sorted, with ``reference`` (when given) first.
    """
    from scipy import stats

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    names = [measure] if isinstance(measure, str) else list(measure)
    data = _eager(measures)
    parts = []
    for name in names:
        means = subject_means(data, measure=name, by=by, subject=subject)
        summary = means.group_by(by).agg(
            pl.len().alias("n_subjects"),
            pl.col("mean").mean().alias("mean_"),
            pl.col("mean").std().alias("sd"),
        ).rename({"mean_": "mean"}).sort(
            [pl.col(by) != reference, by] if reference is not None else [by], nulls_last=True
        )
        n = summary["n_subjects"].to_numpy().astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            tcrit = np.where(n > 1, stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1)), np.nan)
            se = summary["sd"].to_numpy().astype(float) / np.sqrt(n)
        summary = summary.with_columns(
            pl.Series("se", se),
            (pl.col("mean") - pl.Series(tcrit * se)).alias("ci_low"),
            (pl.col("mean") + pl.Series(tcrit * se)).alias("ci_high"),
            pl.lit(name).alias("measure"),
        )
        parts.append(summary.select(["measure", by, "n_subjects", "mean", "sd", "se", "ci_low", "ci_high"]))
    return pl.concat(parts)


def parse_term(term: str) -> tuple[str, str] | None:
    """``"condition[T.high]"`` → ``("condition", "high")``; None for the intercept or numeric terms."""
    match = _TERM.match(term)
    return (match.group("var"), match.group("level")) if match else None
