"""Session-level measures of free-use recordings: constructed sessions with known activity, clicks, scrolls,
repetitive bouts and drift, and the sample store's free-use sessions (through the API and the CLI)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from mouselab.measures import session_measures
from mouselab.measures.session import SessionParameters, movements, repetitive_bouts


def reach(t0: float, start: tuple[float, float], end: tuple[float, float], duration: float, *, step: float = 10.0):
    t = np.arange(0.0, duration + step / 2, step)
    s = t / duration
    prof = 10 * s**3 - 15 * s**4 + 6 * s**5
    return t0 + t, start[0] + (end[0] - start[0]) * prof, start[1] + (end[1] - start[1]) * prof


def session_frame(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], *, session: str = "free1") -> pl.DataFrame:
    t = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    y = np.concatenate([p[2] for p in parts])
    return pl.DataFrame({"study": "s", "participant": "p", "session": session, "trial": pl.Series([None] * t.size,
                         dtype=pl.String), "t_ms": t, "x": np.round(x), "y": np.round(y)})


def events(rows: list[tuple[float, str]], *, session: str = "free1", idle: list[tuple[float, float]] = ()) -> pl.DataFrame:
    data = [{"study": "s", "participant": "p", "session": session, "t_ms": t, "kind": k, "duration_ms": None}
            for t, k in rows]
    for a, b in idle:
        data += [{"study": "s", "participant": "p", "session": session, "t_ms": a, "kind": "idle_start",
                  "duration_ms": b - a},
                 {"study": "s", "participant": "p", "session": session, "t_ms": b, "kind": "idle_end",
                  "duration_ms": b - a}]
    return pl.DataFrame(data, schema={"study": pl.String, "participant": pl.String, "session": pl.String,
                                      "t_ms": pl.Float64, "kind": pl.String, "duration_ms": pl.Float64})


def test_activity_rates_and_idle_time() -> None:
    parts = [reach(0, (0, 0), (400, 0), 500), reach(1000, (400, 0), (400, 300), 500),
             reach(61_000, (400, 300), (0, 0), 500)]  # 60 s without input between the 2nd and 3rd reach
    ev = events([(500, "click_down"), (520, "click_up"), (1500, "click_down"), (1510, "click_up"),
                 (1600, "scroll"), (1700, "scroll"), (61_500, "click_down")], idle=[(2000, 40_000)])
    m = session_measures(session_frame(parts), ev).row(0, named=True)
    assert m["duration_ms"] == 61_500
    # idle: the marked 2 s .. 40 s plus the 60 s gap between inputs (1.7 s .. 61 s) -> union 1.7 s .. 61 s
    assert m["idle_time_ms"] == pytest.approx(61_000 - 1700)
    assert m["active_time_ms"] == pytest.approx(61_500 - (61_000 - 1700))
    active_min = m["active_time_ms"] / 60_000
    assert m["clicks"] == 3 and m["click_rate_per_min"] == pytest.approx(3 / active_min)
    assert m["scrolls"] == 2 and m["scroll_rate_per_min"] == pytest.approx(2 / active_min)
    assert m["movement_px"] == pytest.approx(400 + 300 + 500, rel=0.01)  # the step across the gap excluded
    assert m["movements"] == 3 and m["repetitive_bouts"] == 0
    longer = session_measures(session_frame(parts), ev, idle_gap_ms=120_000).row(0, named=True)
    assert longer["idle_time_ms"] == pytest.approx(38_000)


def test_repetitive_back_and_forth_is_one_bout() -> None:
    params = SessionParameters()
    # 6 strokes of 80 px, 150 ms each, along x: a scrubbing motion; then one long reach
    t = np.arange(0, 900, 10.0)
    x = 200 + 40 * np.sin(2 * np.pi * t / 300)
    y = np.full_like(t, 100.0)
    tt, xx, yy = reach(2000, (240, 100), (900, 500), 700)
    t_all, x_all, y_all = np.concatenate([t, tt]), np.round(np.concatenate([x, xx])), np.concatenate([y, yy])
    bouts = repetitive_bouts(t_all, x_all, y_all, params=params)
    assert len(bouts) == 1
    a, b = bouts[0]
    assert 0 <= a <= 100 and 700 <= b <= 900
    # slow back-and-forth (strokes of 600 ms) or tiny wiggles are not repetitive bouts
    slow = 200 + 40 * np.sin(2 * np.pi * np.arange(0, 3600, 10.0) / 1200)
    assert repetitive_bouts(np.arange(0, 3600, 10.0), np.round(slow), np.zeros(360), params=params) == []
    tiny = 200 + 5 * np.sin(2 * np.pi * t / 300)
    assert repetitive_bouts(t, np.round(tiny), y, params=params) == []
    m = session_measures(session_frame([(t, x, y), (tt, xx, yy)])).row(0, named=True)
    assert m["repetitive_bouts"] == 1 and m["repetitive_time_ms"] == pytest.approx(b - a)


def test_drift_slopes_recover_planted_slowing() -> None:
    parts = []
    t0 = 0.0
    rng = np.random.default_rng(3)
    for i in range(40):  # one reach every 15 s; duration grows 500 -> ~1280 ms (slowing down)
        duration = 500 + 20 * i
        start, end = (100.0, 100.0), (100.0 + 400 * (-1) ** i, 100.0 + rng.uniform(0, 50))
        parts.append(reach(t0, start if i % 2 == 0 else end, end if i % 2 == 0 else start, duration))
        t0 += 15_000
    m = session_measures(session_frame(parts)).row(0, named=True)
    assert m["movements"] == 40
    assert m["speed_drift_per_min"] < 0
    # speed ~ 400 px / duration; expected slope of speed on minutes (4 reaches per minute)
    minutes = np.arange(40) * 0.25
    speeds = np.array([np.hypot(*np.subtract(*[(0, 0), (400, 0)])) / (500 + 20 * i) for i in range(40)])
    assert m["speed_drift_per_min"] == pytest.approx(np.polyfit(minutes, speeds, 1)[0], rel=0.1)
    assert abs(m["efficiency_drift_per_min"]) < 1e-3  # straight reaches all along
    assert m["hesitation_drift_per_min"] == pytest.approx(0.0)


def test_movements_collapse_still_samples_like_event_driven_recording() -> None:
    params = SessionParameters()
    t, x, y = reach(0, (0, 0), (300, 0), 400)
    polled_t = np.concatenate([t, t[-1] + np.arange(10, 1000, 10.0), t + 1400])
    polled_x = np.concatenate([x, np.full(99, x[-1]), x[::-1]])
    polled_y = np.zeros_like(polled_x)
    mv = movements(polled_t, np.round(polled_x), polled_y, params=params)
    assert mv["start"].size == 2


def test_sample_store_free_use_sessions(sample_store) -> None:
    from mouselab.store import Store
    from mouselab.study import session_measures as study_sessions

    out = study_sessions(Store(sample_store))
    assert out.height == 3 and set(out["session"]) == {"free1"}
    assert (out["active_time_ms"] + out["idle_time_ms"] - out["duration_ms"]).abs().max() < 1e-6
    assert (out["idle_time_ms"] > 0).all() and (out["clicks"] > 0).all() and (out["movements"] > 10).all()
    assert out["click_rate_per_min"].is_between(1, 120).all()


def test_cli_session_measures(sample_store, tmp_path) -> None:
    out = tmp_path / "sessions.csv"
    r = subprocess.run([sys.executable, "-m", "mouselab", "measures", "session", "--store", str(sample_store),
                        "--param", "idle_gap_ms=60000", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    table = pl.read_csv(out)
    assert table.height == 3 and "repetitive_bouts" in table.columns
    bad = subprocess.run([sys.executable, "-m", "mouselab", "measures", "session", "--store", str(sample_store),
                          "--param", "nope=1", "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown parameter" in bad.stderr and "Traceback" not in bad.stderr
