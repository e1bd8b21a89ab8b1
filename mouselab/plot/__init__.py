"""Altair chart builders returning ``alt.Chart`` objects, and the offline renderer for notebooks/reports.

Call :func:`enable_offline_charts` once at the top of a notebook: charts then draw with no network, in
JupyterLab and in the HTML reports written by :mod:`mouselab.report`.
"""

from mouselab.plot.charts import (
    distribution_by_condition,
    gap_distribution,
    histogram_frame,
    measure_by_condition,
    participant_effects,
    sample_trials,
    sampling_rate_histogram,
    thin_trajectories,
    trajectories,
    trial_counts_heatmap,
)
from mouselab.plot.offline import enable_offline_charts, offline_renderer

__all__ = [
    "distribution_by_condition",
    "enable_offline_charts",
    "gap_distribution",
    "histogram_frame",
    "measure_by_condition",
    "offline_renderer",
    "participant_effects",
    "sample_trials",
    "sampling_rate_histogram",
    "thin_trajectories",
    "trajectories",
    "trial_counts_heatmap",
]
