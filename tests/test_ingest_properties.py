"""Property tests: the quarantined records are exactly the injected defects, with the injected reasons; the
stored rows are exactly the clean records (no silently wrong row); the result does not depend on how the
file is cut into batches.

Defects are single bad records, *runs* of bad records (a clock spike or a teleport lasting several samples,
a stretch written in seconds in a millisecond file) and clock *steps* (every later timestamp shifted:
only the boundary record is quarantined and the later records are stored as the next session segment).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.ingest import read_files
from mouselab.ingest.validate import SPLIT_MARK, ValidationOptions

MAP = {"mapping": "participant=user,t=time,x=posX,y=posY", "time_unit": "ms"}
R = ValidationOptions().max_run_samples
SESSION = "rec"  # the generic reader's default session: the file name

# single-record defects: kind -> (reason, function(row, previous row) -> new line text)
DEFECTS = {
    "non_numeric": ("non_numeric", lambda r, p: f"{r[0]},{r[1]},abc,{r[3]}"),
    "missing": ("missing_value", lambda r, p: f"{r[0]},{r[1]},{r[2]},"),
    "nan": ("non_finite", lambda r, p: f"{r[0]},{r[1]},nan,{r[3]}"),
    "inf_time": ("non_finite", lambda r, p: f"{r[0]},inf,{r[2]},{r[3]}"),
    "sentinel": ("sentinel_coordinate", lambda r, p: f"{r[0]},{r[1]},65535,{r[3]}"),
    "off_screen": ("out_of_screen", lambda r, p: f"{r[0]},{r[1]},{r[2]},50000"),
    "duplicate": ("duplicate_timestamp", lambda r, p: f"{r[0]},{p[1]},{r[2]},{r[3]}"),
    "backwards": ("non_monotonic_timestamp", lambda r, p: f"{r[0]},{p[1] - 3},{r[2]},{r[3]}"),
    "clock_spike": ("clock_jump", lambda r, p: f"{r[0]},{r[1] + 50_000_000},{r[2]},{r[3]}"),
    "teleport": ("impossible_speed", lambda r, p: f"{r[0]},{r[1]},{r[2] + 6000},{r[3] - 3000}"),
    "truncated": ("truncated_line", lambda r, p: f"{r[0]},{r[1]},{r[2]}"),
    "extra": ("extra_fields", lambda r, p: f"{r[0]},{r[1]},{r[2]},{r[3]},7"),
    "injection": ("csv_injection", lambda r, p: f"=cmd,{r[1]},{r[2]},{r[3]}"),
    "bad_id": ("invalid_identifier", lambda r, p: f"U 1,{r[1]},{r[2]},{r[3]}"),
    "broken_quote": ("malformed_record", lambda r, p: f'"{r[0]},{r[1]},{r[2]},{r[3]}'),
    "latin1": ("encoding", None),
}
# runs of 2–4 bad records: kind -> (reason, function(row) -> new line text)
RUNS = {
    "clock_run": ("clock_jump", lambda r: f"{r[0]},{r[1] + 50_000_000},{r[2]},{r[3]}"),
    "teleport_run": ("impossible_speed", lambda r: f"{r[0]},{r[1]},{r[2] + 6000},{r[3] - 3000}"),
    "seconds_run": ("unit_mismatch", lambda r: f"{r[0]},{r[1] / 1000:.3f},{r[2]},{r[3]}"),
}
# clock steps: kind -> (reason of the boundary record, shift of every later timestamp in ms)
STEPS = {
    "step_forward": ("clock_jump", 50_000_000),     # more than clock_jump_ms forward, for good
    "step_back": ("clock_jump", -70_000_000),       # more than clock_jump_ms back, for good
    "step_back_small": ("non_monotonic_timestamp", -5_000),  # back by less, but for longer than R samples
}


@st.composite
def recordings(draw, runs: bool = True):
    """A clean recording with defects put in. Returns the file's lines, the expected quarantine rows
    ``(line, reason)``, the expected stored rows ``(session, t, x, y)`` and a batch size."""
    n = draw(st.integers(30, 160))
    low, high = draw(st.sampled_from([(4, 40), (60, 160)]))  # 25–250 Hz, or ~10 Hz like the Balabit data
    steps = draw(st.lists(st.integers(low, high), min_size=n, max_size=n))
    moves = draw(st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=n, max_size=n))
    t, x, y = draw(st.sampled_from([-4, 1000])), draw(st.integers(-2000, 3000)), draw(st.integers(-500, 2000))
    rows = []
    for dt, (dx, dy) in zip(steps, moves):
        t, x, y = t + dt, x + dx, y + dy
        rows.append(["U1", t, x, y])
    kinds = sorted(DEFECTS) + (sorted(RUNS) + sorted(STEPS) if runs else [])
    plan = draw(st.lists(st.tuples(st.sampled_from(kinds), st.integers(2, 4), st.integers(0, 6)), max_size=12))
    # place the defects left to right, at least two clean records apart (steps need R clean records around)
    defects: dict[int, tuple[str, int]] = {}  # first record -> (kind, length)
    pos, last_end = 2, -100
    for kind, length, gap in plan:
        pos += gap
        if kind in STEPS:
            if pos - last_end < R + 3 or pos < R + 2 or pos > n - R - 3:
                continue
            length = 1
        elif kind in RUNS:
            if pos + length > n - 2 or (kind == "seconds_run" and pos < 20):
                continue
        else:
            length = 1
            if pos > n - 3:
                continue
        defects[pos] = (kind, length)
        last_end = pos + length - 1
        pos += length + 2
    # clock steps shift every later timestamp (defects after a step are made from the shifted records)
    segment = [0] * n
    for start, (kind, _) in sorted(defects.items()):
        if kind in STEPS:
            for i in range(start, n):
                rows[i][1] += STEPS[kind][1]
                segment[i] += 1 if i > start else 0
    lines: list[bytes] = [b"user,time,posX,posY"]
    expected, bad = [], set()
    starts = {i: defects[i] for i in defects}
    i = 0
    while i < n:
        kind, length = starts.get(i, (None, 1))
        r, p = rows[i], rows[i - 1]
        if kind is None:
            lines.append(",".join(map(str, r)).encode())
        elif kind == "latin1":
            lines.append(f"U\xe91,{r[1]},{r[2]},{r[3]}".encode("latin-1"))
        elif kind in DEFECTS:
            lines.append(DEFECTS[kind][1](r, p).encode())
        elif kind in RUNS:
            for k in range(length):
                lines.append(RUNS[kind][1](rows[i + k]).encode())
        else:  # a step: the boundary record is the first shifted one
            lines.append(",".join(map(str, r)).encode())
        reason = (DEFECTS.get(kind) or RUNS.get(kind) or STEPS.get(kind) or (None,))[0]
        for k in range(length if kind is not None else 0):
            expected.append((i + k + 2, reason))
            bad.add(i + k)
        i += length if kind is not None else 1
    stored = [(SESSION if segment[i] == 0 else f"{SESSION}{SPLIT_MARK}{segment[i] + 1}", float(r[1]), float(r[2]), float(r[3]))
              for i, r in enumerate(rows) if i not in bad]
    chunk = draw(st.sampled_from([300, 1500, 1 << 20]))
    return lines, sorted(expected), stored, chunk


def _write(tmp_path_factory, lines: list[bytes]) -> Path:
    path = tmp_path_factory.mktemp("prop") / f"{SESSION}.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _read(path: Path, chunk: int) -> dict[str, pl.DataFrame]:
    return read_files("generic", [path], study="p", chunk_bytes=chunk, **MAP)


def _check(frames: dict[str, pl.DataFrame], expected, stored) -> None:
    quarantine = frames.get("quarantine", pl.DataFrame(schema={"line": pl.Int64, "reason": pl.String}))
    assert sorted(quarantine.select("line", "reason").rows()) == expected
    samples = frames["samples"]
    assert samples.select("session", "t_ms", "x", "y").rows() == stored
    log = frames["ingest_log"].row(0, named=True)
    assert log["records_read"] == len(stored) + len(expected) == log["rows_stored"] + log["rows_quarantined"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=recordings(runs=False))
def test_quarantine_is_exactly_the_injected_defects(tmp_path_factory, data):
    lines, expected, stored, chunk = data
    _check(_read(_write(tmp_path_factory, lines), chunk), expected, stored)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=recordings())
def test_runs_and_steps_quarantine_exactly_the_injected_records(tmp_path_factory, data):
    lines, expected, stored, chunk = data
    frames = _read(_write(tmp_path_factory, lines), chunk)
    _check(frames, expected, stored)
    splits = len({s for s, *_ in stored} - {SESSION})
    warnings = frames["ingest_log"]["warnings"][0] or ""
    assert warnings.count("the clock stepped") >= splits  # every split is recorded in the ingest log


@settings(max_examples=15, deadline=None)
@given(data=recordings(), other=st.sampled_from([120, 700]))
def test_batch_size_does_not_change_the_result(tmp_path_factory, data, other):
    lines, _, _, chunk = data
    path = _write(tmp_path_factory, lines)
    a, b = _read(path, chunk), _read(path, other)
    assert a["samples"].equals(b["samples"])
    qa, qb = a.get("quarantine"), b.get("quarantine")
    assert (qa is None and qb is None) or qa.sort("line").equals(qb.sort("line"))


def test_a_session_split_over_two_files_is_checked_across_the_split(tmp_path):
    head = "user,time,posX,posY\n"
    (tmp_path / "a.csv").write_text(head + "U1,10,1,1\nU1,20,2,2\nU1,30,3,3\n")
    (tmp_path / "b.csv").write_text(head + "U1,40,4,4\nU1,25,5,5\nU1,50,6,6\n")
    frames = read_files("generic", [tmp_path / "a.csv", tmp_path / "b.csv"], study="p", session="s1", **MAP)
    assert frames["samples"]["t_ms"].to_list() == [10, 20, 30, 40, 50]
    assert frames["quarantine"].select("line", "reason").rows() == [(3, "non_monotonic_timestamp")]
    assert Path(frames["quarantine"]["source_file"][0]).name == "b.csv"


@st.composite
def interleaved(draw):
    """Several participants' samples interleaved in blocks (many short runs), with random time and position
    corruptions: spikes, runs, steps, stretches in seconds, duplicates."""
    units = draw(st.integers(2, 4))
    clocks = [[1000 + 500 * u, 0, 0] for u in range(units)]
    count = [0] * units  # the first samples of each unit are clean (the reader checks the declared time unit)
    lines = [b"user,time,posX,posY"]
    shift = [0] * units
    for _ in range(draw(st.integers(8, 24))):
        u = draw(st.integers(0, units - 1))
        for _ in range(draw(st.integers(1, 25))):
            c = clocks[u]
            c[0] += draw(st.integers(1, 40))
            c[1] += draw(st.integers(-6, 6))
            c[2] += draw(st.integers(-6, 6))
            t, x, y = c[0] + shift[u], c[1], c[2]
            count[u] += 1
            what = "ok" if count[u] <= 10 else draw(
                st.sampled_from(["ok"] * 20 + ["spike", "far", "dup", "back", "secs", "step", "small_step"]))
            if what == "spike":
                t += 50_000_000
            elif what == "far":
                x += 7000
            elif what == "dup":
                t = c[0] + shift[u] - 1
            elif what == "back":
                t -= draw(st.integers(1, 400))
            elif what == "secs":
                t = round(t / 1000, 3)
            elif what == "step":
                shift[u] += draw(st.sampled_from([60_000_000, -60_000_000]))
                t = c[0] + shift[u]
            elif what == "small_step":
                shift[u] -= 3000
                t = c[0] + shift[u]
            lines.append(f"U{u},{t},{x},{y}".encode())
    return lines, draw(st.sampled_from([400, 1 << 20]))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=interleaved(), other=st.sampled_from([400, 1500]))
def test_interleaved_units_are_accounted_for_ordered_and_independent_of_batches(tmp_path_factory, data, other):
    lines, chunk = data
    path = _write(tmp_path_factory, lines)
    a, b = _read(path, chunk), _read(path, other)
    assert a["samples"].equals(b["samples"])
    qa, qb = a.get("quarantine"), b.get("quarantine")
    assert (qa is None and qb is None) or qa.sort("line").equals(qb.sort("line"))
    log = a["ingest_log"].row(0, named=True)
    assert log["records_read"] == len(lines) - 1 == log["rows_stored"] + log["rows_quarantined"]
    # no silently wrong row: every stored session segment has a strictly increasing clock
    steps = a["samples"].group_by("participant", "session", maintain_order=True).agg(pl.col("t_ms").diff().min().alias("d"))
    assert steps.filter(pl.col("d") <= 0).height == 0
