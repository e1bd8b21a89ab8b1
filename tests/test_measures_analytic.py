"""Analytic cases with known answers, the registry, edge cases and error messages of the measures layer."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from mouselab.measures import (
    MEASURES,
    PARAMETERS,
    PRESETS,
    bimodality_coefficient,
    compute_measures,
    dip_test_pvalue,
    list_measures,
    standardize,
)
from mouselab.measures import compute as compute_module
from mouselab.measures.entropy import sample_entropy_matrix


def make_samples(trials: dict[str, tuple[list[float], list[float], list[float]]], *, participant: str = "p1"
                 ) -> pl.DataFrame:
    """Samples frame from {trial: (t, x, y)}."""
    frames = []
    for trial, (t, x, y) in trials.items():
        frames.append(pl.DataFrame({
            "study": "s", "participant": participant, "session": "a", "trial": trial,
            "t_ms": np.asarray(t, dtype=float), "x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float),
        }))
    return pl.concat(frames)


def one(frame: pl.DataFrame, **kwargs) -> dict:
    out = compute_measures(frame, **kwargs)
    assert out.height == 1
    return out.row(0, named=True)


def polyline(points: list[tuple[float, float]], *, step_px: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Densely sample straight edges between ``points`` (about ``step_px`` apart, corners included)."""
    xs, ys = [points[0][0]], [points[0][1]]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        n = max(1, int(math.ceil(math.hypot(x1 - x0, y1 - y0) / step_px)))
        f = np.arange(1, n + 1) / n
        xs.extend(x0 + f * (x1 - x0))
        ys.extend(y0 + f * (y1 - y0))
    return np.asarray(xs), np.asarray(ys)


# -- analytic cases -------------------------------------------------------------------------------------


def test_straight_line_has_no_curvature() -> None:
    n = 60
    t = np.arange(n) * 10.0
    x, y = -3.0 * np.arange(n), 4.0 * np.arange(n)
    m = one(make_samples({"1": (t, x, y)}), preset="all")
    for name in ("MAD", "AD", "AUC", "MD_above", "MD_below"):
        assert m[name] == pytest.approx(0.0, abs=1e-9), name
    assert m["path_efficiency"] == pytest.approx(1.0)
    assert m["xpos_flips"] == m["ypos_flips"] == 0
    assert m["total_dist"] == pytest.approx(5.0 * (n - 1))
    assert m["initiation_time"] == 0.0 and m["idle_time"] == 0.0
    assert m["RT"] == t[-1]
    assert m["vel_max"] == pytest.approx(0.5) and m["vel_min"] == 0.0 and m["vel_min_time"] == 0.0
    assert m["micro_hesitation_count"] == 0 and m["micro_hesitation_time"] == 0.0


@pytest.mark.parametrize(("apex", "sign"), [((0.0, 100.0), 1.0), ((-100.0, 0.0), -1.0)])
def test_triangle_auc_equals_its_area_with_mousetrap_sign(apex: tuple[float, float], sign: float) -> None:
    # direct path from (0, 0) to (-100, 100) (a left response, y up); the apex bulges above (towards the
    # upper right, the non-chosen side: positive) or below the path (negative)
    x, y = polyline([(0.0, 0.0), apex, (-100.0, 100.0)])
    t = np.arange(x.size) * 10.0
    m = one(make_samples({"tri": (t, x, y)}))
    assert m["AUC"] == pytest.approx(sign * 5000.0, rel=1e-9)
    assert m["MAD"] == pytest.approx(sign * 100.0 / math.sqrt(2.0), rel=1e-9)
    apex_index = int(np.flatnonzero((x == apex[0]) & (y == apex[1]))[0])
    assert m["MAD_time"] == t[apex_index]


def test_horizontal_path_sign_follows_y_above_or_below() -> None:
    x, y = polyline([(0.0, 0.0), (50.0, 20.0), (100.0, 0.0)])
    t = np.arange(x.size) * 10.0
    up = one(make_samples({"1": (t, x, y)}))
    down = one(make_samples({"1": (t, x, -y)}))
    assert up["MAD"] == pytest.approx(20.0) and up["AUC"] == pytest.approx(1000.0)
    assert down["MAD"] == pytest.approx(-20.0) and down["AUC"] == pytest.approx(-1000.0)


