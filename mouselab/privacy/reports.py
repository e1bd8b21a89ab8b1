"""Which reports used whose data: the link that lets an erasure mark reports stale.

When a notebook runs against a governed store, :func:`provenance_block` (called by
:mod:`mouselab.report.provenance`) returns what the report's provenance records — the audit log's head (the
truncation anchor, see :mod:`mouselab.privacy.audit`) and a digest per participant whose data the report
could read — and appends the same to ``STORE/governance/reports.jsonl`` with the notebook path and its
parameters, so the report can be re-rendered later. Digests are ``SHA-256("mouselab/report" ‖ study ‖
participant)``: reports and ledger never carry the pseudonym itself.

After an erasure, :func:`mark_stale` lists every registered report whose digests include the erased
participant in ``stale_reports.json``; ``mouselab privacy reports --store S`` shows them and
``--rerender --out DIR`` runs them again with the same parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mouselab.privacy import governance

LEDGER = "reports.jsonl"
STALE = "stale_reports.json"


def participant_digest(study: str, participant: str) -> str:
    return hashlib.sha256(f"mouselab/report\0{study}\0{participant}".encode()).hexdigest()[:32]


def _store_participants(store_path: Path, study: str | None) -> list[tuple[str, str]]:
    try:
        tables = json.loads((store_path / "manifest.json").read_text()).get("tables", {})
    except (OSError, json.JSONDecodeError):
        return []
    found = set()
    for files in tables.values():
        for rel in files:
            parts = dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)
            if "participant" in parts and (study is None or parts.get("study") == study):
                found.add((parts.get("study", ""), parts["participant"]))
    return sorted(found)


def provenance_block(
    store_path: str | os.PathLike[str], *, notebook: str, parameters: dict, cwd: str | os.PathLike[str]
) -> dict | None:
    """The ``privacy`` part of a report's provenance (None for an ungoverned store); registers the report."""
    from mouselab.privacy import audit

    root = Path(store_path)
    if not governance.is_governed(root):
        return None
    study = parameters.get("study") or None
    wanted = parameters.get("participants")
    people = _store_participants(root, study)
    if isinstance(wanted, str) and wanted.strip():
        chosen = {w.strip() for w in wanted.split(",") if w.strip()}
        people = [(s, p) for s, p in people if p in chosen]
    digests = sorted(participant_digest(s, p) for s, p in people)
    source = Path(cwd) / notebook
    block = {
        "audit_head": audit.head(root),
        "participants": len(digests),
        "participant_digests": digests,
        "registered": governance.now_iso(),
    }
    governance.append_jsonl(governance.governance_dir(root) / LEDGER, {
        "at": block["registered"], "notebook": notebook, "source": str(source.resolve()) if source.exists() else None,
        "parameters": parameters, "participant_digests": digests, "audit_head": block["audit_head"],
    })
    return block


def registered(store_path: str | os.PathLike[str]) -> list[dict]:
    return governance.read_jsonl(governance.governance_dir(store_path) / LEDGER)


def mark_stale(store_path: str | os.PathLike[str], study: str | None, participant: str, *, reason: str) -> list[dict]:
    """Add every registered report that included ``participant`` to the stale list; returns those reports."""
    studies = [study] if study else sorted({r.get("parameters", {}).get("study") or "" for r in registered(store_path)})
    digests = {participant_digest(s, participant) for s in studies if s is not None}
    hits = [r for r in registered(store_path) if digests & set(r.get("participant_digests", []))]
    if not hits:
        return []
    with governance.locked(store_path):
        path = governance.governance_dir(store_path) / STALE
        stale = governance.read_json(path, []) or []
        for r in hits:
            stale.append({"notebook": r["notebook"], "source": r.get("source"), "parameters": r.get("parameters", {}),
                          "rendered": r["at"], "reason": reason, "marked": governance.now_iso()})
        governance.atomic_write_json(path, stale)
    return hits


def stale(store_path: str | os.PathLike[str]) -> list[dict]:
    """Reports that included erased participants and have not been re-rendered since."""
    return governance.read_json(governance.governance_dir(store_path) / STALE, []) or []


def clear_stale(store_path: str | os.PathLike[str], done: list[dict]) -> None:
    """Remove re-rendered reports from the stale list."""
    keys = {(d["notebook"], json.dumps(d.get("parameters", {}), sort_keys=True)) for d in done}
    with governance.locked(store_path):
        path = governance.governance_dir(store_path) / STALE
        left = [s for s in (governance.read_json(path, []) or [])
                if (s["notebook"], json.dumps(s.get("parameters", {}), sort_keys=True)) not in keys]
        governance.atomic_write_json(path, left)
