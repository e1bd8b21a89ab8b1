"""Browser capture: the demo page in headless Chromium (playwright + Debian's /usr/bin/chromium), served from
127.0.0.1, driven along a known path; its JSON lines (downloaded and POSTed) are ingested and compared with
the driven path. Plus the reader's error messages."""

from __future__ import annotations

import importlib.util
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
from test_capture_support import mouselab, require

from mouselab.capture import WEB_DIR
from mouselab.ingest import FORMATS, IngestError
from mouselab.ingest.web import read_web_jsonl
from mouselab.store import Store

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


class _Handler(SimpleHTTPRequestHandler):
    posted: list[bytes]

    def do_POST(self):  # noqa: N802 — http.server naming
        length = int(self.headers.get("Content-Length", 0))
        self.server.posted.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(WEB_DIR)))
    httpd.posted = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser():
    require(importlib.util.find_spec("playwright"), "playwright is not installed (pip install -e '.[test]')")
    require(CHROMIUM.exists(), "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def _steps(start, end, steps):
    """The positions playwright's mouse.move(x, y, steps=n) dispatches (linear interpolation)."""
    return [(start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps) for i in range(1, steps + 1)]


def _on_polyline(p, points, tol=0.01):
    for a, b in zip(points, points[1:]):
        ax, ay, bx, by = *a, *b
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        u = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
        if ((ax + u * dx - p[0]) ** 2 + (ay + u * dy - p[1]) ** 2) ** 0.5 <= tol:
            return True
    return False


def test_demo_page_records_the_driven_path(browser, server, tmp_path):
    port = server.server_address[1]
    post = f"http://127.0.0.1:{port}/collect"
    page = browser.new_page(viewport={"width": 1000, "height": 700}, accept_downloads=True)
    page.goto(f"http://127.0.0.1:{port}/demo.html?study=webst&participant=P07&session=w1&trials=2&post={post}")
    assert page.evaluate("window.devicePixelRatio") == 1
    consent_box = page.locator("#consent-yes").bounding_box()
    here = (consent_box["x"] + 20, consent_box["y"] + 10)
    page.mouse.move(*here)
    page.mouse.down()
    page.mouse.up()
    driven = [here]  # every position the page was sent, in order
    rests = []  # positions held for several frames

    def move(to, steps):
        nonlocal here
        page.mouse.move(to[0], to[1], steps=steps)
        driven.extend(_steps(here, to, steps))
        here = to
        page.wait_for_timeout(80)
        rests.append(to)

    def click():
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(50)

    clicks = []
    boxes = {}
    for trial in range(2):
        start = page.locator("#start").bounding_box()
        boxes.setdefault("start", start)
        move((start["x"] + start["width"] / 2, start["y"] + start["height"] / 2), 6)
        click()
        clicks.append(here)
        side = "left" if trial == 0 else "right"
        target = page.locator(f"#{side}").bounding_box()
        boxes[side] = target
        goal = (target["x"] + target["width"] / 2, target["y"] + target["height"] / 2)
        for waypoint in [(here[0] + (goal[0] - here[0]) * f, here[1] + (goal[1] - here[1]) * f ** 0.5) for f in (0.25, 0.5, 0.75)]:
            move(waypoint, 4)
        move(goal, 4)
        if trial == 0:
            page.mouse.wheel(0, 200)
            page.wait_for_timeout(50)
        click()
        clicks.append(here)
    page.wait_for_function("window.mouselabDemo.done === true")
    assert page.evaluate("window.mouselabDemo.posted") is not None
    assert page.evaluate("window.mouselabDemo.posted.then(ok => ok)") is True
    with page.expect_download() as download:
        page.click("#download")
    downloaded = tmp_path / "P07.jsonl"
    download.value.save_as(downloaded)
    posted = tmp_path / "posted.jsonl"
    posted.write_bytes(b"".join(server.posted))

    # POSTed chunks and the download hold the same records (the download has them in one piece)
    assert sorted(posted.read_text().splitlines()) == sorted(downloaded.read_text().splitlines())
    assert "keystroke" not in downloaded.read_text() and "title" not in downloaded.read_text()

    store = tmp_path / "store"
    r = mouselab("ingest", "web", downloaded, "--store", store, "--study", "webst", "--on-error", "fail")
    assert r.returncode == 0, r.stderr
    st = Store(store)
    samples = st.read("samples").sort("session", "t_ms")
    events = st.read("events").sort("t_ms")
    trials = st.read("trials").sort("trial_index")
    assert samples["study"].unique().to_list() == ["webst"] and samples["participant"].unique().to_list() == ["P07"]
    assert trials["trial"].to_list() == ["w1-1", "w1-2"] and trials["response"].to_list() == ["left", "right"]
    assert trials["correct"].to_list() == [False, False]  # dolphin → mammal (right), shark → fish (left)
    # every sample lies on the driven path (CSS px, devicePixelRatio 1) and every rest point is sampled exactly
    points = list(zip(samples["x"].to_list(), samples["y"].to_list()))
    off = [p for p in points if not _on_polyline(p, driven)]
    assert not off, off[:5]
    for rest in rests:
        assert any(abs(p[0] - rest[0]) < 1e-3 and abs(p[1] - rest[1]) < 1e-3 for p in points), rest
    # within each trial the positions follow the driven order
    for trial in ("w1-1", "w1-2"):
        rows = samples.filter(pl.col("trial") == trial)
        j = 0
        for p in zip(rows["x"].to_list(), rows["y"].to_list()):  # a subsequence of the driven positions
            while j < len(driven) and not (abs(driven[j][0] - p[0]) < 1e-3 and abs(driven[j][1] - p[1]) < 1e-3):
                j += 1
            assert j < len(driven), f"{trial}: sample {p} out of the driven order"
        tt = samples.filter(pl.col("trial") == trial)["t_ms"]
        assert tt[0] == 0 and (tt.diff().drop_nulls() > 0).all()
    # frame-rate sampling while the pointer moves (~60 Hz in headless Chromium)
    moves = samples.filter(pl.col("event") == "move").sort("trial", "t_ms", nulls_last=True)
    dt = moves.select(pl.col("t_ms").diff().over("trial"))["t_ms"].drop_nulls()
    assert 12 < dt.median() < 21
    # clicks and the scroll, with positions
    downs = events.filter(pl.col("kind") == "click_down")
    assert downs.height == 4  # 2 × (start, response); the consent click came before capture started
    for x, y in clicks:
        expected = sum(1 for c in clicks if c == (x, y))  # the start button is clicked at the same place twice
        assert downs.filter(((pl.col("x") - x).abs() < 1e-3) & ((pl.col("y") - y).abs() < 1e-3)).height == expected
    scroll = events.filter(pl.col("kind") == "scroll")
    assert scroll.select("dx", "dy").rows() == [(0.0, 2.0)]  # 200 px = 2 wheel steps
    # target boxes: start button and the chosen response box, centre and size
    first = trials.row(0, named=True)
    assert first["start_x"] == pytest.approx(boxes["start"]["x"] + boxes["start"]["width"] / 2)
    assert first["target_x"] == pytest.approx(boxes["left"]["x"] + boxes["left"]["width"] / 2)
    assert first["target_w"] == pytest.approx(boxes["left"]["width"])
    assert first["box_right_w"] == pytest.approx(boxes["right"]["width"])
    # ingesting the POSTed copy gives the same tables
    for table, frame in read_web_jsonl(posted, study="webst").items():
        assert frame.equals(read_web_jsonl(downloaded, study="webst")[table]), table


def test_cli_ingest_web_and_its_one_line_errors(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _records()) + "\n")
    r = mouselab("ingest", "web", path, "--store", tmp_path / "store", "--study", "s", "--quiet")
    assert r.returncode == 0, r.stderr
    samples = Store(tmp_path / "store").read("samples")
    assert samples.height == 3 and samples["study"].unique().to_list() == ["s"]
    assert Store(tmp_path / "store").read("trials")["trial"].to_list() == ["t1"]
    bad = _records()
    bad[3]["x"] = "12px"
    path.write_text("\n".join(json.dumps(x) for x in bad) + "\n")
    r = mouselab("ingest", "web", path, "--store", tmp_path / "store2", "--quiet")
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1 and "w.jsonl, line 4, column 'x'" in r.stderr


