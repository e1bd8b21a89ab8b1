"""The Parquet store: round trips, idempotence, atomicity, integrity, pruning, SQL/Polars agreement."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.schema import SchemaError
from mouselab.store import Store, StoreError
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


# ----------------------------------------------------------------------------- the transaction API
def _snapshot(root) -> dict[str, bytes]:
    """Every file of the store (but the writers' lock file) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def test_transaction_commits_many_batches_atomically(store):
    store.write({"samples": samples_frame(participants=("p1",))})
    with store.transaction(merge_rows=7, buffer_rows=12) as tx:  # tiny limits: streamed and spilled
        for p in ("p2", "p3"):
            for t in ("t1", "t2", "t3"):
                tx.write("samples", samples_frame(participants=(p,), trials=(t,)))
        tx.write("trials", pl.DataFrame({"study": ["s"], "participant": ["p2"], "session": ["s1"],
                                         "trial": ["p2-t1"], "trial_index": [1]}))
        assert Store(store.path).read("samples")["participant"].unique().to_list() == ["p1"]  # nothing visible yet
    assert not tx.active and tx.summary.rows == {"samples": 30, "trials": 1}
    back = Store(store.path)
    assert back.sql("select participant, count(*) n from samples group by 1 order by 1").rows() == [
        ("p1", 10), ("p2", 15), ("p3", 15)]
    assert back.verify() == [] and not (store.path / ".staging").exists()


def test_write_is_a_one_shot_transaction_with_identical_files(tmp_path):
    frames = {"samples": samples_frame(participants=("p1", "p2"), trials=("t1", "t2", "t3"))}
    a, b = Store.create(tmp_path / "a"), Store.create(tmp_path / "b")
    a.write(frames)
    with b.transaction() as tx:
        for piece in frames["samples"].partition_by("trial", maintain_order=True):
            tx.write("samples", piece)
    assert a.content_hash() == b.content_hash()
    assert tx.summary.changed and not b.write(frames).changed  # re-writing the same rows changes nothing


def test_exception_inside_a_transaction_leaves_every_byte_as_it_was(store):
    store.write({"samples": samples_frame(), "trials": pl.DataFrame({
        "study": ["s"], "participant": ["p1"], "session": ["s1"], "trial": ["p1-t1"], "trial_index": [1]})})
    before = _snapshot(store.path)
    with pytest.raises(ValueError, match="reader failed"):
        with store.transaction(merge_rows=3, buffer_rows=5) as tx:
            tx.write("samples", samples_frame(x0=900.0))                    # replaces stored trials
            tx.write("samples", samples_frame(participants=("p7",)))        # a new partition, streamed
            assert list((store.path / ".staging").rglob("*.parquet"))       # staged files exist
            raise ValueError("reader failed")
    assert not tx.active
    assert _snapshot(store.path) == before
    assert not (store.path / ".staging").exists()
    assert Store(store.path).verify() == []


def test_an_error_at_the_commit_point_removes_the_files_already_moved(store, monkeypatch):
    store.write({"samples": samples_frame()})
    before = _snapshot(store.path)

    def disk_full(self, root):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Manifest, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.write({"samples": samples_frame(participants=("p3",), x0=7.0)})
    monkeypatch.undo()
    assert _snapshot(store.path) == before
    assert Store(store.path).verify() == []


def test_an_interrupt_at_the_commit_point_is_cleaned_up_by_the_next_writer(store, monkeypatch):
    store.write({"samples": samples_frame()})

    def interrupt(self, root):
        raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "save", interrupt)
    with pytest.raises(KeyboardInterrupt):
        store.write({"samples": samples_frame(participants=("p3",))})
    monkeypatch.undo()
    assert any("not in the manifest" in p for p in Store(store.path).verify())  # orphans, invisible
    store.write({"samples": samples_frame(participants=("p4",))})               # the journal guides the cleanup
    assert Store(store.path).verify() == []
    assert sorted(store.read("samples")["participant"].unique()) == ["p1", "p2", "p4"]


def test_a_finished_transaction_refuses_more_work(store):
    with store.transaction() as tx:
        tx.write("samples", samples_frame())
    with pytest.raises(StoreError, match="already finished"):
        tx.write("samples", samples_frame())
    with pytest.raises(StoreError, match="already finished"):
        tx.commit()
    tx.abort()  # harmless


def test_nested_transactions_in_one_thread_are_refused_with_a_clear_error(store):
    with store.transaction() as tx:
        tx.write("samples", samples_frame(participants=("p1",)))
        with pytest.raises(StoreError, match="do not nest"):
            store.write({"samples": samples_frame(participants=("p2",))})
        with pytest.raises(StoreError, match="do not nest"):
            Store(store.path).transaction()  # another handle on the same folder
        with pytest.raises(StoreError, match="do not nest"):
            store.gc()
        tx.write("samples", samples_frame(participants=("p3",)))  # the open transaction is unharmed
    assert sorted(store.read("samples")["participant"].unique()) == ["p1", "p3"]
    store.write({"samples": samples_frame(participants=("p2",))})  # and the lock is free again


