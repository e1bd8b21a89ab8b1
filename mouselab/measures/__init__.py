"""Registered mouse-tracking measures (per sample, per trial, per session) with units, parameters and references.

* :func:`compute_measures` -- one row per trial; presets ``mousetrap`` (mousetrap's names, math and quirks),
  ``kinematic`` (clean kinematic definitions), ``hci`` (pointing measures, Fitts' law inputs) and ``all``
  (:data:`PRESETS`). :class:`MeasureRun` exposes the passes for streaming / distributed computation.
* :func:`sample_measures` -- per-sample dist / vel / acc and deviations from the direct path.
* :func:`session_measures` -- activity, rates, drift and repetitive movement of free-use sessions.
* :func:`map_prototypes`, :func:`cluster_trajectories` -- trajectory types (mousetrap ``mt_map`` / ``mt_cluster``).
* :func:`fitts_throughput`, :func:`fitts_regression` -- Fitts' law per ISO 9241-9.
* :func:`list_measures` -- the registry as a frame; :func:`render_reference` -- ``docs/measures.md``.
* :func:`standardize`, :func:`aggregate`, :func:`aggregate_per_subject` -- z-scores and subject-first means.
* :func:`bimodality_coefficient`, :func:`dip_test_pvalue`, :func:`check_bimodality` -- bimodality checks.
"""

from mouselab.measures.bimodality import BC_THRESHOLD, bimodality_coefficient, check_bimodality, dip_test_pvalue
from mouselab.measures.compute import MeasureRun, compute_measures, sample_measures
from mouselab.measures.docs import render_reference
from mouselab.measures.registry import MEASURES, PARAMETERS, PRESETS, SESSION_MEASURES, list_measures
from mouselab.measures.session import session_measures
from mouselab.measures.summarize import aggregate, aggregate_per_subject, aggregate_time_normalized, standardize
from mouselab.measures.target import fitts_regression, fitts_throughput
from mouselab.measures.types import PROTOTYPE_NAMES, cluster_trajectories, map_prototypes, prototype_shapes

__all__ = [
    "BC_THRESHOLD",
    "MEASURES",
    "PARAMETERS",
    "PRESETS",
    "PROTOTYPE_NAMES",
    "SESSION_MEASURES",
    "MeasureRun",
    "aggregate",
    "aggregate_per_subject",
    "aggregate_time_normalized",
    "bimodality_coefficient",
    "check_bimodality",
    "cluster_trajectories",
    "compute_measures",
    "dip_test_pvalue",
    "fitts_regression",
    "fitts_throughput",
    "list_measures",
    "map_prototypes",
    "prototype_shapes",
    "render_reference",
    "sample_measures",
    "session_measures",
    "standardize",
]
