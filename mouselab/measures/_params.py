"""Tunable parameters of the measures: declared once (name with unit, default, doc)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parameter:
    """A tunable parameter shared by one or more measures (name carries the unit)."""

    name: str
    default: Any
    unit: str
    doc: str


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("flip_threshold_px", 0.0, "px",
                  "a direction run must exceed this distance to count towards a flip (mousetrap flip_threshold)"),
        Parameter("pause_threshold_ms", 100.0, "ms", "minimum duration of a micro-hesitation"),
        Parameter("pause_speed_px_per_ms", 0.05, "px/ms",
                  "steps slower than this (or without movement) count as still for micro-hesitations"),
        Parameter("peak_smoothing_samples", 5, "samples",
                  "width of the centred moving average applied to the speed before finding peaks (1 = none)"),
        Parameter("peak_min_speed_fraction", 0.2, "fraction",
                  "a velocity peak must reach this fraction of the trial's highest smoothed speed"),
        Parameter("entropy_m", 3, "samples", "window length m of sample entropy (mousetrap m / lag)"),
        Parameter("entropy_r", None, "px",
                  "tolerance r of sample entropy; None = 0.2 x SD of all differences pooled over the data passed in"),
        Parameter("entropy_n_steps", 101, "steps", "time-normalisation steps before sample entropy"),
        Parameter("entropy_dimension", "x", "-", "coordinate used for sample entropy: 'x' or 'y'"),
    )
}
