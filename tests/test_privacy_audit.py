"""The audit log (one chained, MAC-signed line per query; every kind of tampering detected) and purpose
limitation (undeclared purposes and per-person scoring without consent are refused)."""

from __future__ import annotations

import json
import time

import pytest
from test_capture_support import mouselab
from test_privacy_support import RAW, keyed, make_store  # noqa: F401

from mouselab.privacy import access, audit, consent, keys, reports
from mouselab.privacy.access import PurposeError
from mouselab.store import Store


def _lines(store):
    return (store / "governance" / "audit.jsonl").read_bytes().splitlines(keepends=True)


def _write(store, lines):
    (store / "governance" / "audit.jsonl").write_bytes(b"".join(lines))


def _problems(store, **kw):
    return audit.verify(store, key=keys.audit_key(store), **kw).problems


@pytest.fixture()
def logged(keyed, tmp_path):
    store = make_store(tmp_path)
    db = Store(store)
    db.read("samples")
    db.scan("events", study="st", participants=["x"]).collect()
    db.sql("SELECT count(*) FROM trials WHERE participant = 'p-secret'")
    db.read("participants")
    db.read("samples")
    return store


def test_one_entry_per_query_with_who_when_what_why(logged):
    entries = audit.entries(logged)
    assert [e["op"] for e in entries] == ["read", "scan", "sql", "read", "read"]
    assert [e["tables"] for e in entries][:3] == [["samples"], ["events"], ["trials"]]
    assert all(e["operator"] == "tester" and e["purpose"] == "research" and e["mac"] for e in entries)
    assert entries[1]["detail"] == {"study": "st", "participants": 1}, "how many participants, never who"
    assert "p-secret" not in json.dumps(entries), "string literals of SQL are redacted"
    assert _problems(logged) == []


@pytest.mark.parametrize("tamper", ["edit", "edit_rehash", "delete", "reorder", "truncate", "truncate_rollback_head",
                                    "rebuild_without_key", "strip_macs", "forge_head"])
def test_tampering_is_detected(logged, tamper, tmp_path):
    store = logged
    lines = _lines(store)
    head_file = store / "governance" / "audit.head"
    early_head = None
    if tamper == "truncate_rollback_head":  # a genuine older checkpoint kept aside, then a report's anchor
        early_head = dict(json.loads(head_file.read_text()))
        Store(store).read("samples")
        Store(store).read("events")
        anchor = audit.head(store)
        lines = _lines(store)
    if tamper == "edit":
        lines[2] = lines[2].replace(b'"research"', b'"marketing"')
    elif tamper == "edit_rehash":  # recompute the hash so the chain looks consistent, MAC cannot follow
        e = json.loads(lines[2])
        e["purpose"] = "marketing"
        e["hash"] = audit.entry_hash(e)
        lines[2] = (json.dumps(e, sort_keys=True) + "\n").encode()
    elif tamper == "delete":
        del lines[1]
    elif tamper == "reorder":
        lines[1], lines[2] = lines[2], lines[1]
    elif tamper == "truncate":
        lines = lines[:-2]
    elif tamper == "truncate_rollback_head":
        lines = lines[:-2]
    elif tamper in ("rebuild_without_key", "strip_macs"):
        prev, rebuilt = audit.GENESIS, []
        for raw in lines[:-1]:  # drop the last entry and re-chain everything consistently
            e = json.loads(raw)
            e["prev"] = prev
            e["hash"] = audit.entry_hash(e)
            e["mac"] = None if tamper == "strip_macs" else audit._mac(b"a guessed key of 32 bytes!!!!!!!", e["hash"])
            prev = e["hash"]
            rebuilt.append((json.dumps(e, sort_keys=True) + "\n").encode())
        lines = rebuilt
        e = json.loads(lines[-1])
        head_file.write_text(json.dumps({"seq": e["seq"], "hash": e["hash"], "mac": None}))
    elif tamper == "forge_head":
        lines = lines[:-1]
        e = json.loads(lines[-1])
        head_file.write_text(json.dumps({"seq": e["seq"], "hash": e["hash"], "mac": "0" * 64}))
    _write(store, lines)
    if tamper == "truncate_rollback_head":
        head_file.write_text(json.dumps(early_head))
        assert _problems(store) == [], "without an external anchor a rolled-back checkpoint looks genuine"
        problems = _problems(store, anchors=[{**anchor, "source": "report 02"}])
    else:
        problems = _problems(store)
    assert problems, f"{tamper} was not detected"


