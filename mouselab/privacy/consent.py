"""The consent registry: append-only JSON lines at ``STORE/governance/consent.jsonl``.

Each line is one decision::

    {"action": "grant", "at": "2026-11-26T09:14:03.123456+00:00", "note": null,
     "participant": "P01", "purpose": "research", "study": "cogload"}

Consent for a (participant, study, purpose) is *active* when the last line for it is a ``grant``.
Lines are never rewritten or removed: a withdrawal is a new line. Each append happens under an exclusive
``flock``, in one ``write`` call, followed by ``fsync``. A line torn by a crash (the file does not end with
a newline) was never acknowledged: readers ignore it and the next append cuts it off before writing.

Any other line that is not a valid record makes every reader raise :class:`ConsentRegistryError`
(naming file and line), so a damaged registry stops capture instead of being silently ignored.

**Who a line names.** In a plain store the ``participant`` field holds the id as given. In a
*pseudonymised* store (its policy records the key id, see :mod:`mouselab.privacy.keys`) every function here
accepts the participant's raw id (``P017``, as on the consent form) *or* the data pseudonym (``p-…``) and
the registry stores a consent token ``c-…`` derived from the pseudonym under a separate subkey
(:func:`mouselab.privacy.pseudonym.consent_token`): governance records and data tables share no identifier,
so after an erasure the pseudonym is found nowhere in the store while the withdrawal stays on record.
A key rotation appends ``rekey`` lines (old token → new token); readers follow them, so the history of a
person stays one history.

**Withdrawal and erasure.** :func:`withdraw` only records the decision (a running capture notices at its next
flush; what it recorded before stays). :func:`process_withdrawal` is what ``mouselab privacy consent withdraw``
(and its alias ``mouselab capture consent withdraw``) runs: it records the withdrawal, stops a capture agent
recording the participant, and — when no purpose remains active for the study — says what will be erased,
erases it (:func:`mouselab.privacy.erasure.erase_participant`, logged in the audit log) and verifies it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

#: Location of the registry inside a store folder.
CONSENT_FILE = Path("governance") / "consent.jsonl"
#: Purpose used when none is given.
DEFAULT_PURPOSE = "research"
ACTIONS = ("grant", "withdraw")
#: Line kind written by a key rotation: ``previous`` token → ``participant`` token.
REKEY = "rekey"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class ConsentError(PermissionError):
    """An action needs consent that is not active. The message says whose, for what, and how to record it."""


class ConsentRegistryError(ValueError):
    """The registry file is damaged or a value is not acceptable; the message names file and line."""


@dataclass(frozen=True)
class ConsentRecord:
    """One line of the registry."""

    action: str
    at: str  # ISO 8601, UTC, microseconds
    participant: str
    study: str
    purpose: str
    note: str | None = None

    @property
    def at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.at)


def registry_path(store_path: str | os.PathLike[str]) -> Path:
    """Path of the consent registry of the store at ``store_path``."""
    return Path(store_path) / CONSENT_FILE


def grant(
    store_path: str | os.PathLike[str], participant: str, study: str, purpose: str = DEFAULT_PURPOSE, *,
    note: str | None = None,
) -> ConsentRecord:
    """Record that ``participant`` consents to ``purpose`` in ``study``. Creates the store when missing.

    A new store becomes pseudonymised here when a key is configured (``key_file``). A grant after an
    erasure lifts the erasure's block on new data of this participant.
    """
    _ensure_store(Path(store_path))
    _check_ids(participant, study, purpose)
    from mouselab.privacy import erasure, keys

    keys.adopt(store_path)
    record = _append(store_path, "grant", participant, study, purpose, note)
    erasure.lift(store_path, study, data_id(store_path, participant))
    return record


def withdraw(
    store_path: str | os.PathLike[str], participant: str, study: str, purpose: str = DEFAULT_PURPOSE, *,
    note: str | None = None,
) -> ConsentRecord:
    """Record that ``participant`` withdraws consent for ``purpose`` in ``study`` (effective immediately)."""
    return _append(store_path, "withdraw", participant, study, purpose, note)


def is_active(store_path: str | os.PathLike[str], participant: str, study: str, purpose: str = DEFAULT_PURPOSE) -> bool:
    """True when the latest decision of ``participant`` for ``study`` and ``purpose`` is a grant."""
    latest = _latest(store_path, participant, study, purpose)
    return latest is not None and latest.action == "grant"


def latest(store_path: str | os.PathLike[str], participant: str, study: str, purpose: str = DEFAULT_PURPOSE) -> ConsentRecord | None:
    """The latest decision for (participant, study, purpose), or None when there is none."""
    return _latest(store_path, participant, study, purpose)


def require(store_path: str | os.PathLike[str], participant: str, study: str, purpose: str = DEFAULT_PURPOSE) -> ConsentRecord:
    """Return the active grant or raise :class:`ConsentError` with a one-line explanation."""
    last = _latest(store_path, participant, study, purpose)
    if last is None or last.action != "grant":
        state = "was withdrawn on " + last.at if last is not None else "has not been recorded"
        raise ConsentError(
            f"consent of participant {participant!r} for study {study!r} (purpose {purpose!r}) {state}; "
            f"record it first with: mouselab privacy consent grant --store {store_path} --study {study} "
            f"--participant {participant} --purpose {purpose}"
        )
    return last


def records(
    store_path: str | os.PathLike[str], participant: str | None = None, study: str | None = None,
    purpose: str | None = None,
) -> list[ConsentRecord]:
    """All decisions in file order, optionally filtered (``participant``: raw id or pseudonym)."""
    out = []
    who = subject(store_path, participant) if participant is not None else None
    for rec in _read(registry_path(store_path)):
        if who is not None and rec.participant != who:
            continue
        if study is not None and rec.study != study:
            continue
        if purpose is not None and rec.purpose != purpose:
            continue
        out.append(rec)
    return out


def history(store_path: str | os.PathLike[str], participant: str, study: str | None = None) -> list[ConsentRecord]:
    """Every decision of one participant (raw id or pseudonym), in time order — for access requests."""
    return records(store_path, participant, study)


def active_purposes(store_path: str | os.PathLike[str], participant: str, study: str) -> list[str]:
    """Purposes with an active grant for ``participant`` in ``study``."""
    state: dict[str, str] = {}
    for rec in records(store_path, participant, study):
        state[rec.purpose] = rec.action
    return sorted(p for p, a in state.items() if a == "grant")


def state(store_path: str | os.PathLike[str], study: str | None = None) -> dict[tuple[str, str, str], ConsentRecord]:
    """The latest decision per (registry id, study, purpose)."""
    out: dict[tuple[str, str, str], ConsentRecord] = {}
    for rec in records(store_path, study=study):
        out[(rec.participant, rec.study, rec.purpose)] = rec
    return out


def lapsed(store_path: str | os.PathLike[str], study: str, data_ids: list[str]) -> list[str]:
    """Of the participants ``data_ids`` (as the store names them), those who have consent records for
    ``study`` but no active purpose any more: their data awaits erasure."""
    latest_by: dict[str, dict[str, str]] = {}
    for rec in records(store_path, study=study):
        latest_by.setdefault(rec.participant, {})[rec.purpose] = rec.action
    out = []
    for pid in data_ids:
        decisions = latest_by.get(subject(store_path, pid))
        if decisions and not any(a == "grant" for a in decisions.values()):
            out.append(pid)
    return out


def data_id(store_path: str | os.PathLike[str], participant: str) -> str:
    """The id under which the store's tables name ``participant`` (its pseudonym in a pseudonymised store)."""
    chain = _store_chain(store_path)
    if chain is None:
        return participant
    from mouselab.privacy.pseudonym import is_pseudonym, participant as pseudonymise

    return participant if is_pseudonym(participant) else pseudonymise(participant, chain)


