"""The re-identification verdict is relative to chance: hand-computed binomial cases (mouselab.privacy.reid)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from mouselab.privacy import reid


def _ident(top1: float, probes: int, candidates: int) -> reid.Identification:
    return reid.Identification("form", probes, candidates, top1, min(1.0, 5 * top1), 0.3)


def test_tolerated_level_is_the_k_anonymity_promise_or_chance():
    assert reid.tolerated_top1(10, k=5) == pytest.approx(0.2)  # 1/k when N >= k
    assert reid.tolerated_top1(30, k=5) == pytest.approx(0.2)
    assert reid.tolerated_top1(3, k=5) == pytest.approx(1 / 3)  # chance when N < k: nothing beats a guess
    assert reid.tolerated_top1(2, k=10) == pytest.approx(0.5)


def test_p_value_is_the_binomial_tail_computed_by_hand():
    # n = 10 probes, tau = 0.2: P(X <= 3) = .8^10 + 10(.2)(.8^9) + 45(.04)(.8^8) + 120(.008)(.8^7)
    #                                     = .1073741824 + .268435456 + .301989888 + .201326592 = .8791261184
    assert reid.top1_p_value(0.4, 10, 0.2) == pytest.approx(1 - 0.8791261184, abs=1e-12)  # P(X >= 4) = .1208738816
    # P(X = 4) = 210 (.2^4)(.8^6) = 210 × .0016 × .262144 = .088080384  ->  P(X >= 5) = .0327934976
    assert reid.top1_p_value(0.5, 10, 0.2) == pytest.approx(0.0327934976, abs=1e-12)
    assert reid.top1_p_value(1.0, 10, 0.2) == pytest.approx(0.2**10)
    assert reid.top1_p_value(0.0, 10, 0.2) == 1.0
    # N = 3 people, tau = chance = 1/3, 6 probes, 3 hits: 1 - (64 + 192 + 240)/729 = 233/729
    assert reid.top1_p_value(0.5, 6, 1 / 3) == pytest.approx(233 / 729, abs=1e-12)
    # ties counted at their expected rank give fractional hits: the tail interpolates monotonically
    p2, p25, p3 = (reid.top1_p_value(h / 10, 10, 0.2) for h in (2, 2.5, 3))
    assert p2 > p25 > p3
    assert math.isnan(reid.top1_p_value(0.5, 0, 0.2))


def test_verdict_passes_chance_and_fails_clear_excess():
    # 10 candidates, k = 5: tau = 0.2; with 10 probes 4 hits still pass (p = .121), 5 fail (p = .033)
    four = reid.verdict(_ident(0.4, 10, 10), k=5, alpha=0.05)
    five = reid.verdict(_ident(0.5, 10, 10), k=5, alpha=0.05)
    assert four["verdict"] == "pass" and five["verdict"] == "FAIL"
    assert four["tolerated"] == pytest.approx(0.2) and four["passes_up_to"] == pytest.approx(0.4)
    assert reid.verdict(_ident(1.0, 10, 10), k=5)["verdict"] == "FAIL"  # exact aggregates: p = 1.0e-7
    # a small study (3 people): a release at chance passes, although 1/3 is above the old absolute 0.2
    assert reid.verdict(_ident(1 / 3, 30, 3), k=5)["verdict"] == "pass"
    assert reid.verdict(_ident(0.5, 6, 3), k=5)["verdict"] == "pass"  # p = 233/729 = .32
    assert reid.verdict(_ident(1.0, 6, 3), k=5)["verdict"] == "FAIL"  # p = 1/729
    # max_top1 overrides tau; a stricter alpha passes more
    override = reid.verdict(_ident(0.5, 10, 10), k=5, max_top1=0.5)
    assert override["tolerated"] == 0.5 and override["verdict"] == "pass"
    assert reid.verdict(_ident(0.5, 10, 10), k=5, alpha=0.01)["verdict"] == "pass"
    assert reid.verdict(_ident(float("nan"), 0, 10), k=5)["verdict"] == "n/a"
    with pytest.raises(ValueError, match="alpha"):
        reid.verdict(_ident(0.5, 10, 10), alpha=0.0)


def test_report_row_carries_the_rule():
    row = _ident(0.5, 10, 10).row(k=5, alpha=0.05)
    assert row["verdict"] == "FAIL" and row["tolerated top-1"] == pytest.approx(0.2)
    assert row["p"] == pytest.approx(0.0327934976, abs=1e-12) and row["passes up to"] == pytest.approx(0.4)
    assert _ident(0.5, 10, 10).row(max_top1=0.6)["verdict"] == "pass"


def test_generalise_merges_tied_quantiles_of_a_tiny_study():
    # two people: every tertile edge of a feature can coincide; bins merge instead of failing
    prof = pl.DataFrame({"participant": ["a", "b"], "f": [1.0, 1.0], "g": [1.0, 2.0]})
    out, edges = reid.generalise(prof, features=["f", "g"], bins=3)
    assert edges["f"] == [1.0] and len(edges["g"]) == 2
    assert out["f"].to_list() == ["q1", "q1"] and out["g"].n_unique() == 2
