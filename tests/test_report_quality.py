"""Data-quality summaries on small hand-made frames."""

from __future__ import annotations

import polars as pl
import pytest

from mouselab.report import quality


def samples():
    trial = pl.DataFrame({"study": "s", "participant": "P1", "session": "s1", "trial": "t1",
                          "t_ms": [0.0, 10.0, 20.0, 30.0, 40.0]})
    free = pl.DataFrame({"study": "s", "participant": "P1", "session": "free1", "trial": None,
                         "t_ms": [0.0, 20.0, 40.0, 540.0, 560.0]}, schema_overrides={"trial": pl.String})
    return pl.concat([trial, free])


def test_recording_units_rates_and_gaps():
    units = quality.recording_units(samples())
    trial = units.filter(pl.col("kind") == "trials").row(0, named=True)
    free = units.filter(pl.col("kind") == "free use").row(0, named=True)
    assert trial["rate_hz"] == pytest.approx(100.0) and trial["n_samples"] == 5 and trial["max_gap_ms"] == 10
    assert free["rate_hz"] == pytest.approx(50.0) and free["max_gap_ms"] == 500 and free["duration_ms"] == 560
    gaps = quality.gap_summary(quality.sampling_intervals(samples()), threshold_ms=100)
    by_kind = {r["kind"]: r for r in gaps.iter_rows(named=True)}
    assert by_kind["trials"]["gaps"] == 0 and by_kind["free use"]["gaps"] == 1
    assert by_kind["free use"]["longest_ms"] == 500 and by_kind["free use"]["intervals"] == 4
    overview = quality.sessions_overview(samples())
    assert overview["session"].to_list() == ["s1", "free1"] and overview["trials"].to_list() == [1, 0]
    assert quality.rate_summary(units)["units"].to_list() == [1, 1]


def test_trial_counts_and_summary():
    trials = pl.DataFrame({"participant": ["P1", "P1", "P1", "P2"], "condition": ["a", "a", "b", "a"]})
    counts = quality.trial_counts(trials)
    assert counts.rows() == [("P1", "a", 2), ("P1", "b", 1), ("P2", "a", 1)]
    summary = quality.trial_count_summary(counts)
    assert summary.filter(pl.col("condition") == "a").row(0, named=True)["max_per_participant"] == 2


def test_completeness_and_note():
    measures = pl.DataFrame({"participant": ["P1", "P2"], "MAD": [1.0, float("nan")], "RT": [1.0, 2.0],
                             "label": ["x", "y"]})
    table = quality.measure_completeness(measures)
    assert table["measure"].to_list() == ["MAD", "RT"]
    assert table.filter(pl.col("measure") == "MAD")["non_finite"][0] == 1
    assert "MAD (50.0 % usable)" in quality.completeness_note(table)
    assert quality.completeness_note(table.filter(pl.col("measure") == "RT"), preset="p").startswith("All 1 measures")


def test_idle_and_participant_summaries():
    events = pl.DataFrame({"participant": ["P1", "P1", "P1"], "session": ["f", "f", "f"],
                           "kind": ["idle_start", "idle_end", "idle_start"], "duration_ms": [2000.0, None, 500.0]})
    idle = quality.idle_periods(events).row(0, named=True)
    assert idle["idle_periods"] == 2 and idle["idle_s"] == pytest.approx(2.5) and idle["longest_idle_s"] == 2.0
    people = pl.DataFrame({"participant": ["P1", "P2"], "handedness": ["left", None]})
    summary = quality.participant_summary(people)
    assert summary.rows() == [("handedness", "(not given)", 1), ("handedness", "left", 1)]