def subject(store_path: str | os.PathLike[str], participant: str) -> str:
    """The id under which the registry names ``participant`` (a consent token in a pseudonymised store)."""
    chain = _store_chain(store_path)
    if chain is None:
        return participant
    from mouselab.privacy.pseudonym import consent_token

    return consent_token(data_id(store_path, participant), chain)


def append_rekey(store_path: str | os.PathLike[str], mapping: dict[str, str]) -> int:
    """Record a key rotation: each old registry id now reads as its new one. Returns lines written."""
    from mouselab.privacy import governance

    path = registry_path(store_path)
    if not path.exists():
        return 0
    written = 0
    for old, new in sorted(mapping.items()):
        governance.append_jsonl(path, {
            "action": REKEY, "at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "participant": new, "previous": old, "study": "*", "purpose": "*", "note": "key rotation",
        })
        written += 1
    return written


def registry_ids(store_path: str | os.PathLike[str]) -> set[str]:
    """Every registry id with a decision (after following rekey lines)."""
    return {rec.participant for rec in _read(registry_path(store_path))}


# ------------------------------------------------------------------------------- withdrawal: one path
#: How long a withdrawal waits for a running capture agent to stop before erasing (it commits first).
STOP_WAIT_S = 120.0


@dataclass
class ErasurePlan:
    """What erasing a participant from a study will remove (counted before anything is removed)."""

    participant: str  # as the store names them
    study: str
    rows: dict[str, int] = field(default_factory=dict)  # per table: rows in the participant's partitions
    capture_files: int = 0

    def lines(self) -> list[str]:
        rows = ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows.items()) if n) or "no rows"
        return [
            f"erasing participant {self.participant} from study {self.study} — this cannot be undone:",
            f"  rows: {rows}; rows of study-level tables (quarantine, ingest_log) that name them",
            f"  files: {self.capture_files} capture session / spool file(s), the capture status and log lines, "
            "and caches that name them; their recording dates",
            "  kept: the withdrawal record, an erasure record without the id (blocks re-ingest), an audit entry",
        ]


