"""Fitts' law parameter recovery: does calibration get back the parameters a generator was run with?

:func:`fitts_recovery` plays a pointing task (random targets of several sizes and distances, through
:func:`mouselab.synth.script.simulate_session`) with a generator whose parameters are known, then
(1) fits Fitts' law to the observed movement times and (2) calibrates a generator to the generated data
with :func:`mouselab.synth.calibrate.calibrate`, and lists true and recovered values side by side.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mouselab.synth.calibrate import calibrate, fit_fitts
from mouselab.synth.describe import describe_movements
from mouselab.synth.kinematics import rng_from
from mouselab.synth.movement import MovementParams
from mouselab.synth.script import pointing_task, session_movements, simulate_session

__all__ = ["fitts_recovery", "pointing_task"]


def fitts_recovery(params: MovementParams = MovementParams(), *, seed: int, kernel: str = "lognormal",
                   n_clicks: int = 240, participants: int = 4) -> pl.DataFrame:
    """True versus recovered parameters of a generator run on a pointing task (see the module docstring).

    Columns: ``parameter``, ``unit``, ``true``, ``observed`` (fitted directly to the generated movements),
    ``calibrated`` (the calibrated generator's own parameter), ``error_pct`` of the calibrated value.
    """
    rng = rng_from(seed)
    samples, trials = [], []
    for p in range(participants):
        layout, task = pointing_task(seed=rng, n_clicks=n_clicks // participants)
        session = simulate_session(layout, task, seed=rng, movements=params, kernel=kernel, participant=f"R{p + 1:02d}")
        s, t = session_movements(session)
        samples.append(s)
        trials.append(t)
    samples_all, trials_all = pl.concat(samples), pl.concat(trials)
    observed = fit_fitts(describe_movements(samples_all, trials_all))
    cal = calibrate(samples_all, trials_all, seed=rng, kernel=kernel)
    rows = [
        ("fitts_a_ms", "ms", params.fitts_a_ms, observed.a_ms, cal.generator_fitts.a_ms),
        ("fitts_b_ms", "ms/bit", params.fitts_b_ms, observed.b_ms, cal.generator_fitts.b_ms),
        ("pause_rate", "1/movement", params.pause_rate, float(cal.observed["n_pauses"].mean()), cal.params.pause_rate),
        ("pause_median_ms", "ms", params.pause_median_ms, None, cal.params.pause_median_ms),
        ("deviation_sd", "-", params.deviation_sd, float(cal.observed["deviation"].std()), cal.params.deviation_sd),
        ("peak_fraction", "-", params.peak_fraction_mean, float(cal.observed["peak_fraction"].mean()),
         cal.params.peak_fraction_mean),
        ("endpoint_sd", "half-widths", params.endpoint_sd, None, cal.params.endpoint_sd),
    ]
    frame = pl.DataFrame(rows, schema={"parameter": pl.String, "unit": pl.String, "true": pl.Float64,
                                       "observed": pl.Float64, "calibrated": pl.Float64}, orient="row")
    return frame.with_columns(error_pct=((pl.col("calibrated") - pl.col("true")) / pl.col("true") * 100))
