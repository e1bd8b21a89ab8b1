"""Registered mouse-tracking measures (per sample, per trial) with units, parameters and references.

* :func:`compute_measures` -- one row per trial; presets ``mousetrap`` (mousetrap's names and math),
  ``kinematic`` and ``all`` (:data:`PRESETS`).
* :func:`sample_measures` -- per-sample dist / vel / acc and deviations from the direct path.
* :func:`list_measures` -- the registry as a frame.
* :func:`standardize`, :func:`aggregate`, :func:`aggregate_per_subject` -- z-scores and subject-first means.
* :func:`bimodality_coefficient`, :func:`dip_test_pvalue`, :func:`check_bimodality` -- bimodality checks.
"""

from mouselab.measures.bimodality import BC_THRESHOLD, bimodality_coefficient, check_bimodality, dip_test_pvalue
from mouselab.measures.compute import compute_measures, sample_measures
from mouselab.measures.registry import MEASURES, PARAMETERS, PRESETS, list_measures
from mouselab.measures.summarize import aggregate, aggregate_per_subject, standardize

__all__ = [
    "BC_THRESHOLD",
    "MEASURES",
    "PARAMETERS",
    "PRESETS",
    "aggregate",
    "aggregate_per_subject",
    "bimodality_coefficient",
    "check_bimodality",
    "compute_measures",
    "dip_test_pvalue",
    "list_measures",
    "sample_measures",
    "standardize",
]