@dataclass
class Withdrawal:
    """Outcome of :func:`process_withdrawal`."""

    participant: str  # as the store names them
    study: str
    purposes: list[str]  # withdrawn by this call
    still_active: list[str]  # purposes that keep the data
    dry_run: bool = False
    capture: dict | None = None  # status of the capture agent of this participant (stopped unless dry_run)
    plan: ErasurePlan | None = None  # what is (dry run: would be) erased; None when data is kept
    erasure: object | None = None  # mouselab.privacy.erasure.ErasureReport, None when nothing was erased

    @property
    def verified(self) -> bool:
        return self.erasure is None or self.erasure.verified


def erasure_plan(store_path: str | os.PathLike[str], participant: str, study: str) -> ErasurePlan:
    """Count what erasing ``participant`` (raw id or pseudonym) from ``study`` removes, reading only the
    store's manifest and the capture folders (no data is read, nothing is audited)."""
    from mouselab.capture import files as capture_files
    from mouselab.store.manifest import Manifest

    root = Path(store_path)
    pid = data_id(root, participant)
    plan = ErasurePlan(participant=pid, study=study)
    for table, files in Manifest.load(root).tables.items():
        for entry in files.values():
            part = entry.partition
            if part.get("participant") == pid and part.get("study") == study:
                plan.rows[table] = plan.rows.get(table, 0) + entry.rows
    cap = capture_files.capture_dir(root)
    for folder in (cap / "sessions" / study / pid, capture_files.spool_root(root) / study / pid):
        if folder.exists():
            plan.capture_files += sum(1 for p in folder.rglob("*") if p.is_file())
    return plan


