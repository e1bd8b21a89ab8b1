"""Right of access (GDPR Art. 15): give a participant their data in a form they can read.

:func:`export_participant` writes to a folder: one CSV per table that holds rows of the participant, their
consent history, the capture session metadata and recording dates, and a ``README.md`` explaining every
file and column (units and meanings come from the data contract, :mod:`mouselab.schema`), what is never
recorded, how long data is kept and how to withdraw. The reads are audited under the purpose
``access-request`` (always allowed). Text cells that a spreadsheet would run as a formula are prefixed with
an apostrophe.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from mouselab.privacy import governance

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(frame: pl.DataFrame) -> pl.DataFrame:
    fixes = []
    for col, dtype in frame.schema.items():
        if dtype == pl.String:
            c = pl.col(col)
            fixes.append(pl.when(c.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + c).otherwise(c).alias(col))
    return frame.with_columns(fixes) if fixes else frame


def export_participant(store_path, participant: str, out_dir, *, operator: str | None = None) -> list[Path]:
    """Write the participant's data (raw id or pseudonym) to ``out_dir``; returns the files written."""
    from mouselab.capture import files as capture_files
    from mouselab.privacy import consent
    from mouselab.schema import TABLES
    from mouselab.store import Store

    root = Path(store_path)
    pid = consent.data_id(root, participant)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose a new folder for the export")
    out.mkdir(parents=True, exist_ok=True)
    store = Store(root, purpose="access-request", operator=operator)
    written: list[Path] = []
    tables_written: list[tuple[str, int]] = []
    for name, spec in TABLES.items():
        if "participant" in spec.partition_by:
            frame = store.read(name, participants=[pid])
        else:
            lazy = store.scan(name)
            texts = [c for c, t in lazy.collect_schema().items() if t == pl.String]
            if not texts:
                continue
            mask = pl.any_horizontal([pl.col(c).str.contains(pid, literal=True).fill_null(False) for c in texts])
            frame = lazy.filter(mask).collect()
        if frame.height == 0:
            continue
        path = out / f"{name}.csv"
        _safe(frame).write_csv(path)
        written.append(path)
        tables_written.append((name, frame.height))
    history = consent.history(root, participant)
    consent_path = out / "consent_history.csv"
    pl.DataFrame(
        [{"at": r.at, "action": r.action, "study": r.study, "purpose": r.purpose, "note": r.note or ""} for r in history],
        schema={"at": pl.String, "action": pl.String, "study": pl.String, "purpose": pl.String, "note": pl.String},
    ).pipe(_safe).write_csv(consent_path)
    written.append(consent_path)
    recorded = governance.load_recorded(root)
    dates = [{"study": st, "session": s, "recorded_at": info["recorded_at"], "source": info.get("source", "")}
             for st, people in recorded.items() for s, info in people.get(pid, {}).items()]
    if dates:
        dates_path = out / "recording_dates.csv"
        pl.DataFrame(dates).write_csv(dates_path)
        written.append(dates_path)
    sessions_root = capture_files.capture_dir(root) / "sessions"
    metas = sorted(sessions_root.glob(f"*/{pid}/*.json")) if sessions_root.exists() else []
    if metas:
        (out / "capture_sessions").mkdir()
        for meta in metas:
            target = out / "capture_sessions" / f"{meta.parent.parent.name}_{meta.name}"
            shutil.copyfile(meta, target)
            written.append(target)
    readme = out / "README.md"
    readme.write_text(_readme(root, pid, tables_written, history, bool(dates), bool(metas)), encoding="utf-8")
    written.append(readme)
    return written


def _readme(root: Path, pid: str, tables: list[tuple[str, int]], history, has_dates: bool, has_meta: bool) -> str:
    from mouselab.schema import TABLES

    policy = governance.load_policy(root)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = [
        "# Your data from this study",
        "",
        f"Exported {now}. In the study's data you are known only by the code `{pid}` (a pseudonym: a keyed",
        "hash of your participant code; the key is kept separately and never stored with the data).",
        "",
        "**What was recorded:** the position of your mouse pointer over time, clicks and scrolling, and",
        "when you were idle — and, if the desktop recorder was used, which *kind* of application had focus",
        "(a category or a keyed code, never a window title). **Never recorded:** keystrokes, screen contents,",
        "window titles, names.",
        "",
        "## Files",
        "",
    ]
    for name, rows in tables:
        spec = TABLES[name]
        lines += [f"### `{name}.csv` — {spec.doc} ({rows:,} rows)", "", "| column | unit | meaning |", "|---|---|---|"]
        for c in spec.columns:
            lines.append(f"| `{c.name}` | {c.unit} | {c.doc} |")
        lines.append("")
    lines += [
        "### `consent_history.csv` — every consent decision you made, oldest first",
        "",
        "| column | meaning |", "|---|---|",
        "| `at` | when the decision was recorded (UTC) |",
        "| `action` | `grant` (you agreed) or `withdraw` (you withdrew) |",
        "| `study` | the study |",
        "| `purpose` | what the consent covers (e.g. `research`) |",
        "| `note` | a remark recorded with the decision |",
        "",
    ]
    if has_dates:
        lines += ["### `recording_dates.csv` — when each session was recorded (the retention clock)", ""]
    if has_meta:
        lines += ["### `capture_sessions/` — technical details of desktop recordings (screen size, clock, pauses)", ""]
    studies = policy.get("studies", {})
    if studies:
        lines += ["## How long data is kept", ""]
        for study, entry in sorted(studies.items()):
            days = entry.get("retention_days")
            if days:
                kept = ", ".join(f"{t}: {d:g} days" for t, d in sorted(days.items()))
                lines.append(f"* study `{study}`: {kept} after recording")
        lines.append("")
    purposes = policy.get("purposes")
    if purposes:
        lines += ["## What the data may be used for", "", *[f"* `{p}`" for p in purposes], ""]
    lines += [
        "## Your rights",
        "",
        "You can withdraw consent at any time; your data is then erased from the study's store (raw",
        "recordings, derived tables and caches), and reports that included you are marked for re-rendering.",
        "Contact the research team named on your consent form.",
        "",
    ]
    return "\n".join(lines)


def dumps_history(history) -> str:
    return json.dumps([h.__dict__ for h in history], indent=1)
