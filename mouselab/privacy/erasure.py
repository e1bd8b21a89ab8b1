"""Erasure (GDPR Art. 17): remove every row and file of one participant, then prove it.

:func:`erase_participant` removes, in one store transaction (:meth:`mouselab.store.Store.rewrite`), the
participant's partitions of every table (raw ``samples`` / ``events`` / ``trials`` / ``participants`` and
derived tables such as ``actions``) and the rows of study-level tables (``quarantine``, ``ingest_log``) whose
text mentions them; then the capture agent's files of the participant (session metadata, spool segments,
status and log lines), cache files that mention them, and their recording dates. Reports that included them
are listed as stale (:mod:`mouselab.privacy.reports`). Finally it **verifies**:

* by query — every table read through the store returns 0 rows for the participant;
* by bytes — every file under the store (raw bytes, decoded Parquet text values, and path names) is searched
  for the participant's id: 0 hits expected.

What stays: the consent registry's withdrawal line (the controller must be able to show consent was
withdrawn, Art. 7(1)) and an erasure record with a *tombstone digest*. In a pseudonymised store neither
contains the pseudonym (the registry names a consent token; the tombstone is a one-way digest), so the byte
scan finds nothing. In a plain store the registry keeps the id as given; the scan reports those lines as
retained records, separately from data hits.

The tombstone stops the same participant's data from entering the store again (a re-ingest of an old file);
a new consent grant lifts it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mouselab.privacy import governance

ERASURES = "erasures.jsonl"
CACHE_DIRS = ("cache", ".cache", "derived")
#: Needles shorter than this are not searched in raw (compressed) bytes, only in decoded text.
MIN_BYTE_NEEDLE = 8


def tombstone_digest(study: str, participant: str) -> str:
    return hashlib.sha256(f"mouselab/erased\0{study}\0{participant}".encode()).hexdigest()[:32]


def _ledger(store_path) -> Path:
    return governance.governance_dir(store_path) / ERASURES


def tombstoned(store_path, study: str, participants) -> set[str]:
    """Those of ``participants`` (data ids) whose erasure in ``study`` has not been lifted by a new consent."""
    path = _ledger(store_path)
    if not path.exists():
        return set()
    state: dict[str, bool] = {}
    for rec in governance.read_jsonl(path):
        if rec.get("action") == "erased":
            state[rec["digest"]] = True
        elif rec.get("action") == "lifted":
            state[rec["digest"]] = False
    return {p for p in participants if state.get(tombstone_digest(study, p))}


def lift(store_path, study: str, participant: str) -> None:
    """A new consent: data of this participant may enter the store again."""
    if tombstoned(store_path, study, [participant]):
        governance.append_jsonl(_ledger(store_path), {"action": "lifted", "at": governance.now_iso(),
                                                      "digest": tombstone_digest(study, participant)})


@dataclass
class ErasureReport:
    """What an erasure removed and how it was verified."""

    participant: str
    studies: list[str]
    rows_removed: dict[str, int] = field(default_factory=dict)
    files_removed: int = 0
    capture_files_removed: list[str] = field(default_factory=list)
    cache_files_removed: list[str] = field(default_factory=list)
    stale_reports: list[str] = field(default_factory=list)
    query_rows: dict[str, int] = field(default_factory=dict)
    byte_hits: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not any(self.query_rows.values()) and not self.byte_hits

    def summary(self) -> list[str]:
        lines = [f"erased participant {self.participant} from study {', '.join(self.studies) or '(none)'}"]
        removed = ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows_removed.items()) if n) or "no rows"
        lines.append(f"rows removed: {removed}; {self.files_removed} Parquet files rewritten or removed")
        if self.capture_files_removed:
            lines.append(f"capture files removed: {len(self.capture_files_removed)}")
        if self.cache_files_removed:
            lines.append(f"cache files removed: {len(self.cache_files_removed)}")
        lines.append(f"stale reports: {len(self.stale_reports)}" + (
            f" ({', '.join(self.stale_reports)}); re-render with: mouselab privacy reports --rerender" if self.stale_reports else ""))
        lines.append(f"verification by query: {sum(self.query_rows.values())} rows left in {len(self.query_rows)} tables")
        lines.append(f"verification by bytes: {len(self.byte_hits)} hits" + (f" ({'; '.join(self.byte_hits[:5])})" if self.byte_hits else ""))
        if self.retained:
            lines.append(f"retained legal records naming the participant: {'; '.join(self.retained)}")
        lines.append("VERIFIED" if self.verified else "NOT VERIFIED: data of the participant remains")
        return lines


def _participant_studies(store, pid: str) -> list[str]:
    studies = set()
    for files in store.manifest.tables.values():
        for entry in files.values():
            if entry.partition.get("participant") == pid:
                studies.add(entry.partition.get("study", ""))
    return sorted(studies)


def erase_participant(
    store_path, participant: str, *, study: str | None = None, reason: str = "erasure request",
    operator: str | None = None,
) -> ErasureReport:
    """Erase ``participant`` (raw id or pseudonym) from ``study`` (default: every study) and verify it."""
    import polars as pl

    from mouselab.capture import files as capture_files
    from mouselab.privacy import access, audit, consent, keys, reports  # noqa: F401
    from mouselab.store import Store

    root = Path(store_path)
    pid = consent.data_id(root, participant)
    needles = [pid] + ([participant] if participant != pid and len(participant) >= 3 else [])
    store = Store(root, purpose="governance", operator=operator)
    studies = [study] if study else _participant_studies(store, pid)
    if capture_files.agent_running(root):
        status = capture_files.read_status(root) or {}
        if status.get("participant") == pid:
            raise governance.GovernanceError(
                f"a capture of participant {pid} is running; stop it first: mouselab capture stop --store {root}"
            )
    governance.ensure_dir(root)
    report = ErasureReport(participant=pid, studies=studies)
    removed_rows: dict[str, int] = {}

    def transform(name, part, load):
        if study is not None and part.get("study") != study:
            return Store.KEEP
        if "participant" in part:
            if part["participant"] != pid:
                return Store.KEEP
            rows = load().height
            removed_rows[name] = removed_rows.get(name, 0) + rows
            return None
        frame = load()
        mask = pl.lit(False)
        for col, dtype in frame.schema.items():
            if dtype == pl.String:
                mask = mask | pl.col(col).str.contains(token_regex(needles)).fill_null(False)
        hit = frame.select(mask.alias("m"))["m"]
        if not hit.any():
            return Store.KEEP
        removed_rows[name] = removed_rows.get(name, 0) + int(hit.sum())
        return frame.filter(~hit)

    summary = store.rewrite(transform)
    report.rows_removed = removed_rows
    report.files_removed = summary.files_removed
    # capture files of the participant
    cap = capture_files.capture_dir(root)
    for st in studies or [p.name for p in (cap / "sessions").glob("*")]:
        for folder in (cap / "sessions" / st / pid, capture_files.spool_root(root) / st / pid):
            if folder.exists():
                report.capture_files_removed += [str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file()]
                shutil.rmtree(folder)
    status_file = capture_files.status_path(root)
    if status_file.exists() and _has_token(status_file.read_bytes(), needles):
        status_file.unlink()
        report.capture_files_removed.append(str(status_file.relative_to(root)))
    log = capture_files.log_path(root)
    if log.exists() and _has_token(log.read_bytes(), needles):
        kept = [line for line in log.read_bytes().splitlines(keepends=True) if not _has_token(line, needles)]
        capture_files.atomic_write_bytes(log, b"".join(kept))
        report.capture_files_removed.append(f"{log.relative_to(root)} (lines)")
    # caches and rewritable governance metadata
    for name in CACHE_DIRS:
        for path in sorted((root / name).rglob("*")) if (root / name).exists() else []:
            if path.is_file() and _mentions(path, needles):
                path.unlink()
                report.cache_files_removed.append(str(path.relative_to(root)))
    governance.forget_recorded(root, study=study, participant=pid)
    for st in studies:
        hits = reports.mark_stale(root, st, pid, reason=f"participant erased ({reason})")
        report.stale_reports += [h["notebook"] for h in hits]
    for ledger in (governance.governance_dir(root) / reports.LEDGER, governance.governance_dir(root) / reports.STALE):
        _scrub_text(ledger, needles)
    # records: tombstones (no identifier), audit entry (consent token, never the pseudonym)
    for st in studies:
        governance.append_jsonl(_ledger(root), {
            "action": "erased", "at": governance.now_iso(), "digest": tombstone_digest(st, pid), "study": st,
            "reason": reason, "rows": removed_rows, "files": summary.files_removed,
        })
    key = keys.audit_key(root)
    audit.append(root, op="erase", tables=sorted(removed_rows), purpose="governance",
                 operator=access.current_operator(store), key=key,
                 detail={"tombstones": [tombstone_digest(st, pid) for st in studies], "rows": removed_rows})
    # verification
    report.query_rows = verify_by_query(root, pid)
    hits = scan_bytes(root, needles)
    registry = str(consent.registry_path(root).relative_to(root))
    report.retained = [h for h in hits if h.startswith(registry)]
    report.byte_hits = [h for h in hits if not h.startswith(registry)]
    return report


def _has_token(data: bytes, needles: list[str]) -> bool:
    import re

    return re.search(token_regex(needles).encode(), data) is not None


def _mentions(path: Path, needles: list[str]) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return _has_token(data, needles) or _has_token(path.name.encode(), needles)


def _scrub_text(path: Path, needles: list[str]) -> None:
    import re

    if not path.exists():
        return
    text = path.read_text()
    new = text
    for n in sorted(needles, key=len, reverse=True):
        new = re.sub(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", "[erased]", new)
    if new != text:
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def token_regex(needles: list[str]) -> str:
    """A regex matching any of ``needles`` as a whole token (not inside a longer id: ``P08`` ≠ ``P080``)."""
    import re

    alternatives = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    return rf"(?:^|[^A-Za-z0-9])(?:{alternatives})(?:[^A-Za-z0-9]|$)"


def verify_by_query(store_path, participant: str) -> dict[str, int]:
    """Rows per table that still name ``participant`` (as partition value or inside any text column)."""
    import polars as pl

    from mouselab.schema import TABLES
    from mouselab.store import Store

    store = Store(store_path, purpose="governance")
    out = {}
    for name, spec in TABLES.items():
        frame = store.scan(name)
        cols = frame.collect_schema()
        mask = pl.lit(False)
        for col, dtype in cols.items():
            if dtype == pl.String:
                mask = mask | pl.col(col).str.contains(token_regex([participant])).fill_null(False)
        out[name] = int(frame.filter(mask).select(pl.len()).collect().item())
    return out


def scan_bytes(store_path, needles: list[str]) -> list[str]:
    """Every place under the store where one of ``needles`` occurs: ``path (name|bytes|parquet column)``.

    Parquet files (``*.parquet`` and the capture spool's ``*.seg``) are compressed, so their decoded text
    values are searched too; every other file is searched byte for byte; path names are searched as well.
    """
    import polars as pl

    import re

    root = Path(store_path)
    hits = []
    # short raw ids (e.g. "P08") occur by chance in compressed bytes: bytes are searched for long needles
    # (pseudonyms are 26 characters); decoded text and path names for every needle, as whole tokens
    encoded = [n.encode() for n in needles if len(n) >= MIN_BYTE_NEEDLE]
    token = re.compile(token_regex(needles))
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if token.search(rel):
            hits.append(f"{rel} (name)")
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(e in data for e in encoded):
            hits.append(f"{rel} (bytes)")
        if data[:4] == b"PAR1":
            try:
                frame = pl.read_parquet(path)
            except Exception:  # noqa: BLE001 — unreadable: the byte search above already ran
                continue
            for col, dtype in frame.schema.items():
                if dtype == pl.String and frame[col].drop_nulls().str.contains(token_regex(needles)).any():
                    hits.append(f"{rel} (parquet column {col})")
        elif not any(e in data for e in encoded):  # text files: whole tokens of short ids too
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if token.search(text):
                hits.append(f"{rel} (text)")
    return hits


def withdraw_and_erase(
    store_path, participant: str, study: str, *, purposes: list[str] | None = None, note: str | None = None,
    erase: bool = True,
) -> tuple[list[str], ErasureReport | None]:
    """Record the withdrawal of ``purposes`` (default: every active one); erase when none remains active.

    Returns the purposes still active (data kept for them) and the erasure report (None when nothing was
    erased).
    """
    from mouselab.privacy import consent

    targets = purposes if purposes is not None else consent.active_purposes(store_path, participant, study)
    if not targets:
        targets = [consent.DEFAULT_PURPOSE]
    for purpose in targets:
        consent.withdraw(store_path, participant, study, purpose, note=note)
    left = consent.active_purposes(store_path, participant, study)
    if left or not erase:
        return left, None
    return left, erase_participant(store_path, participant, study=study, reason="consent withdrawn")


def erase_pending(store_path, *, study: str | None = None) -> list[ErasureReport]:
    """Erase every participant whose consent records show no active purpose (e.g. a withdrawal recorded
    with :func:`mouselab.privacy.consent.withdraw` alone, or an erasure that was interrupted)."""
    from mouselab.privacy import consent
    from mouselab.store import Store

    store = Store(store_path, purpose="governance")
    by_study: dict[str, set[str]] = {}
    for files in store.manifest.tables.values():
        for entry in files.values():
            part = entry.partition
            if "participant" in part and (study is None or part.get("study") == study):
                by_study.setdefault(part["study"], set()).add(part["participant"])
    out = []
    for st, people in sorted(by_study.items()):
        for pid in consent.lapsed(store_path, st, sorted(people)):
            out.append(erase_participant(store_path, pid, study=st, reason="consent lapsed"))
    return out


def erasure_records(store_path) -> list[dict]:
    return governance.read_jsonl(_ledger(store_path))


def dumps(report: ErasureReport) -> str:
    return json.dumps(report.__dict__ | {"verified": report.verified}, indent=1, sort_keys=True)
