"""Synthetic, seeded mouse-movement data (no real person behind any number).

* :mod:`mouselab.synth.kinematics` — the movement model: minimum-jerk submovements (Flash & Hogan 1985)
  superposed as in Meyer et al.'s (1988) optimized-submovement model, signal-dependent noise (Harris &
  Wolpert 1998), initiation latency, hesitations, attraction towards a competing option, 60 Hz sampling.
* :mod:`mouselab.synth.sample_study` — :func:`build_sample_study`, the ``cogload`` mouse-tracking study
  behind ``data/sample/store`` (``mouselab synth sample-study``), with documented planted effects.
* :mod:`mouselab.synth.free_use` — :func:`simulate_free_use`, free-use desktop sessions (clicks, drags,
  scrolls, focus changes, idle periods).

``synth`` never imports :mod:`mouselab.measures`: realism is judged outside the generator.
"""

from mouselab.synth.free_use import APP_CATEGORIES, simulate_free_use
from mouselab.synth.kinematics import (
    SubmovementPlan,
    Trajectories,
    attraction_via,
    fitts_duration_ms,
    minimum_jerk,
    minimum_jerk_velocity,
    plan_submovements,
    render,
    sample_times,
    simulate_pointing,
    superpose,
)
from mouselab.synth.sample_study import DEFAULT_SEED, LAYOUT, CogloadDesign, build_sample_study

__all__ = [
    "APP_CATEGORIES",
    "DEFAULT_SEED",
    "LAYOUT",
    "CogloadDesign",
    "SubmovementPlan",
    "Trajectories",
    "attraction_via",
    "build_sample_study",
    "fitts_duration_ms",
    "minimum_jerk",
    "minimum_jerk_velocity",
    "plan_submovements",
    "render",
    "sample_times",
    "simulate_free_use",
    "simulate_pointing",
    "superpose",
]