def test_planted_pause_is_one_micro_hesitation() -> None:
    # 200 ms still at the start, move 5 px / 10 ms, pause 300 ms, move again, 200 ms dwell at the end
    xs = [0.0] * 21 + [5.0 * k for k in range(1, 21)]
    xs += [xs[-1]] * 30 + [xs[-1] + 5.0 * k for k in range(1, 21)]
    xs += [xs[-1]] * 20
    x = np.asarray(xs)
    t = np.arange(x.size) * 10.0
    m = one(make_samples({"1": (t, x, np.zeros_like(x))}), preset="kinematic")
    assert m["micro_hesitation_count"] == 1
    assert m["micro_hesitation_time"] >= 300.0
    assert m["micro_hesitation_time"] == pytest.approx(300.0)
    assert m["initiation_time"] == 200.0
    assert m["idle_time"] == pytest.approx(700.0)
    longer = one(make_samples({"1": (t, x, np.zeros_like(x))}), preset="kinematic", pause_threshold_ms=301.0)
    assert longer["micro_hesitation_count"] == 0 and longer["micro_hesitation_time"] == 0.0


def test_slow_creep_counts_as_pause_only_below_the_speed_threshold() -> None:
    # 0.1 px per 10 ms = 0.01 px/ms inside the movement for 200 ms
    x = np.concatenate([np.arange(0, 50, 5.0), 50 + 0.1 * np.arange(21), 52 + np.arange(5, 50, 5.0)])
    t = np.arange(x.size) * 10.0
    frame = make_samples({"1": (t, x, np.zeros_like(x))})
    assert one(frame, measures=["micro_hesitation_count"])["micro_hesitation_count"] == 1
    strict = one(frame, measures=["micro_hesitation_count"], pause_speed_px_per_ms=0.0)
    assert strict["micro_hesitation_count"] == 0


def test_two_speed_bumps_are_two_velocity_peaks() -> None:
    t = np.arange(0, 1000, 5.0)
    speed = np.where(t < 400, np.sin(np.pi * t / 400) ** 2, 0.0)
    speed += np.where((t >= 500) & (t < 900), 0.6 * np.sin(np.pi * (t - 500) / 400) ** 2, 0.0)
    x = np.concatenate([[0.0], np.cumsum(speed[1:] * 5.0)])
    m = one(make_samples({"1": (t, x, np.zeros_like(x))}), measures=["velocity_peaks"])
    assert m["velocity_peaks"] == 2
    high = one(make_samples({"1": (t, x, np.zeros_like(x))}), measures=["velocity_peaks"],
               peak_min_speed_fraction=0.8)
    assert high["velocity_peaks"] == 1


def test_path_efficiency_for_loops_and_no_movement() -> None:
    t = np.arange(5) * 10.0
    frame = make_samples({
        "still": (t, [3.0] * 5, [4.0] * 5),
        "back": (t, [0.0, 10.0, 20.0, 10.0, 0.0], [0.0] * 5),
        "half": (t[:3], [0.0, 10.0, 0.0 + 10.0], [0.0, 0.0, 10.0]),
    })
    eff = compute_measures(frame, measures=["path_efficiency"])["path_efficiency"].to_list()
    assert eff[0] == 1.0
    assert eff[1] == 0.0
    assert eff[2] == pytest.approx(math.sqrt(200.0) / 20.0)


def test_flips_reversals_and_threshold() -> None:
    x = [0.0, 5.0, 5.0, 3.0, 4.0, 10.0, -2.0, -1.0]
    t = np.arange(len(x)) * 10.0
    frame = make_samples({"1": (t, x, [0.0] * len(x))})
    m = one(frame)
    assert m["xpos_flips"] == 4  # + (0) - + - +   zero step ignored
    assert m["xpos_reversals"] == 1  # 5 .. 10 positive, then -2, -1 negative; the 0 is dropped
    assert m["ypos_flips"] == 0 and m["ypos_reversals"] == 0
    # merged runs are +5, -2, +7, -12, +1; with a 1.5 px threshold the last one is ignored -> 3 changes
    assert one(frame, flip_threshold_px=1.5)["xpos_flips"] == 3


def test_positive_first_timestamp_assumes_still_lead_in_like_mousetrap() -> None:
    t = [20.0, 30.0, 40.0, 50.0]
    m = one(make_samples({"1": (t, [0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 1.0, 2.0])}))
    assert m["RT"] == 50.0
    assert m["initiation_time"] == 30.0  # 0 -> 30 ms without movement
    assert m["idle_time"] == 30.0
    assert m["vel_min_time"] == 20.0


