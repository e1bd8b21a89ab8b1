"""Provenance of a report: code version, parameters, input content hash, seed, library versions, timings."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import mouselab

#: Libraries whose versions every provenance block records.
LIBRARIES = ("polars", "duckdb", "statsmodels", "altair", "numpy", "papermill")


def utc_now() -> str:
    """Current UTC time as an ISO-8601 string with seconds precision."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(path: str | os.PathLike[str] | None = None) -> str:
    """Commit hash of the git checkout holding ``path`` (default: the mouselab package), else ``"unknown"``.

    A ``+dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(path) if path is not None else Path(mouselab.__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not sha:
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def library_versions() -> dict[str, str]:
    """Python and key library versions."""
    out = {"python": platform.python_version(), "mouselab": mouselab.__version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_hash(store: str | os.PathLike[str] | None, *, cwd: str | os.PathLike[str] | None = None) -> str:
    """Content hash of the store a notebook reads (``store`` resolved against ``cwd``), or a note why not."""
    if store is None or store == "":
        return "none"
    path = Path(store)
    if not path.is_absolute() and cwd is not None:
        path = Path(cwd) / path
    from mouselab.store import Store

    try:
        return Store(path).content_hash()
    except Exception as exc:  # noqa: BLE001 - provenance must never stop a report
        return f"unavailable ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"


def _resolved(store: Any, cwd: str | os.PathLike[str]) -> str | None:
    if not store:
        return None
    path = Path(store)
    return str((path if path.is_absolute() else Path(cwd) / path).resolve())


def privacy_block(
    store: Any, *, notebook: str, parameters: dict[str, Any], cwd: str | os.PathLike[str]
) -> dict[str, Any] | None:
    """What a report records for privacy governance when its store is governed (None otherwise).

    * ``audit_head`` — sequence number and hash of the audit log's last entry when the report started: an
      anchor outside the store that ``mouselab privacy audit verify --anchors REPORTS`` checks, so a log
      truncated after this point is detected;
    * ``participant_digests`` — one digest per participant whose data the report could read, so that an
      erasure can list this report as stale (see :mod:`mouselab.privacy.reports`; digests, not pseudonyms).
    """
    resolved = _resolved(store, cwd)
    if resolved is None:
        return None
    try:
        from mouselab.privacy import reports

        return reports.provenance_block(resolved, notebook=notebook, parameters=dict(parameters), cwd=cwd)
    except Exception as exc:  # noqa: BLE001 - provenance must never stop a report
        return {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"}


def start_provenance(
    *, notebook: str, parameters: dict[str, Any], cwd: str | os.PathLike[str], kernel_name: str
) -> dict[str, Any]:
    """The provenance block recorded before a notebook runs (timings are completed by :func:`finish`)."""
    versions = library_versions()
    return {
        "notebook": notebook,
        "mouselab_version": versions["mouselab"],
        "git_commit": git_commit(),
        "parameters": dict(parameters),
        "seed": parameters.get("seed"),
        "input": {
            "store": parameters.get("store"),
            "resolved": _resolved(parameters.get("store"), cwd),
            "content_sha256": input_hash(parameters.get("store"), cwd=cwd),
        },
        "privacy": privacy_block(parameters.get("store"), notebook=notebook, parameters=parameters, cwd=cwd),
        "versions": versions,
        "kernel": kernel_name,
        "platform": platform.platform(terse=True),
        "started": utc_now(),
        "finished": None,
        "duration_s": None,
    }


def finish(provenance: dict[str, Any], *, duration_s: float, status: str, error: str | None = None) -> dict:
    """Record end time, duration and outcome on a provenance block (returns the same dict)."""
    provenance["finished"] = utc_now()
    provenance["duration_s"] = round(duration_s, 3)
    provenance["status"] = status
    provenance["error"] = error
    return provenance
