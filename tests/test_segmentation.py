"""Segmentation: idle periods, MM / PC / DD actions from button states, focus and marker segments, and the
per-action kinematics (analytic cases and invariants)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mouselab.ingest import ingest_files
from mouselab.ingest.segment import segment_store
from mouselab.schema import ACTIONS, conform
from mouselab.segmentation import ActionSplitter, FocusSplitter, IdleSplitter, MarkerSplitter, action_table
from mouselab.segmentation import workday
from mouselab.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def session(rows: list[tuple], *, participant: str = "P1", sess: str = "s1") -> pl.DataFrame:
    """rows: (t_ms, x, y, event, buttons)."""
    return pl.DataFrame(rows, schema={"t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String,
                                      "buttons": pl.UInt8}, orient="row").with_columns(
        pl.lit("st").alias("study"), pl.lit(participant).alias("participant"), pl.lit(sess).alias("session"),
        pl.lit(None, dtype=pl.String).alias("trial"))


def line(t0: float, x0: float, y0: float, dx: float, dy: float, n: int, *, dt: float = 10.0, event: str = "move",
         buttons: int = 0) -> list[tuple]:
    return [(t0 + k * dt, x0 + k * dx, y0 + k * dy, event, buttons) for k in range(n)]


def three_actions() -> pl.DataFrame:
    mm = line(0, 100, 100, 5, 0, 10)  # 100 → 145 px to the right, then a pause
    pc = line(5000, 200, 300, 0, -4, 10) + [(5100, 200, 260, "down", 1), (5180, 200, 260, "up", 0)]
    dd = [(6000, 300, 300, "down", 1)] + line(6010, 303, 303, 3, 3, 10, event="drag", buttons=1) + \
        [(6120, 330, 330, "up", 0)]
    return session(mm + pc + dd)


def test_actions_mm_pc_dd_from_button_states():
    labelled = ActionSplitter(max_gap_ms=1000).label(three_actions())
    actions = labelled.filter(pl.col("action").is_not_null()).group_by("action", maintain_order=True).agg(
        pl.col("type").first(), pl.len().alias("n"))
    assert actions.rows() == [(1, "MM", 10), (2, "PC", 12), (3, "DD", 12)]


def test_a_drag_starts_at_the_press_and_the_movement_before_it_is_a_move():
    rows = line(0, 0, 0, 4, 0, 8) + [(80, 28, 0, "down", 1)] + line(90, 30, 2, 3, 3, 6, event="drag", buttons=1) + \
        [(150, 45, 17, "up", 0)]
    types = ActionSplitter().label(session(rows)).group_by("action", maintain_order=True).agg(pl.col("type").first())
    assert types["type"].to_list() == ["MM", "DD"]


def test_scrolling_and_long_pauses_split_actions_and_short_ones_are_dropped():
    rows = line(0, 0, 0, 2, 0, 6) + [(70, 10, 0, "scroll", 0), (120, 10, 0, "scroll", 0)] + line(200, 10, 0, 2, 1, 6) \
        + line(20_000, 50, 50, 1, 1, 6) + line(40_000, 0, 0, 1, 0, 3)
    labelled = ActionSplitter(max_gap_ms=10_000, min_samples=4).label(session(rows))
    assert labelled.filter(pl.col("event") == "scroll")["action"].null_count() == 2
    assert labelled["action"].drop_nulls().unique().sort().to_list() == [1, 2, 3]
    assert labelled.tail(3)["action"].null_count() == 3  # 3 samples < min_samples


def test_straight_constant_speed_line_has_textbook_features():
    rows = line(0, 100, 500, 3, -4, 21, dt=10)  # 5 px per 10 ms = 500 px/s, up and to the right on screen
    a = action_table(session(rows)).row(0, named=True)
    assert a["type"] == "MM" and a["n_samples"] == 21 and a["duration_ms"] == 200
    assert a["distance_px"] == pytest.approx(100) and a["displacement_px"] == pytest.approx(100)
    assert a["straightness"] == pytest.approx(1.0)
    assert a["speed_mean"] == pytest.approx(500) and a["speed_sd"] == pytest.approx(0, abs=1e-9)
    assert a["vx_mean"] == pytest.approx(300) and a["vy_mean"] == pytest.approx(-400)
    assert a["acc_max"] == pytest.approx(0, abs=1e-9) and a["jerk_max"] == pytest.approx(0, abs=1e-9)
    assert a["curvature_max"] == pytest.approx(0, abs=1e-12) and a["sum_of_angles"] == pytest.approx(0, abs=1e-12)
    assert a["largest_deviation_px"] == pytest.approx(0, abs=1e-9)
    assert a["direction"] == 1  # 53° above the horizontal (y up): sector 1 (22.5°–67.5°)
    assert a["pauses"] == 0 and a["sharp_angles"] == 0 and a["button"] is None


def test_a_right_angle_turn_and_a_hesitation():
    rows = line(0, 0, 0, 5, 0, 11) + line(110, 50, 5, 0, 5, 10) + [(600, 50, 52, "move", 0)] + line(610, 50, 55, 0, 5, 5)
    a = action_table(session(rows)).row(0, named=True)
    assert a["sum_of_angles"] == pytest.approx(math.pi / 2)
    assert a["sharp_angles"] == 0  # exactly 90° is not sharper than 90°
    assert a["largest_deviation_px"] > 0 and a["straightness"] < 1
    assert a["pauses"] == 1  # 2 px in 440 ms is slower than 0.05 px/ms for ≥ 100 ms


def test_click_button_and_schema():
    rows = line(0, 0, 0, 4, 4, 6) + [(60, 20, 20, "down", 2), (140, 20, 20, "up", 0)]
    actions = action_table(session(rows))
    assert actions["type"].to_list() == ["PC"] and actions["button"].to_list() == ["right"]
    assert actions.columns == ACTIONS.names
    conform(actions, "actions")  # the contract accepts it


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.tuples(st.integers(-3000, 3000), st.integers(-2000, 2000)))
def test_features_are_translation_invariant_and_path_at_least_displacement(seed, shift):
    rng = np.random.default_rng(seed)
    n = 40
    t = np.cumsum(rng.integers(5, 30, n)).astype(float)
    x, y = np.cumsum(rng.normal(0, 4, n)), np.cumsum(rng.normal(0, 4, n))
    rows = [(t[k], x[k], y[k], "move", 0) for k in range(n)]
    moved = [(t[k], x[k] + shift[0], y[k] + shift[1], "move", 0) for k in range(n)]
    a, b = action_table(session(rows)), action_table(session(moved))
    cols = [c for c in a.columns if c not in ("start_x", "start_y", "end_x", "end_y")]
    for c in cols:
        va, vb = a[c].to_list(), b[c].to_list()
        for p, q in zip(va, vb):
            if isinstance(p, str) or p is None:
                assert p == q, c
            else:
                assert p == pytest.approx(q, rel=1e-6, abs=1e-6), c
    assert (a["distance_px"] >= a["displacement_px"] - 1e-9).all()


def test_many_sessions_at_once_equal_one_at_a_time():
    frames = [three_actions().with_columns(pl.lit(f"P{i}").alias("participant"),
                                           (pl.col("x") + 10 * i).alias("x")) for i in range(5)]
    together = action_table(pl.concat(frames), max_gap_ms=1000)
    alone = pl.concat([action_table(f, max_gap_ms=1000) for f in frames])
    assert together.sort(["participant", "action"]).equals(alone.sort(["participant", "action"]))


def test_vectorised_over_many_actions_quickly():
    rng = np.random.default_rng(3)
    n = 200_000
    steps = rng.integers(5, 20, n).astype(float)
    steps[::50] += 15_000  # a long pause every 50 samples: 4 000 actions
    t = np.cumsum(steps)
    frame = session([]).clear().vstack(pl.DataFrame({
        "t_ms": t, "x": np.cumsum(rng.normal(0, 3, n)), "y": np.cumsum(rng.normal(0, 3, n)), "event": "move",
        "buttons": np.zeros(n, dtype=np.uint8), "study": "st", "participant": "P1", "session": "s1",
        "trial": pl.Series([None] * n, dtype=pl.String)}).select(session([]).columns))
    import time

    began = time.perf_counter()
    actions = action_table(frame)
    assert actions.height == 4000
    assert time.perf_counter() - began < 10


def test_idle_periods_and_bouts():
    rows = line(0, 0, 0, 1, 0, 5) + line(3000, 5, 0, 1, 0, 5) + line(3100, 10, 0, 1, 0, 2) + line(20_000, 0, 0, 1, 1, 3)
    periods = IdleSplitter(idle_threshold_ms=2000).periods(session(rows))
    assert periods.select("t_start_ms", "t_end_ms", "duration_ms").rows() == [(40, 3000, 2960), (3110, 20_000, 16_890)]
    bouts = IdleSplitter(idle_threshold_ms=2000).label(session(rows))["bout"].to_list()
    assert bouts == [1] * 5 + [2] * 7 + [3] * 3
    summary = workday.idle_summary(periods)
    assert summary["idle_periods"].to_list() == [2] and summary["longest_s"].to_list() == [16.89]


def test_focus_and_marker_segments():
    samples = session(line(0, 0, 0, 1, 1, 100, dt=100))
    events = pl.DataFrame({
        "study": "st", "participant": "P1", "session": "s1", "trial": None, "t_ms": [1000.0, 4000.0, 2000.0, 6000.0],
        "kind": ["focus", "focus", "marker", "marker"], "app": ["editor", "browser", "copy", None],
    })
    segs = FocusSplitter().segments(events, samples=samples)
    assert segs.select("app", "t_start_ms", "t_end_ms").rows() == [("editor", 1000, 4000), ("browser", 4000, 9900)]
    labelled = FocusSplitter().label(samples, events)
    assert labelled.filter(pl.col("t_ms") < 1000)["app"].null_count() == 10
    assert labelled.filter(pl.col("t_ms") >= 4000)["app"].unique().to_list() == ["browser"]
    tasks = MarkerSplitter().label(samples, events)
    assert tasks.filter(pl.col("t_ms") == 2500)["task_label"].to_list() == ["copy"]
    assert tasks.filter(pl.col("t_ms") == 7000)["task_label"].to_list() == ["task2"]
    trials = MarkerSplitter().as_trials(samples, events)
    assert trials["trial"].unique().sort().to_list() == ["s1-copy-1", "s1-task2-2"] and trials["t_ms"].min() == 0


def test_balabit_sessions_yield_mm_pc_dd_actions_and_the_actions_table(tmp_path):
    store = Store.create(tmp_path / "st")
    report = ingest_files("balabit", [FIXTURES / "balabit" / "training_files"], store=store, study="balabit")
    log = store.read("ingest_log")
    assert (log["records_read"] == log["rows_stored"] + log["rows_quarantined"]).all() and log.height == 3
    assert report.rows["events"] > 0
    actions, summary = segment_store(store, study="balabit")
    assert set(actions["type"]) == {"MM", "PC", "DD"}
    stored = store.read("actions")
    assert stored.height == actions.height and set(stored["participant"]) == {"user12", "user29"}
    again, summary2 = segment_store(store, study="balabit")
    assert not summary2.changed  # idempotent
    drift = workday.drift(stored)
    assert drift["measure"].to_list() == ["straightness", "speed_mean", "pauses", "duration_ms"]
