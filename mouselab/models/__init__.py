"""statsmodels wrappers returning tidy Polars frames (estimate, CI, p, n) and plain-language summaries.

* :func:`mixed_model` — ``outcome ~ predictors + (1 | group)``; falls back to OLS with cluster-robust
  SE (and says so) when the mixed model does not converge.
* :func:`effect_size`, :func:`fit_measures` — standardised effects; one model per measure.
* :func:`condition_means_ci`, :func:`subject_means` — participant means first, then t-based CIs.
* :func:`bimodality_table`, :func:`describe_bimodality` — BC and dip test per condition.
* :func:`describe_effects`, :func:`summary_markdown` — sentences generated from the numbers.
"""

from mouselab.models.bimodality import bimodality_table, describe_bimodality
from mouselab.models.mixed import (
    EFFECT_SIZE_METHOD,
    ModelFallbackWarning,
    condition_means_ci,
    effect_size,
    fit_measures,
    mixed_model,
    ols_model,
    parse_term,
    subject_means,
)
from mouselab.models.summary import describe_effects, format_number, format_p, summary_markdown

__all__ = [
    "bimodality_table",
    "describe_bimodality",
    "EFFECT_SIZE_METHOD",
    "ModelFallbackWarning",
    "condition_means_ci",
    "describe_effects",
    "effect_size",
    "fit_measures",
    "format_number",
    "format_p",
    "mixed_model",
    "ols_model",
    "parse_term",
    "subject_means",
    "summary_markdown",
]
