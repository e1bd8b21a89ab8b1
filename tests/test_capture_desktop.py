"""The desktop agent end to end under Xvfb: the real X pointer is driven by xdotool while
``python -m mouselab capture start`` runs as a subprocess; the store is then checked sample by sample."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import time
from datetime import datetime

import polars as pl
import pytest
from test_capture_support import (
    PARTICIPANT,
    STUDY,
    all_bytes,
    decoded_text,
    finish,
    grant,
    mouselab,
    start_agent,
    status,
    wait_for,
    xdisplay,  # noqa: F401 — fixture
    xdo,
)

from mouselab.store import Store

TYPED = "zqxjvkeystrokes"
TITLE = "Confidential-Title-7731"
WM_CLASS = ("secretapp-inst", "SecretApp-Klass")
PERIOD_MS = 1000 / 60


def _focused_window(display: str):
    """An X window with a secret title and class, given the input focus (there is no window manager)."""
    from Xlib import X
    from Xlib import display as xdisplay_mod

    d = xdisplay_mod.Display(display)
    screen = d.screen()
    win = screen.root.create_window(40, 40, 200, 120, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                    background_pixel=screen.white_pixel)
    win.set_wm_name(TITLE)
    win.change_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"), 8, TITLE.encode())
    win.set_wm_class(*WM_CLASS)
    win.map()
    d.sync()
    time.sleep(0.1)
    win.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
    d.sync()
    return d, win


def _samples(store, session="s1") -> pl.DataFrame:
    return Store(store).read("samples").filter(pl.col("session") == session).sort("t_ms")


def _events(store, session="s1") -> pl.DataFrame:
    return Store(store).read("events").filter(pl.col("session") == session).sort("t_ms")


def _runs(frame: pl.DataFrame) -> list[tuple[tuple[float, float], int]]:
    """Consecutive runs of identical (x, y): [(position, number of samples)]."""
    out: list[tuple[tuple[float, float], int]] = []
    for x, y in zip(frame["x"].to_list(), frame["y"].to_list()):
        if out and out[-1][0] == (x, y):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append(((x, y), 1))
    return out


def test_pointer_path_rate_clicks_scrolls_focus_and_no_keystrokes(xdisplay, tmp_path):
    store = tmp_path / "store"
    grant(store)
    conn, _win = _focused_window(xdisplay)
    xdo(xdisplay, "mousemove", 640, 400)
    agent = start_agent(store, xdisplay, "--flush-s", 1, "--idle-threshold-ms", 60000)
    try:
        path = [(100 + 37 * i, 90 + 23 * i) for i in range(20)]
        steps = []
        for x, y in path:
            steps += ["mousemove", x, y, "sleep", 0.1]
        xdo(xdisplay, *steps)
        # left, right, middle click; wheel up, down, left, right — all at the last path point
        xdo(xdisplay, "click", 1, "sleep", 0.1, "click", 3, "sleep", 0.1, "click", 2, "sleep", 0.1,
            "click", 4, "sleep", 0.1, "click", 5, "sleep", 0.1, "click", 6, "sleep", 0.1, "click", 7, "sleep", 0.2)
        xdo(xdisplay, "type", "--delay", 15, TYPED)
        xdo(xdisplay, "key", "Return", "sleep", 0.3)
        r = mouselab("capture", "stop", "--store", store)
        assert r.returncode == 0, r.stderr
        assert "stopped (stopped by user)" in r.stdout
    finally:
        code, out, err = finish(agent)
        conn.close()
    assert code == 0, err

    samples = _samples(store)
    events = _events(store)
    assert samples["trial"].null_count() == samples.height and samples["study"].unique().to_list() == [STUDY]
    # steady rate: 60 Hz within 5 %, by median interval and by count over the span
    dt = samples["t_ms"].diff().drop_nulls()
    assert abs(dt.median() - PERIOD_MS) / PERIOD_MS < 0.05, dt.describe()
    span_s = (samples["t_ms"].max() - samples["t_ms"].min()) / 1000
    gaps = samples.with_columns(pl.col("t_ms").diff().alias("dt")).filter(pl.col("dt") > 2 * PERIOD_MS)
    assert abs((samples.height - 1) / span_s - 60) / 60 < 0.05, (status(store), gaps.select("t_ms", "dt", "x", "y"))
    assert (dt > 0).all()
    # the samples at each xdotool position hold exactly those coordinates, in the driven order
    runs = _runs(samples)
    positions = [p for p, _ in runs]
    assert positions[0] == (640.0, 400.0)
    first = positions.index((float(path[0][0]), float(path[0][1])))
    assert positions[first:first + len(path)] == [(float(x), float(y)) for x, y in path]
    assert all(p == positions[first + len(path) - 1] for p in positions[first + len(path):])
    assert all(n >= 2 for _, n in runs[first:first + len(path) - 1]), (runs, status(store))  # ~6 per 100 ms dwell
    assert set(samples["event"].unique()) <= {"move", "drag"}
    # every click and scroll, at the pointer position
    last = (float(path[-1][0]), float(path[-1][1]))
    clicks = events.filter(pl.col("kind").is_in(["click_down", "click_up"]))
    assert clicks.select("kind", "button").rows() == [
        ("click_down", "left"), ("click_up", "left"), ("click_down", "right"), ("click_up", "right"),
        ("click_down", "middle"), ("click_up", "middle"),
    ]
    assert set(zip(clicks["x"], clicks["y"])) == {last}
    scrolls = events.filter(pl.col("kind") == "scroll")
    assert scrolls.select("dx", "dy").rows() == [(0.0, -1.0), (0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)]
    assert set(zip(scrolls["x"], scrolls["y"])) == {last}
    # focus: the window's class as a keyed pseudonym, never the class or the title
    key = (store / "capture" / "app.key").read_bytes()
    expected = "app-" + hmac.new(key, WM_CLASS[1].lower().encode(), hashlib.sha256).hexdigest()[:16]
    assert events.filter(pl.col("kind") == "focus")["app"].to_list() == [expected]
    # no keystroke, no title, no window class anywhere: raw bytes of every file and decoded Parquet values
    needles = [TYPED, TITLE, WM_CLASS[0], WM_CLASS[1], "Return"]
    for path_, data in all_bytes(store):
        for needle in needles:
            assert needle.lower().encode() not in data.lower(), f"{needle!r} found in {path_}"
    text = decoded_text(store).lower() + (out + err).lower()
    for needle in needles:
        assert needle.lower() not in text
    assert not events.filter(pl.col("kind").is_in(["idle_start", "idle_end"])).height
    # the session metadata: screen geometry, clock anchors
    meta = (store / "capture" / "sessions" / STUDY / PARTICIPANT / "s1.json").read_text()
    assert '"width_px": 1280' in meta and '"height_px": 800' in meta and '"scale"' in meta
    assert Store(store).verify() == []
    assert not (store / "capture" / "spool" / STUDY).exists()  # committed and cleaned up


def test_kill_9_loses_only_the_unflushed_window(xdisplay, tmp_path):
    from mouselab.capture import spool

    store = tmp_path / "store"
    grant(store)
    agent = start_agent(store, xdisplay, "--flush-s", 0.25, "--commit-s", 0, "--idle-threshold-ms", 60000)
    steps = []
    for i in range(30):
        steps += ["mousemove", 200 + 10 * i, 300 + 5 * i, "sleep", 0.05]
    xdo(xdisplay, *steps)
    wait_for(lambda: status(store).get("segments", 0) >= 5, 10, "five flushed segments")
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(10)
    assert agent.returncode == -signal.SIGKILL
    folder = store / "capture" / "spool" / STUDY / PARTICIPANT / "s1"
    # an interrupted segment write leaves only a temporary file, which is never read
    (folder / ".000999.samples.seg.tmp").write_bytes(b"PAR1 torn")
    last_status = status(store)
    assert spool.verify(folder) == []
    frames = spool.read(folder)
    rows = spool.rows(folder)
    assert frames["samples"].height == rows["samples"] >= last_status["samples_written"] > 0
    t = frames["samples"]["t_ms"]
    assert (t.diff().drop_nulls() > 0).all()
    assert abs(t.diff().median() - PERIOD_MS) / PERIOD_MS < 0.05
    # the store itself was never touched by the killed agent and verifies clean
    assert Store(store).verify() == []
    assert mouselab("store", "verify", store).returncode == 0
    r = mouselab("capture", "status", "--store", store)
    assert r.returncode == 0 and "not running" in r.stdout
    # recovery commits every flushed segment
    r = mouselab("capture", "recover", "--store", store)
    assert r.returncode == 0, r.stderr
    assert "1 session(s) recovered" in r.stdout
    stored = _samples(store)
    assert stored.height == rows["samples"]
    assert stored["t_ms"].to_list() == frames["samples"]["t_ms"].to_list()
    assert Store(store).verify() == [] and not folder.exists()
    assert mouselab("store", "verify", store).returncode == 0


def test_idle_pause_resume_and_status(xdisplay, tmp_path):
    store = tmp_path / "store"
    grant(store)
    agent = start_agent(store, xdisplay, "--flush-s", 0.5, "--idle-threshold-ms", 400)
    try:
        xdo(xdisplay, "mousemove", 300, 300, "sleep", 0.2, "mousemove", 310, 300, "sleep", 1.5, "mousemove", 320, 300, "sleep", 0.3)
        r = mouselab("capture", "status", "--store", store)
        assert r.returncode == 0, r.stderr
        for word in ("state", "recording", "Hz achieved", "samples", "last flush"):
            assert word in r.stdout
        r = mouselab("capture", "pause", "--store", store)
        assert r.returncode == 0 and "paused" in r.stdout, r.stderr
        xdo(xdisplay, "mousemove", 777, 555, "sleep", 0.3, "click", 1, "sleep", 0.3)
        r = mouselab("capture", "resume", "--store", store)
        assert r.returncode == 0 and "recording" in r.stdout, r.stderr
        xdo(xdisplay, "mousemove", 330, 300, "sleep", 0.3)
        r = mouselab("capture", "stop", "--store", store)
        assert r.returncode == 0, r.stderr
    finally:
        code, _, err = finish(agent)
    assert code == 0, err
    samples, events = _samples(store), _events(store)
    idle = events.filter(pl.col("kind").is_in(["idle_start", "idle_end"]))
    assert idle["kind"].to_list()[:2] == ["idle_start", "idle_end"]
    start, end = idle["t_ms"][0], idle["t_ms"][1]
    assert 1300 < idle["duration_ms"][1] < 1800 and idle["duration_ms"][1] == pytest.approx(end - start)
    # no repeated samples while idle: nothing between (idle start + threshold + one period) and idle end
    gap = samples.filter((pl.col("t_ms") > start + 400 + 2 * PERIOD_MS) & (pl.col("t_ms") < end))
    assert gap.height == 0
    assert (320.0, 300.0) in set(zip(samples["x"], samples["y"]))
    # nothing recorded while paused (the click is lost; the position moved to is sampled after resume)
    import json

    meta = json.loads((store / "capture" / "sessions" / STUDY / PARTICIPANT / "s1.json").read_text())
    (pause,) = meta["pauses"]
    assert 500 < pause["end_t_ms"] - pause["start_t_ms"] < 2000
    assert samples.filter(pl.col("t_ms").is_between(pause["start_t_ms"], pause["end_t_ms"], closed="none")).height == 0
    assert events.filter(pl.col("t_ms").is_between(pause["start_t_ms"], pause["end_t_ms"], closed="none")).height == 0
    assert events.filter(pl.col("kind") == "click_down").height == 0
    moved = samples.filter((pl.col("x") == 777.0) & (pl.col("y") == 555.0))
    assert moved.height and moved["t_ms"].min() >= pause["end_t_ms"]
    final = status(store)
    assert final["state"] == "stopped" and final["samples_committed"] == samples.height


def test_capture_stops_when_consent_is_withdrawn(xdisplay, tmp_path):
    from mouselab.privacy import consent

    store = tmp_path / "store"
    grant(store)
    xdo(xdisplay, "mousemove", 50, 50)
    agent = start_agent(store, xdisplay, "--flush-s", 0.5, "--idle-threshold-ms", 60000)
    xdo(xdisplay, "mousemove", 100, 100, "sleep", 0.3, "mousemove", 200, 100, "sleep", 0.3)
    # the registry entry alone (the CLI also stops the agent and erases: tests/test_consent.py); this test
    # pins the agent's own stop-on-withdrawal and that nothing after the withdrawal is kept
    consent.withdraw(store, PARTICIPANT, STUDY)
    withdrawn_at = datetime.fromisoformat(consent.records(store)[-1].at).timestamp()
    t_withdraw = time.monotonic()
    try:
        for i in range(12):  # keep moving: nothing after the withdrawal may be kept
            if agent.poll() is not None:
                break
            xdo(xdisplay, "mousemove", 300 + i, 100, "sleep", 0.1)
        code, _, err = finish(agent, timeout=10)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert time.monotonic() - t_withdraw < 3.0
    assert code == 0, err
    assert status(store)["stop_reason"] == "consent withdrawn"
    samples = _samples(store)
    assert samples.height > 0
    import json

    meta = json.loads((store / "capture" / "sessions" / STUDY / PARTICIPANT / "s1.json").read_text())
    wall0 = meta["anchors"][0]["wall_ns"] / 1e9
    assert wall0 + samples["t_ms"].max() / 1000 <= withdrawn_at + 0.001
    assert not any(x >= 300 for x in samples["x"].to_list())
    # and a new session is refused while consent stays withdrawn
    r = mouselab("capture", "start", "--store", store, "--study", STUDY, "--participant", PARTICIPANT,
                 env={"DISPLAY": xdisplay})
    assert r.returncode != 0 and "withdrawn" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_detached_agent_is_controlled_from_the_command_line(xdisplay, tmp_path):
    store = tmp_path / "store"
    grant(store)
    env = {"DISPLAY": xdisplay}
    r = mouselab("capture", "start", "--store", store, "--study", STUDY, "--participant", PARTICIPANT,
                 "--session", "bg", "--flush-s", 0.5, "--detach", env=env)
    assert r.returncode == 0, r.stderr
    assert "running in the background" in r.stdout
    pid = status(store)["pid"]
    try:
        r = mouselab("capture", "start", "--store", store, "--study", STUDY, "--participant", PARTICIPANT, env=env)
        assert r.returncode != 0 and "already running" in r.stderr
        xdo(xdisplay, "mousemove", 10, 10, "sleep", 0.3, "mousemove", 20, 20, "sleep", 0.6)
        r = mouselab("capture", "status", "--store", store, "--json")
        info = __import__("json").loads(r.stdout)
        assert info["running"] and info["state"] == "recording" and info["samples_written"] > 0
        r = mouselab("capture", "stop", "--store", store)
        assert r.returncode == 0 and "stopped (stopped by user)" in r.stdout, r.stderr
    finally:
        if status(store).get("state") != "stopped":
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2], 10,
             "the detached agent to exit")
    assert _samples(store, "bg").height > 0
    r = mouselab("capture", "pause", "--store", store)
    assert r.returncode != 0 and "no capture agent is running" in r.stderr


def test_libx11_and_python_xlib_probes_agree(xdisplay, monkeypatch):
    """Both pointer / focus probes (libX11 via ctypes, python-xlib as fallback) read the same values."""
    from mouselab.capture.desktop import LibX11Probe, X11Probe

    monkeypatch.setenv("DISPLAY", xdisplay)
    conn, win = _focused_window(xdisplay)
    probes = [LibX11Probe(), X11Probe()]
    try:
        xdo(xdisplay, "mousemove", 123, 456)
        assert [p.pointer() for p in probes] == [(123.0, 456.0, 0)] * 2
        assert [p.focused_class() for p in probes] == [WM_CLASS[1]] * 2
        win.destroy()  # focus on a window that no longer exists: nothing, and no crash
        conn.sync()
        assert [p.focused_class() for p in probes] == [None, None]
        assert probes[1].screen()["width_px"] == 1280
    finally:
        for p in probes:
            p.close()
        conn.close()
