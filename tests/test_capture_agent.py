"""The capture agent's logic with a scripted pointer (no X server): steady clock, idle periods, events,
consent withdrawal, segments and commit — plus the promise that no keyboard code exists at all."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from mouselab.capture.agent import CaptureConfig, run_capture
from mouselab.privacy import consent
from mouselab.store import Store

ROOT = Path(__file__).resolve().parents[1]


class ScriptedPointer:
    """A backend whose pointer follows ``path(t_seconds) -> (x, y)``; clicks and scrolls are injected."""

    name = "scripted"

    def __init__(self, path, app_class="Firefox"):
        self.path = path
        self.app_class = app_class
        self.t_start = None
        self.timers = []  # (seconds after the first sample, function)

    def later(self, seconds, fn):
        self.timers.append((seconds, fn))

    def start(self, on_click, on_scroll):
        self.on_click, self.on_scroll = on_click, on_scroll

    def stop(self):
        pass

    def position(self):
        if self.t_start is None:  # the first sample is taken at the session's t0
            self.t_start = time.monotonic()
            for seconds, fn in self.timers:
                _later(seconds, fn)
        return self.path(time.monotonic() - self.t_start)

    def focused_class(self):
        return self.app_class

    def screen(self):
        return {"display_server": "scripted", "width_px": 1000, "height_px": 800, "scale": 1.0}


def _later(seconds, fn):
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()
    return timer


def _config(store, **kw):
    base = dict(store=store, study="st", participant="P01", session="s1", commit_s=0)
    return CaptureConfig(**{**base, **kw})


def test_steady_clock_idle_periods_and_events(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "st")

    def path(t):  # moves for 0.5 s, rests until 1.2 s, moves again
        if t < 0.5:
            return (100 + 200 * t, 100.0)
        if t < 1.2:
            return (200.0, 100.0)
        return (200 + 100 * (t - 1.2), 150.0)

    backend = ScriptedPointer(path)
    backend.later(1.5, lambda: backend.on_click(250.0, 150.0, "left", True))
    backend.later(1.55, lambda: backend.on_click(250.0, 150.0, "left", False))
    backend.later(1.6, lambda: backend.on_scroll(250.0, 150.0, 0.0, 2.0))
    status = run_capture(_config(store, rate_hz=100, flush_s=0.3, idle_threshold_ms=300, duration_s=2.0,
                                 app_mode="category"), backend=backend)
    assert status["state"] == "stopped" and status["stop_reason"] == "duration reached" and status["exit_code"] == 0
    samples = Store(store).read("samples").sort("t_ms")
    events = Store(store).read("events").sort("t_ms")
    t = samples["t_ms"]
    # deadlines come from the start time: intervals are 10 ms and the phase does not drift
    assert t.diff().drop_nulls().median() == pytest.approx(10, abs=0.5)
    assert (t % 10).median() < 2.0
    assert t.max() > 1950
    # idle: idle_start dated at the last movement (~0.5 s), no samples until the pointer moves at 1.2 s
    kinds = events["kind"].to_list()
    assert kinds[0] == "focus" and events["app"][0] == "browser"
    idle_start = events.filter(pl.col("kind") == "idle_start")["t_ms"][0]
    idle_end = events.filter(pl.col("kind") == "idle_end")
    script_t0 = t[0]  # the scripted path's clock starts at the first sample
    assert idle_start - script_t0 == pytest.approx(500, abs=30)
    assert idle_end["t_ms"][0] - script_t0 == pytest.approx(1200, abs=30)
    assert idle_end["duration_ms"][0] == pytest.approx(idle_end["t_ms"][0] - idle_start)
    assert samples.filter(pl.col("t_ms").is_between(idle_start + 300 + 15, idle_end["t_ms"][0] - 1)).height == 0
    assert status["ticks"] > samples.height  # ticks continued while idle, samples did not
    clicks = events.filter(pl.col("kind").str.starts_with("click"))
    assert clicks.select("kind", "button", "x", "y").rows() == [("click_down", "left", 250.0, 150.0), ("click_up", "left", 250.0, 150.0)]
    assert events.filter(pl.col("kind") == "scroll").select("dx", "dy").rows() == [(0.0, 2.0)]
    # the buttons bitmask follows the listener between press and release
    pressed = samples.filter(pl.col("t_ms").is_between(clicks["t_ms"][0] + 1, clicks["t_ms"][1] - 1))
    assert pressed.height == 0 or (pressed["buttons"] == 1).all() and (pressed["event"] == "drag").all()
    assert Store(store).verify() == []


def test_withdrawal_drops_later_rows_and_stops(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "st")
    backend = ScriptedPointer(lambda t: (10 * t, 0.0))
    when = {}

    def withdraw():
        when["at"] = consent.withdraw(store, "P01", "st").at

    backend.later(0.6, withdraw)
    status = run_capture(_config(store, rate_hz=50, flush_s=0.2, duration_s=10), backend=backend)
    assert status["ticks"] < 50 * 1.5  # stopped within a flush or two of the withdrawal
    assert status["stop_reason"] == "consent withdrawn" and status["exit_code"] == 0
    samples = Store(store).read("samples")
    meta = __import__("json").loads((store / "capture" / "sessions" / "st" / "P01" / "s1.json").read_text())
    wall0 = meta["anchors"][0]["wall_ns"] / 1e9
    withdrawn = datetime.fromisoformat(when["at"]).timestamp()
    assert samples.height > 10
    assert wall0 + samples["t_ms"].max() / 1000 <= withdrawn + 0.001
    assert samples["t_ms"].max() > 400  # what came before the withdrawal is kept


def test_session_ids_are_never_reused(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "st")
    run_capture(_config(store, rate_hz=20, flush_s=0.1, duration_s=0.3), backend=ScriptedPointer(lambda t: (t, t)))
    with pytest.raises(ValueError, match="already exists"):
        run_capture(_config(store, rate_hz=20, duration_s=0.3), backend=ScriptedPointer(lambda t: (t, t)))


def test_config_is_validated(tmp_path):
    with pytest.raises(ValueError, match="rate_hz"):
        _config(tmp_path, rate_hz=0).validated()
    with pytest.raises(ValueError, match="participant"):
        _config(tmp_path, participant="Jane Doe").validated()
    generated = _config(tmp_path, session=None).validated().session
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", generated)


def test_no_keyboard_code_anywhere_in_capture():
    """No keyboard listener, no key events: not in the Python agent, not in the browser snippet."""
    python = sorted((ROOT / "mouselab" / "capture").rglob("*.py")) + [ROOT / "mouselab" / "cli" / "capture.py"]
    forbidden_py = re.compile(r"pynput\s*\.\s*keyboard|from\s+pynput\s+import\s+[^\n]*keyboard|keyboard\s*\.\s*Listener"
                              r"|on_press|on_release|KeyPress|KeyRelease")
    for path in python:
        code = path.read_text()
        assert not forbidden_py.search(code), f"{path} mentions keyboard capture"
    js = (ROOT / "mouselab" / "capture" / "web" / "mouselab-capture.js").read_text()
    demo = (ROOT / "mouselab" / "capture" / "web" / "demo.html").read_text()
    for text in (js, demo):
        assert not re.search(r"""["'](keydown|keyup|keypress|input|beforeinput|compositionstart)["']""", text)
        assert "document.title" not in text and ".value" not in text


@pytest.mark.parametrize("args", [["capture"], ["capture", "start"], ["capture", "stop"], ["capture", "status"],
                                  ["capture", "pause"], ["capture", "resume"], ["capture", "recover"],
                                  ["capture", "consent"], ["capture", "consent", "grant"], ["capture", "web"]])
def test_every_capture_command_has_help(args):
    from test_capture_support import mouselab

    r = mouselab(*args, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout and len(r.stdout.splitlines()) > 3


def test_web_assets_are_copied(tmp_path):
    from test_capture_support import mouselab

    r = mouselab("capture", "web", "--out", tmp_path / "site")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "mouselab-capture.js").read_text().startswith("/*")
    assert "mouselab-capture.js" in (tmp_path / "site" / "demo.html").read_text()
