"""Property tests: the quarantined records are exactly the injected defects, with the injected reasons; the
stored rows are exactly the clean records (no silently wrong row); the result does not depend on how the
file is cut into batches."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.ingest import read_files

MAP = {"mapping": "participant=user,t=time,x=posX,y=posY", "time_unit": "ms"}

# defect kind -> (reason, function(row, previous clean row) -> new line text)
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


@st.composite
def recordings(draw):
    n = draw(st.integers(30, 160))
    steps = draw(st.lists(st.integers(4, 40), min_size=n, max_size=n))
    moves = draw(st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=n, max_size=n))
    t, x, y = 1000, draw(st.integers(-2000, 3000)), draw(st.integers(-500, 2000))
    rows = []
    for dt, (dx, dy) in zip(steps, moves):
        t, x, y = t + dt, x + dx, y + dy
        rows.append(("U1", t, x, y))
    # defect positions: not the first two or last two rows, at least two rows apart
    slots = list(range(2, n - 2, 3))
    chosen = draw(st.lists(st.sampled_from(slots), unique=True, max_size=min(12, len(slots))))
    kinds = draw(st.lists(st.sampled_from(sorted(DEFECTS)), min_size=len(chosen), max_size=len(chosen)))
    chunk = draw(st.sampled_from([300, 1500, 1 << 20]))
    return rows, dict(zip(sorted(chosen), kinds)), chunk


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=recordings())
def test_quarantine_is_exactly_the_injected_defects(tmp_path_factory, data):
    rows, defects, chunk = data
    lines: list[bytes] = [b"user,time,posX,posY"]
    for i, r in enumerate(rows):
        kind = defects.get(i)
        if kind is None:
            lines.append(",".join(map(str, r)).encode())
        elif kind == "latin1":
            lines.append(f"U\xe91,{r[1]},{r[2]},{r[3]}".encode("latin-1"))
        else:
            lines.append(DEFECTS[kind][1](r, rows[i - 1]).encode())
    path = tmp_path_factory.mktemp("prop") / "rec.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")

    frames = read_files("generic", [path], study="p", chunk_bytes=chunk, **MAP)
    quarantine = frames.get("quarantine", pl.DataFrame(schema={"line": pl.Int64, "reason": pl.String}))
    got = sorted(quarantine.select("line", "reason").rows())
    expected = sorted((i + 2, DEFECTS[kind][0]) for i, kind in defects.items())
    assert got == expected

    clean = [r for i, r in enumerate(rows) if i not in defects]
    samples = frames["samples"]
    assert samples.select("t_ms", "x", "y").rows() == [(float(t), float(x), float(y)) for _, t, x, y in clean]
    log = frames["ingest_log"].row(0, named=True)
    assert log["records_read"] == len(rows) == log["rows_stored"] + log["rows_quarantined"]


@settings(max_examples=10, deadline=None)
@given(data=recordings(), other=st.sampled_from([120, 700]))
def test_batch_size_does_not_change_the_result(tmp_path_factory, data, other):
    rows, defects, chunk = data
    text = "user,time,posX,posY\n" + "\n".join(
        DEFECTS[defects[i]][1](r, rows[i - 1]) if i in defects and defects[i] != "latin1" else ",".join(map(str, r))
        for i, r in enumerate(rows)) + "\n"
    path = tmp_path_factory.mktemp("batch") / "rec.csv"
    path.write_text(text)
    a = read_files("generic", [path], study="p", chunk_bytes=chunk, **MAP)
    b = read_files("generic", [path], study="p", chunk_bytes=other, **MAP)
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
