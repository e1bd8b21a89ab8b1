"""Pseudonymisation at ingest and capture, keys outside the store, and key rotation of a whole store."""

from __future__ import annotations

import stat

import polars as pl
import pytest
from test_capture_agent import ScriptedPointer
from test_privacy_support import RAW, SESSIONS, all_bytes, decoded_text, keyed, make_store, raw_frames  # noqa: F401

from mouselab.privacy import consent, keys, pseudonym, rotation
from mouselab.privacy.governance import GovernanceError
from mouselab.store import Store


def test_keygen_writes_mode_600_and_never_overwrites(tmp_path):
    path = tmp_path / "k" / "pseudonym.key"
    chain = keys.keygen(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.load_chain(path) == keys.KeyChain(chain.keys, path)
    with pytest.raises(FileExistsError):
        keys.keygen(path)
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        keys.load_chain(path)


def test_a_key_inside_the_store_is_refused(tmp_path):
    Store.create(tmp_path / "store")
    with pytest.raises(PermissionError, match="inside the store"):
        keys.keygen(tmp_path / "store" / "governance" / "k.key", store=tmp_path / "store")


def test_pseudonymise_frames_is_pure_keyed_and_scrubs_text():
    frames = raw_frames()
    before = {k: v.clone() for k, v in frames.items()}
    out = pseudonym.pseudonymise_frames(frames, key=b"k" * 32)
    assert all(frames[k].equals(before[k]) for k in frames), "inputs are not modified"
    p = pseudonym.participant("alice-7731", b"k" * 32)
    assert pseudonym.PARTICIPANT_RE.match(p) and p != pseudonym.participant("alice-7731", b"j" * 32)
    samples = out["samples"]
    assert set(samples["participant"]) == {pseudonym.participant(r, b"k" * 32) for r in RAW}
    assert samples["session"].str.contains(r"^s-[0-9a-f]{16}$").all()
    # same raw session of two people: different pseudonyms (not linkable across people)
    s1 = samples.filter(pl.col("participant") == p)["session"].unique().sort().to_list()
    s2 = samples.filter(pl.col("participant") != p)["session"].unique().to_list()
    assert not set(s1) & set(s2)
    # raw ids inside trial ids, file paths and app names are gone; joins between tables still work
    text = "\n".join(str(v) for f in out.values() for c in f.columns for v in f[c].to_list())
    for raw in RAW + SESSIONS + ("Firefox",):
        assert raw not in text
    assert out["trials"].join(samples, on=["participant", "session", "trial"]).height == samples.height
    with pytest.raises(ValueError, match="already is a pseudonym"):
        pseudonym.pseudonymise_frames(out, key=b"k" * 32)


def test_no_raw_identifier_reaches_any_file_of_a_pseudonymised_store(keyed, tmp_path):
    store = make_store(tmp_path)
    # the capture agent, wired to the same key: ids and application names are pseudonymised too
    from mouselab.capture.agent import CaptureConfig, run_capture

    consent.grant(store, "frank-3141", "st")
    run_capture(CaptureConfig(store=store, study="st", participant="frank-3141", session="2024-03-01-desk",
                              rate_hz=50, flush_s=0.1, commit_s=0, duration_s=0.4),
                backend=ScriptedPointer(lambda t: (10 + 100 * t, 20.0), app_class="Firefox"))
    Store(store).read("samples")  # reads are audited
    needles = list(RAW) + list(SESSIONS) + ["frank-3141", "2024-03-01-desk", "Firefox", "firefox"]
    for rel, data in all_bytes(store):
        for needle in needles:
            assert needle.encode() not in data, f"{needle!r} in the bytes of {rel}"
            assert needle not in rel, f"{needle!r} in the path {rel}"
    text = decoded_text(store)
    assert text and not any(n in text for n in needles)
    apps = Store(store).read("events").filter(pl.col("kind") == "focus")["app"].to_list()
    assert pseudonym.app("Firefox", keys.configured_chain()) in apps
    assert not (store / "capture" / "app.key").exists(), "the application key is derived from the key outside the store"
    # capture's consent check and the data agree on the pseudonym
    frank = pseudonym.participant("frank-3141", keys.configured_chain())
    assert Store(store).read("samples", participants=[frank]).height > 5


def test_raw_ids_are_refused_by_a_pseudonymised_store(keyed, tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(GovernanceError, match="not a pseudonym"):
        Store(store).write({"samples": raw_frames(["zed-0001"])["samples"]})


def test_rotation_rekeys_the_whole_store_in_one_transaction(keyed, tmp_path, monkeypatch):
    store = make_store(tmp_path)
    old_chain = keys.configured_chain()
    before = Store(store).read("samples").sort(["t_ms", "x"])
    consent.withdraw(store, "erin-1212", "st")
    new_path = keyed / "new.key"
    keys.keygen(new_path)
    # a crash in the middle of the rewrite leaves the old content (one manifest commit at the end)
    import mouselab.store.core as core

    calls = {"n": 0}
    real = core.Manifest.save

    def crash(self, root):
        calls["n"] += 1
        raise OSError("power cut")

    monkeypatch.setattr(core.Manifest, "save", crash)
    with pytest.raises(OSError, match="power cut"):
        rotation.rotate_key(store, keyed / "pseudonym.key", new_path)
    monkeypatch.setattr(core.Manifest, "save", real)
    assert Store(store).read("samples").sort(["t_ms", "x"]).equals(before)
    assert Store(store).verify() == []
    report = rotation.rotate_key(store, keyed / "pseudonym.key", new_path)
    assert report.participants == len(RAW) and report.consent_rekeyed == len(RAW)
    monkeypatch.setenv("MOUSELAB_KEY_FILE", str(new_path))
    chain = keys.configured_chain()
    assert chain.keys[:-1] == old_chain.keys and len(chain.keys) == 2
    after = Store(store).read("samples")
    assert set(after["participant"]) == {pseudonym.participant(r, chain) for r in RAW}
    assert not set(after["participant"]) & set(before["participant"])
    assert set(after["session"]) == {pseudonym.session(r, s, chain) for r in RAW for s in SESSIONS}
    # values are untouched; only ids moved
    assert after.select("t_ms", "x", "y").sort(["t_ms", "x"]).equals(before.select("t_ms", "x", "y"))
    # new raw data pseudonymised with the rotated key file lands on the same pseudonyms
    fresh = pseudonym.pseudonymise_frames(raw_frames(["alice-7731"]), key=chain)
    assert set(fresh["samples"]["participant"]) <= set(after["participant"])
    assert Store(store).write({"samples": fresh["samples"]}).rows["samples"] > 0
    # consent history follows the rotation; the old key no longer matches the store
    assert consent.is_active(store, "alice-7731", "st") and not consent.is_active(store, "erin-1212", "st")
    assert [r.action for r in consent.records(store, "erin-1212")] == ["grant", "withdraw"]
    assert Store(store).verify() == []
    monkeypatch.setenv("MOUSELAB_KEY_FILE", str(keyed / "pseudonym.key"))
    with pytest.raises(GovernanceError, match="pseudonymised with key"):
        consent.is_active(store, "alice-7731", "st")
    # re-running the finished rotation is harmless
    assert "already rotated" in " ".join(rotation.rotate_key(store, keyed / "pseudonym.key", new_path).notes)


def test_a_plain_store_can_be_pseudonymised(tmp_path, monkeypatch):
    store = tmp_path / "store"
    Store.create(store).write(raw_frames())
    consent.grant(store, "bob-0420", "st")  # plain store: the registry names raw ids
    path = tmp_path / "keys" / "k.key"
    keys.keygen(path)
    monkeypatch.setenv("MOUSELAB_KEY_FILE", str(path))
    report = rotation.pseudonymise_store(store, path)
    assert report.participants == len(RAW)
    text = decoded_text(store)
    assert not any(r in text for r in RAW)
    assert consent.is_active(store, "bob-0420", "st")
    registry = consent.registry_path(store).read_text()
    assert '"rekey"' in registry
