"""Plain-language sentences generated from model tables — the numbers decide the wording."""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from mouselab.models.mixed import parse_term


def format_p(p: float | None) -> str:
    """APA-style p: ``p < .001``, ``p = .032``, ``p = .48``."""
    if p is None or not math.isfinite(p):
        return "p not available"
    if p < 0.001:
        return "p < .001"
    if p > 0.999:
        return "p > .999"
    return "p = " + f"{p:.3f}".lstrip("0")


def format_number(value: float | None, *, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separators and a real minus sign."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{abs(value):,.{decimals}f}"
    return ("−" if value < 0 else "") + text


def _unit(units: Mapping[str, str] | None, outcome: str) -> str:
    unit = (units or {}).get(outcome, "")
    if unit in ("", "-", "ratio"):
        return ""
    if unit == "count":
        return ""
    return " " + unit.replace("^2", "²")


def _decimals(*values: float | None, digits: int = 3) -> int:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 0
    return max(digits - 1 - math.floor(math.log10(max(finite))), 0)


def _fixed(value: float | None, decimals: int) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{abs(value):,.{decimals}f}"
    return ("−" if value < 0 and float(text.replace(",", "")) != 0 else "") + text


def describe_effects(
    table: pl.DataFrame,
    *,
    alpha: float = 0.05,
    units: Mapping[str, str] | None = None,
    reference: str | None = None,
    label: str | None = None,
) -> list[str]:
    """One sentence per non-intercept term of a :func:`~mouselab.models.fit_measures` table.

    A term with ``p < alpha`` is described as an increase or decrease relative to the reference level,
    with the estimate, its CI and the standardised effect when present; otherwise the sentence says the
    data show no reliable difference and still gives the estimate and CI. The CI level is ``1 - alpha``.
    ``label`` names the manipulated factor in the text (``"load"`` → "High load increased …"); without it
    the levels are called conditions. Sentences say when the mixed model fell back to OLS.
    """
    level_pct = f"{100 * (1 - alpha):g} %"
    sentences = []
    for row in table.iter_rows(named=True):
        if row["term"] == "Intercept":
            continue
        parsed = parse_term(row["term"])
        outcome = row["outcome"]
        unit = _unit(units, outcome)
        est, lo, hi, p = row["estimate"], row["ci_low"], row["ci_high"], row["p"]
        if parsed:
            _, level = parsed
            noun = label or "condition"
            subject = f"{level} {noun}" if label else f"the {level} {noun}"
            if reference:
                versus = f" compared with {reference} {noun}" if label else f" compared with the {reference} {noun}"
            else:
                versus = " compared with the reference level"
        else:
            subject, versus = f"each unit of {row['term']}", ""
        subject = subject[0].upper() + subject[1:]
        d = _decimals(est, lo, hi)
        ci = f"{level_pct} CI {_fixed(lo, d)} to {_fixed(hi, d)}{unit}"
        std = row.get("std_estimate")
        std_text = f"; {_fixed(std, 2)} SD" if std is not None and math.isfinite(std) else ""
        if p is not None and math.isfinite(p) and p < alpha:
            verb = "increased" if est > 0 else "decreased"
            sentence = (
                f"{subject} {verb} {outcome} by {_fixed(abs(est), d)}{unit}{versus} "
                f"({ci}, {format_p(p)}{std_text})."
            )
        else:
            sentence = (
                f"{subject} did not reliably change {outcome}{versus} (difference {_fixed(est, d)}{unit}, "
                f"{ci}, {format_p(p)}{std_text})."
            )
        if row.get("converged") is False:
            sentence += " [OLS with cluster-robust SE: the mixed model did not converge]"
        sentences.append(sentence)
    return sentences


def summary_markdown(
    table: pl.DataFrame,
    *,
    alpha: float = 0.05,
    units: Mapping[str, str] | None = None,
    reference: str | None = None,
    label: str | None = None,
    heading: str | None = "Summary",
) -> str:
    """Markdown bullet list of :func:`describe_effects` plus one line on the model and sample size."""
    sentences = describe_effects(table, alpha=alpha, units=units, reference=reference, label=label)
    lines = [f"### {heading}", ""] if heading else []
    if table.height:
        n_obs = table["n_obs"].max()
        n_groups = table["n_groups"].max()
        lmm = bool(table["converged"].all())
        model = ("linear mixed models with a random intercept per participant" if lmm
                 else "linear mixed models (OLS with cluster-robust SE where marked)")
        lines.append(
            f"Based on {model}, {n_groups} participants and up to {n_obs:,} trials per measure; "
            f"intervals are {100 * (1 - alpha):g} % confidence intervals, SD = standardised effect "
            "(estimate / SD of the measure)."
        )
        lines.append("")
    lines += [f"- {s}" for s in sentences] or ["- no effects to describe"]
    return "\n".join(lines)
