"""The consent registry: append-only JSON lines, latest decision wins, damaged files fail loudly, capture
refuses to start without consent."""

from __future__ import annotations

import json

import pytest
from test_capture_support import mouselab

from mouselab.privacy import consent


def test_grant_withdraw_and_is_active(tmp_path):
    store = tmp_path / "store"
    assert not consent.is_active(store, "P01", "s1")
    consent.grant(store, "P01", "s1")
    assert (store / "manifest.json").exists(), "granting consent creates the store"
    assert consent.is_active(store, "P01", "s1")
    assert consent.is_active(store, "P01", "s1", "research")
    assert not consent.is_active(store, "P01", "s1", "teaching"), "purposes are independent"
    assert not consent.is_active(store, "P02", "s1") and not consent.is_active(store, "P01", "s2")
    consent.withdraw(store, "P01", "s1")
    assert not consent.is_active(store, "P01", "s1")
    consent.grant(store, "P01", "s1", note="re-consented on paper")
    assert consent.is_active(store, "P01", "s1")
    actions = [r.action for r in consent.records(store, participant="P01")]
    assert actions == ["grant", "withdraw", "grant"]
    assert consent.records(store, participant="P01")[-1].note == "re-consented on paper"


def test_registry_is_append_only(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "s1")
    path = consent.registry_path(store)
    before = path.read_bytes()
    consent.withdraw(store, "P01", "s1")
    after = path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 2
    line = json.loads(after.splitlines()[-1])
    assert line["action"] == "withdraw" and line["participant"] == "P01" and line["purpose"] == "research"
    assert path.stat().st_mode & 0o777 == 0o600


def test_torn_last_line_is_ignored_and_cut_by_the_next_append(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "s1")
    path = consent.registry_path(store)
    with open(path, "ab") as handle:  # a crash in the middle of an append
        handle.write(b'{"action": "withdraw", "participant": "P0')
    assert consent.is_active(store, "P01", "s1")
    consent.grant(store, "P02", "s1")
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(x) for x in lines)


def test_damaged_line_in_the_middle_raises_with_file_and_line(tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P01", "s1")
    path = consent.registry_path(store)
    with open(path, "ab") as handle:
        handle.write(b"not json\n")
    consent.grant(store, "P02", "s1")
    with pytest.raises(consent.ConsentRegistryError, match=r"consent.jsonl, line 2"):
        consent.is_active(store, "P01", "s1")


def test_bad_ids_are_refused(tmp_path):
    with pytest.raises(consent.ConsentRegistryError, match="participant"):
        consent.grant(tmp_path / "s", "P 01", "s1")
    with pytest.raises(consent.ConsentRegistryError, match="purpose"):
        consent.grant(tmp_path / "s", "P01", "s1", "Research!")


def test_capture_start_is_refused_without_consent(tmp_path):
    store = tmp_path / "store"
    r = mouselab("capture", "start", "--store", store, "--study", "s1", "--participant", "P01", env={"DISPLAY": ""})
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mouselab: error: consent of participant 'P01'")
    assert "has not been recorded" in lines[0] and "mouselab capture consent grant" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (store / "capture").exists(), "nothing may be recorded or prepared before consent"
    # granted for another purpose only: still refused
    assert mouselab("capture", "consent", "grant", "--store", store, "--study", "s1", "--participant", "P01",
                    "--purpose", "teaching").returncode == 0
    r = mouselab("capture", "start", "--store", store, "--study", "s1", "--participant", "P01")
    assert r.returncode != 0 and "purpose 'research'" in r.stderr


def test_consent_cli_show(tmp_path):
    store = tmp_path / "store"
    for args in (("grant", "P01"), ("grant", "P02"), ("withdraw", "P02")):
        r = mouselab("capture", "consent", args[0], "--store", store, "--study", "s1", "--participant", args[1])
        assert r.returncode == 0, r.stderr
    r = mouselab("capture", "consent", "show", "--store", store)
    assert r.returncode == 0
    rows = {line.split()[0]: line.split()[3] for line in r.stdout.splitlines()[1:]}
    assert rows == {"P01": "active", "P02": "withdrawn"}
    r = mouselab("capture", "consent", "show", "--store", store, "--participant", "P02", "--json")
    assert [json.loads(x)["action"] for x in r.stdout.splitlines()] == ["grant", "withdraw"]