def test_single_sample_and_never_moving_trials() -> None:
    frame = make_samples({"one": ([0.0], [1.0], [2.0]), "still": ([0.0, 10.0, 20.0], [1.0] * 3, [2.0] * 3)})
    out = compute_measures(frame, preset="all")
    still = out.row(1, named=True)
    assert still["initiation_time"] == 20.0 and still["idle_time"] == 20.0 and still["total_dist"] == 0.0
    assert still["MAD"] == 0.0 and still["AUC"] == 0.0 and still["velocity_peaks"] == 0
    single = out.row(0, named=True)
    assert single["RT"] == 0.0 and single["total_dist"] == 0.0 and single["xpos_flips"] == 0


def test_trials_are_independent_of_blocking_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    trials = {}
    for i in range(40):
        n = int(rng.integers(5, 60))
        trials[f"t{i:02d}"] = (np.cumsum(rng.integers(1, 20, n)).astype(float),
                               np.cumsum(rng.integers(-5, 6, n)).astype(float),
                               np.cumsum(rng.integers(-2, 8, n)).astype(float))
    frame = make_samples(trials)
    whole = compute_measures(frame, preset="all", n_threads=1)
    monkeypatch.setattr(compute_module, "BLOCK_SAMPLES", 64)
    blocked = compute_measures(frame, preset="all", n_threads=3)
    assert whole.equals(blocked)
    # every trial alone gives the same values (sample entropy excepted: its tolerance is data-set pooled)
    names = [n for n in PRESETS["all"] if n != "sample_entropy"]
    alone = pl.concat([compute_measures(frame.filter(pl.col("trial") == k), measures=names) for k in trials])
    assert alone.equals(whole.select(alone.columns))


# -- sample entropy --------------------------------------------------------------------------------------


def _sampen_bruteforce(d: np.ndarray, m: int, r: float) -> float:
    n = d.size
    wins = n - m
    b = a = 0
    for i in range(wins):
        for j in range(i + 1, wins):
            if np.max(np.abs(d[i:i + m] - d[j:j + m])) <= r:
                b += 1
                if np.max(np.abs(d[i:i + m + 1] - d[j:j + m + 1])) <= r:
                    a += 1
    return -math.log(a / b) if a and b else (math.inf if b else math.nan)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_sample_entropy_matches_a_bruteforce_count(m: int) -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(size=(5, 30)).round(1)
    ours = sample_entropy_matrix(d, m=m, r=0.5, chunk_trials=2)
    expected = [_sampen_bruteforce(row, m, 0.5) for row in d]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_sample_entropy_tolerance_is_pooled_over_the_data_passed_in() -> None:
    rng = np.random.default_rng(1)
    trials = {f"{i}": (np.arange(50) * 10.0, np.cumsum(rng.normal(size=50)) * (i + 1), np.arange(50.0))
              for i in range(4)}
    frame = make_samples(trials)
    together = compute_measures(frame, measures=["sample_entropy"])["sample_entropy"]
    alone = compute_measures(frame.filter(pl.col("trial") == "0"), measures=["sample_entropy"])["sample_entropy"]
    assert together[0] != pytest.approx(alone[0])
    fixed = compute_measures(frame, measures=["sample_entropy"], entropy_r=0.5)["sample_entropy"]
    fixed_alone = compute_measures(frame.filter(pl.col("trial") == "0"), measures=["sample_entropy"],
                                   entropy_r=0.5)["sample_entropy"]
    assert fixed[0] == pytest.approx(fixed_alone[0])


# -- bimodality and standardising --------------------------------------------------------------------------


def test_bimodality_coefficient_of_pfister_examples() -> None:
    # the two example distributions of Pfister et al. (2013), as in mousetrap's documentation
    unimodal = np.repeat(np.arange(1, 12), [3, 5, 5, 10, 17, 20, 17, 10, 5, 5, 3])
    bimodal = np.repeat(np.arange(1, 12), [2, 26, 14, 6, 2, 0, 2, 6, 14, 26, 2])
    assert bimodality_coefficient(unimodal) == pytest.approx(0.34, abs=0.005)
    assert bimodality_coefficient(bimodal) == pytest.approx(0.79, abs=0.005)
    assert math.isnan(bimodality_coefficient([1.0, 2.0, 3.0]))


def test_dip_test_separates_one_and_two_modes() -> None:
    rng = np.random.default_rng(0)
    assert dip_test_pvalue(rng.normal(size=400)) > 0.05
    assert dip_test_pvalue(np.concatenate([rng.normal(-4, 1, 200), rng.normal(4, 1, 200)])) < 0.01


