"""Bimodality of measure distributions: bimodality coefficient and Hartigan's dip test (mousetrap's
``bimodality_coefficient`` and ``mt_check_bimodality``).

References: Pfister, Schwarz, Janczyk, Dale & Freeman (2013), Good things peak in pairs: a note on the
bimodality coefficient, Frontiers in Psychology 4, 700; Freeman & Ambady (2010) for the BC > 0.555 rule;
Hartigan & Hartigan (1985), The dip test of unimodality, Annals of Statistics 13(1), 70-84;
Freeman & Dale (2013), Behavior Research Methods 45(1), 83-97.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from mouselab.preprocess._frames import FrameLike, require_columns

#: A distribution counts as bimodal when its BC exceeds this value (Freeman & Ambady, 2010).
BC_THRESHOLD = 0.555


def bimodality_coefficient(values: np.ndarray | Sequence[float] | pl.Series) -> float:
    """Bimodality coefficient BC = (G1² + 1) / (G2 + 3 (n-1)² / ((n-2)(n-3))) (unitless).

    ``G1`` is the sample-adjusted skewness ``n sqrt(n-1) S3 / ((n-2) S2^1.5)`` and ``G2`` the
    sample-adjusted excess kurtosis ``n (n+1) (n-1) S4 / ((n-2)(n-3) S2²) - 3 (n-1)² / ((n-2)(n-3))``, with
    ``Sk`` the sums of k-th powers of deviations from the mean (psych ``skew``/``kurtosi`` type 2, as
    mousetrap). NaN values are dropped; NaN for fewer than 4 values or zero variance.
    Values above 0.555 suggest bimodality.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = x.size
    if n < 4:
        return float("nan")
    dev = x - x.mean()
    s2 = float(np.sum(dev**2))
    if s2 == 0:
        return float("nan")
    s3 = float(np.sum(dev**3))
    s4 = float(np.sum(dev**4))
    g1 = n * np.sqrt(n - 1) * s3 / ((n - 2) * s2**1.5)
    corr = 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))
    g2 = n * (n + 1) * (n - 1) * s4 / ((n - 2) * (n - 3) * s2**2) - corr
    return float((g1**2 + 1) / (g2 + corr))


def dip_test_pvalue(values: np.ndarray | Sequence[float] | pl.Series) -> float:
    """p-value of Hartigan's dip test of unimodality, interpolated from the tabulated null distribution.

    Uses the ``diptest`` package (a port of R's ``diptest``) with table interpolation (no simulation), the
    method of R's ``diptest::dip.test(x)`` that mousetrap's ``mt_check_bimodality`` reports as
    ``HDS_p_value``. NaN values are dropped; NaN for fewer than 4 values.
    """
    try:
        import diptest
    except ImportError as exc:  # pragma: no cover - diptest is a declared dependency
        raise ImportError("dip_test_pvalue needs the 'diptest' package: pip install diptest") from exc
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size < 4:
        return float("nan")
    _, p = diptest.diptest(x, boot_pval=False)
    return float(p)


_METHODS = {"BC": bimodality_coefficient, "HDS_p_value": dip_test_pvalue}


def check_bimodality(
    measures: FrameLike,
    *,
    columns: Sequence[str],
    by: Sequence[str] | None = None,
    methods: Sequence[str] = ("BC", "HDS_p_value"),
) -> pl.DataFrame:
    """Bimodality of each column in ``columns``, over all rows or per group of ``by``.

    Returns a long frame: ``method`` (``BC`` / ``HDS_p_value``), the ``by`` columns (when given), ``variable``
    and ``value`` (mousetrap's ``mt_check_bimodality`` results as one table). Groups are sorted.
    """
    unknown = [m for m in methods if m not in _METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(_METHODS)}")
    by = list(by or [])
    require_columns(measures, list(columns) + by, what="measures")
    frame = measures.collect() if isinstance(measures, pl.LazyFrame) else measures
    groups = frame.group_by(by, maintain_order=True).agg([pl.col(c) for c in columns]) if by else \
        frame.select([pl.col(c).implode() for c in columns])
    if by:
        groups = groups.sort(by)
    rows = []
    for method in methods:
        func = _METHODS[method]
        for group in groups.iter_rows(named=True):  # one row per group, not per trial
            for c in columns:
                values = pl.Series(c, group[c], dtype=pl.Float64).to_numpy()  # nulls -> NaN (dropped)
                rows.append({"method": method, **{k: group[k] for k in by}, "variable": c, "value": func(values)})
    schema = {"method": pl.String, **{k: frame.schema[k] for k in by}, "variable": pl.String, "value": pl.Float64}
    return pl.DataFrame(rows, schema=schema)
