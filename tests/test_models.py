"""Models against known answers: simulated fixed effects, OLS on balanced data, t-based CIs by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mouselab import models
from mouselab.models import ModelFallbackWarning


def simulate(*, effect=15.0, n_subjects=30, n_trials=20, intercept=100.0, subject_sd=20.0, noise_sd=30.0, seed=1,
             balanced=True):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        u = rng.normal(0, subject_sd)
        for cond in ("low", "high"):
            k = n_trials if balanced else int(rng.integers(5, n_trials + 1))
            mu = intercept + u + (effect if cond == "high" else 0.0)
            for value in rng.normal(mu, noise_sd, k):
                rows.append({"participant": f"P{s:02d}", "condition": cond, "MAD": float(value)})
    return pl.DataFrame(rows)


def term(table, name="condition[T.high]"):
    return table.filter(pl.col("term") == name).row(0, named=True)


def test_mixed_model_recovers_a_known_fixed_effect():
    covered = 0
    for seed in range(10):
        data = simulate(effect=15.0, seed=seed, balanced=seed % 2 == 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ModelFallbackWarning)
            table = models.mixed_model(data, formula="MAD ~ condition", group="participant", reference="low")
        row = term(table)
        assert row["converged"] is True and row["n_groups"] == 30 and row["n_obs"] == data.height
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
        assert abs(row["estimate"] - 15.0) < 8
        covered += row["ci_low"] <= 15.0 <= row["ci_high"]
        assert row["p"] < 0.05
    assert covered >= 8  # a 95 % CI should miss the truth rarely


def test_mixed_model_table_shape_and_intercept_matches_reference_mean():
    data = simulate(seed=3)
    table = models.mixed_model(data, reference="low", alpha=0.1)
    assert table.columns[:11] == models.mixed.MODEL_COLUMNS
    assert table["term"].to_list() == ["Intercept", "condition[T.high]"]
    low_mean = data.filter(pl.col("condition") == "low")["MAD"].mean()
    assert term(table, "Intercept")["estimate"] == pytest.approx(low_mean, rel=1e-6)
    assert table["group_sd"][0] > 0
    row = term(table)
    assert row["ci_high"] - row["estimate"] == pytest.approx(stats.norm.ppf(0.95) * row["se"], rel=1e-6)


def test_balanced_design_mixed_model_equals_ols_estimate():
    data = simulate(seed=7, balanced=True)
    lmm = term(models.mixed_model(data, reference="low"))
    ols = term(models.ols_model(data, reference="low"))
    diff = (data.filter(pl.col("condition") == "high")["MAD"].mean()
            - data.filter(pl.col("condition") == "low")["MAD"].mean())
    assert lmm["estimate"] == pytest.approx(ols["estimate"], abs=1e-6)
    assert ols["estimate"] == pytest.approx(diff, abs=1e-9)
    # within-participant effect: the mixed model's SE is smaller than OLS ignoring participants
    assert lmm["se"] < ols["se"]


def test_reference_level_flips_the_sign():
    data = simulate(seed=2)
    a = term(models.mixed_model(data, reference="low"))
    b = term(models.mixed_model(data, reference="high"), "condition[T.low]")
    assert a["estimate"] == pytest.approx(-b["estimate"], rel=1e-4)
    with pytest.raises(ValueError, match="not a level"):
        models.mixed_model(data, reference="medium")


def test_non_convergence_falls_back_to_cluster_robust_ols(monkeypatch):
    data = simulate(seed=4)
    monkeypatch.setattr(models.mixed, "_fit_lmm", lambda model, reml, **kw: (None, "optimizer did not converge"))
    with pytest.warns(ModelFallbackWarning, match="falling back to OLS"):
        table = models.mixed_model(data, reference="low")
    row = term(table)
    assert row["converged"] is False and "cluster-robust" in row["method"] and "did not converge" in row["method"]
    ols = term(models.ols_model(data, reference="low"))
    assert row["estimate"] == pytest.approx(ols["estimate"])
    sentences = models.describe_effects(table, units={"MAD": "px"}, reference="low")
    assert "OLS with cluster-robust SE" in sentences[0]


def test_single_group_falls_back_without_crashing():
    data = simulate(n_subjects=1, seed=5)
    with pytest.warns(ModelFallbackWarning):
        table = models.mixed_model(data, reference="low")
    assert table["converged"].to_list() == [False, False] and table["n_groups"][0] == 1


def test_rows_with_missing_outcome_are_dropped():
    data = simulate(seed=6).with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("MAD")).alias("MAD"))
    table = models.mixed_model(data, reference="low")
    assert table["n_obs"][0] == data["MAD"].drop_nulls().len()


def test_effect_size_is_estimate_over_outcome_sd():
    data = simulate(seed=8)
    table = models.effect_size(models.mixed_model(data, reference="low"), data)
    row = term(table)
    sd = data["MAD"].std()
    assert row["std_estimate"] == pytest.approx(row["estimate"] / sd)
    assert row["std_ci_low"] == pytest.approx(row["ci_low"] / sd)
    assert term(table, "Intercept")["std_estimate"] is None
    assert "SD of the outcome" in row["effect_size_method"]


def test_fit_measures_stacks_outcomes():
    data = simulate(seed=9).with_columns((pl.col("MAD") * 2).alias("AUC"))
    table = models.fit_measures(data, outcomes=["MAD", "AUC"], reference="low")
    assert table["outcome"].unique(maintain_order=True).to_list() == ["MAD", "AUC"]
    assert term(table.filter(pl.col("outcome") == "AUC"))["estimate"] == pytest.approx(
        2 * term(table.filter(pl.col("outcome") == "MAD"))["estimate"], rel=1e-4)
    with pytest.raises(ValueError, match="'RT'"):
        models.fit_measures(data, outcomes=["RT"])


def test_condition_means_ci_averages_subjects_first():
    data = simulate(seed=10, balanced=False)
    out = models.condition_means_ci(data, measure="MAD", alpha=0.05, reference="low")
    assert out["condition"].to_list() == ["low", "high"]
    per_subject = data.filter(pl.col("condition") == "high").group_by("participant").agg(pl.col("MAD").mean())["MAD"]
    x = per_subject.to_numpy()
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    row = out.filter(pl.col("condition") == "high").row(0, named=True)
    assert row["n_subjects"] == 30
    assert row["mean"] == pytest.approx(x.mean()) and row["ci_low"] == pytest.approx(x.mean() - half)
    assert row["ci_high"] == pytest.approx(x.mean() + half)
    # the trial-weighted mean differs on unbalanced data: subject means really come first
    assert row["mean"] != pytest.approx(data.filter(pl.col("condition") == "high")["MAD"].mean(), rel=1e-9)


def test_describe_effects_words_follow_the_numbers():
    table = pl.DataFrame({
        "outcome": ["MAD", "RT", "xpos_flips"], "term": ["condition[T.high]"] * 3,
        "estimate": [52.36, -20.0, 0.3], "ci_low": [45.3, -35.0, -0.1], "ci_high": [59.4, -5.0, 0.7],
        "p": [1e-9, 0.01, 0.2], "n_obs": [100] * 3, "n_groups": [10] * 3, "converged": [True] * 3,
        "std_estimate": [0.75, -0.2, 0.1],
    })
    s = models.describe_effects(table, units={"MAD": "px", "RT": "ms", "xpos_flips": "count"}, reference="low",
                                label="load")
    assert s[0] == ("High load increased MAD by 52.4 px compared with low load "
                    "(95 % CI 45.3 to 59.4 px, p < .001; 0.75 SD).")
    assert s[1].startswith("High load decreased RT by 20.0 ms") and "p = .010" in s[1]
    assert s[2].startswith("High load did not reliably change xpos_flips") and "p = .200" in s[2]
    assert "−0.100 to 0.700" in s[2]
    assert models.format_p(0.0004) == "p < .001" and models.format_p(0.9999) == "p > .999"


def test_bimodality_table_flags_a_two_mode_mixture():
    rng = np.random.default_rng(0)
    n = 400
    mixture = np.where(rng.random(n) < 0.5, rng.normal(0, 1, n), rng.normal(6, 1, n))
    data = pl.DataFrame({
        "participant": np.tile([f"P{i}" for i in range(10)], n // 10 * 2),
        "condition": ["bimodal"] * n + ["unimodal"] * n,
        "MAD": np.concatenate([mixture, rng.normal(0, 1, n)]),
    })
    table = models.bimodality_table(data, columns=["MAD"], by="condition", within=None)
    bi = table.filter(pl.col("condition") == "bimodal").row(0, named=True)
    uni = table.filter(pl.col("condition") == "unimodal").row(0, named=True)
    assert bi["BC_bimodal"] and bi["dip_bimodal"] and bi["n"] == n
    assert not uni["BC_bimodal"] and not uni["dip_bimodal"]
    text = models.describe_bimodality(table)
    assert "possible bimodality in bimodal" in text
