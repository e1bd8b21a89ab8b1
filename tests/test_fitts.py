"""Fitts' law per ISO 9241-9 on generated pointing data with known parameters: MT = a + b log2(A/W + 1)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from mouselab.measures import compute_measures, fitts_regression, fitts_throughput
from mouselab.measures.target import WE_FACTOR
from mouselab.synth.kinematics import minimum_jerk

A_MS, B_MS_PER_BIT = 180.0, 140.0
AMPLITUDES, WIDTHS = (160.0, 320.0, 640.0), (16.0, 32.0, 64.0)


def pointing_study(seed: int, *, participants: int = 4, reps: int = 25):
    """Straight minimum-jerk reaches whose duration follows Fitts' law exactly (plus noise) and whose endpoints
    scatter along the task axis with SD = W / 4.133 (so the effective width equals the nominal one)."""
    rng = np.random.default_rng(seed)
    samples, trials = [], []
    for p in range(participants):
        pid = f"P{p + 1}"
        for a in AMPLITUDES:
            for w in WIDTHS:
                for r in range(reps):
                    trial = f"{pid}-{a:g}-{w:g}-{r}"
                    mt = A_MS + B_MS_PER_BIT * math.log2(a / w + 1) + rng.normal(0, 25)
                    end = a + rng.normal(0, w / WE_FACTOR)
                    t = np.linspace(0.0, mt, int(mt // 10) + 2)
                    x = 100.0 + end * minimum_jerk(t / mt)
                    samples.append(pl.DataFrame({
                        "study": "fitts", "participant": pid, "session": "s1", "trial": trial,
                        "t_ms": t, "x": x, "y": np.full_like(t, 500.0),
                    }))
                    trials.append({"study": "fitts", "participant": pid, "session": "s1", "trial": trial,
                                   "condition": "mouse", "start_x": 100.0, "start_y": 500.0,
                                   "target_x": 100.0 + a, "target_y": 500.0, "target_w": w, "target_h": 200.0})
    return pl.concat(samples), pl.DataFrame(trials)


@pytest.fixture(scope="module")
def study_measures() -> pl.DataFrame:
    samples, trials = pointing_study(11)
    m = compute_measures(samples, preset="hci", targets=trials)
    return m.join(trials.select("participant", "trial", "condition"), on=["participant", "trial"])


def test_regression_recovers_intercept_and_slope(study_measures: pl.DataFrame) -> None:
    reg = fitts_regression(study_measures).row(0, named=True)
    assert reg["a_ms"] == pytest.approx(A_MS, abs=15.0)
    assert reg["b_ms_per_bit"] == pytest.approx(B_MS_PER_BIT, abs=5.0)
    assert reg["r2"] > 0.98 and reg["cells"] == 9
    per_person = fitts_regression(study_measures, by=["participant"])
    assert per_person.height == 4
    assert per_person["b_ms_per_bit"].to_numpy() == pytest.approx(np.full(4, B_MS_PER_BIT), abs=12.0)


def test_effective_width_and_throughput(study_measures: pl.DataFrame) -> None:
    cells, groups = fitts_throughput(study_measures)
    assert cells.height == 4 * 9 and groups.height == 4
    # endpoints were drawn with SD = W / 4.133, so We estimates W (25 trials per cell)
    ratio = (cells["We"] / cells["fitts_width"]).to_numpy()
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
    assert np.all((ratio > 0.6) & (ratio < 1.5))
    # throughput = IDe / MT per cell, averaged over cells
    tp = (cells["IDe"] / (cells["MT_ms"] / 1000)).to_numpy()
    np.testing.assert_allclose(cells["TP"].to_numpy(), tp)
    first = groups.row(0, named=True)
    expected = cells.filter(pl.col("participant") == first["participant"])["TP"].mean()
    assert first["throughput"] == pytest.approx(expected)
    assert 3.0 < first["throughput"] < 8.0  # bits/s, the usual range for mouse pointing
    assert first["cells"] == 9 and first["trials"] == 9 * 25


def test_we_formula_on_a_hand_made_cell() -> None:
    m = pl.DataFrame({
        "participant": "p", "condition": "c", "RT": [500.0, 600.0, 700.0, 600.0],
        "fitts_amplitude": 300.0, "fitts_width": 30.0, "endpoint_deviation": [-4.0, 2.0, 6.0, 0.0],
    })
    cells, _ = fitts_throughput(m)
    row = cells.row(0, named=True)
    sd = float(np.std([-4.0, 2.0, 6.0, 0.0], ddof=1))
    assert row["We"] == pytest.approx(4.133 * sd)
    assert row["Ae"] == pytest.approx(301.0)
    assert row["ID"] == pytest.approx(math.log2(11))
    assert row["IDe"] == pytest.approx(math.log2(301.0 / (4.133 * sd) + 1))
    assert row["TP"] == pytest.approx(row["IDe"] / 0.6)
    with pytest.raises(ValueError, match="endpoint_deviation"):
        fitts_throughput(m.drop("endpoint_deviation"))