def process_withdrawal(
    store_path: str | os.PathLike[str], participant: str, study: str, *, purposes: list[str] | None = None,
    note: str | None = None, wait_s: float = STOP_WAIT_S, dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
) -> Withdrawal:
    """Withdraw ``participant``'s consent for ``purposes`` in ``study`` (default: every active purpose).

    1. records the withdrawal of each purpose (append-only, effective immediately);
    2. stops a capture agent recording this participant in ``study`` for a withdrawn purpose, waiting up to
       ``wait_s`` for it to commit and exit (it drops what it recorded after the withdrawal);
    3. when no purpose remains active for the study: ``echo``-es what will be erased, erases it from the
       store (logged in the audit log) and verifies it by query and by bytes.

    Withdrawing some purposes while others stay active keeps the data (purpose checks stop the withdrawn
    use). ``dry_run`` records, stops and erases nothing and returns what would happen. Raises
    :class:`mouselab.privacy.governance.GovernanceError` when the agent does not stop in time (the
    withdrawal is recorded, nothing is erased: ``mouselab privacy erase`` finishes the job).
    """
    from mouselab.capture import control
    from mouselab.privacy import erasure, governance

    say = echo or (lambda message: None)
    root = Path(store_path)
    for purpose in purposes or [DEFAULT_PURPOSE]:
        _check_ids(participant, study, purpose)
    if not (root / "manifest.json").exists():
        raise FileNotFoundError(f"{root} is not a mouselab store (no manifest.json); check --store")
    pid = data_id(root, participant)
    active = active_purposes(root, participant, study)
    targets = list(purposes) if purposes else (active or [DEFAULT_PURPOSE])
    agent = control.running(root)
    if agent is not None and (agent.get("participant") != pid or agent.get("study") != study):
        agent = None
    if dry_run:
        left = [p for p in active if p not in targets]
        stops = agent is not None and agent.get("purpose", DEFAULT_PURPOSE) not in left
        return Withdrawal(participant=pid, study=study, purposes=targets, still_active=left, dry_run=True,
                          capture=agent if stops else None, plan=None if left else erasure_plan(root, pid, study))
    left, _ = erasure.withdraw_and_erase(root, participant, study, purposes=targets, note=note, erase=False)
    say(f"consent withdrawn: study {study}, purpose {', '.join(targets)}"
        + (f"; still active: {', '.join(left)}" if left else ""))
    result = Withdrawal(participant=pid, study=study, purposes=targets, still_active=left)
    if agent is not None and agent.get("purpose", DEFAULT_PURPOSE) not in left:
        say(f"stopping the capture agent recording this participant (pid {agent.get('pid')}, session "
            f"{agent.get('session')}) ...")
        try:
            result.capture = control.stop_capture_of(root, study=study, participant=pid, wait_s=wait_s)
        except control.AgentTimeout:
            raise governance.GovernanceError(
                f"the withdrawal is recorded, but the capture agent (pid {agent.get('pid')}) did not stop within "
                f"{wait_s:g} s, so nothing was erased yet; stop it (mouselab capture stop --store {root}, or kill "
                f"the process), then erase with: mouselab privacy erase --store {root} --participant {participant} "
                f"--study {study}"
            ) from None
        say(f"capture agent stopped; the {result.capture.get('samples_committed', 0):,} samples it recorded before "
            "the withdrawal were committed")
    if left:
        return result
    result.plan = erasure_plan(root, pid, study)
    for line in result.plan.lines():
        say(line)
    result.erasure = erasure.erase_participant(root, participant, study=study, reason="consent withdrawn")
    return result


# ----------------------------------------------------------------------------------------------- internals
def _store_chain(store_path):
    """The key chain of a pseudonymised store (None for a plain store); checks it is the store's key."""
    from mouselab.privacy import governance, keys

    policy = governance.load_policy(store_path) if governance.is_governed(store_path) else {}
    kid = policy.get("pseudonym_key_id")
    if not kid:
        return None
    chain = keys.configured_chain(store_path)
    if chain is None:
        raise governance.GovernanceError(
            f"the store {store_path} is pseudonymised (key {kid}); configure its key file (setting key_file, "
            "MOUSELAB_KEY_FILE) to look participants up"
        )
    if chain.key_id != kid:
        raise governance.GovernanceError(
            f"the configured key file {chain.path} holds key {chain.key_id}, but the store {store_path} was "
            f"pseudonymised with key {kid}; use the store's key file (after a rotation: the new one)"
        )
    return chain


