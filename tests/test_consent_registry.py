"""The consent registry in a pseudonymised store: raw ids and pseudonyms both work, the registry stores
neither, rotations keep one history per person, and the privacy CLI withdraws and erases in one step."""

from __future__ import annotations

import json

import pytest
from test_capture_support import mouselab
from test_privacy_support import keyed, make_store  # noqa: F401

from mouselab.privacy import consent, governance, keys, pseudonym


def test_registry_names_a_consent_token_not_the_id_or_pseudonym(keyed, tmp_path):
    store = tmp_path / "store"
    rec = consent.grant(store, "P017", "st", note="paper form 17")
    policy = governance.load_policy(store)
    assert policy["pseudonym_key_id"] == keys.configured_chain().key_id, "a new store adopts the configured key"
    p = pseudonym.participant("P017", keys.configured_chain())
    assert rec.participant.startswith("c-") and rec.participant == consent.subject(store, p)
    text = consent.registry_path(store).read_text()
    assert "P017" not in text and p not in text
    assert consent.is_active(store, "P017", "st") and consent.is_active(store, p, "st")
    assert consent.data_id(store, "P017") == p
    assert [r.note for r in consent.history(store, "P017")] == ["paper form 17"]


def test_rekey_lines_keep_one_history(keyed, tmp_path):
    store = tmp_path / "store"
    consent.grant(store, "P017", "st")
    old = consent.subject(store, "P017")
    consent.append_rekey(store, {old: "c-new"})
    recs = consent.records(store)
    assert [r.participant for r in recs] == ["c-new"]
    line = json.loads(consent.registry_path(store).read_text().splitlines()[-1])
    assert line["action"] == "rekey" and line["previous"] == old


def test_capture_cli_consent_works_with_a_key(keyed, tmp_path):
    store = tmp_path / "store"
    r = mouselab("capture", "consent", "grant", "--store", store, "--study", "st", "--participant", "P017")
    assert r.returncode == 0, r.stderr
    assert consent.is_active(store, "P017", "st")
    assert "P017" not in consent.registry_path(store).read_text()


@pytest.mark.parametrize("entry", [("privacy", "consent"), ("capture", "consent")], ids=" ".join)
def test_cli_withdraw_erases_when_no_purpose_is_left(keyed, tmp_path, entry):
    store = make_store(tmp_path)
    bob = pseudonym.participant("bob-0420", keys.configured_chain())
    r = mouselab(*entry, "withdraw", "--store", store, "--study", "st", "--participant", "bob-0420")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"erasing participant {bob} from study st — this cannot be undone:" in r.stdout
    assert "VERIFIED" in r.stdout and "verification by bytes: 0 hits" in r.stdout
    assert "bob-0420" not in r.stdout, "the raw id is not echoed"
    r = mouselab(*entry, "show", "--store", store, "--participant", "bob-0420")
    assert "withdrawn" in r.stdout
    r = mouselab("privacy", "status", "--store", store)
    assert r.returncode == 0 and "pseudonyms  key k-" in r.stdout