def test_writers_in_two_threads_are_serialised(store):
    import threading
    import time

    order = []
    started = threading.Event()

    def second_writer():
        started.set()
        Store(store.path).write({"samples": samples_frame(participants=("p2",))})
        order.append("second committed")

    with store.transaction() as tx:
        tx.write("samples", samples_frame(participants=("p1",)))
        worker = threading.Thread(target=second_writer)
        worker.start()
        started.wait()
        time.sleep(0.3)
        assert order == []  # still waiting for the lock
        order.append("first committing")
    worker.join(timeout=30)
    assert order == ["first committing", "second committed"]
    assert sorted(Store(store.path).read("samples")["participant"].unique()) == ["p1", "p2"]


_CHILD = r"""
import os, signal, sys, time
import polars as pl
from mouselab.store import Store, StoreError
from mouselab.store.manifest import Manifest

path, mode = sys.argv[1], sys.argv[2]
frame = pl.DataFrame({"study": "s", "participant": "p9", "session": "s1", "trial": [f"t{i // 10}" for i in range(200)],
                      "t_ms": [float(i % 10) for i in range(200)], "x": 1.0, "y": 2.0, "event": "move", "buttons": 0})
store = Store(path)
if mode == "hold":  # take the lock, stage files, then wait to be killed
    tx = store.transaction(merge_rows=20, buffer_rows=40)
    tx.write("samples", frame)
    print("ready", flush=True)
    time.sleep(60)
elif mode == "commit":  # die at the commit point: files moved into place, manifest not yet replaced
    Manifest.save = lambda self, root: os.kill(os.getpid(), signal.SIGKILL)
    store.write({"samples": frame})
"""


def _child(tmp_path, store, mode):
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    return subprocess.Popen([sys.executable, str(script), str(store.path), mode], stdout=subprocess.PIPE, text=True)


def test_a_writer_killed_at_the_commit_point_leaves_the_old_state(tmp_path, store):
    store.write({"samples": samples_frame()})
    before = store.content_hash()
    proc = _child(tmp_path, store, "commit")
    assert proc.wait(timeout=120) == -9  # SIGKILL: no cleanup code ran
    reopened = Store(store.path)
    assert reopened.content_hash() == before
    assert reopened.read("samples")["participant"].unique().sort().to_list() == ["p1", "p2"]
    stray = reopened.verify()
    assert stray and all("not in the manifest" in p for p in stray)
    # the next transaction finds the dead one's journal and removes its orphans
    reopened.write({"samples": samples_frame(participants=("p5",))})
    assert reopened.verify() == [] and not (store.path / ".staging").exists()


def test_a_writer_killed_while_holding_the_lock_frees_it_and_leaves_the_old_state(tmp_path, store):
    import signal

    store.write({"samples": samples_frame()})
    before = _snapshot(store.path)
    proc = _child(tmp_path, store, "hold")
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert list((store.path / ".staging").rglob("*.parquet"))
        with pytest.raises(StoreError, match=rf"another writer holds the store \(process {proc.pid}\)"):
            store.transaction(timeout_s=0.2)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -9
    finally:
        proc.kill()
    with store.transaction(timeout_s=10) as tx:  # the kernel released the dead writer's lock
        assert not list((store.path / ".staging").rglob("*.parquet"))  # its staged files are gone
    assert not tx.summary.changed
    assert _snapshot(store.path) == before


def test_a_transaction_on_a_governed_store_runs_the_privacy_hooks(store):
    from mouselab.privacy import erasure, governance

    governance.update_policy(store.path, purposes=["research"])
    with store.transaction() as tx:
        tx.write("samples", samples_frame(participants=("p1",)))
        assert governance.load_recorded(store.path) == {}  # recorded only once committed
    assert set(governance.load_recorded(store.path)["s"]) == {"p1"}
    # an erased participant's data may not come back: the write is refused and nothing changes
    governance.append_jsonl(erasure._ledger(store.path), {"action": "erased", "at": governance.now_iso(),
                                                          "digest": erasure.tombstone_digest("s", "p2")})
    before = _snapshot(store.path)
    with pytest.raises(Exception, match="erased"):
        with store.transaction() as tx:
            tx.write("samples", samples_frame(participants=("p3",)))
            tx.write("samples", samples_frame(participants=("p2",)))
    assert _snapshot(store.path) == before
    assert set(governance.load_recorded(store.path)["s"]) == {"p1"}