def test_standardize_within_groups_and_zero_variance() -> None:
    frame = pl.DataFrame({"p": ["a", "a", "a", "b", "b"], "v": [1.0, 2.0, 3.0, 5.0, 5.0]})
    z = standardize(frame, columns=["v"], within="p")
    assert z["z_v"].to_list()[:3] == pytest.approx([-1.0, 0.0, 1.0])
    assert all(v is None or math.isnan(v) for v in z["z_v"].to_list()[3:])
    overall = standardize(frame.lazy(), columns=["v"]).collect()
    assert overall["z_v"].mean() == pytest.approx(0.0, abs=1e-12)


# -- registry ---------------------------------------------------------------------------------------------


def test_registry_metadata_and_presets() -> None:
    table = list_measures()
    assert {"name", "level", "unit", "parameters", "definition", "reference", "mousetrap_name"} <= set(table.columns)
    for preset, names in PRESETS.items():
        assert names and all(n in MEASURES for n in names), preset
    assert PRESETS["all"] == list(MEASURES)
    for m in MEASURES.values():
        assert m.unit and m.definition and m.reference and m.level in ("sample", "trial", "session")
        assert all(p in PARAMETERS for p in m.parameters)
    assert all(MEASURES[n].mousetrap_name == n for n in PRESETS["mousetrap"])
    assert MEASURES["path_efficiency"].mousetrap_name is None
    assert set(table.filter(pl.col("level") == "sample")["name"]) >= {"dist", "vel", "acc", "dev_ideal"}
    assert list_measures(preset="kinematic")["name"].to_list() == PRESETS["kinematic"]
    with pytest.raises(ValueError, match="unknown preset"):
        list_measures(preset="nope")


def test_output_columns_and_dtypes() -> None:
    x = np.arange(10.0)
    out = compute_measures(make_samples({"1": (x * 10, x, x)}), preset="mousetrap")
    assert out.columns == ["study", "participant", "session", "trial", *PRESETS["mousetrap"]]
    assert out.schema["xpos_flips"] == pl.Int64 and out.schema["MAD"] == pl.Float64


# -- errors -----------------------------------------------------------------------------------------------


def test_missing_column_is_named() -> None:
    frame = make_samples({"1": ([0.0, 1.0], [0.0, 1.0], [0.0, 1.0])}).drop("session")
    with pytest.raises(ValueError, match="'session'"):
        compute_measures(frame)
    with pytest.raises(ValueError, match="'y'"):
        compute_measures(make_samples({"1": ([0.0, 1.0], [0.0, 1.0], [0.0, 1.0])}).drop("y").lazy())


def test_unsorted_and_duplicate_timestamps_and_split_trials_are_rejected() -> None:
    with pytest.raises(ValueError, match="decreasing timestamp"):
        compute_measures(make_samples({"1": ([0.0, 20.0, 10.0], [0.0] * 3, [0.0] * 3)}))
    with pytest.raises(ValueError, match="duplicate timestamp"):
        compute_measures(make_samples({"1": ([0.0, 10.0, 10.0], [0.0] * 3, [0.0] * 3)}))
    a = make_samples({"1": ([0.0, 10.0], [0.0, 1.0], [0.0, 1.0]), "2": ([0.0, 10.0], [0.0, 1.0], [0.0, 1.0])})
    split = pl.concat([a[0:1], a[2:4], a[1:2]])
    with pytest.raises(ValueError, match="not contiguous"):
        compute_measures(split)


def test_null_coordinates_and_unknown_names_are_rejected() -> None:
    frame = make_samples({"1": ([0.0, 10.0], [0.0, 1.0], [0.0, 1.0])})
    with pytest.raises(ValueError, match="column 'x' row 2"):
        compute_measures(frame.with_columns(pl.when(pl.col("t_ms") > 0).then(None).otherwise(pl.col("x")).alias("x")))
    with pytest.raises(ValueError, match="unknown preset"):
        compute_measures(frame, preset="nope")
    with pytest.raises(ValueError, match="unknown measure"):
        compute_measures(frame, measures=["MAD", "nope"])


def test_empty_input_gives_empty_frame() -> None:
    empty = make_samples({"1": ([0.0], [0.0], [0.0])}).clear()
    out = compute_measures(empty, preset="all")
    assert out.height == 0 and "MAD" in out.columns
