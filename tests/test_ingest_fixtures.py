"""The malformed-input corpus (``tests/fixtures/ingest``): each fixture yields exactly the quarantine rows its
construction predicts (``cases.json``, written by ``make_fixtures.py``), or a clear whole-file error; every
record is accounted for; ``--on-error fail`` stops at the first bad record and leaves the store untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mouselab.ingest import IngestError, ingest_files
from mouselab.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
CASES = json.loads((FIXTURES / "cases.json").read_text())
#: runs of bad samples, clock steps and time-unit mix-ups in part of a file (``runs/make_fixtures.py``)
RUN_CASES = json.loads((FIXTURES / "runs" / "cases.json").read_text())
BY_ID = {c["id"]: c for c in CASES + RUN_CASES}


def test_the_corpus_is_large_enough():
    malformed = [c for c in CASES if "error" in c or c["quarantine"]]
    assert len(malformed) >= 25
    assert {c["format"] for c in CASES} == {"generic", "mousetrap", "jspsych", "mousetracker", "balabit", "mouselab"}


def _paths(case: dict) -> list[Path]:
    return [FIXTURES / p for p in case["paths"]]


def _rel(source_file: str, case: dict) -> str:
    """The expected file name (a path suffix such as ``user12/session_…``) that ``source_file`` ends with."""
    names = {q[0] for q in case["quarantine"]}
    hits = [n for n in names if source_file.endswith("/" + n)]
    assert len(hits) == 1, f"{source_file} matches {hits} of {sorted(names)}"
    return hits[0]


def test_the_run_and_step_corpus_covers_every_rule():
    reasons = {q[3] for c in RUN_CASES for q in c["quarantine"]}
    assert reasons == {"clock_jump", "impossible_speed", "non_monotonic_timestamp", "unit_mismatch"}
    assert sum(len(c["sessions"]) > 1 for c in RUN_CASES) >= 4  # clock steps split the session


@pytest.mark.parametrize("cid", [c["id"] for c in CASES + RUN_CASES if "error" not in c])
def test_fixture_quarantines_exactly_the_planted_defects(tmp_path, cid):
    case = BY_ID[cid]
    store = Store.create(tmp_path / "st")
    report = ingest_files(case["format"], _paths(case), store=store, study="fx", **case["options"])
    got = sorted(
        [_rel(r["source_file"], case), r["line"], r["column"], r["reason"]]
        for r in store.read("quarantine").iter_rows(named=True)
    )
    assert got == sorted(case["quarantine"], key=lambda q: (q[0], q[1], str(q[2]), q[3]))
    log = store.read("ingest_log")
    assert (log["records_read"] == log["rows_stored"] + log["rows_quarantined"]).all()
    assert log["records_read"].sum() == case["records"]
    assert log["rows_stored"].sum() == case["stored"] == store.sql("select count(*) n from samples")["n"][0]
    assert report.quarantined == len(case["quarantine"])
    if "events" in case:
        assert store.sql("select count(*) n from events")["n"][0] == case["events"]
    quarantined = store.read("quarantine")
    assert quarantined["raw"].is_not_null().all(), "every quarantined record keeps its raw text"
    if "sessions" in case:  # a clock step splits the session; every stored segment keeps a strictly rising clock
        got = store.sql("select session, count(*) n, min(dt) d from (select session, t_ms - lag(t_ms) over "
                        "(partition by session order by t_ms) dt from samples) group by session")
        assert dict(got.select("session", "n").rows()) == case["sessions"]
        assert all(d is None or d > 0 for d in got["d"])
        splits = len(case["sessions"]) - 1
        assert (log["warnings"].fill_null("").str.count_matches("the clock stepped").sum()) == splits


@pytest.mark.parametrize("cid", [c["id"] for c in CASES + RUN_CASES if "error" not in c and c["quarantine"]])
def test_fail_mode_stops_at_a_bad_record_and_writes_nothing(tmp_path, cid):
    case = BY_ID[cid]
    store = Store.create(tmp_path / "st")
    before = store.content_hash()
    with pytest.raises(IngestError) as err:
        ingest_files(case["format"], _paths(case), store=store, study="fx", on_error="fail", **case["options"])
    message = str(err.value)
    assert "\n" not in message and ", line " in message
    assert Store(store.path).content_hash() == before and not list((store.path / ".staging").glob("*/*"))


@pytest.mark.parametrize("cid", [c["id"] for c in CASES if "error" in c])
@pytest.mark.parametrize("on_error", ["quarantine", "fail"])
def test_whole_file_defects_are_errors_in_both_modes(tmp_path, cid, on_error):
    case = BY_ID[cid]
    store = Store.create(tmp_path / "st")
    before = store.content_hash()
    with pytest.raises(IngestError) as err:
        ingest_files(case["format"], _paths(case), store=store, study="fx", on_error=on_error, **case["options"])
    message = str(err.value)
    assert "\n" not in message and case["error"] in message
    assert str(_paths(case)[0]) in message
    assert Store(store.path).content_hash() == before


def test_reingesting_the_corpus_is_idempotent(tmp_path):
    store = Store.create(tmp_path / "st")
    case = BY_ID["b01_balabit_sessions"]
    ingest_files("balabit", _paths(case), store=store, study="fx")
    ingest_files("generic", _paths(BY_ID["g01_non_numeric"]), store=store, study="fx", **GEN)
    first = store.content_hash()
    again = ingest_files("balabit", _paths(case), store=store, study="fx")
    ingest_files("generic", _paths(BY_ID["g01_non_numeric"]), store=store, study="fx", **GEN)
    assert not again.write.changed and store.content_hash() == first
    counts = store.sql("select (select count(*) from quarantine) q, (select count(*) from ingest_log) l")
    assert counts.row(0) == (len(case["quarantine"]) + 2, 4)


GEN = BY_ID["g01_non_numeric"]["options"]