def _records():
    return [
        {"n": 0, "type": "session", "format": "mouselab-web", "version": 1, "study": "s", "participant": "P1", "session": "w"},
        {"n": 1, "type": "sample", "t": 5.0, "x": 1, "y": 2, "event": "move", "buttons": 0, "trial": None},
        {"n": 2, "type": "trial_start", "trial": "t1", "index": 1, "t": 10.0, "targets": {"start": {"x": 0, "y": 0, "width": 10, "height": 10}}},
        {"n": 3, "type": "sample", "t": 10.0, "x": 3, "y": 4, "event": "move", "buttons": 0, "trial": "t1"},
        {"n": 4, "type": "sample", "t": 26.5, "x": 5, "y": 6, "event": "down", "buttons": 1, "trial": "t1"},
        {"n": 5, "type": "event", "t": 26.5, "kind": "click_down", "button": "left", "x": 5, "y": 6, "trial": "t1"},
        {"n": 6, "type": "trial_end", "trial": "t1", "t": 30.0, "response": "start", "correct": True},
    ]


def _write(tmp_path, records, extra_lines=()):
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reader_maps_times_to_trials_and_drops_repeated_records(tmp_path):
    records = _records()
    path = _write(tmp_path, records[:4] + records[2:3] + records[4:])  # n = 2 delivered twice
    assert FORMATS["web"][0] is read_web_jsonl
    frames = read_web_jsonl(path, study="s")
    s = frames["samples"].sort("trial", "t_ms", nulls_last=False)
    assert s.select("trial", "t_ms").rows() == [(None, 5.0), ("t1", 0.0), ("t1", 16.5)]
    assert frames["events"]["t_ms"].to_list() == [16.5]
    t = frames["trials"].row(0, named=True)
    assert (t["start_x"], t["target_x"], t["correct"]) == (5.0, 5.0, True)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.__setitem__(3, "{not json"), r"in.jsonl, line 4: not valid JSON"),
        (lambda r: r[3].pop("x"), r"line 4, column 'x': is missing; expected a finite number"),
        (lambda r: r[3].__setitem__("x", "12px"), r"line 4, column 'x': has '12px'"),
        (lambda r: r[4].__setitem__("t", 9.0), r"line 5, column 't': time -1 ms is earlier"),
        (lambda r: r[4].__setitem__("event", "hover"), r"line 5, column 'event': has 'hover'; expected one of move"),
        (lambda r: r[5].__setitem__("kind", "keypress"), r"line 6, column 'kind': has 'keypress'"),
        (lambda r: r[3].__setitem__("trial", "t9"), r"line 4, column 'trial': trial 't9' has no trial_start"),
        (lambda r: r[0].__setitem__("format", "other"), r"line 1, column 'format'"),
        (lambda r: r[0].__setitem__("participant", "Jane Doe"), r"line 1, column 'participant'"),
        (lambda r: r.__setitem__(2, {**r[2], "n": 1}), r"line 3, column 'n': record n = 1 appears again"),
        (lambda r: r[1].__setitem__("type", "keystroke"), r"line 2, column 'type': unknown record type 'keystroke'"),
    ],
)
def test_reader_errors_name_file_line_and_field(tmp_path, mutate, message):
    records = _records()
    mutate(records)
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    with pytest.raises(IngestError, match=message):
        read_web_jsonl(path, study="s")
