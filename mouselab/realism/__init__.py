"""The realism yardstick: how distinguishable are synthetic trajectories from real ones?

* :func:`classifier_two_sample_test` — cross-validated AUC of a classifier separating real from synthetic
  trials (0.5 = indistinguishable), folds split by participant.
* :func:`distribution_distances` — Wasserstein-1 and Kolmogorov–Smirnov per measure.
* :func:`measure_features`, :func:`trajectory_features` — the two feature sets (registered trial measures;
  raw time-normalised trajectories).
* :func:`realism_benchmark` — the held-out protocol: calibrate the generators on some participants,
  generate the others' trials, compare with baselines (WindMouse-style, Bezier-style).
* :func:`fitts_recovery` — true versus recovered generator parameters on a pointing task.

This package may import :mod:`mouselab.measures`; the generators in :mod:`mouselab.synth` may not, so
they cannot be tuned against this yardstick.
"""

from mouselab.realism.benchmark import GENERATOR_LABELS, GENERATORS, RealismReport, realism_benchmark, split_participants
from mouselab.realism.distances import distribution_distances
from mouselab.realism.features import measure_features, trajectory_features
from mouselab.realism.fitts import fitts_recovery, pointing_task
from mouselab.realism.two_sample import CLASSIFIERS, TwoSampleResult, classifier_two_sample_test, make_classifier

__all__ = [
    "CLASSIFIERS",
    "GENERATORS",
    "GENERATOR_LABELS",
    "RealismReport",
    "TwoSampleResult",
    "classifier_two_sample_test",
    "distribution_distances",
    "fitts_recovery",
    "make_classifier",
    "measure_features",
    "pointing_task",
    "realism_benchmark",
    "split_participants",
    "trajectory_features",
]
