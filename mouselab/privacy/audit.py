"""The audit log: who read which tables of a governed store, when, for which purpose — tamper-evident.

One JSON line per query (never per row) in ``STORE/governance/audit.jsonl``::

    {"at": "…", "detail": {…}, "hash": "…", "key_id": "…", "mac": "…", "op": "scan", "operator": "ana",
     "prev": "…", "purpose": "research", "seq": 17, "tables": ["samples"]}

**Chain.** ``hash = SHA-256(canonical JSON of the entry without hash and mac)``; the entry includes ``prev``,
the hash of the entry before (64 zeros for the first) and ``seq``, its 1-based position. Editing an entry
changes its hash; deleting or reordering entries breaks ``seq`` and ``prev``.

**Key.** With an audit key (a file outside the store: setting ``audit_key_file`` when declared, else
``MOUSELAB_AUDIT_KEY_FILE``), every entry also carries ``mac = HMAC-SHA256(key, hash)``. Without the key
nobody can rebuild a consistent chain after an edit: recomputed hashes need new MACs. Once a store's log has
a keyed entry, the store's policy records ``audit_key_id`` and any later unsigned entry is reported.
Without any audit key, entries are chained but unsigned: accidental damage and naive edits are detected, a
deliberate rewrite of the whole file is not (``audit verify`` says so). Reads never fail because no key is
configured; with a key configured, a read whose audit entry cannot be written is refused (fail closed).

**Truncation.** Cutting entries off the *end* leaves a valid chain, so the tail is anchored outside the log:

1. ``governance/audit.head`` — a checkpoint of the last entry (``seq``, ``hash``) with a MAC under the audit
   key, rewritten after every append. A log that ends before the checkpoint's ``seq``, or whose entry at
   that ``seq`` has another hash, was truncated or rewritten; a forged checkpoint fails its MAC.
2. every report's provenance block records the head (``seq``, ``hash``) at the time it ran
   (:mod:`mouselab.report.provenance`); ``mouselab privacy audit verify --anchors REPORTS_DIR`` checks that
   each anchored entry still exists with that hash. This catches a truncation combined with rolling the
   checkpoint back to an older genuine copy.

What cannot be detected: someone holding the audit key can rewrite entries after the last anchor that
lives outside their reach. Copy ``mouselab privacy audit head`` output to somewhere they cannot write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from mouselab.privacy import governance

AUDIT_FILE = "audit.jsonl"
HEAD_FILE = "audit.head"
GENESIS = "0" * 64
_TAIL_BYTES = 1 << 16


def log_path(store_path) -> Path:
    return governance.governance_dir(store_path) / AUDIT_FILE


def head_path(store_path) -> Path:
    return governance.governance_dir(store_path) / HEAD_FILE


def _canonical(entry: dict) -> bytes:
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(entry: dict) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, ("mouselab/audit\0" + text).encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    return "a-" + hashlib.sha256(b"mouselab/audit-key-id\0" + key).hexdigest()[:16]


def _last_entry(fd: int) -> tuple[dict | None, int]:
    """The last complete entry of the open log and the offset where complete lines end."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None, 0
    start = max(0, size - _TAIL_BYTES)
    while True:
        chunk = os.pread(fd, size - start, start)
        end = chunk.rfind(b"\n")
        if end < 0:  # no complete line in the window
            if start == 0:
                return None, 0
            start = max(0, start - _TAIL_BYTES)
            continue
        begin = chunk.rfind(b"\n", 0, end) + 1
        if begin == 0 and start > 0:
            start = max(0, start - _TAIL_BYTES)
            continue
        line = chunk[begin:end]
        try:
            return json.loads(line), start + end + 1
        except json.JSONDecodeError as exc:
            raise governance.GovernanceError(
                f"the last entry of the audit log is damaged ({exc}); run `mouselab privacy audit verify`"
            ) from None


