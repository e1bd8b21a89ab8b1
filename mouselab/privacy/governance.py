"""The governance folder of a store: policy, ledgers and metadata kept next to the data, never inside tables.

Layout (all under ``STORE/governance/``, mode 0600 files)::

    policy.json          declared purposes, pseudonym key id, retention rules and DP budgets per study
    consent.jsonl        consent registry (append-only; :mod:`mouselab.privacy.consent`)
    audit.jsonl          audit log of reads and governance actions (append-only, hash-chained; :mod:`.audit`)
    audit.head           keyed checkpoint of the audit log's last entry (sequence number + hash + MAC)
    budget.jsonl         differential-privacy budget ledger (append-only; :mod:`mouselab.privacy.dp`)
    recorded.json        when each (study, participant, session) was recorded (retention clock; rewritable)
    reports.jsonl        reports rendered from this store: notebook, parameters, participant digests
    stale_reports.json   reports that included an erased participant (rewritable)
    erasures.jsonl       what each erasure removed and how it was verified (append-only, no identifiers)

A store is **governed** once this folder exists (``mouselab privacy init``, a consent record, a capture
session). Reads of a governed store are audited and purpose-checked; ungoverned stores (the synthetic sample,
scratch stores in tests) are read as before. Keys never live here: they are files outside the store named by
the ``key_file`` setting (``MOUSELAB_KEY_FILE``) — see :mod:`mouselab.privacy.keys`.

Only :mod:`mouselab.privacy` writes these files.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

GOVERNANCE_DIR = "governance"
POLICY = "policy.json"
RECORDED = "recorded.json"

#: Purposes a store may declare. Free-form names are accepted too (lower-case, digits, '-', '_').
KNOWN_PURPOSES: dict[str, str] = {
    "research": "scientific analysis of movement in aggregate (the study's stated research questions)",
    "ui-design": "evaluating user-interface designs from aggregate movement measures",
    "synthetic-data": "training / validating generators of synthetic trajectories",
    "individual-scoring": "scoring or ranking identified (pseudonymous) individuals, e.g. per-person feedback",
    "access-request": "answering a participant's own access request (GDPR Art. 15; always allowed)",
    "governance": "erasure, retention, key rotation and audit verification (always allowed)",
}
#: Purposes that never need declaring: legal obligations of the controller.
ALWAYS_ALLOWED = ("access-request", "governance")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class GovernanceError(PermissionError):
    """A governance rule refuses the operation; the message says which rule and how to proceed."""


def governance_dir(store_path: str | os.PathLike[str]) -> Path:
    return Path(store_path) / GOVERNANCE_DIR


def is_governed(store_path: str | os.PathLike[str]) -> bool:
    """True when the store has a governance folder (reads are then audited and purpose-checked)."""
    return governance_dir(store_path).is_dir()


def ensure_dir(store_path: str | os.PathLike[str]) -> Path:
    path = governance_dir(store_path)
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def check_purpose_name(purpose: str) -> str:
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise ValueError(f"purpose {purpose!r} is not valid; use lower-case letters, digits, '_' or '-'")
    return purpose


# ------------------------------------------------------------------------------------------------ files
def atomic_write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` atomically with ``obj`` as JSON (mode 0600, fsynced)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(obj, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except json.JSONDecodeError as exc:
        raise GovernanceError(f"{path}: not valid JSON ({exc}); restore it from a backup") from None


@contextmanager
def locked(store_path: str | os.PathLike[str], name: str = ".lock") -> Iterator[None]:
    """An exclusive lock on ``STORE/governance/<name>`` (serialises governance read-modify-write cycles)."""
    folder = ensure_dir(store_path)
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def append_jsonl(path: Path, obj: dict) -> None:
    """Append one JSON line under an exclusive lock, in one ``write``, then fsync (mode 0600).

    A torn last line left by a crash (no trailing newline) is cut before writing: it was never acknowledged.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = (json.dumps(obj, sort_keys=True, ensure_ascii=True) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = os.pread(fd, size, 0)
            os.ftruncate(fd, data.rfind(b"\n") + 1)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: Path) -> list[dict]:
    """Complete lines of a JSON-lines ledger (a torn last line is ignored; a damaged line raises)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    out = []
    for number, raw in enumerate(lines[:-1], start=1):
        if not raw.strip():
            continue
        try:
            out.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GovernanceError(f"{path}, line {number}: not a JSON record ({exc}); the ledger is damaged") from None
    return out


# ----------------------------------------------------------------------------------------------- policy
def load_policy(store_path: str | os.PathLike[str]) -> dict:
    """The store's policy (``{}`` when none was declared)."""
    return read_json(governance_dir(store_path) / POLICY, {}) or {}