def _latest(store_path, participant: str, study: str, purpose: str) -> ConsentRecord | None:
    _check_ids(participant, study, purpose)
    found = records(store_path, participant, study, purpose)
    return found[-1] if found else None


def _check_ids(participant: str, study: str, purpose: str) -> None:
    for name, value in (("participant", participant), ("study", study)):
        if not isinstance(value, str) or not _ID.match(value):
            raise ConsentRegistryError(
                f"{name} {value!r} is not a valid id; use letters, digits, '.', '_' or '-' (at most 128 characters)"
            )
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise ConsentRegistryError(f"purpose {purpose!r} is not valid; use lower-case letters, digits, '_' or '-'")


def _ensure_store(root: Path) -> None:
    if (root / "manifest.json").exists():
        return
    from mouselab.store import Store  # only when a new store has to be made

    Store.create(root)


def _append(store_path, action: str, participant: str, study: str, purpose: str, note: str | None) -> ConsentRecord:
    _check_ids(participant, study, purpose)
    if note is not None and not isinstance(note, str):
        raise ConsentRegistryError("note must be text")
    record = ConsentRecord(
        action=action,
        at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        participant=subject(store_path, participant),
        study=study,
        purpose=purpose,
        note=note,
    )
    path = registry_path(store_path)
    if not path.parent.parent.exists():
        raise FileNotFoundError(f"{path.parent.parent}: no such store folder")
    from mouselab.privacy.governance import append_jsonl  # locked, fsynced, torn tail cut

    append_jsonl(path, asdict(record))
    return record


def _read(path: Path) -> list[ConsentRecord]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    out = []
    alias: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        if number == len(lines):  # the text after the last newline: empty, or a torn (unacknowledged) line
            break
        if not raw.strip():
            continue
        rec = _parse(path, number, raw)
        if rec.action == REKEY:
            alias[rec.note] = rec.participant  # note holds the previous id (see _parse)
            continue
        out.append(rec)
    if alias:
        def final(pid: str) -> str:
            seen = set()
            while pid in alias and pid not in seen:
                seen.add(pid)
                pid = alias[pid]
            return pid

        out = [ConsentRecord(r.action, r.at, final(r.participant), r.study, r.purpose, r.note) for r in out]
    return out


def _parse(path: Path, number: int, raw: bytes) -> ConsentRecord:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConsentRegistryError(f"{path}, line {number}: not a JSON record ({exc}); the registry is damaged") from None
    if not isinstance(obj, dict):
        raise ConsentRegistryError(f"{path}, line {number}: expected a JSON object")
    for key in ("action", "at", "participant", "study", "purpose"):
        if not isinstance(obj.get(key), str):
            raise ConsentRegistryError(f"{path}, line {number}, field {key!r}: missing or not text")
    if obj["action"] == REKEY:
        if not isinstance(obj.get("previous"), str):
            raise ConsentRegistryError(f"{path}, line {number}, field 'previous': missing or not text")
        return ConsentRecord(action=REKEY, at=obj["at"], participant=obj["participant"], study="*", purpose="*",
                             note=obj["previous"])
    if obj["action"] not in ACTIONS:
        raise ConsentRegistryError(f"{path}, line {number}, field 'action': {obj['action']!r} is not grant or withdraw")
    try:
        datetime.fromisoformat(obj["at"])
    except ValueError:
        raise ConsentRegistryError(f"{path}, line {number}, field 'at': {obj['at']!r} is not an ISO timestamp") from None
    return ConsentRecord(
        action=obj["action"], at=obj["at"], participant=obj["participant"], study=obj["study"],
        purpose=obj["purpose"], note=obj.get("note"),
    )


__all__ = [
    "CONSENT_FILE", "DEFAULT_PURPOSE", "STOP_WAIT_S", "ConsentError", "ConsentRecord", "ConsentRegistryError",
    "ErasurePlan", "Withdrawal", "active_purposes", "append_rekey", "data_id", "erasure_plan", "grant", "history",
    "is_active", "lapsed", "latest", "process_withdrawal", "records", "registry_ids", "registry_path", "require",
    "state", "subject", "withdraw",
]
