"""The registry of measures: every measure with its unit, level, parameters, definition and reference.

A measure is a small function ``f(ctx: TrialArrays) -> np.ndarray`` (one value per trial, computed over all
trials at once) plus metadata. Presets are plain data: lists of measure names.
``list_measures()`` returns the registry as a Polars frame (``mouselab measures list`` prints it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from mouselab.measures import entropy, spatial, temporal
from mouselab.measures._context import TrialArrays
from mouselab.measures._params import PARAMETERS, Parameter

__all__ = ["MEASURES", "PARAMETERS", "PRESETS", "SAMPLE_MEASURES", "Measure", "Parameter", "list_measures",
           "resolve_measures"]

Level = Literal["sample", "trial", "session"]

KIESLICH_2019 = (
    "Kieslich, P. J., Henninger, F., Wulff, D. U., Haslbeck, J. M. B., & Schulte-Mecklenbeck, M. (2019). "
    "Mouse-tracking: A practical guide to implementation and analysis. In M. Schulte-Mecklenbeck, A. "
    "Kühberger, & J. G. Johnson (Eds.), A Handbook of Process Tracing Methods (pp. 111-130). Routledge."
)
FREEMAN_2010 = (
    "Freeman, J. B., & Ambady, N. (2010). MouseTracker: Software for studying real-time mental processing "
    "using a computer mouse-tracking method. Behavior Research Methods, 42(1), 226-241."
)
MACKENZIE_2001 = (
    "MacKenzie, I. S., Kauppinen, T., & Silfverberg, M. (2001). Accuracy measures for evaluating computer "
    "pointing devices. Proceedings of CHI 2001, 9-16."
)
MEYER_1988 = (
    "Meyer, D. E., Abrams, R. A., Kornblum, S., Wright, C. E., & Smith, J. E. K. (1988). Optimality in human "
    "motor performance: Ideal control of rapid aimed movements. Psychological Review, 95(3), 340-370."
)
HEHMAN_2015 = (
    "Hehman, E., Stolier, R. M., & Freeman, J. B. (2015). Advanced mouse-tracking analytic techniques for "
    "enhancing psychological science. Group Processes & Intergroup Relations, 18(3), 384-401; "
    "Richman, J. S., & Moorman, J. R. (2000). Am J Physiol Heart Circ Physiol, 278(6), H2039-H2049."
)


@dataclass(frozen=True)
class Measure:
    """One registered measure."""

    name: str
    unit: str
    level: Level
    definition: str
    reference: str
    func: Callable[[TrialArrays], np.ndarray]
    mousetrap_name: str | None = None
    parameters: tuple[str, ...] = ()
    dtype: type[pl.DataType] = pl.Float64

    @property
    def parameter_defaults(self) -> dict[str, Any]:
        return {p: PARAMETERS[p].default for p in self.parameters}


def _m(name: str, func: Callable[[TrialArrays], np.ndarray], unit: str, definition: str, *,
       reference: str = KIESLICH_2019, mousetrap: bool = True, params: tuple[str, ...] = (),
       dtype: type[pl.DataType] = pl.Float64) -> Measure:
    return Measure(name=name, unit=unit, level="trial", definition=definition, reference=reference, func=func,
                   mousetrap_name=name if mousetrap else None, parameters=params, dtype=dtype)


_DEV = "Signed perpendicular deviation of each sample from the straight line from the trial's first to last sample"
_FA = f"{FREEMAN_2010}; {KIESLICH_2019}"

_MEASURE_LIST: tuple[Measure, ...] = (
    _m("xpos_max", spatial.xpos_max, "px", "Largest x-position of the trial."),
    _m("xpos_min", spatial.xpos_min, "px", "Smallest x-position of the trial."),
    _m("ypos_max", spatial.ypos_max, "px", "Largest y-position of the trial."),
    _m("ypos_min", spatial.ypos_min, "px", "Smallest y-position of the trial."),
    _m("MAD", spatial.mad, "px",
       f"Maximum absolute deviation: {_DEV} (positive above the line, signs flipped when the trial ends below "
       "its start), taken with its sign at the first sample where its absolute value is largest.",
       reference=_FA),
    _m("MAD_time", spatial.mad_time, "ms", "Timestamp of the first sample where MAD is reached.", reference=_FA),
    _m("MD_above", spatial.md_above, "px", f"Largest signed deviation ({_DEV}).", reference=_FA),
    _m("MD_above_time", spatial.md_above_time, "ms", "Timestamp of the first sample where MD_above is reached."),
    _m("MD_below", spatial.md_below, "px", f"Smallest signed deviation ({_DEV}).", reference=_FA),
    _m("MD_below_time", spatial.md_below_time, "ms", "Timestamp of the first sample where MD_below is reached."),
    _m("AD", spatial.ad, "px", "Average deviation: arithmetic mean of the signed deviations over samples.",
       reference=_FA),
    _m("AUC", spatial.auc, "px^2",
       "Area under curve: signed area between the trajectory and the direct path (shoelace formula in path "
       "coordinates; above the path positive, below negative).", reference=_FA),
    _m("xpos_flips", spatial.xpos_flips, "count",
       "Direction changes along x: zero steps dropped, consecutive steps of equal sign merged, changes counted.",
       params=("flip_threshold_px",), dtype=pl.Int64),
    _m("ypos_flips", spatial.ypos_flips, "count", "Direction changes along y (as xpos_flips).",
       params=("flip_threshold_px",), dtype=pl.Int64),
    _m("xpos_reversals", spatial.xpos_reversals, "count",
       "Crossings of x = 0 (samples exactly at 0 ignored).", dtype=pl.Int64),
    _m("ypos_reversals", spatial.ypos_reversals, "count",
       "Crossings of y = 0 (samples exactly at 0 ignored).", dtype=pl.Int64),
    _m("RT", temporal.rt, "ms", "Response time: last timestamp of the trial."),
    _m("initiation_time", temporal.initiation_time, "ms",
       "Time until the first movement: timestamp of the last sample before the position first changes "
       "(RT when it never changes)."),
    _m("idle_time", temporal.idle_time, "ms", "Sum of the time steps during which the position did not change."),
    _m("total_dist", spatial.total_dist, "px", "Length of the travelled path: sum of Euclidean steps."),
    _m("vel_max", temporal.vel_max, "px/ms", "Largest step speed (step length / step duration)."),
    _m("vel_max_time", temporal.vel_max_time, "ms",
       "Timestamp of sample k-1 for the first fastest step k-1 -> k (mousetrap reports t[k-1]: its intended "
       "mean of t[k-1] and t[k] is cut to the first element by R's ifelse())."),
    _m("vel_min", temporal.vel_min, "px/ms",
       "Smallest step speed; 0 by construction because the first sample's speed is padded with 0 (mousetrap)."),
    _m("vel_min_time", temporal.vel_min_time, "ms", "Time of the smallest speed (the first timestamp in practice)."),
    _m("acc_max", temporal.acc_max, "px/ms^2",
       "Largest acceleration (vel[k+1] - vel[k]) / dt[k], dt[k] being the step into sample k (mousetrap)."),
    _m("acc_max_time", temporal.acc_max_time, "ms", "Timestamp of sample k where acc_max is first reached."),
    _m("acc_min", temporal.acc_min, "px/ms^2", "Smallest acceleration (as acc_max)."),
    _m("acc_min_time", temporal.acc_min_time, "ms", "Timestamp of sample k where acc_min is first reached."),
    _m("sample_entropy", entropy.sample_entropy, "-",
       "Sample entropy (m = 3, Chebyshev tolerance r = 0.2 SD of all differences pooled over the data passed "
       "in) of the differenced, time-normalised (101 steps) x-positions.",
       reference=f"{HEHMAN_2015}; {KIESLICH_2019}",
       params=("entropy_m", "entropy_r", "entropy_n_steps", "entropy_dimension")),
    _m("path_efficiency", spatial.path_efficiency, "ratio",
       "Straight distance from first to last sample divided by total_dist (1 = straight; 1 when no movement).",
       reference=MACKENZIE_2001, mousetrap=False),
    _m("micro_hesitation_count", temporal.micro_hesitation_count, "count",
       "Pauses inside the movement: maximal runs of still steps (no movement or slower than "
       "pause_speed_px_per_ms) preceded and followed by moving steps of the same trial, lasting at least "
       "pause_threshold_ms.", reference=f"{MEYER_1988}; {FREEMAN_2010}", mousetrap=False,
       params=("pause_threshold_ms", "pause_speed_px_per_ms"), dtype=pl.Int64),
    _m("micro_hesitation_time", temporal.micro_hesitation_time, "ms",
       "Total duration of the pauses counted by micro_hesitation_count.",
       reference=f"{MEYER_1988}; {FREEMAN_2010}", mousetrap=False,
       params=("pause_threshold_ms", "pause_speed_px_per_ms")),
    _m("velocity_peaks", temporal.velocity_peaks, "count",
       "Local maxima (plateaus once) of the speed smoothed by a centred moving average of "
       "peak_smoothing_samples samples, at least peak_min_speed_fraction of the trial's peak smoothed speed; "
       "an index of submovements.", reference=MEYER_1988, mousetrap=False,
       params=("peak_smoothing_samples", "peak_min_speed_fraction"), dtype=pl.Int64),
)

#: All trial-level measures by name.
MEASURES: dict[str, Measure] = {m.name: m for m in _MEASURE_LIST}

#: Per-sample quantities (``mouselab.measures.sample_measures``), listed for documentation.
SAMPLE_MEASURES: dict[str, tuple[str, str]] = {
    "dist": ("px", "Euclidean step from the previous sample; 0 at the first sample (mousetrap dist)."),
    "vel": ("px/ms", "dist / Δt; 0 at the first sample (mousetrap vel)."),
    "acc": ("px/ms^2", "(vel[k+1] - vel[k]) / Δt[k]; 0 at the first, null at the last sample (mousetrap acc)."),
    "x_ideal": ("px", "x of the orthogonal projection onto the direct path (mousetrap xpos_ideal)."),
    "y_ideal": ("px", "y of the orthogonal projection onto the direct path (mousetrap ypos_ideal)."),
    "dev_ideal": ("px", "Signed deviation from the direct path (mousetrap dev_ideal)."),
}

_MOUSETRAP = [
    "xpos_max", "xpos_min", "ypos_max", "ypos_min", "MAD", "MAD_time", "MD_above", "MD_above_time",
    "MD_below", "MD_below_time", "AD", "AUC", "xpos_flips", "ypos_flips", "xpos_reversals", "ypos_reversals",
    "RT", "initiation_time", "idle_time", "total_dist", "vel_max", "vel_max_time", "vel_min", "vel_min_time",
    "acc_max", "acc_max_time", "acc_min", "acc_min_time", "sample_entropy",
]
_KINEMATIC = [
    "RT", "initiation_time", "idle_time", "total_dist", "path_efficiency", "vel_max", "vel_max_time",
    "acc_max", "acc_min", "micro_hesitation_count", "micro_hesitation_time", "velocity_peaks",
]

#: Named lists of measures (plain data).
PRESETS: dict[str, list[str]] = {
    "mousetrap": _MOUSETRAP,
    "kinematic": _KINEMATIC,
    "all": list(MEASURES),
}


def resolve_measures(*, preset: str | None = None, measures: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Names to compute: ``measures`` if given, else the preset's list. Unknown names raise ``ValueError``."""
    if measures is not None:
        names = list(measures)
    else:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        names = list(PRESETS[preset])
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(map(repr, unknown))}; see list_measures()")
    return names


