"""Safe releases: k-anonymity / l-diversity against hand-computed cases, OpenDP releases with a persisted
budget that refuses overspending, an empirical check of the privacy loss, and the re-identification meter."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import polars as pl
import pytest
from test_capture_support import mouselab
from test_privacy_support import keyed, make_store  # noqa: F401

from mouselab.privacy import anonymity, dp, governance, reid

# age_band × handedness classes, worked out by hand:
#   (20-29, right): p1 (twice), p2, p3  → 3 people, 4 rows, conditions {low, high}   → diversity 2
#   (30-39, left):  p4, p5              → 2 people, 2 rows, conditions {high}        → diversity 1
#   (30-39, right): p6                  → 1 person, 1 row,  conditions {low}         → diversity 1
TABLE = pl.DataFrame({
    "participant": ["p1", "p1", "p2", "p3", "p4", "p5", "p6"],
    "age_band": ["20-29", "20-29", "20-29", "20-29", "30-39", "30-39", "30-39"],
    "handedness": ["right", "right", "right", "right", "left", "left", "right"],
    "condition": ["low", "low", "high", "low", "high", "high", "low"],
    "MAD": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
})
QI = ["age_band", "handedness"]


def test_k_anonymity_matches_the_hand_computed_classes():
    classes = anonymity.equivalence_classes(TABLE, QI, unit="participant", sensitive=["condition"])
    assert classes.rows() == [("20-29", "right", 3, 4, 2), ("30-39", "left", 2, 2, 1), ("30-39", "right", 1, 1, 1)]
    by_rows = anonymity.equivalence_classes(TABLE, QI)
    assert by_rows["size"].to_list() == [4, 2, 1]
    report = anonymity.check_k_anonymity(TABLE, QI, k=2, unit="participant")
    assert (report.classes, report.smallest_class, report.k_anonymous) == (3, 1, False)
    assert anonymity.check_k_anonymity(TABLE, QI, k=1, unit="participant").passed
    assert anonymity.check_k_anonymity(TABLE, ["age_band"], k=3, unit="participant").passed  # 3 and 3 people


def test_suppression_removes_exactly_the_failing_classes():
    released, report = anonymity.k_anonymise(TABLE, quasi_identifiers=QI, k=2, unit="participant")
    assert (report.rows_suppressed, report.classes_suppressed, report.classes_after) == (1, 1, 2)
    assert report.suppressed.select(QI).rows() == [("30-39", "right")]
    assert "participant" not in released.columns and released.height == 6
    # l-diversity on condition also removes the (30-39, left) class: both are "high"
    released, report = anonymity.k_anonymise(TABLE, quasi_identifiers=QI, k=2, unit="participant",
                                             sensitive=["condition"], l=2)
    assert (report.rows_suppressed, report.classes_after) == (3, 1) and report.lowest_diversity == 1
    assert released["age_band"].unique().to_list() == ["20-29"]
    assert anonymity.check_release(released, quasi_identifiers=QI, k=2, sensitive=["condition"], l=2).passed


def test_release_gate_refuses_identifiers_and_small_classes(tmp_path):
    with pytest.raises(anonymity.ReleaseError, match="direct identifier"):
        anonymity.check_release(TABLE, quasi_identifiers=QI, k=1)
    with pytest.raises(anonymity.ReleaseError, match="smallest holds 1"):
        anonymity.check_release(TABLE.drop("participant"), quasi_identifiers=QI, k=2)
    cells = pl.DataFrame({"condition": ["low", "high"], "n": [7, 3], "mean_MAD": [10.0, 12.0]})
    out, small = anonymity.suppress_small_cells(cells, count_column="n", k=5)
    assert out.rows() == [("low", 7, 10.0), ("high", None, None)] and small.rows() == [("high", 3)]
    path = tmp_path / "t.csv"
    TABLE.drop("participant").write_csv(path)
    r = mouselab("privacy", "check-release", path, "--qi", "age_band,handedness", "--k", "2")
    assert r.returncode == 1 and "NOT releasable" in r.stdout
    r = mouselab("privacy", "check-release", path, "--qi", "age_band,handedness", "--k", "2", "--suppress", tmp_path / "o.csv")
    assert r.returncode == 0 and pl.read_csv(tmp_path / "o.csv").height == 6


def _people(n=30, seed=1):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"participant": [f"p{i}" for i in range(n)], "MAD": rng.normal(120, 30, n)})


def test_dp_release_states_accuracy_and_refuses_past_the_persisted_budget(keyed, tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(governance.GovernanceError, match="declares no privacy budget"):
        dp.Budget(store, "st")
    governance.set_study_policy(store, "st", epsilon_budget=1.0)
    frame = _people()
    out = dp.release(frame, [dp.count(), dp.mean("MAD", bounds=(0, 300)), dp.quantile("MAD", 0.5, bounds=(0, 300)),
                             dp.histogram("MAD", edges=[0, 100, 200, 300])], epsilon=0.6, budget=dp.Budget(store, "st"))
    assert out["statistic"].to_list()[:3] == ["count", "mean", "quantile 0.5"] and out.height == 3 + 5
    assert (out["accuracy"] > 0).all() and out["accuracy_note"].str.contains("95 %").all()
    assert out.unique("query")["epsilon"].sum() == pytest.approx(0.6)
    assert "participant" not in out.columns
    # a new Budget object (another process, another day) sees the spending
    later = dp.Budget(store, "st")
    assert later.spent == pytest.approx(0.6) and later.remaining == pytest.approx(0.4)
    with pytest.raises(dp.BudgetExceeded, match="needs ε = 0.5 but study 'st' has 0.4"):
        dp.release(frame, [dp.count()], epsilon=0.5, budget=later)
    assert len(dp.ledger(store, "st")) == 1, "a refused release spends nothing"
    dp.release(frame, [dp.count()], epsilon=0.4, budget=later)
    with pytest.raises(dp.BudgetExceeded):
        dp.release(frame, [dp.count()], epsilon=0.01, budget=dp.Budget(store, "st"))
    r = mouselab("privacy", "budget", "--store", store, "--study", "st")
    assert r.returncode == 0 and "remaining 0" in r.stdout


def test_one_row_per_participant_is_required():
    frame = pl.concat([_people(5), _people(5)])
    with pytest.raises(ValueError, match="collapse to one row per participant"):
        dp.release(frame, [dp.count()], epsilon=1.0, budget=dp.Budget.in_memory(5))
    collapsed = dp.per_participant(frame, columns=["MAD"])
    assert collapsed.height == 5


def _log_ratios(a: list, b: list, *, min_count: int) -> list[float]:
    ca, cb = Counter(a), Counter(b)
    return [abs(math.log(ca[v] / cb[v])) for v in set(ca) & set(cb) if ca[v] >= min_count and cb[v] >= min_count]


def test_empirical_privacy_loss_stays_within_e_to_the_epsilon():
    """Neighbouring datasets (one participant removed), many releases: output frequencies differ by at most
    a factor e^ε (loosely: sampling error allowed), and the bound is nearly reached (the noise is not
    overdone)."""
    d = [float(v) for v in _people(30)["MAD"]]
    d_prime = d[:-1]
    eps = 0.5
    count, _ = dp.count_measurement(epsilon=eps)
    a = [int(count(d)) for _ in range(5000)]
    b = [int(count(d_prime)) for _ in range(5000)]
    ratios = _log_ratios(a, b, min_count=150)
    assert ratios and max(ratios) <= eps + 0.2 and max(ratios) >= eps / 2, ratios
    # the exponential mechanism (quantile) on a coarse grid, the removed person sitting at the median
    ordered = sorted(d)
    median_person = ordered[len(ordered) // 2]
    without = [v for v in d if v != median_person]
    quant, _ = dp.quantile_measurement(0.5, bounds=(0, 300), candidates=11, epsilon=1.0)
    qa = [float(quant(d)) for _ in range(3000)]
    qb = [float(quant(without)) for _ in range(3000)]
    ratios = _log_ratios(qa, qb, min_count=150)
    assert ratios and max(ratios) <= 1.0 + 0.25, ratios


def test_reid_meter_sees_identity_in_features_and_not_in_dp_sums():
    rng = np.random.default_rng(3)
    rows = []
    for p in range(12):
        centre = rng.normal(0, 1, 4)
        for i in range(60):
            x = centre + rng.normal(0, 0.4, 4)
            rows.append({"participant": f"p{p:02d}", "session": "s1", "trial": None, "action": i, "t_start_ms": float(i),
                         "speed_mean": x[0], "acc_sd": x[1], "straightness": x[2], "duration_ms": x[3]})
    actions = reid.pseudo_sessions(pl.DataFrame(rows))
    raw = reid.identify_actions(actions, window_actions=10, seed=0, n_estimators=60)
    assert raw.top1 > 0.8 and raw.eer < 0.15 and raw.chance_top1 == pytest.approx(1 / 12)
    shuffled = actions.with_columns(pl.col("participant").shuffle(seed=1))
    noise = reid.identify_actions(shuffled, window_actions=10, seed=0, n_estimators=60)
    assert noise.top1 < 0.35 and noise.eer > 0.3
    prof = reid.participant_profiles(actions.filter(pl.col("split") == "B"), features=["speed_mean", "acc_sd"])
    exact = reid.differencing_attack(prof, features=["speed_mean", "acc_sd"], mechanism=reid.exact_sums, repeats=1,
                                     form="exact")
    assert exact.top1 == 1.0
    noisy = reid.differencing_attack(prof, features=["speed_mean", "acc_sd"], repeats=4, form="dp",
                                     mechanism=reid.dp_sums([(-4.0, 4.0), (-4.0, 4.0)], epsilon=0.5))
    assert noisy.top1 < 0.35 and noisy.eer > 0.3
    mechanism = reid.dp_sums([(-4.0, 4.0), (-4.0, 4.0)], epsilon=0.5, seed=7)  # the report's reproducible path
    again = reid.dp_sums([(-4.0, 4.0), (-4.0, 4.0)], epsilon=0.5, seed=7)
    seeded = reid.differencing_attack(prof, features=["speed_mean", "acc_sd"], repeats=4, form="dp", mechanism=mechanism)
    assert seeded == reid.differencing_attack(prof, features=["speed_mean", "acc_sd"], repeats=4, form="dp", mechanism=again)
    assert seeded.top1 < 0.35 and seeded.eer > 0.3
