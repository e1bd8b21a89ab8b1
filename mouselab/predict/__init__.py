"""Next-target / endpoint prediction from early motion (pure: frames in, frames out).

* :func:`cut_movements` — trials cut at fractions of their movement time, with early-motion features.
* Predictors (:mod:`mouselab.predict.predictors`): :class:`CurrentPosition` (baseline),
  :class:`KinematicEndpoint` (Lank et al. 2007), :class:`TemplateMatching` (Pasqual & Wobbrock 2014),
  :class:`LearnedEndpoint` (gradient boosting on early-motion features).
* :func:`evaluate_endpoint_prediction` — participant-split cross-validation: endpoint error and target
  identification accuracy per predictor and fraction.
"""

from mouselab.predict.cases import FEATURES, PartialMovements, cut_movements, infer_targets, speed_profile
from mouselab.predict.evaluate import (
    FRACTIONS,
    EndpointEvaluation,
    candidate_targets,
    evaluate_endpoint_prediction,
    parse_fractions,
)
from mouselab.predict.predictors import (
    PREDICTORS,
    CurrentPosition,
    KinematicEndpoint,
    LearnedEndpoint,
    TemplateMatching,
    make_predictor,
)

__all__ = [
    "FEATURES",
    "FRACTIONS",
    "PREDICTORS",
    "CurrentPosition",
    "EndpointEvaluation",
    "KinematicEndpoint",
    "LearnedEndpoint",
    "PartialMovements",
    "TemplateMatching",
    "candidate_targets",
    "cut_movements",
    "evaluate_endpoint_prediction",
    "infer_targets",
    "make_predictor",
    "parse_fractions",
    "speed_profile",
]
