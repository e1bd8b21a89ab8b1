"""The Parquet store: round trips, idempotence, atomicity, integrity, pruning, SQL/Polars agreement."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.schema import SchemaError
from mouselab.store import Store
from mouselab.store.manifest import Manifest


def samples_frame(participants=("p1", "p2"), trials=("t1", "t2"), n=5, study="s", x0=0.0) -> pl.DataFrame:
    rows = []
    for p in participants:
        for t in trials:
            for k in range(n):
                rows.append({"study": study, "participant": p, "session": "s1", "trial": f"{p}-{t}",
                             "t_ms": 10.0 * k, "x": x0 + k, "y": 2.0 * k, "event": "move", "buttons": 0})
    return pl.DataFrame(rows)


@pytest.fixture
def store(tmp_path):
    return Store.create(tmp_path / "store")


def test_round_trip_keeps_contract_types_and_rows(store):
    df = samples_frame()
    store.write({"samples": df})
    back = store.read("samples")
    assert back.height == df.height
    assert back.schema["t_ms"] == pl.Float64 and back.schema["buttons"] == pl.UInt8
    assert back.sort(["participant", "trial", "t_ms"])["x"].to_list() == df.sort(["participant", "trial", "t_ms"])["x"].to_list()


def test_partition_keys_live_only_in_paths(store):
    store.write({"samples": samples_frame()})
    files = store.files("samples")
    assert files and all("study=s" in str(f) and "participant=" in str(f) for f in files)
    inside = pl.read_parquet(files[0])
    assert "study" not in inside.columns and "participant" not in inside.columns


def test_rewriting_same_data_is_idempotent(store):
    df = samples_frame()
    first = store.write({"samples": df})
    manifest_before = (store.path / "manifest.json").read_text()
    files_before = sorted(p.name for p in store.path.rglob("*.parquet"))
    second = store.write({"samples": df})
    assert first.changed and not second.changed
    assert json.loads((store.path / "manifest.json").read_text())["tables"] == json.loads(manifest_before)["tables"]
    assert sorted(p.name for p in store.path.rglob("*.parquet")) == files_before
    assert store.read("samples").height == df.height


def test_writing_a_trial_again_replaces_it_and_keeps_others(store):
    store.write({"samples": samples_frame()})
    changed = samples_frame(participants=("p1",), trials=("t1",), n=3, x0=100.0)
    store.write({"samples": changed})
    got = store.sql("select trial, count(*) n, min(x) x0 from samples group by trial order by trial")
    assert got.to_dicts() == [
        {"trial": "p1-t1", "n": 3, "x0": 100.0},
        {"trial": "p1-t2", "n": 5, "x0": 0.0},
        {"trial": "p2-t1", "n": 5, "x0": 0.0},
        {"trial": "p2-t2", "n": 5, "x0": 0.0},
    ]


def test_crash_before_commit_leaves_previous_content_visible(store, monkeypatch):
    store.write({"samples": samples_frame()})
    before = store.read("samples").sort(["trial", "t_ms"])

    def crash(self, root):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Manifest, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write({"samples": samples_frame(x0=500.0)})
    monkeypatch.undo()
    reopened = Store(store.path)
    assert reopened.read("samples").sort(["trial", "t_ms"]).equals(before)
    assert reopened.sql("select max(x) m from samples")["m"][0] == 4.0
    stray = reopened.verify()
    assert stray and all("not in the manifest" in p for p in stray)
    assert reopened.gc() == len(stray)
    assert reopened.verify() == []


def test_invalid_frame_writes_nothing(store):
    store.write({"samples": samples_frame()})
    before = store.content_hash()
    bad = samples_frame(participants=("p9",)).with_columns(pl.lit("teleport").alias("event"))
    # a valid samples frame together with an invalid trials frame: the whole transaction is refused
    with pytest.raises(SchemaError, match="trial_index"):
        store.write({"samples": samples_frame(participants=("p8",)), "trials": bad.drop("event")})
    with pytest.raises(SchemaError, match="teleport"):
        store.write({"samples": bad})
    assert Store(store.path).content_hash() == before


def test_verify_detects_a_single_flipped_byte(store):
    store.write({"samples": samples_frame()})
    assert store.verify() == []
    victim = store.files("samples")[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    problems = store.verify()
    assert len(problems) == 1 and "SHA-256 mismatch" in problems[0] and victim.name in problems[0]


def test_verify_detects_missing_file(store):
    store.write({"samples": samples_frame()})
    store.files("samples")[0].unlink()
    assert any("missing" in p for p in store.verify())


def test_partition_pruning_reads_only_the_selected_files(store):
    store.write({"samples": samples_frame(participants=("p1", "p2", "p3"))})
    assert len(store.files("samples", participants=["p2"])) == 1
    lazy = store.scan("samples", participants=["p2"])
    assert lazy.collect()["participant"].unique().to_list() == ["p2"]
    # a filter on the hive key is pushed down too
    plan = store.scan("samples").filter(pl.col("participant") == "p3").explain()
    assert "p3" in plan


def test_unsafe_partition_values_are_refused(store):
    with pytest.raises(SchemaError, match="cannot name a partition"):
        store.write({"samples": samples_frame(participants=("../evil",))})


def test_extra_trial_columns_are_kept_and_type_checked(store):
    trials = pl.DataFrame({"study": ["s"], "participant": ["p1"], "session": ["s1"], "trial": ["t1"],
                           "trial_index": [1], "Exemplar": ["Aal"]})
    store.write({"trials": trials})
    assert store.sql("select Exemplar from trials")["Exemplar"].to_list() == ["Aal"]
    with pytest.raises(SchemaError, match="Exemplar"):
        store.write({"trials": trials.with_columns(pl.lit(3).alias("Exemplar"), pl.lit("t2").alias("trial"))})


def test_empty_tables_are_queryable(store):
    assert store.sql("select count(*) n from events")["n"][0] == 0
    assert store.scan("trials").collect().height == 0


def test_opening_a_folder_that_is_not_a_store_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a mouselab store"):
        Store(tmp_path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    xs=st.lists(st.floats(-5000, 5000, allow_nan=False), min_size=1, max_size=40),
    parts=st.integers(1, 4),
)
def test_polars_and_duckdb_paths_agree(tmp_path_factory, xs, parts):
    store = Store.create(tmp_path_factory.mktemp("prop") / "st")
    n = len(xs)
    df = pl.DataFrame({
        "study": "s", "participant": [f"p{i % parts}" for i in range(n)], "session": "s1",
        "trial": [f"t{i % parts}" for i in range(n)], "t_ms": [float(i) for i in range(n)],
        "x": xs, "y": [0.0] * n, "event": "move", "buttons": 0,
    })
    store.write({"samples": df})
    via_sql = store.sql("select participant, sum(x) s, count(*) n from samples group by participant order by participant")
    via_polars = (store.scan("samples").group_by("participant").agg(pl.col("x").sum().alias("s"), pl.len().alias("n"))
                  .sort("participant").collect())
    assert via_sql["participant"].to_list() == via_polars["participant"].to_list()
    assert via_sql["n"].to_list() == via_polars["n"].cast(pl.Int64).to_list()
    for a, b in zip(via_sql["s"].to_list(), via_polars["s"].to_list()):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-9)
