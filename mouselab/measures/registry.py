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

from mouselab.measures import entropy, kinematic, spatial, target, temporal, types
from mouselab.measures._context import TrialArrays
from mouselab.measures._params import PARAMETERS, Parameter

__all__ = ["MEASURES", "PARAMETERS", "PRESETS", "SAMPLE_MEASURES", "SESSION_MEASURES", "Measure", "Parameter",
           "list_measures", "resolve_measures"]

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
FLASH_HOGAN_1985 = (
    "Flash, T., & Hogan, N. (1985). The coordination of arm movements: An experimentally confirmed mathematical "
    "model. Journal of Neuroscience, 5(7), 1688-1703; Hogan, N., & Sternad, D. (2009). Sensitivity of smoothness "
    "measures to movement duration, amplitude, and arrests. Journal of Motor Behavior, 41(6), 529-534."
)
MACKENZIE_1992 = (
    "MacKenzie, I. S. (1992). Fitts' law as a research and design tool in human-computer interaction. "
    "Human-Computer Interaction, 7, 91-139; Soukoreff, R. W., & MacKenzie, I. S. (2004). Towards a standard for "
    "pointing device evaluation. International Journal of Human-Computer Studies, 61(6), 751-789; ISO 9241-9."
)
WULFF_2019 = (
    "Wulff, D. U., Haslbeck, J. M. B., Kieslich, P. J., Henninger, F., & Schulte-Mecklenbeck, M. (2019). "
    "Mouse-tracking: Detecting types in movement trajectories. In A Handbook of Process Tracing Methods "
    "(pp. 131-145). Routledge; Wulff, D. U., Kieslich, P. J., Henninger, F., Haslbeck, J. M. B., & "
    "Schulte-Mecklenbeck, M. (2023). Movement tracking of psychological processes: A tutorial using mousetrap."
)
SESSION_REF = (
    "mouselab definition (see mouselab.measures.session); idle periods as in activity logging, e.g. "
    "Hurst, A., Mankoff, J., & Hudson, S. E. (2008). Understanding pointing problems in real world computing "
    "environments. ASSETS 2008, 43-50."
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
    func: Callable[[TrialArrays], np.ndarray] | None
    mousetrap_name: str | None = None
    parameters: tuple[str, ...] = ()
    dtype: type[pl.DataType] = pl.Float64

    @property
    def parameter_defaults(self) -> dict[str, Any]:
        return {p: PARAMETERS[p].default for p in self.parameters}


def _m(name: str, func: Callable[[TrialArrays], np.ndarray] | None, unit: str, definition: str, *,
       reference: str = KIESLICH_2019, mousetrap: bool | str = True, params: tuple[str, ...] = (),
       dtype: type[pl.DataType] = pl.Float64, level: Level = "trial") -> Measure:
    mt_name = (name if mousetrap is True else mousetrap) if mousetrap else None
    return Measure(name=name, unit=unit, level=level, definition=definition, reference=reference, func=func,
                   mousetrap_name=mt_name, parameters=params, dtype=dtype)


def _s(name: str, unit: str, definition: str, *, params: tuple[str, ...] = (),
       dtype: type[pl.DataType] = pl.Float64) -> Measure:
    return _m(name, None, unit, definition, reference=SESSION_REF, mousetrap=False, params=params, dtype=dtype,
              level="session")


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
       "Timestamp of sample k-1 for the first fastest step k-1 -> k (mousetrap quirk, reproduced: its intended "
       "mean of t[k-1] and t[k] is cut to the first element by R's ifelse(); the kinematic preset's "
       "peak_velocity_time uses the midpoint)."),
    _m("vel_min", temporal.vel_min, "px/ms",
       "Smallest step speed; 0 by construction because the first sample's speed is padded with 0 (mousetrap quirk, "
       "reproduced; the kinematic preset's min_velocity uses real steps only)."),
    _m("vel_min_time", temporal.vel_min_time, "ms", "Time of the smallest speed (the first timestamp in practice)."),
    _m("acc_max", temporal.acc_max, "px/ms^2",
       "Largest acceleration (vel[k+1] - vel[k]) / dt[k], dt[k] being the step into sample k, not the time "
       "between the two speeds (mousetrap quirk, reproduced; the kinematic preset's peak_acceleration divides by "
       "the time between the steps' midpoints)."),
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
    _m("velocity_peaks", kinematic.velocity_peaks, "count",
       "Number of submovements by velocity-peak segmentation: local maxima of the speed smoothed over "
       "peak_smoothing_ms that reach peak_min_speed_fraction of the trial's top smoothed speed; consecutive peaks "
       "count separately only when the speed between them dips to peak_valley_fraction of the lower peak "
       "(otherwise they are one submovement).", reference=MEYER_1988, mousetrap=False,
       params=("peak_smoothing_ms", "peak_min_speed_fraction", "peak_valley_fraction"), dtype=pl.Int64),
    _m("hovers", kinematic.hovers, "count",
       "Number of still periods (no change of position) lasting longer than hover_threshold_ms; the initial "
       "still phase counts unless hover_include_initial is false.", mousetrap=True,
       params=("hover_threshold_ms", "hover_include_initial"), dtype=pl.Int64),
    _m("hover_time", kinematic.hover_time, "ms", "Total duration of the hovers.", mousetrap=True,
       params=("hover_threshold_ms", "hover_include_initial")),
    # -- kinematic (clean definitions) ------------------------------------------------------------------
    _m("peak_velocity", kinematic.peak_velocity, "px/ms",
       "Largest step speed (step length / step duration); NaN for single-sample trials.",
       reference=MEYER_1988, mousetrap=False),
    _m("peak_velocity_time", kinematic.peak_velocity_time, "ms",
       "Time of the first fastest step: the midpoint of its two timestamps.", reference=MEYER_1988,
       mousetrap=False),
    _m("peak_velocity_relative_time", kinematic.peak_velocity_relative_time, "fraction",
       "When the speed peaks as a fraction of the movement, from onset (last sample before the first movement) "
       "to the end of the last movement; NaN when the cursor never moves.", reference=MEYER_1988, mousetrap=False),
    _m("min_velocity", kinematic.min_velocity, "px/ms", "Smallest step speed over the real steps (no padding).",
       mousetrap=False),
    _m("peak_acceleration", kinematic.peak_acceleration, "px/ms^2",
       "Largest change of speed between consecutive steps divided by the time between their midpoints.",
       reference=FLASH_HOGAN_1985, mousetrap=False),
    _m("peak_deceleration", kinematic.peak_deceleration, "px/ms^2",
       "Most negative change of speed between consecutive steps divided by the time between their midpoints.",
       reference=FLASH_HOGAN_1985, mousetrap=False),
    _m("jerk_mean", kinematic.jerk_mean, "px/ms^3",
       "Time-weighted mean magnitude of the jerk vector (third finite difference of position over time, "
       "velocity vectors at step midpoints); still phases count.", reference=FLASH_HOGAN_1985, mousetrap=False),
    _m("jerk_rms", kinematic.jerk_rms, "px/ms^3",
       "Root mean square of the jerk magnitude, time-weighted (sqrt(720) D/T^3 for a straight minimum-jerk "
       "reach of amplitude D and duration T).", reference=FLASH_HOGAN_1985, mousetrap=False),
    _m("curvature", kinematic.curvature, "rad/px",
       "Mean absolute curvature: sum of absolute turning angles of the path resampled every curvature_step_px px "
       "of arc length, divided by the resampled length (0 straight, 1/R on a circle of radius R).",
       reference=MACKENZIE_2001, mousetrap=False, params=("curvature_step_px",)),
    # -- HCI pointing (need target geometry) ------------------------------------------------------------
    _m("overshoot", target.overshoot, "px",
       "Distance the cursor went beyond the target's far edge along the task axis (start -> target centre); 0 "
       "when it stopped short or inside; NaN without target geometry.", reference=MACKENZIE_2001,
       mousetrap=False),
    _m("target_reentries", target.target_reentries, "count",
       "Times the cursor entered the target rectangle again after leaving it (entries - 1, at least 0); NaN "
       "without target geometry.", reference=MACKENZIE_2001, mousetrap=False, dtype=pl.Int64),
    _m("fitts_amplitude", target.fitts_amplitude, "px", "Nominal amplitude A: distance start -> target centre.",
       reference=MACKENZIE_1992, mousetrap=False),
    _m("fitts_width", target.fitts_width, "px", "Nominal width W: the target's extent along the task axis.",
       reference=MACKENZIE_1992, mousetrap=False),
    _m("fitts_id", target.fitts_id, "bits", "Nominal index of difficulty, Shannon formulation log2(A/W + 1).",
       reference=MACKENZIE_1992, mousetrap=False),
    _m("endpoint_deviation", target.endpoint_deviation, "px",
       "Signed distance of the last sample from the target centre along the task axis (positive beyond it); "
       "its SD per condition gives the effective width We = 4.133 SD (ISO 9241-9).", reference=MACKENZIE_1992,
       mousetrap=False),
    # -- trajectory types -------------------------------------------------------------------------------
    _m("prototype", types.prototype, "-",
       "Nearest of five trajectory prototypes (straight, mild_curvature, continuous_com, discrete_com, "
       "double_discrete_com) after aligning start/end to (0,0)/(-1,1.5) and length normalisation to "
       "prototype_n_points; distance = sum of pointwise Euclidean distances.", reference=WULFF_2019,
       mousetrap="prototype_label (mt_map)", params=("prototype_n_points",), dtype=pl.String),
    _m("prototype_distance", types.prototype_distance, "mt units",
       "Distance to the nearest prototype (sum of pointwise distances in the normalised frame).",
       reference=WULFF_2019, mousetrap="min_dist (mt_map)", params=("prototype_n_points",)),
    # -- session level (mouselab.measures.session_measures) ---------------------------------------------
    _s("duration_ms", "ms", "From the first to the last input or event of the session."),
    _s("active_time_ms", "ms", "duration_ms minus idle_time_ms.", params=("idle_gap_ms",)),
    _s("idle_time_ms", "ms",
       "Union of the idle_start..idle_end periods and of gaps between inputs longer than idle_gap_ms.",
       params=("idle_gap_ms",)),
    _s("clicks", "count", "Number of click_down events.", dtype=pl.Int64),
    _s("click_rate_per_min", "1/min", "click_down events per active minute.", params=("idle_gap_ms",)),
    _s("scrolls", "count", "Number of scroll events.", dtype=pl.Int64),
    _s("scroll_rate_per_min", "1/min", "scroll events per active minute.", params=("idle_gap_ms",)),
    _s("movement_px", "px", "Cursor path length (steps spanning idle periods excluded)."),
    _s("movement_px_per_active_min", "px/min", "movement_px per active minute.", params=("idle_gap_ms",)),
    _s("movements", "count",
       "Movements: the path cut wherever the cursor stays still for movement_gap_ms; at least 3 samples and "
       "min_movement_px of path.", params=("movement_gap_ms", "min_movement_px"), dtype=pl.Int64),
    _s("movement_speed_mean", "px/ms", "Mean over movements of path / duration.",
       params=("movement_gap_ms", "min_movement_px")),
    _s("speed_drift_per_min", "px/ms/min",
       "Least-squares slope of movement speed on the movement's start time (minutes into the session); negative "
       "= slowing down (time-on-task / fatigue).", params=("movement_gap_ms", "min_movement_px")),
    _s("efficiency_drift_per_min", "1/min",
       "Least-squares slope of movement path efficiency on time into the session.",
       params=("movement_gap_ms", "min_movement_px")),
    _s("hesitation_drift_per_min", "1/min",
       "Least-squares slope of hesitations per movement (internal still periods of pause_threshold_ms or longer) "
       "on time into the session.", params=("movement_gap_ms", "min_movement_px", "pause_threshold_ms")),
    _s("repetitive_bouts", "count",
       "Bouts of rapid back-and-forth movement: at least repetitive_min_strokes consecutive strokes along x or y, "
       "each >= repetitive_min_amplitude_px, <= repetitive_max_stroke_ms and within a factor 2 of the previous "
       "stroke's amplitude; overlapping x and y bouts merged.",
       params=("repetitive_min_strokes", "repetitive_min_amplitude_px", "repetitive_max_stroke_ms",
               "movement_gap_ms"), dtype=pl.Int64),
    _s("repetitive_time_ms", "ms", "Total duration of the repetitive bouts.",
       params=("repetitive_min_strokes", "repetitive_min_amplitude_px", "repetitive_max_stroke_ms",
               "movement_gap_ms")),
)

