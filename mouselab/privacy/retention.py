"""Storage limitation: delete each session's rows from a table once they are older than the study allows.

The policy lives in ``policy.json`` per study, in days per table, e.g. raw movement kept 90 days and derived
per-action features a year::

    "studies": {"cogload": {"retention_days": {"samples": 90, "events": 90, "actions": 365}}}

(``mouselab privacy init --store S --study cogload --retention samples=90,events=90,actions=365``). Only
tables with a ``session`` column can be swept (``samples``, ``events``, ``trials``, ``actions``); tables not
listed are kept.

**The clock: when was a session recorded?** Manifest timestamps cannot tell — a partition file is rewritten
whenever any session of the participant changes. So the governance folder keeps ``recorded.json``:
``recorded_at`` per (study, participant, session), set once, when the session is first committed to a
governed store (the capture agent commits within minutes of recording; ingest may pass the true recording
date with :func:`mouselab.privacy.governance.set_recorded`). Sessions committed before the store was governed
get the time of ``mouselab privacy init`` (marked as an estimate). Sessions without any date are never
deleted and are listed as undated.

:func:`plan` lists exactly what a sweep at time ``now`` deletes; :func:`sweep` executes that same plan in one
store transaction and returns what it deleted, so a dry run and the real run agree by construction (and the
tests check it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from mouselab.privacy import governance

SWEEPABLE = ("samples", "events", "trials", "actions")


@dataclass(frozen=True)
class RetentionItem:
    """One (table, study, participant, session) past its retention limit."""

    table: str
    study: str
    participant: str
    session: str
    recorded_at: str
    age_days: float
    limit_days: float
    rows: int

    def key(self) -> tuple[str, str, str, str]:
        return (self.table, self.study, self.participant, self.session)


def _parse_now(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def rules(store_path) -> dict[str, dict[str, float]]:
    """``{study: {table: days}}`` from the policy (validated)."""
    out = {}
    for study, entry in governance.load_policy(store_path).get("studies", {}).items():
        days = entry.get("retention_days") or {}
        bad = [t for t in days if t not in SWEEPABLE]
        if bad:
            raise ValueError(f"retention for table(s) {', '.join(bad)} is not supported; sweepable: {', '.join(SWEEPABLE)}")
        if days:
            out[study] = {t: float(d) for t, d in days.items()}
    return out


def parse_rules(text: str) -> dict[str, float]:
    """``"samples=90,events=90,actions=365"`` → ``{"samples": 90.0, …}`` (days)."""
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        table, _, days = part.partition("=")
        table = table.strip()
        if table not in SWEEPABLE:
            raise ValueError(f"retention table {table!r} is not one of {', '.join(SWEEPABLE)}")
        try:
            value = float(days.strip().rstrip("d"))
        except ValueError:
            raise ValueError(f"retention for {table}: {days!r} is not a number of days") from None
        if value <= 0:
            raise ValueError(f"retention for {table} must be > 0 days")
        out[table] = value
    return out


def plan(store_path, *, now: datetime | str | None = None) -> tuple[list[RetentionItem], list[tuple[str, str, str]]]:
    """What a sweep at ``now`` deletes, and the (study, participant, session) units without a recording date."""
    from mouselab.store import Store

    at = _parse_now(now)
    policy = rules(store_path)
    if not policy:
        return [], []
    recorded = governance.load_recorded(store_path)
    store = Store(store_path, purpose="governance")
    items: list[RetentionItem] = []
    undated: set[tuple[str, str, str]] = set()
    for study, limits in sorted(policy.items()):
        for table, limit in sorted(limits.items()):
            counts = (
                store.scan(table, study=study).group_by(["participant", "session"]).agg(pl.len().alias("rows"))
                .sort(["participant", "session"]).collect()
            )
            for participant, session, rows in counts.iter_rows():
                info = recorded.get(study, {}).get(participant, {}).get(session)
                if info is None:
                    undated.add((study, participant, session))
                    continue
                when = datetime.fromisoformat(info["recorded_at"])
                age = (at - when).total_seconds() / 86400
                if age > limit:
                    items.append(RetentionItem(table, study, participant, session, info["recorded_at"],
                                               round(age, 3), limit, int(rows)))
    return items, sorted(undated)


def sweep(store_path, *, now: datetime | str | None = None, dry_run: bool = False,
          operator: str | None = None) -> list[RetentionItem]:
    """Delete what :func:`plan` lists (nothing with ``dry_run``); returns the items deleted (or to delete)."""
    from mouselab.privacy import access, audit, keys
    from mouselab.store import Store

    items, _ = plan(store_path, now=now)
    if dry_run or not items:
        return items
    doomed: dict[tuple[str, str, str], set[str]] = {}
    for it in items:
        doomed.setdefault((it.table, it.study, it.participant), set()).add(it.session)
    deleted: dict[tuple[str, str, str, str], int] = {}
    store = Store(store_path, purpose="governance", operator=operator)

    def transform(name, part, load):
        sessions = doomed.get((name, part.get("study"), part.get("participant")))
        if not sessions:
            return Store.KEEP
        frame = load()
        gone = frame.filter(pl.col("session").is_in(sorted(sessions)))
        for session, rows in gone.group_by("session").len().iter_rows():
            key = (name, part["study"], part["participant"], session)
            deleted[key] = deleted.get(key, 0) + rows
        return frame.filter(~pl.col("session").is_in(sorted(sessions)))

    store.rewrite(transform, tables=sorted({it.table for it in items}))
    done = [RetentionItem(**{**asdict(it), "rows": deleted.get(it.key(), 0)}) for it in items]
    _drop_capture_metadata(Path(store_path), done)
    audit.append(store_path, op="retention-sweep", tables=sorted({it.table for it in done}), purpose="governance",
                 operator=operator or access.current_operator(), key=keys.audit_key(store_path),
                 detail={"sessions": len({(i.study, i.participant, i.session) for i in done}),
                         "rows": sum(i.rows for i in done)})
    return done


def _drop_capture_metadata(root: Path, done: list[RetentionItem]) -> None:
    """Remove capture session metadata once a session's raw samples are gone."""
    from mouselab.capture.files import session_meta_path

    for it in done:
        if it.table == "samples":
            session_meta_path(root, it.study, it.participant, it.session).unlink(missing_ok=True)


def backfill(store_path, *, source: str = "governance initialised (estimate)") -> int:
    """Give every stored session without a recording date the current time (used by ``privacy init``)."""
    from mouselab.store import Store

    store = Store(store_path, purpose="governance")
    units: set[tuple[str, str, str]] = set()
    for table in SWEEPABLE:
        frame = store.scan(table).select("study", "participant", "session").unique().collect()
        units.update(frame.iter_rows())
    return governance.record_units(store_path, sorted(units), source=source)