def save_policy(store_path: str | os.PathLike[str], policy: dict) -> None:
    ensure_dir(store_path)
    policy = dict(policy)
    policy["updated"] = now_iso()
    atomic_write_json(governance_dir(store_path) / POLICY, policy)


def update_policy(store_path: str | os.PathLike[str], **changes: Any) -> dict:
    """Read-modify-write the policy under the governance lock; ``None`` values remove a key."""
    with locked(store_path):
        policy = load_policy(store_path)
        for key, value in changes.items():
            if value is None:
                policy.pop(key, None)
            else:
                policy[key] = value
        save_policy(store_path, policy)
    return policy


def declared_purposes(store_path: str | os.PathLike[str]) -> list[str] | None:
    """Purposes the store allows (None: no declaration, every purpose is accepted but audited)."""
    purposes = load_policy(store_path).get("purposes")
    return None if purposes is None else list(purposes)


def study_policy(store_path: str | os.PathLike[str], study: str) -> dict:
    return dict(load_policy(store_path).get("studies", {}).get(study, {}))


def set_study_policy(store_path: str | os.PathLike[str], study: str, **changes: Any) -> dict:
    with locked(store_path):
        policy = load_policy(store_path)
        studies = policy.setdefault("studies", {})
        entry = studies.setdefault(study, {})
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        save_policy(store_path, policy)
    return entry


# ------------------------------------------------------------------------------------- recording dates
def load_recorded(store_path: str | os.PathLike[str]) -> dict[str, dict[str, dict[str, dict]]]:
    """``{study: {participant: {session: {"recorded_at": iso, "source": how}}}}``."""
    return read_json(governance_dir(store_path) / RECORDED, {}) or {}


def record_units(
    store_path: str | os.PathLike[str], units: list[tuple[str, str, str]], *, recorded_at: str | None = None,
    source: str = "first committed",
) -> int:
    """Remember when each (study, participant, session) was recorded (first value wins). Returns new units."""
    if not units:
        return 0
    with locked(store_path):
        data = load_recorded(store_path)
        added = 0
        stamp = recorded_at or now_iso()
        for study, participant, session in units:
            sessions = data.setdefault(study, {}).setdefault(participant, {})
            if session not in sessions:
                sessions[session] = {"recorded_at": stamp, "source": source}
                added += 1
        if added:
            atomic_write_json(governance_dir(store_path) / RECORDED, data)
    return added


def set_recorded(store_path: str | os.PathLike[str], study: str, participant: str, session: str, recorded_at: str,
                 *, source: str) -> None:
    """Set the recording date of one session (e.g. from capture metadata), overriding an estimate."""
    with locked(store_path):
        data = load_recorded(store_path)
        data.setdefault(study, {}).setdefault(participant, {})[session] = {"recorded_at": recorded_at, "source": source}
        atomic_write_json(governance_dir(store_path) / RECORDED, data)


def forget_recorded(store_path: str | os.PathLike[str], *, study: str | None, participant: str,
                    sessions: list[str] | None = None) -> None:
    """Drop recording dates of an erased participant (or of some sessions)."""
    path = governance_dir(store_path) / RECORDED
    if not path.exists():
        return
    with locked(store_path):
        data = load_recorded(store_path)
        for st, people in data.items():
            if study is not None and st != study or participant not in people:
                continue
            if sessions is None:
                people.pop(participant)
            else:
                for s in sessions:
                    people[participant].pop(s, None)
                if not people[participant]:
                    people.pop(participant)
        atomic_write_json(path, data)


def rename_recorded(store_path: str | os.PathLike[str], mapping: dict[tuple[str, str], tuple[str, str]],
                    participants: dict[str, str]) -> None:
    """Re-key recording dates after a pseudonym rotation (``mapping``: (participant, session) → new pair)."""
    path = governance_dir(store_path) / RECORDED
    if not path.exists():
        return
    with locked(store_path):
        data = load_recorded(store_path)
        out: dict = {}
        for study, people in data.items():
            for participant, sessions in people.items():
                for session, info in sessions.items():
                    new_p, new_s = mapping.get((participant, session), (participants.get(participant, participant), session))
                    out.setdefault(study, {}).setdefault(new_p, {})[new_s] = info
        atomic_write_json(path, out)