#: All trial-level measures by name.
MEASURES: dict[str, Measure] = {m.name: m for m in _MEASURE_LIST if m.level == "trial"}
#: Session-level measures (computed by :func:`mouselab.measures.session_measures`), by name.
SESSION_MEASURES: dict[str, Measure] = {m.name: m for m in _MEASURE_LIST if m.level == "session"}

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
    "RT", "initiation_time", "idle_time", "total_dist", "path_efficiency", "curvature", "peak_velocity",
    "peak_velocity_time", "peak_velocity_relative_time", "min_velocity", "peak_acceleration", "peak_deceleration",
    "jerk_mean", "jerk_rms", "velocity_peaks", "micro_hesitation_count", "micro_hesitation_time", "hovers",
    "hover_time",
]
_HCI = [
    "RT", "initiation_time", "total_dist", "path_efficiency", "curvature", "peak_velocity",
    "peak_velocity_relative_time", "jerk_rms", "velocity_peaks", "micro_hesitation_count", "overshoot",
    "target_reentries", "fitts_amplitude", "fitts_width", "fitts_id", "endpoint_deviation",
]

#: Named lists of measures (plain data).
PRESETS: dict[str, list[str]] = {
    "mousetrap": _MOUSETRAP,
    "kinematic": _KINEMATIC,
    "hci": _HCI,
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
    session = [n for n in names if n in SESSION_MEASURES]
    if session:
        raise ValueError(f"{', '.join(map(repr, session))} are session-level measures; use session_measures()")
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
    for m in [*MEASURES.values(), *SESSION_MEASURES.values()]:
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
