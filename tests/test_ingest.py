"""Ingest of mousetrap long CSV and mouselab's own tables: good input lands, bad input names file/line/column
and leaves the store untouched."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from mouselab.ingest import IngestError, ingest_files, read_files
from mouselab.store import Store

HEADER = '"mt_id","subject_nr","count_trial","Condition","correct","sample","timestamps","xpos","ypos","dist"'
GOOD_ROWS = [
    '"id0001",1,1,"Atypical",0,1,0,0,0,0',
    '"id0001",1,1,"Atypical",0,2,10,-1,0,1',
    '"id0001",1,1,"Atypical",0,3,20,-3,4,NA',
    '"id0002",1,2,"Typical",1,1,0,0,0,0',
    '"id0002",1,2,"Typical",1,2,10,5,5,0',
    '"id0003",2,1,"Typical",1,1,0,0,0,0',
    '"id0003",2,1,"Typical",1,2,15,2,8,0',
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def other_trials(rows: list[str]) -> list[str]:
    """The same rows under trial ids the good file does not use (a trial lives in one file)."""
    return [r.replace('"id000', '"id010') for r in rows]


@pytest.fixture
def good(tmp_path):
    return write_csv(tmp_path / "good.csv", GOOD_ROWS)


def test_mousetrap_long_csv_lands_with_trial_covariates(tmp_path, good):
    store = Store.create(tmp_path / "st")
    report = ingest_files("mousetrap", [good], store=store, study="demo")
    assert report.rows == {"samples": 7, "trials": 3, "participants": 2}
    samples = store.read("samples").sort(["trial", "t_ms"])
    assert samples["x"].to_list() == [0, -1, -3, 0, 5, 0, 2]
    assert samples["participant"].unique().sort().to_list() == ["1", "2"]
    trials = store.read("trials").sort("trial")
    assert trials["condition"].to_list() == ["Atypical", "Typical", "Typical"]
    assert trials["correct"].to_list() == [False, True, True]
    assert trials["trial_index"].to_list() == [1, 2, 1]
    assert "dist" not in trials.columns and "sample" not in trials.columns


def test_gzip_input_reads_the_same(tmp_path, good):
    gz = tmp_path / "good.csv.gz"
    gz.write_bytes(gzip.compress(good.read_bytes()))
    assert read_files("mousetrap", [gz], study="d")["samples"].equals(read_files("mousetrap", [good], study="d")["samples"])


def test_reingest_is_idempotent(tmp_path, good):
    store = Store.create(tmp_path / "st")
    ingest_files("mousetrap", [good], store=store, study="demo")
    h = store.content_hash()
    again = ingest_files("mousetrap", [good], store=store, study="demo")
    assert not again.write.changed and store.content_hash() == h
    assert store.sql("select count(*) n from samples")["n"][0] == 7


BAD_CASES = {
    # name: (rows or raw text, expected line, expected column, message fragment)
    "non-numeric x": (GOOD_ROWS[:1] + ['"id0001",1,1,"Atypical",0,2,10,abc,0,1'], 3, "xpos", "'abc'"),
    "missing y": (GOOD_ROWS[:1] + ['"id0001",1,1,"Atypical",0,2,10,1,NA,1'], 3, "ypos", "is empty"),
    "infinite t": (GOOD_ROWS[:1] + ['"id0001",1,1,"Atypical",0,2,inf,1,1,1'], 3, "timestamps", "finite number"),
    "unsorted time": (GOOD_ROWS[:2] + ['"id0001",1,1,"Atypical",0,3,5,1,1,1'], 4, "timestamps", "earlier than"),
    "duplicate time": (GOOD_ROWS[:2] + ['"id0001",1,1,"Atypical",0,3,10,1,1,1'], 4, "timestamps", "duplicate timestamp"),
    "empty subject": (GOOD_ROWS[:1] + ['"id0002",,1,"Atypical",0,1,0,1,1,1'], 3, "subject_nr", "participant id"),
    "trial shared by two subjects": (GOOD_ROWS[:1] + ['"id0001",2,1,"Atypical",0,1,0,1,1,1'], 3, "mt_id", "more than one participant"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_rows_raise_with_file_line_column_and_leave_store_unchanged(tmp_path, good, case):
    """--on-error fail: the issue-2 contract (one-line error naming file/line/column, nothing written)."""
    rows, line, column, fragment = BAD_CASES[case]
    bad = write_csv(tmp_path / "bad.csv", other_trials(rows))
    store = Store.create(tmp_path / "st")
    ingest_files("mousetrap", [good], store=store, study="demo")
    before = store.content_hash()
    with pytest.raises(IngestError) as err:
        ingest_files("mousetrap", [good, bad], store=store, study="demo", on_error="fail")
    message = str(err.value)
    assert "\n" not in message
    assert str(bad) in message and f"line {line}" in message and f"column {column!r}" in message
    assert fragment in message
    assert Store(store.path).content_hash() == before


QUARANTINE_REASON = {
    "non-numeric x": "non_numeric", "missing y": "missing_value", "infinite t": "non_finite",
    "unsorted time": "non_monotonic_timestamp", "duplicate time": "duplicate_timestamp",
    "empty subject": "invalid_identifier", "trial shared by two subjects": "trial_id_conflict",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_rows_are_quarantined_by_default_with_file_line_column_and_reason(tmp_path, good, case):
    """The default (--on-error quarantine): the bad record goes to quarantine, every other record is stored."""
    rows, line, column, _ = BAD_CASES[case]
    rows = other_trials(rows)
    bad = write_csv(tmp_path / "bad.csv", rows)
    store = Store.create(tmp_path / "st")
    report = ingest_files("mousetrap", [good, bad], store=store, study="demo")
    quarantine = store.read("quarantine")
    assert quarantine.select("source_file", "line", "column", "reason").rows() == [
        (str(bad.resolve()), line, column, QUARANTINE_REASON[case])]
    assert quarantine["raw"][0] == rows[line - 2]  # the whole source line, so nothing is lost
    log = store.read("ingest_log").sort("source_file")
    assert (log["records_read"] == log["rows_stored"] + log["rows_quarantined"]).all()
    assert report.quarantined == 1 and log["records_read"].sum() == len(GOOD_ROWS) + len(rows)
    assert store.sql("select count(*) n from samples")["n"][0] == len(GOOD_ROWS) + len(rows) - 1


def test_missing_columns_are_named(tmp_path):
    bad = write_csv(tmp_path / "cols.csv", ['"a",1,0,0'], header='"mt_id","subject_nr","time","x"')
    with pytest.raises(IngestError, match=r"missing column\(s\): timestamps \(time in ms\); xpos \(x in px\); ypos"):
        read_files("mousetrap", [bad], study="d")


@pytest.mark.parametrize("content,fragment", [("", "file is empty"), (HEADER + "\n", "no data rows")])
def test_empty_files_are_refused(tmp_path, content, fragment):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(IngestError, match=fragment):
        read_files("mousetrap", [path], study="d")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(IngestError, match="file not found"):
        read_files("mousetrap", [tmp_path / "nope.csv"], study="d")


def test_duplicates_remove_first_keeps_the_last_of_equal_timestamps(tmp_path):
    rows = GOOD_ROWS[:2] + ['"id0001",1,1,"Atypical",0,3,10,7,7,1', '"id0001",1,1,"Atypical",0,4,20,8,8,1']
    path = write_csv(tmp_path / "dup.csv", rows)
    samples = read_files("mousetrap", [path], study="d", duplicates="remove_first")["samples"]
    assert samples["t_ms"].to_list() == [0, 10, 20]
    assert samples["x"].to_list() == [0, 7, 8]


def test_native_parquet_round_trip_and_schema_errors(tmp_path):
    frame = pl.DataFrame({"participant": ["p1"] * 3, "session": "s1", "trial": "t1", "t_ms": [0.0, 16.7, 33.3],
                          "x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0], "event": "move", "buttons": 0})
    good = tmp_path / "s.parquet"
    frame.write_parquet(good)
    out = read_files("mouselab", [good], study="nat")["samples"]
    assert out["study"].unique().to_list() == ["nat"] and out.height == 3
    frame.drop("x").write_parquet(tmp_path / "nox.parquet")
    with pytest.raises(IngestError, match="missing column"):
        read_files("mouselab", [tmp_path / "nox.parquet"], study="nat")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(IngestError, match="not a readable Parquet"):
        read_files("mouselab", [tmp_path / "junk.parquet"], study="nat")
    csv = tmp_path / "s.csv"
    frame.with_columns(pl.col("x").cast(pl.String).replace("2.0", "two")).write_csv(csv)
    with pytest.raises(IngestError, match=r"line 3, column 'x'"):
        read_files("mouselab", [csv], study="nat", on_error="fail")
    quarantined = read_files("mouselab", [csv], study="nat")["quarantine"]
    assert quarantined.select("line", "column", "reason").rows() == [(3, "x", "non_numeric")]
