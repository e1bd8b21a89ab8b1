"""Each reader's happy path: what lands in samples, events and trials; folders, logs, atomicity, units."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mouselab.ingest as ingest
from mouselab.ingest import IngestError, ingest_files, read_files
from mouselab.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def test_mousetrap_wide_opensesame_lists_become_samples_and_trials():
    frames = read_files("mousetrap", [FIXTURES / "mousetrap" / "m03_wide_raw.csv"], study="w")
    samples = frames["samples"]
    first = samples.filter(pl.col("trial") == "id0001")
    assert first["t_ms"].to_list() == [0, 10, 20, 30]  # timestamps reset per trial (mt_import_mousetrap)
    assert first["x"].to_list() == [0, 1, 3, 6] and first["y"].to_list() == [0, -2, -5, -9]
    trials = frames["trials"].sort("trial")
    assert trials["trial"].to_list() == ["id0001", "id0002", "id0006"]  # trials with stored samples
    assert trials["condition"].to_list() == ["typical", "atypical", "atypical"]
    assert trials["trial_index"].to_list() == [1, 2, 6] and trials["response"].to_list() == ["left", "right", "right"]


def test_jspsych_json_samples_events_targets():
    frames = read_files("jspsych", [FIXTURES / "jspsych" / "j02_data.csv"], study="j")
    samples = frames["samples"].sort(["trial", "t_ms"])
    assert set(samples["participant"]) == {"S7"} and samples["trial"].unique().sort().to_list() == ["S7-t001", "S7-t002"]
    assert samples.filter(pl.col("trial") == "S7-t001")["event"].to_list()[-2:] == ["down", "up"]
    trials = frames["trials"].sort("trial")
    assert trials["stimulus"].to_list() == ["cat", "dog"]
    assert trials.row(0, named=True)["target_x"] == 440 and trials.row(0, named=True)["target_w"] == 120
    assert trials.row(1, named=True)["target_x"] is None  # no targets recorded
    json_frames = read_files("jspsych", [FIXTURES / "jspsych" / "j01_data.json"], study="j")
    assert json_frames["samples"].filter(pl.col("trial").is_in(["S7-t001", "S7-t002"])).height == 14


def test_mousetracker_rows_with_padding():
    frames = read_files("mousetracker", [FIXTURES / "mousetracker" / "t01_mousetracker.csv"], study="m")
    samples = frames["samples"]
    assert samples.filter(pl.col("trial") == "p1-t1")["t_ms"].to_list() == [0, 15, 30, 45]  # padding ignored
    trials = frames["trials"].sort("trial")
    assert trials["correct"].to_list() == [True, True, True, False]  # from MouseTracker's error column
    assert trials["stimulus"].to_list()[0] == "img1.png"


def test_balabit_clicks_and_scrolls_become_events():
    path = FIXTURES / "balabit" / "damaged" / "user99" / "session_9999999999"
    frames = read_files("balabit", [path], study="b")
    events = frames["events"].sort("t_ms")
    assert events.select("kind", "button", "dy").rows() == [("click_down", "left", None), ("click_up", "left", None),
                                                           ("scroll", None, 1.0)]
    samples = frames["samples"]
    assert set(samples["participant"]) == {"user99"} and set(samples["session"]) == {"session_9999999999"}
    assert samples["trial"].null_count() == samples.height
    drags = samples.filter(pl.col("event") == "drag")
    assert drags.height == 2 and set(drags["buttons"]) == {1}


def test_generic_parquet_and_jsonl_and_unit_detection(tmp_path):
    frame = pl.DataFrame({"who": "A1", "ts": [1.000, 1.016, 1.033, 1.050], "px": [1.0, 2, 3, 4], "py": [5.0, 6, 7, 8]})
    frame.write_parquet(tmp_path / "a.parquet")
    frames = read_files("generic", [tmp_path / "a.parquet"], study="g", mapping="participant=who,t=ts,x=px,y=py")
    assert frames["samples"]["t_ms"].to_list() == pytest.approx([1000, 1016, 1033, 1050])
    assert "detected s" in frames["ingest_log"]["warnings"][0]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps({"who": "A1", "ts": 1_700_000_000_000 + 16 * i, "px": i,
                                                             "py": i}) for i in range(5)) + "\n")
    epoch = read_files("generic", [tmp_path / "b.jsonl"], study="g", mapping="participant=who,t=ts,x=px,y=py",
                       time_unit="ms")
    assert epoch["samples"]["t_ms"].to_list() == [0, 16, 32, 48, 64]
    assert "absolute" in epoch["ingest_log"]["warnings"][0]


def test_folders_are_read_recursively_and_logged(tmp_path):
    store = Store.create(tmp_path / "st")
    report = ingest_files("balabit", [FIXTURES / "balabit" / "training_files"], store=store, study="bb")
    assert [Path(f).name for f in report.files] == ["session_0041905381", "session_0113960221", "session_2144641057"]
    assert store.read("ingest_log").height == 3 and report.rows["participants"] == 2
    with pytest.raises(IngestError, match=r"noheader/user98/session_1: missing column"):
        ingest_files("balabit", [FIXTURES / "balabit"], store=store, study="bb2")  # one bad file: nothing written
    assert "bb2" not in store.info()["tables"]["samples"]["studies"]


def test_a_bad_file_among_good_ones_leaves_the_store_as_it_was(tmp_path):
    store = Store.create(tmp_path / "st")
    ingest_files("generic", [FIXTURES / "generic" / "g01_non_numeric.csv"], store=store, study="g",
                 **{"mapping": "participant=user,t=time,x=posX,y=posY", "time_unit": "ms"})
    before = store.content_hash()
    with pytest.raises(IngestError, match="file is empty"):
        ingest_files("generic", [FIXTURES / "generic" / "g02_missing.csv", FIXTURES / "generic" / "g18_empty.csv"],
                     store=store, study="g", mapping="participant=user,t=time,x=posX,y=posY", time_unit="ms")
    assert Store(store.path).content_hash() == before
    assert not any((store.path / ".staging").glob("*/*"))


def test_ingest_log_is_deterministic_and_replaced_on_reingest(tmp_path):
    store = Store.create(tmp_path / "st")
    opts = {"mapping": "participant=user,t=time,x=posX,y=posY", "time_unit": "ms"}
    ingest_files("generic", [FIXTURES / "generic" / "g06_duplicate_ts.csv"], store=store, study="g", **opts)
    log = store.read("ingest_log").row(0, named=True)
    assert log["records_read"] == 30 and log["rows_stored"] == 28 and log["rows_quarantined"] == 2
    assert json.loads(log["reasons"]) == {"duplicate_timestamp": 2} and len(log["sha256"]) == 64
    assert json.loads(log["options"])["reader"]["time_unit"] == "ms"
    first = store.content_hash()
    ingest_files("generic", [FIXTURES / "generic" / "g06_duplicate_ts.csv"], store=store, study="g", **opts)
    assert store.content_hash() == first and store.read("ingest_log").height == 1


def test_remove_first_keeps_the_last_of_equal_timestamps_and_quarantines_the_rest(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("user,time,posX,posY\nU1,10,1,1\nU1,20,2,2\nU1,20,3,3\nU1,20,4,4\nU1,30,5,5\n")
    frames = read_files("generic", [path], study="g", mapping="participant=user,t=time,x=posX,y=posY", time_unit="ms",
                        duplicates="remove_first")
    assert frames["samples"]["x"].to_list() == [1, 4, 5]
    assert frames["quarantine"].select("line", "reason").rows() == [(3, "duplicate_timestamp"), (4, "duplicate_timestamp")]


def test_plain_function_readers_are_validated_too(tmp_path, monkeypatch):
    def read_toy(path, *, study):
        return {"samples": pl.DataFrame({"study": study, "participant": "T1", "session": "s", "trial": None,
                                         "t_ms": [0.0, 10.0, 5.0], "x": [1.0, 2, 3], "y": [1.0, 2, 3],
                                         "event": "move", "buttons": 0}).with_columns(pl.col("trial").cast(pl.String))}

    monkeypatch.setitem(ingest.FORMATS, "toy", (read_toy, "a plain function reader"))
    (tmp_path / "x.toy").write_text("-")
    frames = read_files("toy", [tmp_path / "x.toy"], study="t")
    assert frames["samples"]["t_ms"].to_list() == [0, 10]
    assert frames["quarantine"].select("line", "reason").rows() == [(3, "non_monotonic_timestamp")]


def test_unknown_options_and_formats_are_named():
    with pytest.raises(ValueError, match="mapping do not apply to format 'balabit'"):
        read_files("balabit", [FIXTURES / "balabit"], study="b", mapping="x=a")
    with pytest.raises(IngestError, match="unknown format"):
        read_files("nope", [FIXTURES], study="b")