def list_measures(*, preset: str | None = None) -> pl.DataFrame:
    """The registry as a frame: one row per measure (trial and sample level) with its metadata and presets.

    With ``preset`` only that preset's measures are listed, in the preset's order.
    """
    if preset is not None:
        names = resolve_measures(preset=preset)
        return list_measures().filter(pl.col("name").is_in(names)).sort(
            pl.col("name").replace_strict({n: i for i, n in enumerate(names)}, default=len(names),
                                          return_dtype=pl.Int64))
    rows = []
    for m in MEASURES.values():
        rows.append({
            "name": m.name,
            "level": m.level,
            "unit": m.unit,
            "parameters": ", ".join(f"{p}={PARAMETERS[p].default!r}" for p in m.parameters),
            "presets": ", ".join(p for p, names in PRESETS.items() if m.name in names),
            "mousetrap_name": m.mousetrap_name,
            "definition": m.definition,
            "reference": m.reference,
        })
    for name, (unit, definition) in SAMPLE_MEASURES.items():
        rows.append({
            "name": name, "level": "sample", "unit": unit, "parameters": "", "presets": "",
            "mousetrap_name": {"x_ideal": "xpos_ideal", "y_ideal": "ypos_ideal"}.get(name, name),
            "definition": definition, "reference": KIESLICH_2019,
        })
    return pl.DataFrame(rows, schema={
        "name": pl.String, "level": pl.String, "unit": pl.String, "parameters": pl.String, "presets": pl.String,
        "mousetrap_name": pl.String, "definition": pl.String, "reference": pl.String,
    })
