"""The realism yardstick (mouselab.realism): two-sample test, distances, benchmark, Fitts recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mouselab.realism import (
    classifier_two_sample_test,
    distribution_distances,
    measure_features,
    realism_benchmark,
    split_participants,
    trajectory_features,
)
from mouselab.synth import MovementParams, generate_movements, windmouse_movements

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def _geometry(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    side = rng.choice([-1.0, 1.0], n)
    return pl.DataFrame({
        "participant": [f"S{i % 10 + 1:02d}" for i in range(n)], "trial": [f"t{i:04d}" for i in range(n)],
        "start_x": 640.0 + rng.uniform(-10, 10, n), "start_y": 740.0, "aim_x": 640.0 + side * 500.0, "aim_y": 70.0,
        "target_w": 240.0, "target_h": 100.0,
    })


def _features(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    m = measure_features(frames, preset="kinematic")
    return {k: v.drop(["study", "participant", "session", "trial"]) for k, v in m.items()}


@pytest.fixture(scope="module")
def two_samples():
    geo = _geometry(300)
    params = MovementParams(latency_median_ms=300.0, deviation_mean=-0.1)
    a = generate_movements(geo, params.specs(geo, seed=1), seed=2)
    b = generate_movements(geo, params.specs(geo, seed=3), seed=4)
    c = windmouse_movements(geo, seed=5)
    return geo, a, b, c


@pytest.mark.parametrize("classifier", ["gbm", "logistic"])
def test_same_generator_is_indistinguishable_and_a_different_one_is_not(two_samples, classifier):
    geo, a, b, c = two_samples
    f = _features({"a": a, "b": b, "c": c})
    groups = geo["participant"].to_numpy()
    same = classifier_two_sample_test(f["a"], f["b"], seed=1, classifier=classifier, groups_real=groups,
                                      groups_synthetic=groups)
    other = classifier_two_sample_test(f["a"], f["c"], seed=1, classifier=classifier, groups_real=groups,
                                       groups_synthetic=groups)
    assert abs(same.auc - 0.5) < 0.1, same
    assert other.auc > 0.95, other
    assert len(same.fold_aucs) == 5 and same.n_real == same.n_synthetic == 300


def test_raw_trajectory_features_separate_clearly_different_paths(two_samples):
    geo, a, _, c = two_samples
    ra, rc = trajectory_features(a), trajectory_features(c)
    cols = [x for x in ra.columns if x.startswith(("dx_", "dy_", "log_"))]
    assert len(cols) == 2 * 20 + 1
    res = classifier_two_sample_test(ra.select(cols), rc.select(cols), seed=2)
    assert res.auc > 0.9


def test_distribution_distances_are_zero_for_identical_samples(two_samples):
    _, a, b, _ = two_samples
    f = _features({"a": a, "b": b})
    same = distribution_distances(f["a"], f["a"])
    assert same["wasserstein"].fill_null(0).max() == 0 and same["ks"].fill_null(0).max() == 0
    close = distribution_distances(f["a"], f["b"], columns=["RT", "total_dist"])
    assert close["wasserstein_sd"].max() < 0.3 and set(close["measure"]) == {"RT", "total_dist"}


def test_split_is_seeded_and_disjoint():
    people = [f"P{i:02d}" for i in range(10)]
    a1, b1 = split_participants(people, fraction=0.5, seed=3)
    a2, b2 = split_participants(people, fraction=0.5, seed=3)
    assert (a1, b1) == (a2, b2) and not set(a1) & set(b1) and sorted(a1 + b1) == people
    with pytest.raises(ValueError):
        split_participants(["P1"], fraction=0.5, seed=1)


def test_benchmark_on_the_sample_study_ranks_calibrated_generators_above_baselines(sample_store):
    from mouselab.store import Store

    db = Store(sample_store)
    people = [f"P{i:02d}" for i in range(1, 13)]
    samples = db.read("samples", study="cogload", participants=people).filter(pl.col("trial").is_not_null())
    trials = db.read("trials", study="cogload", participants=people)
    bench = realism_benchmark(samples, trials, seed=7, classifiers=("logistic",), preset="mousetrap", n_splits=3)
    ours = bench.auc.filter(pl.col("generator").is_in(["lognormal", "minjerk"]) & (pl.col("features") == "measures"))
    base = bench.auc.filter(pl.col("generator").is_in(["windmouse", "bezier"]) & (pl.col("features") == "measures"))
    assert (ours["auc"] - 0.5).abs().min() < (base["auc"] - 0.5).abs().min()
    assert set(bench.split["role"]) == {"calibration", "held-out"}
    assert bench.fitts["source"].to_list() == ["real", "lognormal", "minjerk", "windmouse", "bezier"]
    assert "closer to 0.5" in bench.verdict()


def test_calibration_finds_the_mouse_report_rate_of_real_data():
    """KH2017 was polled at 100 Hz from a mouse reporting at 125 Hz: every fourth step is twice as long."""
    path = CONFORMANCE / "KH2017_imported_trajectories.csv.gz"
    if not path.exists():
        pytest.skip(f"conformance data not found at {CONFORMANCE} (only on development machines and CI)")
    from mouselab.synth import calibrate

    raw = pl.read_csv(path, null_values="NA", columns=["mt_id", "subject_nr", "timestamps", "xpos", "ypos"])
    raw = raw.filter(pl.col("subject_nr") <= 10)
    samples = raw.select(participant=pl.col("subject_nr").cast(pl.String), trial=pl.col("mt_id"),
                         t_ms=pl.col("timestamps").cast(pl.Float64), x=pl.col("xpos").cast(pl.Float64),
                         y=pl.col("ypos").cast(pl.Float64))
    cal = calibrate(samples, seed=1, refine_rounds=1)
    assert cal.recording.rate_hz == pytest.approx(100.0)
    assert cal.recording.device_hz == 125.0
