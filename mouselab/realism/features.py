"""Feature tables for the realism yardstick: registered trial measures and raw resampled trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from mouselab.preprocess import time_normalize

__all__ = ["KEY", "measure_features", "trajectory_features"]

KEY = ["study", "participant", "session", "trial"]


def measure_features(samples: Mapping[str, pl.DataFrame], *, preset: str = "all",
                     measures: Sequence[str] | None = None) -> dict[str, pl.DataFrame]:
    """Trial measures (:func:`mouselab.measures.compute_measures`) of several labelled samples frames.

    All frames are measured **together** (their ``study`` column replaced by the label), so data-set-level
    quantities such as sample entropy's pooled tolerance are the same for every frame and cannot by
    themselves tell the frames apart. Returns one frame per label: the trial key then the measures.
    """
    from mouselab.measures import compute_measures

    parts = []
    for label, frame in samples.items():
        cols = [c for c in KEY if c != "study" and c in frame.columns] + ["t_ms", "x", "y"]
        parts.append(frame.select(cols).with_columns(study=pl.lit(label, dtype=pl.String)))
    joined = pl.concat(parts, how="diagonal_relaxed")
    for k in KEY:
        if k not in joined.columns:
            joined = joined.with_columns(pl.lit("1", dtype=pl.String).alias(k))
    joined = joined.select(KEY + ["t_ms", "x", "y"])
    values = compute_measures(joined, preset=preset, measures=list(measures) if measures is not None else None)
    return {label: values.filter(pl.col("study") == label) for label in samples}


def trajectory_features(samples: pl.DataFrame, *, n_steps: int = 21) -> pl.DataFrame:
    """Raw trajectories as features: positions relative to the first sample at ``n_steps`` equally spaced
    times (time normalisation, mousetrap style) plus ``log_duration`` (log ms), one row per trial.

    Columns: the trial key, ``dx_1 … dx_n``, ``dy_1 … dy_n``, ``log_duration``.
    """
    frame = samples
    for k in KEY:
        if k not in frame.columns:
            frame = frame.with_columns(pl.lit("1", dtype=pl.String).alias(k))
    tn = time_normalize(frame.select(KEY + ["t_ms", "x", "y"]), n_steps=n_steps)
    n = tn.height // n_steps
    x = tn.get_column("x").to_numpy().reshape(n, n_steps)
    y = tn.get_column("y").to_numpy().reshape(n, n_steps)
    t = tn.get_column("t_ms").to_numpy().reshape(n, n_steps)
    keys = tn.select(KEY)[:: n_steps]
    dx = x - x[:, :1]
    dy = y - y[:, :1]
    cols = {f"dx_{i + 1}": dx[:, i] for i in range(1, n_steps)}
    cols.update({f"dy_{i + 1}": dy[:, i] for i in range(1, n_steps)})
    cols["log_duration"] = np.log(np.maximum(t[:, -1] - t[:, 0], 1.0))
    return pl.concat([keys, pl.DataFrame(cols)], how="horizontal")
