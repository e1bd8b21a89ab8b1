"""Synthetic, seeded mouse-movement data (no real person behind any number).

* :mod:`mouselab.synth.kinematics` — the movement model: minimum-jerk submovements (Flash & Hogan 1985)
  superposed as in Meyer et al.'s (1988) optimized-submovement model, signal-dependent noise (Harris &
  Wolpert 1998), initiation latency, hesitations, attraction towards a competing option, 60 Hz sampling.
* :mod:`mouselab.synth.sample_study` — :func:`build_sample_study`, the ``cogload`` mouse-tracking study
  behind ``data/sample/store`` (``mouselab synth sample-study``), with documented planted effects.
* :mod:`mouselab.synth.free_use` — :func:`simulate_free_use`, free-use desktop sessions (clicks, drags,
  scrolls, focus changes, idle periods).
* :mod:`mouselab.synth.lognormal` — the sigma-lognormal model (Plamondon's kinematic theory): lognormal
  strokes, their analytic speed, peak time and vector superposition.
* :mod:`mouselab.synth.movement` — whole movements from a per-trial :class:`MovementSpec` (latency,
  movement time, deviation, overshoot/correction, hesitations, peak timing) with either kernel
  (``"lognormal"`` or ``"minjerk"``); :class:`MovementParams` is a parametric population of specs.
* :mod:`mouselab.synth.describe` — per-trial movement descriptors of real or synthetic trajectories.
* :mod:`mouselab.synth.calibrate` — :func:`calibrate` a generator to real trajectories (Fitts' law, noise,
  device report rate, self-consistent correction) → :class:`Calibration`.
* :mod:`mouselab.synth.script` — :func:`simulate_session`: a UI layout and an ordered task → a whole
  session of moves, clicks, drags, scrolls and idle time.
* :mod:`mouselab.synth.baselines` — WindMouse-style and Bezier-style baselines for the realism yardstick.

``synth`` never imports :mod:`mouselab.measures`: realism is judged outside the generator.
"""

from mouselab.synth.baselines import bezier_movements, windmouse_movements
from mouselab.synth.calibrate import Calibration, FittsFit, calibrate, fit_fitts, geometry_frame
from mouselab.synth.describe import DESCRIPTORS, describe_movements, movement_phases, trial_set
from mouselab.synth.balabit import BalabitQuirks, iter_balabit
from mouselab.synth.free_use import APP_CATEGORIES, PersonStyle, StylePopulation, simulate_free_use
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
from mouselab.synth.lognormal import StrokePlan, lognormal_peak_time, lognormal_speed, superpose_strokes
from mouselab.synth.movement import MovementParams, MovementSpec, Recording, generate_movements
from mouselab.synth.sample_study import DEFAULT_SEED, LAYOUT, CogloadDesign, build_sample_study
from mouselab.synth.script import Click, Drag, Idle, Move, Scroll, Target, session_movements, simulate_session

__all__ = [
    "APP_CATEGORIES",
    "BalabitQuirks",
    "DEFAULT_SEED",
    "DESCRIPTORS",
    "LAYOUT",
    "Calibration",
    "Click",
    "CogloadDesign",
    "Drag",
    "FittsFit",
    "Idle",
    "Move",
    "MovementParams",
    "MovementSpec",
    "PersonStyle",
    "Recording",
    "Scroll",
    "StrokePlan",
    "StylePopulation",
    "SubmovementPlan",
    "Target",
    "Trajectories",
    "attraction_via",
    "bezier_movements",
    "build_sample_study",
    "calibrate",
    "describe_movements",
    "fit_fitts",
    "generate_movements",
    "geometry_frame",
    "iter_balabit",
    "lognormal_peak_time",
    "lognormal_speed",
    "movement_phases",
    "session_movements",
    "simulate_session",
    "superpose_strokes",
    "trial_set",
    "windmouse_movements",
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
