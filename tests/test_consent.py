"""The consent registry: append-only JSON lines, latest decision wins, damaged files fail loudly, capture
refuses to start without consent. One consent command: `mouselab privacy consent` and its alias `mouselab
capture consent` run the same code — withdrawal records, stops the participant's capture and erases."""

from __future__ import annotations

import json
import re
import threading

import pytest
from test_capture_agent import ScriptedPointer
from test_capture_support import mouselab
from test_privacy_support import raw_frames

from mouselab.capture import files as capture_files
from mouselab.privacy import audit, consent
from mouselab.store import Store

#: the two spellings of the one consent command group
ENTRY_POINTS = [("privacy", "consent"), ("capture", "consent")]


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
    assert "has not been recorded" in lines[0] and "mouselab privacy consent grant" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (store / "capture").exists(), "nothing may be recorded or prepared before consent"
    # granted for another purpose only: still refused
    assert mouselab("capture", "consent", "grant", "--store", store, "--study", "s1", "--participant", "P01",
                    "--purpose", "teaching").returncode == 0
    r = mouselab("capture", "start", "--store", store, "--study", "s1", "--participant", "P01")
    assert r.returncode != 0 and "purpose 'research'" in r.stderr


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=" ".join)
def test_consent_cli_show(tmp_path, entry):
    store = tmp_path / "store"
    for args in (("grant", "P01"), ("grant", "P02"), ("withdraw", "P02")):
        r = mouselab(*entry, args[0], "--store", store, "--study", "s1", "--participant", args[1])
        assert r.returncode == 0, r.stderr
    r = mouselab(*entry, "show", "--store", store)
    assert r.returncode == 0
    rows = {line.split()[0]: line.split()[3] for line in r.stdout.splitlines()[1:]}
    assert rows == {"P01": "active", "P02": "withdrawn"}
    r = mouselab(*entry, "show", "--store", store, "--participant", "P02", "--json")
    assert [json.loads(x)["action"] for x in r.stdout.splitlines()] == ["grant", "withdraw"]


# ------------------------------------------------------------------------------ one withdraw, two names
def _plain_store(tmp_path):
    """A plain store with 5 people × 2 sessions × 3 trials × 6 samples (36 sample rows per person)."""
    store = tmp_path / "store"
    Store.create(store).write(raw_frames())
    return store


