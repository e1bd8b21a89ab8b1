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
