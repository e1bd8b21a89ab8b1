"""Commit spooled capture segments into the store, and recover sessions left by an interrupted agent.

The agent runs commits in a short-lived child process (``python -m mouselab.capture.commit STORE SPOOL``) so
that its own memory stays flat however long the session gets: a store write reads and rewrites the
participant's partition (see :meth:`mouselab.store.Store.write`), and DuckDB is never loaded by the agent.

Each commit writes *all* segments of the session so far as one store unit (study, participant, session,
trial = null), replacing what the previous commit wrote; re-running a commit is idempotent. After the final
commit the segments are deleted (the session metadata JSON stays).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from mouselab.capture import spool
from mouselab.capture.files import atomic_write_json, now_iso, read_json, session_meta_path, spool_root


def commit_session(store_path: Path, folder: Path) -> dict[str, int]:
    """Write every segment in ``folder`` to the store in one atomic transaction; returns rows per table."""
    from mouselab.store import Store

    frames = spool.read(folder)
    frames = {name: frame for name, frame in frames.items() if frame.height}
    if not frames:
        return {}
    Store(store_path).write(frames)
    return {name: frame.height for name, frame in frames.items()}


def finalize(store_path: Path, folder: Path, *, reason: str | None = None) -> None:
    """Remove the segments of a committed session and note the commit in its metadata JSON."""
    study, participant, session = folder.parts[-3:]
    meta_path = session_meta_path(store_path, study, participant, session)
    meta = read_json(meta_path)
    if meta is not None:
        meta["committed_utc"] = now_iso()
        if reason:
            meta.setdefault("stop_reason", reason)
        atomic_write_json(meta_path, meta)
    shutil.rmtree(folder, ignore_errors=True)
    parent = folder.parent
    root = spool_root(store_path)
    while parent != root and parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def pending(store_path: Path) -> list[Path]:
    """Spool folders that still hold segments (sessions not finally committed)."""
    root = spool_root(store_path)
    if not root.exists():
        return []
    return sorted(p for p in root.glob("*/*/*") if p.is_dir() and spool.segments(p))


def recover(store_path: Path, *, skip: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, int]]]:
    """Commit and finalize every pending spool folder except ``skip`` (the running agent's session)."""
    done = []
    for folder in pending(store_path):
        if folder in skip:
            continue
        rows = commit_session(store_path, folder)
        finalize(store_path, folder, reason="recovered after an interrupted capture")
        done.append((folder, rows))
    return done


def run_child(store_path: Path, folder: Path | None, *, final: bool = False, timeout_s: float = 600) -> dict:
    """Run a commit (or, with ``folder=None``, a recovery) in a child process; returns its JSON summary."""
    args = [sys.executable, "-m", "mouselab.capture.commit", str(store_path)]
    if folder is not None:
        args.append(str(folder))
    if final:
        args.append("--final")
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["commit failed"])[-1]
        raise RuntimeError(message)
    return json.loads(result.stdout)


def session_exists(store_path: Path, study: str, participant: str, session: str) -> bool:
    """Whether the store already holds samples or events of this session."""
    import polars as pl

    from mouselab.store import Store

    store = Store(store_path)
    for table in ("samples", "events"):
        hits = (
            store.scan(table, study=study, participants=[participant])
            .filter(pl.col("session") == session).select(pl.len()).collect().item()
        )
        if hits:
            return True
    return False


def prepare(store_path: Path, study: str, participant: str, session: str) -> dict:
    """Before a session starts: recover interrupted sessions, and tell whether the new session id is taken."""
    done = recover(store_path)
    return {
        "recovered": [{"folder": str(f), "rows": r} for f, r in done],
        "session_exists": session_exists(store_path, study, participant, session),
    }


def run_prepare(store_path: Path, study: str, participant: str, session: str, *, timeout_s: float = 600) -> dict:
    """:func:`prepare` in a child process (the agent itself never loads Polars or DuckDB)."""
    args = [sys.executable, "-m", "mouselab.capture.commit", str(store_path), "--prepare", study, participant, session]
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise RuntimeError((result.stderr.strip().splitlines() or ["preparing the capture failed"])[-1])
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mouselab.capture.commit", description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("folder", type=Path, nargs="?", help="spool folder of one session (default: recover all)")
    parser.add_argument("--final", action="store_true", help="delete the segments after a successful commit")
    parser.add_argument("--prepare", nargs=3, metavar=("STUDY", "PARTICIPANT", "SESSION"),
                        help="recover interrupted sessions and check that SESSION is new")
    args = parser.parse_args(argv)
    try:
        if args.prepare:
            out = prepare(args.store, *args.prepare)
        elif args.folder is None:
            done = recover(args.store)
            out = {"recovered": [{"folder": str(f), "rows": r} for f, r in done]}
        else:
            rows = commit_session(args.store, args.folder)
            if args.final:
                finalize(args.store, args.folder)
            out = {"rows": rows}
    except Exception as exc:  # noqa: BLE001 — reported to the parent as one line
        print(f"commit of {args.folder or args.store} failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
