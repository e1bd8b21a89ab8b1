"""Reads that bypass Store.scan (the streamed measures path) are audited and purpose-checked too."""

from __future__ import annotations

import polars as pl
import pytest

from mouselab.privacy import audit, governance
from mouselab.store import Store
from mouselab.study import trial_measures


def _store(tmp_path) -> Store:
    store = Store.create(tmp_path / "st")
    n = 12
    store.write({"samples": pl.DataFrame({
        "study": "s", "participant": "p1", "session": "s1", "trial": "t1", "t_ms": [10.0 * i for i in range(n)],
        "x": [float(i * i) for i in range(n)], "y": [float(i) for i in range(n)], "event": "move", "buttons": 0,
    })})
    return store


def test_trial_measures_on_a_governed_store_writes_one_audit_entry(tmp_path):
    store = _store(tmp_path)
    governance.update_policy(store.path, purposes=["research"])
    before = len(governance.read_jsonl(audit.log_path(store.path)))
    trial_measures(Store(store.path, purpose="research"), preset="mousetrap")
    entries = governance.read_jsonl(audit.log_path(store.path))[before:]
    assert any("samples" in e.get("tables", []) and "sample_partitions" in str(e.get("detail")) for e in entries), entries


def test_trial_measures_with_an_undeclared_purpose_is_refused(tmp_path):
    store = _store(tmp_path)
    governance.update_policy(store.path, purposes=["research"])
    with pytest.raises(PermissionError):
        trial_measures(Store(store.path, purpose="marketing"), preset="mousetrap")


def test_report_labels_hide_ids_consistently_across_frames():
    from mouselab.privacy import report_labels

    samples = pl.DataFrame({"participant": ["P07", "P07", "P02"], "x": [1.0, 2.0, 3.0]})
    events = pl.DataFrame({"participant": ["P02", "P07"], "kind": ["focus", "focus"]})
    out = report_labels({"samples": samples, "events": events}, seed=1)
    labels = set(out["samples"]["participant"]) | set(out["events"]["participant"])
    assert labels == {"person 1", "person 2"}
    assert out["samples"]["participant"][0] == out["events"]["participant"][1]  # P07 keeps one label
    assert out["samples"]["participant"][2] == out["events"]["participant"][0]  # P02 too
    assert report_labels({"samples": samples, "events": events}, seed=1)["samples"].equals(out["samples"])


def test_report_labels_number_sessions_per_person():
    from mouselab.privacy import report_labels

    samples = pl.DataFrame({"participant": ["user7", "user7", "user7", "user9"],
                            "session": ["session_0041905381", "session_0041905381", "session_0012", "session_0012"]})
    events = pl.DataFrame({"participant": ["user9", "user7"], "session": ["session_0012", "session_0041905381"]})
    out = report_labels({"samples": samples, "events": events}, seed=3)
    # each person's sessions are numbered in id order: user7 has session_0012 (1) and session_0041905381 (2)
    assert out["samples"]["session"].to_list() == ["session 2", "session 2", "session 1", "session 1"]
    assert out["events"]["session"].to_list() == ["session 1", "session 2"]
    assert out["samples"]["participant"][0] == out["events"]["participant"][1]
    text = str(out["samples"]) + str(out["events"])
    assert "user" not in text and "session_0" not in text
