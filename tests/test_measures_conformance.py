"""Parity with the R package mousetrap on its bundled data (../shared/conformance, see its README).

Every numeric column of mousetrap's per-trial measures must match within 1e-6 on every trial of
mt_example, KH2017 and KH2017_imported; the same for standardised measures, aggregates and bimodality.
The folder is not part of the repository: tests skip when it is absent, except under CI=true where they fail.
"""

from __future__ import annotations

from functools import cache

import polars as pl
import pytest

from mouselab.measures import (
    PRESETS,
    aggregate,
    aggregate_per_subject,
    aggregate_time_normalized,
    check_bimodality,
    compute_measures,
    sample_measures,
    standardize,
)
from mouselab.preprocess import time_normalize

from _conformance import read_conformance
DATASETS = ("mt_example", "KH2017", "KH2017_imported")
TOL = 1e-6


_read = read_conformance


def trajectories(dataset: str) -> pl.DataFrame:
    """mousetrap's trajectory table (with its per-sample columns)."""
    return _read(f"{dataset}_trajectories.csv.gz")


def samples(dataset: str) -> pl.DataFrame:
    """The trajectory table mapped onto mouselab's samples contract."""
    return trajectories(dataset).select(
        pl.lit("kh2017").alias("study"),
        pl.col("subject_nr").cast(pl.String).alias("participant"),
        pl.lit("s1").alias("session"),
        pl.col("mt_id").alias("trial"),
        pl.col("timestamps").cast(pl.Float64).alias("t_ms"),
        pl.col("xpos").cast(pl.Float64).alias("x"),
        pl.col("ypos").cast(pl.Float64).alias("y"),
    )


@cache
def measures(dataset: str) -> pl.DataFrame:
    return compute_measures(samples(dataset), preset="mousetrap")


def _max_abs_diff(ours: pl.Series, ref: pl.Series) -> float:
    d = (ours.cast(pl.Float64) - ref.cast(pl.Float64)).abs()
    both_missing = (ours.cast(pl.Float64).is_null() | ours.cast(pl.Float64).is_nan()) & ref.is_null()
    d = d.filter(~both_missing)
    return 0.0 if d.len() == 0 else float(d.fill_null(float("inf")).fill_nan(float("inf")).max())


@pytest.mark.parametrize("dataset", DATASETS)
def test_trial_measures_match_mousetrap(dataset: str) -> None:
    ref = _read(f"{dataset}_measures.csv")
    ours = measures(dataset)
    joined = ours.join(ref, left_on="trial", right_on="mt_id", how="inner", suffix="_ref")
    assert joined.height == ref.height == ours.height
    failures = {}
    for col in PRESETS["mousetrap"]:
        assert col in ref.columns, f"{col} missing from the reference"
        diff = _max_abs_diff(joined[col], joined[f"{col}_ref"])
        if not diff <= TOL:
            failures[col] = diff
    assert not failures, f"{dataset}: columns off by more than {TOL}: {failures}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_sample_level_derivatives_and_deviations_match(dataset: str) -> None:
    ref = trajectories(dataset)
    ours = sample_measures(samples(dataset))
    pairs = {"dist": "dist", "vel": "vel", "acc": "acc", "x_ideal": "xpos_ideal", "y_ideal": "ypos_ideal",
             "dev_ideal": "dev_ideal"}
    for mine, theirs in pairs.items():
        assert _max_abs_diff(ours[mine], ref[theirs]) <= TOL, mine
    # acc is missing exactly at each trial's last sample in both
    assert ours["acc"].is_null().to_list() == ref["acc"].is_null().to_list()


def test_lazy_input_gives_the_same_parity_frame() -> None:
    eager = measures("mt_example")
    lazy = compute_measures(samples("mt_example").lazy(), preset="mousetrap")
    assert eager.equals(lazy)


def _kh2017_with_trial_data() -> pl.DataFrame:
    trial_data = _read("KH2017_trial_data.csv").select("mt_id", "Condition", "correct")
    return measures("KH2017").join(trial_data, left_on="trial", right_on="mt_id", how="left")


Z_COLUMNS = ["MAD", "AD", "AUC", "xpos_flips", "sample_entropy"]


def test_standardize_within_subject_matches() -> None:
    z = standardize(_kh2017_with_trial_data(), columns=Z_COLUMNS, within="participant")
    ref = _read("KH2017_measures_z_by_subject.csv")
    joined = z.join(ref, left_on="trial", right_on="mt_id", suffix="_ref")
    assert joined.height == ref.height
    for col in Z_COLUMNS:
        assert _max_abs_diff(joined[f"z_{col}"], joined[f"z_{col}_ref"]) <= TOL, col


