"""Bimodality per condition as one tidy table, and a sentence about it (wraps :mod:`mouselab.measures.bimodality`)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def bimodality_table(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    columns: Sequence[str] = ("MAD", "AUC"),
    by: str = "condition",
    within: str | None = "participant",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Bimodality coefficient and Hartigan's dip test per measure and ``by`` level.

    Values are z-standardised within ``within`` first (MouseTracker / mousetrap practice, so that
    differences between participants do not look like two modes); ``within=None`` uses raw values.
    Returns ``measure, <by>, n, BC, BC_bimodal`` (BC > 0.555), ``dip_p``, ``dip_bimodal`` (dip p < alpha)
    and ``standardised`` (how the values were scaled).
    """
    from mouselab.measures import BC_THRESHOLD, check_bimodality, standardize

    frame = measures.collect() if isinstance(measures, pl.LazyFrame) else measures
    frame = frame.filter(pl.col(by).is_not_null())
    cols = list(columns)
    if within:
        frame = standardize(frame, columns=cols, within=within, prefix="z_")
        used = [f"z_{c}" for c in cols]
    else:
        used = cols
    long = check_bimodality(frame, columns=used, by=[by])
    wide = long.pivot(on="method", index=[by, "variable"], values="value")
    counts = pl.concat([
        frame.group_by(by).agg(pl.col(u).cast(pl.Float64).is_not_nan().sum().alias("n")).with_columns(
            pl.lit(u).alias("variable"))
        for u in used
    ])
    out = (
        wide.join(counts, on=[by, "variable"], how="left")
        .with_columns(
            pl.col("variable").str.replace(r"^z_", "").alias("measure"),
            (pl.col("BC") > BC_THRESHOLD).alias("BC_bimodal"),
            pl.col("HDS_p_value").alias("dip_p"),
            (pl.col("HDS_p_value") < alpha).alias("dip_bimodal"),
            pl.lit(f"z within {within}" if within else "raw").alias("standardised"),
        )
        .select(["measure", by, "n", "BC", "BC_bimodal", "dip_p", "dip_bimodal", "standardised"])
    )
    order = {c: i for i, c in enumerate(cols)}
    return out.sort(pl.col("measure").replace_strict(order, return_dtype=pl.Int64), by)


def describe_bimodality(table: pl.DataFrame, *, alpha: float = 0.05, by: str = "condition") -> str:
    """Markdown: for each measure, whether the distributions look bimodal by BC and by the dip test."""
    from mouselab.measures import BC_THRESHOLD
    from mouselab.models.summary import format_p

    lines = []
    for measure in table["measure"].unique(maintain_order=True).to_list():
        rows = table.filter(pl.col("measure") == measure)
        parts = [
            f"{r[by]}: BC = {r['BC']:.3f}, dip {format_p(r['dip_p'])}" for r in rows.iter_rows(named=True)
        ]
        flagged = rows.filter(pl.col("BC_bimodal") | pl.col("dip_bimodal"))
        if flagged.height == 0:
            verdict = "no sign of bimodality in any condition"
        else:
            levels = ", ".join(str(v) for v in flagged[by].to_list())
            reasons = []
            if flagged["BC_bimodal"].any():
                reasons.append(f"BC above {BC_THRESHOLD}")
            if flagged["dip_bimodal"].any():
                reasons.append(f"dip test p < {alpha:g}")
            verdict = f"possible bimodality in {levels} ({' and '.join(reasons)})"
        lines.append(f"- **{measure}**: {verdict} ({'; '.join(parts)}).")
    head = "**Bimodality** (values standardised within participant):" if table.height and \
        table["standardised"][0].startswith("z") else "**Bimodality:**"
    return "\n".join([head, ""] + lines)