def append(
    store_path, *, op: str, tables: list[str], purpose: str, operator: str, detail: dict | None = None,
    key: bytes | None = None, at: str | None = None,
) -> dict:
    """Append one chained (and, with ``key``, MAC-signed) entry; update the head checkpoint. Returns it."""
    folder = governance.ensure_dir(store_path)
    path = folder / AUDIT_FILE
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last, complete = _last_entry(fd)
        if os.fstat(fd).st_size != complete:  # torn tail from a crash: never acknowledged, cut it
            os.ftruncate(fd, complete)
        entry = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": at or governance.now_iso(),
            "operator": operator,
            "purpose": purpose,
            "op": op,
            "tables": sorted(tables),
            "detail": detail or None,
            "prev": last["hash"] if last else GENESIS,
            "key_id": key_id(key) if key else None,
        }
        entry["hash"] = entry_hash(entry)
        entry["mac"] = _mac(key, entry["hash"]) if key else None
        line = (json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n").encode()
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        _write_head(folder / HEAD_FILE, entry, key)
    finally:
        os.close(fd)
    if key and "audit_key_id" not in governance.load_policy(store_path):
        governance.update_policy(store_path, audit_key_id=key_id(key))
    return entry


def _write_head(path: Path, entry: dict, key: bytes | None) -> None:
    head = {"seq": entry["seq"], "hash": entry["hash"], "at": entry["at"],
            "key_id": key_id(key) if key else None,
            "mac": _mac(key, f"head\0{entry['seq']}\0{entry['hash']}") if key else None}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(head, handle, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def head(store_path) -> dict | None:
    """``{"seq", "hash"}`` of the last entry of the log (what reports anchor), or None for an empty log."""
    path = log_path(store_path)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        last, _ = _last_entry(fd)
    finally:
        os.close(fd)
    return {"seq": last["seq"], "hash": last["hash"]} if last else None


def entries(store_path) -> list[dict]:
    return governance.read_jsonl(log_path(store_path))


@dataclass
class AuditReport:
    """Outcome of :func:`verify`: entries checked, problems found (empty = intact), and caveats."""

    entries: int
    keyed: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store_path, *, key: bytes | None = None, anchors: list[dict] | tuple = ()) -> AuditReport:
    """Check the whole log: chain, sequence, MACs (with ``key``), head checkpoint and external ``anchors``.

    ``anchors`` are ``{"seq", "hash", "source"}`` dicts, e.g. from report provenance blocks
    (:func:`anchors_from_reports`). Every detected edit, deletion, reordering, truncation or unkeyed rebuild
    is one line in :attr:`AuditReport.problems`.
    """
    path = log_path(store_path)
    policy = governance.load_policy(store_path)
    keyed_store = policy.get("audit_key_id")
    report = AuditReport(entries=0, keyed=key is not None)
    if key is not None and keyed_store and key_id(key) != keyed_store:
        report.problems.append(f"the audit key given ({key_id(key)}) is not the store's audit key ({keyed_store})")
    raw = path.read_bytes() if path.exists() else b""
    lines = raw.split(b"\n")
    if lines and lines[-1] != b"":
        report.notes.append("the last line is incomplete (a crash while appending); it is ignored")
    lines = lines[:-1]
    prev_hash = GENESIS
    by_seq: dict[int, str] = {}
    expected = 1
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            report.problems.append(f"{where}: not a JSON entry ({exc}): damaged or edited")
            continue
        report.entries += 1
        seq = entry.get("seq")
        if seq != expected:
            report.problems.append(
                f"{where}: sequence number {seq}, expected {expected} (entries deleted, inserted or reordered)"
            )
        if entry.get("prev") != prev_hash:
            report.problems.append(f"{where}: 'prev' does not match the hash of the entry before (chain broken)")
        computed = entry_hash(entry)
        if computed != entry.get("hash"):
            report.problems.append(f"{where} (seq {seq}): content changed after it was written (hash mismatch)")
        mac = entry.get("mac")
        if key is not None:
            if mac is None:
                report.problems.append(f"{where} (seq {seq}): entry is not signed although the log is keyed")
            elif not hmac.compare_digest(mac, _mac(key, str(entry.get("hash")))):
                report.problems.append(
                    f"{where} (seq {seq}): MAC invalid (entry forged, or the chain was rebuilt without the key)"
                )
        elif keyed_store and mac is None:
            report.problems.append(f"{where} (seq {seq}): unsigned entry in a keyed log (written without the audit key)")
        if isinstance(seq, int):
            by_seq[seq] = entry.get("hash")
        prev_hash = entry.get("hash")
        expected = (seq + 1) if isinstance(seq, int) else expected + 1
    last_seq = expected - 1
    report.head = {"seq": last_seq, "hash": prev_hash} if report.entries else None
    if key is None and report.entries:
        report.notes.append(
            "MACs not checked (no audit key given): edits, deletions, reordering and truncation are detected, "
            "a deliberate rebuild of the whole chain is not"
        )
    # head checkpoint
    checkpoint = governance.read_json(head_path(store_path), None)
    if checkpoint is None:
        if report.entries:
            report.problems.append("the head checkpoint governance/audit.head is missing (deleted to hide a truncation?)")
    else:
        cseq, chash = checkpoint.get("seq"), checkpoint.get("hash")
        if key is not None:
            cmac = checkpoint.get("mac")
            if cmac is None or not hmac.compare_digest(cmac, _mac(key, f"head\0{cseq}\0{chash}")):
                report.problems.append("the head checkpoint's MAC is invalid (checkpoint forged)")
        if not isinstance(cseq, int) or cseq > last_seq:
            report.problems.append(
                f"log truncated: the head checkpoint names entry #{cseq}, but the log ends at #{last_seq}"
            )
        elif by_seq.get(cseq) != chash:
            report.problems.append(f"the head checkpoint's hash for entry #{cseq} does not match the log (rewritten)")
    for anchor in anchors:
        aseq, ahash, source = anchor.get("seq"), anchor.get("hash"), anchor.get("source", "an anchor")
        if not isinstance(aseq, int):
            continue
        if aseq > last_seq:
            report.problems.append(f"log truncated: {source} anchors entry #{aseq}, but the log ends at #{last_seq}")
        elif by_seq.get(aseq) != ahash:
            report.problems.append(f"{source} anchors entry #{aseq} with another hash (log rewritten)")
    return report


def anchors_from_reports(folder) -> list[dict]:
    """Audit anchors recorded in the provenance blocks of executed notebooks (``*.ipynb``) under ``folder``."""
    out = []
    for path in sorted(Path(folder).rglob("*.ipynb")):
        try:
            meta = json.loads(path.read_text()).get("metadata", {})
        except (OSError, json.JSONDecodeError):
            continue
        privacy = meta.get("mouselab", {}).get("provenance", {}).get("privacy") or {}
        anchor = privacy.get("audit_head")
        if isinstance(anchor, dict) and "seq" in anchor:
            out.append({"seq": anchor["seq"], "hash": anchor["hash"], "source": str(path)})
    return out
