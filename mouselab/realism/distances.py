"""Distribution distances per measure between real and synthetic trials (Wasserstein-1, Kolmogorov–Smirnov)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = ["distribution_distances"]


def distribution_distances(real: pl.DataFrame, synthetic: pl.DataFrame, *, columns: Sequence[str] | None = None
                           ) -> pl.DataFrame:
    """One row per column: medians, Wasserstein-1 distance (raw and divided by the real SD) and the
    two-sample Kolmogorov–Smirnov statistic with its p-value.

    ``wasserstein_sd`` is unit free (0 = identical distributions; 1 = as far apart as one real SD), so
    measures in different units can be compared. Non-finite values are dropped per column; columns with
    fewer than two finite values on either side give nulls.
    """
    from scipy.stats import ks_2samp, wasserstein_distance

    if columns is None:
        columns = [c for c in real.columns if c in synthetic.columns and real[c].dtype.is_numeric()]
    rows = []
    for name in columns:
        a = real.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()
        b = synthetic.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < 2 or b.size < 2:
            rows.append((name, None, None, None, None, None, None))
            continue
        w = float(wasserstein_distance(a, b))
        sd = float(np.std(a, ddof=1))
        ks = ks_2samp(a, b)
        rows.append((name, float(np.median(a)), float(np.median(b)), w, w / sd if sd > 0 else (0.0 if w == 0 else None),
                     float(ks.statistic), float(ks.pvalue)))
    return pl.DataFrame(rows, schema={"measure": pl.String, "real_median": pl.Float64, "synthetic_median": pl.Float64,
                                      "wasserstein": pl.Float64, "wasserstein_sd": pl.Float64, "ks": pl.Float64,
                                      "ks_p": pl.Float64}, orient="row")
