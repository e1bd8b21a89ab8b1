"""Withdrawal erases (verified by query and by bytes), reports become stale, data cannot come back; access
requests get readable data; retention dry runs list exactly what the real sweep deletes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from test_capture_agent import ScriptedPointer
from test_capture_support import mouselab
from test_privacy_support import RAW, all_bytes, decoded_text, keyed, make_store, raw_frames  # noqa: F401

from mouselab.privacy import consent, erasure, export, governance, keys, pseudonym, reports, retention
from mouselab.privacy.governance import GovernanceError
from mouselab.store import Store


def _scan(store, needle: str) -> list[str]:
    hits = [rel for rel, data in all_bytes(store) if needle.encode() in data or needle in rel]
    return hits + (["decoded parquet"] if needle in decoded_text(store) else [])


def test_withdrawal_erases_everything_and_verifies(keyed, tmp_path):
    store = make_store(tmp_path)
    chain = keys.configured_chain()
    alice = pseudonym.participant("alice-7731", chain)
    # a capture session and a report that used alice's data
    from mouselab.capture.agent import CaptureConfig, run_capture

    run_capture(CaptureConfig(store=store, study="st", participant="alice-7731", session="desk-2024-03-01",
                              rate_hz=50, flush_s=0.1, commit_s=0, duration_s=0.3),
                backend=ScriptedPointer(lambda t: (10 + 50 * t, 5.0)))
    (store / "cache").mkdir()
    (store / "cache" / "features.json").write_text(json.dumps({alice: [1, 2, 3]}))
    block = reports.provenance_block(store, notebook="02_x.ipynb", parameters={"store": str(store), "study": "st"},
                                     cwd=tmp_path)
    assert block["participants"] == len(RAW) and alice not in json.dumps(block)
    assert _scan(store, alice), "alice's data is in the store before the erasure"
    left, report = erasure.withdraw_and_erase(store, "alice-7731", "st")
    assert left == [] and report.verified, report.summary()
    assert report.rows_removed["samples"] > 0 and report.rows_removed["ingest_log"] == 1
    assert any("sessions" in f for f in report.capture_files_removed)
    assert report.cache_files_removed == ["cache/features.json"]
    assert report.stale_reports == ["02_x.ipynb"] and reports.stale(store)[0]["notebook"] == "02_x.ipynb"
    # verification by query (through the store) and by bytes (every file, decoded Parquet, path names)
    assert report.query_rows and not any(report.query_rows.values())
    assert _scan(store, alice) == [] and report.byte_hits == [] and report.retained == []
    # the others are untouched
    others = Store(store).read("samples")
    assert others["participant"].n_unique() == len(RAW) - 1 and Store(store).verify() == []
    # the withdrawal stays on record (under a consent token), and the data cannot come back ...
    assert [r.action for r in consent.records(store, "alice-7731")] == ["grant", "withdraw"]
    again = pseudonym.pseudonymise_frames(raw_frames(["alice-7731"]), key=chain)
    with pytest.raises(GovernanceError, match="erased"):
        Store(store).write({"samples": again["samples"]})
    # ... unless alice consents anew
    consent.grant(store, "alice-7731", "st", note="re-joined")
    Store(store).write({"samples": again["samples"]})


def test_withdrawing_one_purpose_keeps_data_for_the_others(keyed, tmp_path):
    store = make_store(tmp_path)
    consent.grant(store, "bob-0420", "st", "ui-design")
    left, report = erasure.withdraw_and_erase(store, "bob-0420", "st", purposes=["ui-design"])
    assert left == ["research"] and report is None
    assert Store(store).read("samples", participants=[consent.data_id(store, "bob-0420")]).height > 0


def test_pending_erasures_catch_withdrawals_recorded_elsewhere(keyed, tmp_path):
    store = make_store(tmp_path)
    consent.withdraw(store, "carol-5555", "st")  # the registry entry alone (no erasure yet)
    done = erasure.erase_pending(store)
    assert [r.participant for r in done] == [consent.data_id(store, "carol-5555")] and done[0].verified


def test_erase_cli_reports_query_and_byte_checks(keyed, tmp_path):
    store = make_store(tmp_path)
    dave = pseudonym.participant("dave-9090", keys.configured_chain())
    r = mouselab("privacy", "erase", "--store", store, "--participant", dave, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["verified"] and out["byte_hits"] == [] and sum(out["query_rows"].values()) == 0
    assert _scan(store, dave) == []


def test_plain_store_erasure_reports_the_registry_line_as_a_retained_record(tmp_path):
    store = tmp_path / "store"
    Store.create(store).write(raw_frames())
    consent.grant(store, "erin-1212", "st")
    _, report = erasure.withdraw_and_erase(store, "erin-1212", "st")
    assert report.verified and report.byte_hits == []
    assert report.retained and all(r.startswith("governance/consent.jsonl") for r in report.retained)


def test_export_gives_readable_csv_readme_and_consent_history(keyed, tmp_path):
    store = make_store(tmp_path)
    files = export.export_participant(store, "bob-0420", tmp_path / "export")
    names = {f.name for f in files}
    assert {"samples.csv", "events.csv", "trials.csv", "participants.csv", "consent_history.csv", "README.md"} <= names
    samples = pl.read_csv(tmp_path / "export" / "samples.csv")
    assert samples["participant"].unique().to_list() == [consent.data_id(store, "bob-0420")]
    readme = (tmp_path / "export" / "README.md").read_text()
    assert "| `t_ms` | ms |" in readme and "Never recorded" in readme and "withdraw" in readme
    history = pl.read_csv(tmp_path / "export" / "consent_history.csv")
    assert history["action"].to_list() == ["grant"]
    ops = [e["purpose"] for e in governance.read_jsonl(store / "governance" / "audit.jsonl")]
    assert "access-request" in ops


def test_retention_dry_run_equals_the_real_sweep(keyed, tmp_path):
    store = make_store(tmp_path)
    governance.set_study_policy(store, "st", retention_days={"samples": 90, "events": 90, "trials": 400})
    # recording dates: two sessions of each person, 100 and 10 days old
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for p, sessions in governance.load_recorded(store)["st"].items():
        for i, s in enumerate(sorted(sessions)):
            governance.set_recorded(store, "st", p, s, (now - timedelta(days=100 if i == 0 else 10)).isoformat(),
                                    source="test")
    planned = retention.sweep(store, now=now, dry_run=True)
    before = {t: Store(store).read(t).height for t in ("samples", "events", "trials")}
    assert {it.table for it in planned} == {"samples", "events"} and len(planned) == 2 * len(RAW)
    assert Store(store).read("samples").height == before["samples"], "a dry run deletes nothing"
    done = retention.sweep(store, now=now)
    assert [(i.key(), i.rows) for i in done] == [(i.key(), i.rows) for i in planned]
    after = {t: Store(store).read(t).height for t in ("samples", "events", "trials")}
    assert before["samples"] - after["samples"] == sum(i.rows for i in done if i.table == "samples") > 0
    assert after["trials"] == before["trials"]
    assert retention.sweep(store, now=now, dry_run=True) == []
    r = mouselab("privacy", "retention", "sweep", "--store", store, "--dry-run", "--now", now.isoformat())
    assert r.returncode == 0 and "0 (table, session) units would delete" in r.stdout


def test_erasing_p08_leaves_p080_alone(tmp_path):
    """Ids are matched as whole tokens: erasing P08 must not touch P080 (nor count its rows as left over)."""
    store = tmp_path / "store"
    Store.create(store).write(raw_frames(["P08", "P080"]))
    report = erasure.erase_participant(store, "P08")
    assert report.verified, report.summary()
    log = Store(store).read("ingest_log")
    assert log["source_file"].str.contains("P080").to_list() == [True]
    assert set(Store(store).read("samples")["participant"]) == {"P080"}
