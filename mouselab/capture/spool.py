"""Rolling Parquet segments of one capture session: written atomically, indexed with SHA-256, read back whole.

A segment is one flush of the agent: ``NNNNNN.samples.seg`` and ``NNNNNN.events.seg`` (either may be absent
when the flush had no rows), each a Parquet file in the store's schema (:mod:`mouselab.schema`), written by
:mod:`mouselab.capture.parquet_lite` (the agent never loads Polars). Each file is
written to a temporary name, fsynced and renamed into place; then a line with its row count, size and SHA-256
is appended (and fsynced) to ``index.jsonl``. A ``kill -9`` therefore loses at most the rows not yet flushed
and never damages an earlier segment; a segment renamed into place whose index line was lost is still a
complete file (the rename is atomic) and is read as such.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mouselab.capture.files import append_line, fsync_dir

INDEX = "index.jsonl"
_SEGMENT = re.compile(r"^(\d{6})\.(samples|events)\.seg$")
TABLES = ("samples", "events")


class SpoolError(RuntimeError):
    """A spool segment is damaged or missing; the message names the file."""


@dataclass(frozen=True)
class Segment:
    number: int
    table: str
    path: Path


def sha256_file(path: Path) -> str:
    """SHA-256 of a file (kept here so the agent never imports the store package and DuckDB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def segment_path(folder: Path, number: int, table: str) -> Path:
    return folder / f"{number:06d}.{table}.seg"


def write_segment(folder: Path, number: int, table: str, data: dict[str, list], *, anchor: dict | None = None) -> dict:
    """Write one table of one segment atomically and index it.

    ``data`` maps every column of the table (:data:`mouselab.capture.parquet_lite.COLUMNS`) to a list of
    values. The file is written under a temporary name, fsynced, renamed into place and the folder fsynced;
    only then is its index line appended (and fsynced).
    """
    from mouselab.capture import parquet_lite

    folder.mkdir(parents=True, exist_ok=True)
    final = segment_path(folder, number, table)
    tmp = folder / f".{final.name}.tmp"
    with open(tmp, "wb") as handle:
        parquet_lite.write(handle, parquet_lite.COLUMNS[table], data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(final)
    fsync_dir(folder)
    entry = {
        "segment": number,
        "table": table,
        "file": final.name,
        "rows": len(data["t_ms"]),
        "bytes": final.stat().st_size,
        "sha256": sha256_file(final),
    }
    if anchor:
        entry["anchor"] = anchor
    append_line(folder / INDEX, entry)
    return entry


def segments(folder: Path) -> list[Segment]:
    """Complete segment files in number order (temporary files of an interrupted write are ignored)."""
    out = []
    if not folder.exists():
        return out
    for path in folder.iterdir():
        m = _SEGMENT.match(path.name)
        if m:
            out.append(Segment(int(m.group(1)), m.group(2), path))
    return sorted(out, key=lambda s: (s.number, s.table))


def index(folder: Path) -> dict[str, dict]:
    """Index lines by file name; a torn last line (crash while appending) is ignored."""
    path = folder / INDEX
    out: dict[str, dict] = {}
    if not path.exists():
        return out
    lines = path.read_bytes().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            if number == len(lines):  # torn tail
                continue
            raise SpoolError(f"{path}, line {number}: not valid JSON; the spool index is damaged") from None
        out[entry["file"]] = entry
    return out


def verify(folder: Path) -> list[str]:
    """Problems with the segments of ``folder`` (SHA-256 / size mismatch, indexed file missing); [] if intact."""
    problems = []
    listed = index(folder)
    present = {s.path.name for s in segments(folder)}
    for name, entry in sorted(listed.items()):
        path = folder / name
        if name not in present:
            problems.append(f"{path}: listed in {INDEX} but missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(f"{path}: size {path.stat().st_size} B, index says {entry['bytes']} B")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{path}: SHA-256 mismatch (content changed or corrupted)")
    return problems


def read(folder: Path) -> dict:
    """All rows of the session spooled in ``folder`` as ``{"samples": frame, "events": frame}`` (conformed).

    Raises :class:`SpoolError` when a segment fails its checksum or cannot be read.
    """
    import polars as pl

    from mouselab.schema import conform

    problems = verify(folder)
    if problems:
        raise SpoolError("; ".join(problems))
    parts: dict[str, list] = {t: [] for t in TABLES}
    for seg in segments(folder):
        try:
            parts[seg.table].append(pl.read_parquet(seg.path))
        except Exception as exc:  # noqa: BLE001 — any reader failure means the file is unusable
            raise SpoolError(f"{seg.path}: not a readable Parquet segment ({exc})") from None
    out = {}
    for table, frames in parts.items():
        if frames:
            out[table] = conform(pl.concat(frames, how="diagonal_relaxed"), table)
    return out


def rows(folder: Path) -> dict[str, int]:
    """Row counts per table from the index (no data read)."""
    counts = dict.fromkeys(TABLES, 0)
    for entry in index(folder).values():
        counts[entry["table"]] += entry["rows"]
    return counts