def test_report_provenance_anchors_the_head_and_verify_reads_it(logged, tmp_path):
    block = reports.provenance_block(logged, notebook="n.ipynb", parameters={"study": "st"}, cwd=tmp_path)
    folder = tmp_path / "reports"
    folder.mkdir()
    nb = {"cells": [], "metadata": {"mouselab": {"provenance": {"privacy": block}}}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "n.ipynb").write_text(json.dumps(nb))
    anchors = audit.anchors_from_reports(folder)
    assert anchors and anchors[0]["seq"] == block["audit_head"]["seq"]
    r = mouselab("privacy", "audit", "verify", "--store", logged, "--anchors", folder)
    assert r.returncode == 0 and "intact" in r.stdout, r.stdout + r.stderr
    _write(logged, _lines(logged)[: anchors[0]["seq"] - 1])
    (logged / "governance" / "audit.head").unlink()
    r = mouselab("privacy", "audit", "verify", "--store", logged, "--anchors", folder)
    assert r.returncode == 1 and "truncated" in r.stdout


def test_without_a_key_reads_work_and_are_chained_unsigned(tmp_path, monkeypatch):
    monkeypatch.delenv("MOUSELAB_AUDIT_KEY_FILE", raising=False)
    monkeypatch.delenv("MOUSELAB_KEY_FILE", raising=False)
    store = tmp_path / "store"
    Store.create(store)
    consent.grant(store, "P01", "st")  # governed from now on
    db = Store(store)
    for _ in range(3):
        db.read("samples")
    entries = audit.entries(store)
    assert len(entries) == 3 and all(e["mac"] is None for e in entries)
    report = audit.verify(store)
    assert report.ok and any("not checked" in n for n in report.notes)
    # an unwritable log never breaks a read without a key
    (store / "governance" / "audit.jsonl").chmod(0o400)
    (store / "governance").chmod(0o500)
    try:
        if not __import__("os").access(store / "governance", __import__("os").W_OK):  # root ignores modes
            with pytest.warns(RuntimeWarning, match="audit entry"):
                db.read("samples")
    finally:
        (store / "governance").chmod(0o700)


def test_audit_overhead_is_one_small_line_per_query(keyed, tmp_path):
    store = make_store(tmp_path)
    db = Store(store)
    t0 = time.perf_counter()
    for _ in range(50):
        db.read("participants")
    per_query = (time.perf_counter() - t0) / 50
    assert len(audit.entries(store)) == 50
    assert (store / "governance" / "audit.jsonl").stat().st_size / 50 < 600
    assert per_query < 0.05, f"{per_query * 1000:.1f} ms per audited read"


def test_undeclared_purpose_is_refused_and_logged(keyed, tmp_path):
    store = make_store(tmp_path, purposes=["research"])
    Store(store, purpose="research").read("samples")
    with pytest.raises(PurposeError, match="purpose 'marketing' is not declared"):
        Store(store, purpose="marketing").read("samples")
    with pytest.raises(PurposeError):
        Store(store, purpose="marketing").sql("SELECT 1 FROM samples")
    assert audit.entries(store)[-1]["op"] == "refused"
    # access requests and governance are always allowed
    Store(store, purpose="access-request").read("samples")
    r = mouselab("store", "info", store)  # reading the manifest is not a data read
    assert r.returncode == 0


def test_purpose_from_the_setting(keyed, tmp_path, monkeypatch):
    store = make_store(tmp_path, purposes=["research"])
    monkeypatch.setenv("MOUSELAB_PURPOSE", "synthetic-data")
    with pytest.raises(PurposeError):
        Store(store).read("samples")


def test_scoring_individuals_needs_the_purpose_declared_and_consented(keyed, tmp_path):
    store = make_store(tmp_path, purposes=["research"])
    people = sorted(Store(store).read("participants")["participant"])
    with pytest.raises(PurposeError, match="does not declare"):
        access.score_individuals(store, "st", people)
    from mouselab.privacy import governance

    governance.update_policy(store, purposes=["research", "individual-scoring"])
    consent.grant(store, "alice-7731", "st", "individual-scoring")
    with pytest.raises(PurposeError, match=f"{len(RAW) - 1} of {len(RAW)} participants"):
        access.score_individuals(store, "st", people)
    alice = consent.data_id(store, "alice-7731")
    assert access.score_individuals(store, "st", [alice]) == [alice]
