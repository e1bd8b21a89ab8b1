"""Endpoint prediction (mouselab.predict) on generated data: predictors beat the current-position baseline."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mouselab.predict import (
    cut_movements,
    evaluate_endpoint_prediction,
    infer_targets,
    parse_fractions,
    speed_profile,
)
from mouselab.synth import MovementParams, generate_movements


@pytest.fixture(scope="module")
def generated():
    rng = np.random.default_rng(0)
    n = 360
    centres = np.array([[150.0, 100.0], [1130.0, 100.0], [150.0, 700.0], [1130.0, 700.0]])
    which = rng.integers(0, 4, n)
    aim = centres[which]
    geo = pl.DataFrame({
        "study": "gen", "participant": [f"S{i % 12 + 1:02d}" for i in range(n)], "session": "s1",
        "trial": [f"t{i:04d}" for i in range(n)], "start_x": 640.0 + rng.uniform(-20, 20, n),
        "start_y": 400.0 + rng.uniform(-20, 20, n), "aim_x": aim[:, 0], "aim_y": aim[:, 1], "target_w": 120.0,
        "target_h": 80.0,
    })
    params = MovementParams(pause_rate=0.1)
    samples = generate_movements(geo, params.specs(geo, seed=1), seed=2)
    trials = geo.select("study", "participant", "session", "trial", target_x="aim_x", target_y="aim_y",
                        target_w="target_w", target_h="target_h")
    return samples, trials


def test_cases_are_cut_at_the_requested_fractions(generated):
    samples, trials = generated
    cases = cut_movements(samples, trials, fractions=(0.25, 0.75))
    assert cases.n_cases == 2 * trials.height
    early, late = cases.subset(cases.fraction == 0.25), cases.subset(cases.fraction == 0.75)
    d_early = np.hypot(*(early.end - early.current).T)
    d_late = np.hypot(*(late.end - late.current).T)
    assert np.median(d_late) < np.median(d_early)
    assert all(t[-1] - t[0] <= u[-1] - u[0] for t, u in zip(early.t, late.t))


def test_speed_profile_is_causal():
    t = np.arange(0.0, 500.0, 10.0)
    x = 300 * (1 - np.cos(np.pi * t / 500)) / 2
    y = np.zeros_like(t)
    full = speed_profile(t, x, y)
    np.testing.assert_allclose(speed_profile(t[:20], x[:20], y[:20]), full[:20])


def test_predictors_beat_the_current_position_on_generated_data(generated):
    samples, trials = generated
    ev = evaluate_endpoint_prediction(samples, trials, seed=3, fractions=(0.5, 0.75), n_splits=4)
    err = ev.table("mean_error_px")
    base = err.filter(pl.col("predictor") == "current")
    for name in ("learned", "template"):
        row = err.filter(pl.col("predictor") == name)
        for col in ("50 %", "75 %"):
            assert row[col][0] < base[col][0], (name, col)
    assert ev.source == "trials table" and ev.targets.shape == (4, 2)
    acc = ev.table("target_accuracy_pct")
    assert acc.filter(pl.col("predictor") == "learned")["50 %"][0] >= 95
    assert (ev.summary["ci_low"] <= ev.summary["mean_error_px"]).all()
    assert "50 %" in ev.verdict()
    again = evaluate_endpoint_prediction(samples, trials, seed=3, fractions=(0.5, 0.75), n_splits=4)
    assert again.summary.equals(ev.summary)


def test_layout_inferred_from_endpoints():
    rng = np.random.default_rng(1)
    pts = np.vstack([rng.normal([100, 100], 15, (50, 2)), rng.normal([900, 120], 15, (60, 2)), [[500, 500]]])
    centres = infer_targets(pts)
    assert centres.shape == (2, 2)
    assert np.allclose(sorted(centres[:, 0]), [100, 900], atol=15)


def test_parse_fractions():
    assert parse_fractions("0.25, 0.5;0.9") == (0.25, 0.5, 0.9)
    with pytest.raises(ValueError):
        parse_fractions("0.5, 1.5")
    with pytest.raises(ValueError):
        parse_fractions("half")
