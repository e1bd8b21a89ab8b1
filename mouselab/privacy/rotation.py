"""Re-keying a whole store: pseudonymise a plain store, or rotate the pseudonym key of a pseudonymised one.

Both rewrite **every table in one store transaction** (:meth:`mouselab.store.Store.rewrite`): readers see
the old pseudonyms or the new ones, never a mixture. Then the governance records follow:

* consent registry — ``rekey`` lines map each old registry id to the new one (the history stays one history);
* erasure tombstones — re-issued under the new pseudonym, so erased data still cannot come back;
* recording dates, capture session metadata and the report ledger's participant digests are renamed;
* the policy records the new key id, the audit log a ``rotate-key`` entry, and the new key file the chain.

A rotation needs no raw id: each stored pseudonym ``p`` becomes ``HMAC(k_new, p)``
(:func:`mouselab.privacy.pseudonym.rekey_frame`). Participants who have consent records or tombstones but
**no data** in the store cannot be found that way; pass their raw ids (``raw_ids`` / ``--ids FILE``) to carry
their consent history and tombstones over too — the report lists how many records were left behind.

Crash safety: the policy notes the rotation and the store's content hash before the rewrite; re-running the
same command after a crash finishes the governance steps without re-keying twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mouselab.privacy import governance
from mouselab.privacy.keys import KeyChain, load_chain, refuse_inside_store, write_chain


@dataclass
class RotationReport:
    old_key_id: str | None
    new_key_id: str
    participants: int = 0
    files_rewritten: int = 0
    consent_rekeyed: int = 0
    tombstones_reissued: int = 0
    left_behind: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [
            f"store re-keyed {self.old_key_id or '(plain ids)'} → {self.new_key_id}: {self.participants} participants, "
            f"{self.files_rewritten} files rewritten in one transaction",
            f"consent histories carried over: {self.consent_rekeyed}; erasure tombstones re-issued: {self.tombstones_reissued}",
        ]
        if self.left_behind:
            lines.append(f"{self.left_behind} governance records name participants without data and were not "
                         "carried over; pass their raw ids with --ids FILE to carry them over")
        return lines + self.notes


def _store_people(store) -> list[str]:
    people = set()
    for files in store.manifest.tables.values():
        for entry in files.values():
            if "participant" in entry.partition:
                people.add(entry.partition["participant"])
    return sorted(people)


def _check_idle(store_path: Path) -> None:
    from mouselab.capture import commit, files

    if files.agent_running(store_path):
        raise governance.GovernanceError(f"a capture is running on {store_path}; stop it before re-keying the store")
    if commit.pending(store_path):
        raise governance.GovernanceError(
            f"{store_path} holds uncommitted capture segments; run `mouselab capture recover --store {store_path}` first"
        )


def rotate_key(
    store_path, old_key: str | Path, new_key: str | Path, *, raw_ids: list[str] = (), operator: str | None = None,
) -> RotationReport:
    """Rotate the store's pseudonym key from the chain in ``old_key`` to it plus the fresh key in ``new_key``.

    ``new_key`` is a file from ``mouselab privacy keygen``; on success it holds the extended chain (use it
    as ``key_file`` from now on; the old file can be destroyed). Idempotent: re-running finishes a rotation.
    """
    from mouselab.privacy import pseudonym
    from mouselab.store import Store

    root = Path(store_path)
    refuse_inside_store(old_key, root)
    refuse_inside_store(new_key, root)
    old, new = load_chain(old_key), load_chain(new_key)
    target = old.extended(new)
    if len(target.keys) != len(old.keys) + 1:
        raise ValueError(f"{new_key} must hold exactly one fresh key (make it with: mouselab privacy keygen --out {new_key})")
    policy = governance.load_policy(root)
    kid = policy.get("pseudonym_key_id")
    report = RotationReport(old.key_id, target.key_id)
    if kid == target.key_id:
        write_chain(Path(new_key), target)
        report.notes.append("the store was already rotated to this key; the new key file now holds the full chain")
        return report
    if kid != old.key_id:
        raise governance.GovernanceError(
            f"the store {root} is pseudonymised with key {kid or '(none: plain ids)'}, not with {old.key_id} from "
            f"{old_key}" + ("; make it pseudonymised first: mouselab privacy pseudonymise" if not kid else "")
        )
    _check_idle(root)
    store = Store(root, purpose="governance", operator=operator)
    k_new = target.keys[-1]
    people = _store_people(store)
    extra = {pseudonym.participant(r, old) for r in raw_ids}
    mapping = {p: pseudonym.participant_step(k_new, p) for p in sorted(set(people) | extra)}
    marker = policy.get("rotation")
    if marker and marker.get("to") == target.key_id and marker.get("content") != store.content_hash():
        report.notes.append("finishing an interrupted rotation (the store was already rewritten)")
    else:
        governance.update_policy(root, rotation={"from": old.key_id, "to": target.key_id,
                                                 "content": store.content_hash(), "started": governance.now_iso()})
        summary = store.rewrite(lambda name, part, load: pseudonym.rekey_frame(load(), new_key=k_new))
        report.files_rewritten = summary.files_added
    report.participants = len(people)
    _carry_over(root, mapping, old_token=lambda p: pseudonym.consent_token(p, old),
                new_token=lambda p: pseudonym.consent_token(mapping[p], target), report=report,
                session_map=lambda p, s: pseudonym.session_step(k_new, p, s))
    governance.update_policy(root, pseudonym_key_id=target.key_id, rotation=None)
    write_chain(Path(new_key), target)
    _audit(root, "rotate-key", {"from": old.key_id, "to": target.key_id, "participants": len(people)}, operator)
    return report


def pseudonymise_store(store_path, key: KeyChain | str | Path, *, operator: str | None = None) -> RotationReport:
    """Convert a plain store (raw participant / session ids) into a pseudonymised one, in one transaction."""
    import polars as pl

    from mouselab.privacy import pseudonym
    from mouselab.store import Store

    root = Path(store_path)
    chain = key if isinstance(key, KeyChain) else load_chain(key)
    if chain.path is not None:
        refuse_inside_store(chain.path, root)
    policy = governance.load_policy(root)
    if policy.get("pseudonym_key_id"):
        raise governance.GovernanceError(f"{root} is already pseudonymised (key {policy['pseudonym_key_id']})")
    _check_idle(root)
    store = Store(root, purpose="governance", operator=operator)
    people = _store_people(store)
    ids = pl.DataFrame({"participant": people}, schema={"participant": pl.String})

    def transform(name, part, load):
        frame = load()
        return pseudonym.pseudonymise_frames({name: frame, "__ids": ids}, key=chain)[name]

    governance.ensure_dir(root)
    summary = store.rewrite(transform)
    mapping = {p: pseudonym.participant(p, chain) for p in people}
    report = RotationReport(None, chain.key_id, participants=len(people), files_rewritten=summary.files_added)
    raw_sessions: dict[tuple[str, str], str] = {}
    _carry_over(root, mapping, old_token=lambda p: p, new_token=lambda p: pseudonym.consent_token(mapping[p], chain),
                report=report, session_map=lambda p, s: raw_sessions.setdefault((p, s), pseudonym.session(p, s, chain)))
    governance.update_policy(root, pseudonym_key_id=chain.key_id)
    _audit(root, "pseudonymise", {"to": chain.key_id, "participants": len(people)}, operator)
    return report


def _carry_over(root: Path, mapping: dict[str, str], *, old_token, new_token, report: RotationReport, session_map) -> None:
    from mouselab.capture import files as capture_files
    from mouselab.privacy import consent, erasure, reports

    # consent registry: rekey lines for every registry id we can map
    registry = consent.registry_ids(root)
    pairs = {old_token(p): new_token(p) for p in mapping}
    pairs = {o: n for o, n in pairs.items() if o in registry and o != n}
    report.consent_rekeyed = consent.append_rekey(root, pairs)
    report.left_behind += len(registry - set(pairs) - set(pairs.values()))
    # tombstones: re-issue every live one we can map; count the rest
    live: dict[str, str] = {}
    for rec in erasure.erasure_records(root):
        if rec.get("action") == "erased":
            live[rec["digest"]] = rec.get("study", "")
        elif rec.get("action") == "lifted":
            live.pop(rec["digest"], None)
    matched = set()
    for digest, study in sorted(live.items()):
        for old_p, new_p in mapping.items():
            if erasure.tombstone_digest(study, old_p) == digest:
                governance.append_jsonl(erasure._ledger(root), {
                    "action": "erased", "at": governance.now_iso(), "digest": erasure.tombstone_digest(study, new_p),
                    "study": study, "reason": "re-issued by key rotation"})
                matched.add(digest)
                report.tombstones_reissued += 1
                break
    report.left_behind += len(set(live) - matched)
    # recording dates
    recorded = governance.load_recorded(root)
    pair_map = {}
    for study, ppl in recorded.items():
        for p, sessions in ppl.items():
            if p in mapping:
                for s in sessions:
                    pair_map[(p, s)] = (mapping[p], session_map(p, s))
    governance.rename_recorded(root, pair_map, mapping)
    # capture session metadata: sessions/STUDY/P/S.json
    sessions_root = capture_files.capture_dir(root) / "sessions"
    for meta in sorted(sessions_root.glob("*/*/*.json")) if sessions_root.exists() else []:
        study, p, s = meta.parts[-3], meta.parts[-2], meta.stem
        if p not in mapping:
            continue
        new_p, new_s = mapping[p], session_map(p, s)
        data = json.loads(meta.read_text())
        data.update(participant=new_p, session=new_s)
        target = sessions_root / study / new_p / f"{new_s}.json"
        capture_files.atomic_write_json(target, data)
        meta.unlink()
        try:
            meta.parent.rmdir()
        except OSError:
            pass
    status = capture_files.status_path(root)
    if status.exists():
        status.unlink()  # names the old pseudonym; rewritten by the next capture
    # report ledger digests
    ledger = governance.governance_dir(root) / reports.LEDGER
    if ledger.exists():
        digest_map = {}
        for study in {r.get("parameters", {}).get("study") or "" for r in reports.registered(root)}:
            for old_p, new_p in mapping.items():
                digest_map[reports.participant_digest(study, old_p)] = reports.participant_digest(study, new_p)
        text = ledger.read_text()
        for o, n in digest_map.items():
            text = text.replace(o, n)
        tmp = ledger.with_name(".reports.jsonl.tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(ledger)


def _audit(root: Path, op: str, detail: dict, operator: str | None) -> None:
    from mouselab.privacy import access, audit, keys

    audit.append(root, op=op, tables=[], purpose="governance", operator=operator or access.current_operator(),
                 key=keys.audit_key(root), detail=detail)
