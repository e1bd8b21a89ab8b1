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
    kind: type = float  # float, int or str; None is accepted where the default is None

    def cast(self, value: Any) -> Any:
        """``value`` converted to this parameter's kind (``ValueError`` naming the parameter otherwise)."""
        if value is None:
            if self.default is None:
                return None
            raise ValueError(f"parameter {self.name} needs a value ({self.doc})")
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError
                    return value.strip().lower() in ("true", "1", "yes")
                return bool(value)
            if self.kind is int:
                if float(value) != int(value):
                    raise ValueError
                return int(value)
            return self.kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {self.name}: {value!r} is not a valid {self.kind.__name__} "
                             f"({self.unit}: {self.doc})") from None


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("flip_threshold_px", 0.0, "px",
                  "a direction run must exceed this distance to count towards a flip (mousetrap flip_threshold)"),
        Parameter("pause_threshold_ms", 100.0, "ms", "minimum duration of a micro-hesitation"),
        Parameter("pause_speed_px_per_ms", 0.05, "px/ms",
                  "steps slower than this (or without movement) count as still for micro-hesitations"),
        Parameter("peak_smoothing_ms", 50.0, "ms",
                  "width of the centred moving average applied to the speed before finding submovement peaks"),
        Parameter("peak_min_speed_fraction", 0.1, "fraction",
                  "a velocity peak must reach this fraction of the trial's highest smoothed speed"),
        Parameter("peak_valley_fraction", 0.5, "fraction",
                  "two peaks are separate submovements only if the speed between them falls to this fraction of the "
                  "lower peak"),
        Parameter("curvature_step_px", 10.0, "px", "arc-length spacing of the resampled path used for curvature"),
        Parameter("hover_threshold_ms", 250.0, "ms",
                  "a still period longer than this is a hover (mousetrap hover_threshold; mousetrap has no default)"),
        Parameter("hover_include_initial", True, "-",
                  "count the initial still phase as a hover (mousetrap hover_incl_initial)", bool),
        Parameter("prototype_n_points", 20, "points",
                  "points of the length-normalised trajectories compared with the prototypes", int),
        Parameter("entropy_m", 3, "samples", "window length m of sample entropy (mousetrap m / lag)", int),
        Parameter("entropy_r", None, "px",
                  "tolerance r of sample entropy; None = 0.2 x SD of all differences pooled over the data passed in"),
        Parameter("entropy_n_steps", 101, "steps", "time-normalisation steps before sample entropy", int),
        Parameter("entropy_dimension", "x", "-", "coordinate used for sample entropy: 'x' or 'y'", str),
        # session level (mouselab.measures.session_measures keyword arguments)
        Parameter("idle_gap_ms", 30_000.0, "ms", "a gap between inputs longer than this is idle time (session)"),
        Parameter("movement_gap_ms", 300.0, "ms", "a still period at least this long ends a movement (session)"),
        Parameter("min_movement_px", 20.0, "px", "shorter movements are ignored by the drift measures (session)"),
        Parameter("repetitive_min_strokes", 4, "strokes", "strokes in a repetitive bout, at least (session)", int),
        Parameter("repetitive_min_amplitude_px", 20.0, "px", "amplitude of a repetitive stroke, at least (session)"),
        Parameter("repetitive_max_stroke_ms", 400.0, "ms", "duration of a repetitive stroke, at most (session)"),
    )
}