@pytest.mark.parametrize(
    ("filename", "correct_only"),
    [("KH2017_aggregate_condition.csv", False), ("KH2017_aggregate_condition_correct_only.csv", True)],
)
def test_aggregate_subject_means_first_matches(filename: str, correct_only: bool) -> None:
    data = _kh2017_with_trial_data()
    if correct_only:
        data = data.filter(pl.col("correct") == 1)
    ours = aggregate(data, by=["Condition"], subject="participant", columns=PRESETS["mousetrap"])
    ref = _read(filename).sort("Condition")
    assert ours["Condition"].to_list() == ref["Condition"].to_list()
    for col in PRESETS["mousetrap"]:
        assert _max_abs_diff(ours[col], ref[col]) <= TOL, col


def test_aggregate_per_subject_matches() -> None:
    ours = aggregate_per_subject(
        _kh2017_with_trial_data(), by=["Condition"], subject="participant", columns=PRESETS["mousetrap"]
    )
    ref = _read("KH2017_aggregate_subject_condition.csv").with_columns(pl.col("subject_nr").cast(pl.String))
    joined = ours.join(ref, left_on=["participant", "Condition"], right_on=["subject_nr", "Condition"],
                       suffix="_ref")
    assert joined.height == ref.height == ours.height
    for col in PRESETS["mousetrap"]:
        assert _max_abs_diff(joined[col], joined[f"{col}_ref"]) <= TOL, col


def test_aggregate_time_normalised_trajectories_per_condition() -> None:
    conditions = _read("KH2017_trial_data.csv").select("mt_id", "Condition")
    tn = time_normalize(samples("KH2017")).join(conditions, left_on="trial", right_on="mt_id")
    ours = aggregate(tn, by=["Condition", "step"], subject="participant", columns=["t_ms", "x", "y"])
    ref = _read("KH2017_aggregate_tn_condition.csv").sort("Condition", "steps")
    assert ours.height == ref.height == 202
    for mine, theirs in {"t_ms": "timestamps", "x": "xpos", "y": "ypos"}.items():
        assert _max_abs_diff(ours[mine], ref[theirs]) <= TOL, mine
    wrapped = aggregate_time_normalized(tn, by=["Condition"], subject="participant")
    assert wrapped.columns == ours.columns and wrapped.height == ours.height
    for col in ("t_ms", "x", "y"):
        assert _max_abs_diff(wrapped[col], ours[col]) <= 1e-9, col


def test_bimodality_matches_mt_check_bimodality() -> None:
    """BC matches to 1e-6. HDS p-values: mousetrap uses diptest::dip.test(x)$p, i.e. interpolation in the
    tabulated null distribution (no simulation); the Python diptest package interpolates in the same table,
    so those match to 1e-6 too (a simulated p-value would not)."""
    z = standardize(_kh2017_with_trial_data(), columns=Z_COLUMNS, within="participant")
    columns = Z_COLUMNS + [f"z_{c}" for c in Z_COLUMNS]
    overall = check_bimodality(z, columns=columns).with_columns(pl.lit("ALL").alias("Condition"))
    per_condition = check_bimodality(z, columns=columns, by=["Condition"])
    ours = pl.concat([overall.select("method", "Condition", "variable", "value"), per_condition])
    ref = _read("KH2017_bimodality.csv")
    joined = ours.join(ref, on=["method", "Condition", "variable"], suffix="_ref")
    assert joined.height == ref.height == 60
    worst = joined.with_columns((pl.col("value") - pl.col("value_ref")).abs().alias("d")).sort("d").row(-1)
    assert _max_abs_diff(joined["value"], joined["value_ref"]) <= TOL, worst


@pytest.mark.parametrize("dataset", DATASETS)
def test_numpy_engine_matches_mousetrap_too(dataset: str) -> None:
    """The reference NumPy engine (used without numba) is held to the same 1e-6 as the compiled one."""
    ref = _read(f"{dataset}_measures.csv")
    ours = compute_measures(samples(dataset), preset="mousetrap", engine="numpy")
    joined = ours.join(ref, left_on="trial", right_on="mt_id", how="inner", suffix="_ref")
    assert joined.height == ref.height
    off = {c: d for c in PRESETS["mousetrap"] if not (d := _max_abs_diff(joined[c], joined[f"{c}_ref"])) <= TOL}
    assert not off, f"{dataset}: {off}"


def test_submovement_counts_on_kh2017_are_plausible() -> None:
    """Velocity-peak segmentation: a primary movement plus at most one correction in a typical trial."""
    vp = compute_measures(samples("KH2017"), measures=["velocity_peaks"])["velocity_peaks"]
    assert vp.median() <= 2 and vp.min() >= 1
    assert (vp <= 2).mean() > 0.6