def _same_output(text: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT[0-9:.+]+", "<time>", text)


def test_both_entry_points_are_the_same_commands():
    from mouselab.cli.capture import command as capture
    from mouselab.cli.privacy import command as privacy

    alias, canonical = capture.commands["consent"], privacy.commands["consent"]
    assert alias is not canonical and alias.commands == canonical.commands  # the very same Command objects
    assert set(canonical.commands) == {"grant", "withdraw", "show"}


def test_withdraw_erases_and_verifies_the_same_through_both_entry_points(tmp_path):
    outputs = {}
    for entry in ENTRY_POINTS:
        store = _plain_store(tmp_path / entry[0])
        consent.grant(store, "alice-7731", "st")
        r = mouselab(*entry, "withdraw", "--store", store, "--study", "st", "--participant", "alice-7731")
        assert r.returncode == 0, r.stdout + r.stderr
        outputs[entry] = _same_output(r.stdout)
        # the plan came first, then the erasure report, then the verification
        lines = r.stdout.splitlines()
        assert lines[0] == "consent withdrawn: study st, purpose research"
        assert lines[1] == "erasing participant alice-7731 from study st — this cannot be undone:"
        assert "samples 36" in lines[2] and "trials 6" in lines[2]
        assert "verification by query: 0 rows left" in r.stdout and lines[-1] == "VERIFIED"
        left = Store(store).read("samples")
        assert "alice-7731" not in left["participant"].to_list()
        assert left["participant"].n_unique() == 4, "the others are untouched"
        assert [e["op"] for e in audit.entries(store)][:1] == ["erase"], "the erasure is in the audit log"
        assert not consent.is_active(store, "alice-7731", "st")
    assert outputs[ENTRY_POINTS[0]] == outputs[ENTRY_POINTS[1]]


def test_alias_says_it_is_an_alias(tmp_path):
    r = mouselab("capture", "consent", "grant", "--store", tmp_path / "s", "--study", "st", "--participant", "P01")
    assert r.returncode == 0 and "alias of `mouselab privacy consent`" in r.stderr
    r = mouselab("capture", "consent", "--help")
    assert r.returncode == 0 and "Alias of `mouselab privacy consent`" in r.stdout and "ERASE" in r.stdout


def test_withdrawing_one_purpose_keeps_the_data(tmp_path):
    store = _plain_store(tmp_path)
    for purpose in ("research", "ui-design"):
        consent.grant(store, "bob-0420", "st", purpose)
    r = mouselab("privacy", "consent", "withdraw", "--store", store, "--study", "st", "--participant", "bob-0420",
                 "--purpose", "ui-design")
    assert r.returncode == 0, r.stderr
    assert "still active: research" in r.stdout and "data kept" in r.stdout and "erasing" not in r.stdout
    assert Store(store).read("samples", participants=["bob-0420"]).height == 36


def test_dry_run_changes_nothing(tmp_path):
    store = _plain_store(tmp_path)
    consent.grant(store, "carol-5555", "st")
    before = consent.registry_path(store).read_bytes()
    r = mouselab("privacy", "consent", "withdraw", "--store", store, "--study", "st", "--participant", "carol-5555",
                 "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "dry run, nothing changed: would withdraw study st, purpose research"
    assert "would erase participant carol-5555 from study st" in r.stdout and "samples 36" in r.stdout
    assert consent.registry_path(store).read_bytes() == before and consent.is_active(store, "carol-5555", "st")
    assert Store(store).read("samples", participants=["carol-5555"]).height == 36


def test_withdraw_stops_the_running_capture_then_erases(tmp_path):
    """A real agent (scripted pointer, in a thread of this process) records P01; the CLI withdrawal makes it
    commit and exit, then erases the session it recorded — rows, spool and session metadata."""
    store = tmp_path / "store"
    consent.grant(store, "P01", "st")
    from mouselab.capture.agent import CaptureConfig, run_capture

    config = CaptureConfig(store=store, study="st", participant="P01", session="s1", rate_hz=50, flush_s=0.2,
                           commit_s=0, duration_s=60)
    result = {}
    agent = threading.Thread(target=lambda: result.update(run_capture(config, backend=ScriptedPointer(
        lambda t: (10 + 50 * t, 5.0)))), daemon=True)
    agent.start()
    try:
        _wait(lambda: (capture_files.read_status(store) or {}).get("state") == "recording")
        _wait(lambda: (capture_files.read_status(store) or {}).get("samples_written", 0) > 0)
        r = mouselab("privacy", "consent", "withdraw", "--store", store, "--study", "st", "--participant", "P01")
    finally:
        capture_files.write_command(store, "stop")  # never leave the thread running
        agent.join(30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert result["state"] == "stopped" and result["samples_committed"] > 0
    assert "stopping the capture agent recording this participant" in r.stdout
    assert "capture agent stopped" in r.stdout and "VERIFIED" in r.stdout
    assert "capture files removed" in r.stdout
    assert Store(store).read("samples").height == 0
    assert not (store / "capture" / "sessions" / "st" / "P01").exists()
    assert not (store / "capture" / "spool" / "st" / "P01").exists()


def test_withdraw_leaves_a_capture_of_someone_else_alone(tmp_path):
    store = _plain_store(tmp_path)
    consent.grant(store, "dave-9090", "st")
    lock = _fake_agent(store, participant="erin-1212")
    try:
        r = mouselab("privacy", "consent", "withdraw", "--store", store, "--study", "st", "--participant", "dave-9090")
    finally:
        lock.release()
    assert r.returncode == 0, r.stderr
    assert "capture agent" not in r.stdout and "VERIFIED" in r.stdout
    assert not capture_files.control_path(store).exists(), "no command was sent to the other agent"


def test_an_agent_that_does_not_stop_blocks_the_erasure_with_a_clear_message(tmp_path):
    store = _plain_store(tmp_path)
    consent.grant(store, "dave-9090", "st")
    lock = _fake_agent(store, participant="dave-9090")  # holds the lock, never answers
    try:
        r = mouselab("capture", "consent", "withdraw", "--store", store, "--study", "st", "--participant", "dave-9090",
                     "--wait-s", "0.3")
    finally:
        lock.release()
    assert r.returncode == 2 and "Traceback" not in r.stderr
    error = r.stderr.strip().splitlines()[-1]
    assert error.startswith("mouselab: error: the withdrawal is recorded, but the capture agent (pid 4242)")
    assert "nothing was erased yet" in error
    assert error.endswith(f"mouselab privacy erase --store {store} --participant dave-9090 --study st")
    assert not consent.is_active(store, "dave-9090", "st")
    assert Store(store).read("samples", participants=["dave-9090"]).height == 36


def _fake_agent(store, *, participant):
    """Hold the agent lock and publish a status as a recording agent would (it never reads commands)."""
    lock = capture_files.AgentLock(store)
    assert lock.acquire()
    capture_files.atomic_write_json(capture_files.status_path(store), {
        "state": "recording", "pid": 4242, "study": "st", "participant": participant, "session": "s9",
        "purpose": "research"}, durable=False)
    return lock


def _wait(predicate, timeout=20.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("timed out")
