"""Readers that bring recordings into the store: one module per format behind :func:`ingest_files`.

Every reader returns frames in the contract of :mod:`mouselab.schema`; :func:`ingest_files` reads *all*
files first and writes them in one atomic store transaction, so a bad file leaves the store unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError
from mouselab.ingest.mousetrap import read_mousetrap_long
from mouselab.ingest.native import read_native
from mouselab.store import Store, WriteSummary

Reader = Callable[..., dict[str, pl.DataFrame]]

#: format name → (reader, one-line description)
FORMATS: dict[str, tuple[Reader, str]] = {
    "mousetrap": (read_mousetrap_long, "mousetrap long CSV (mt_id, subject_nr, timestamps, xpos, ypos, trial columns), plain or .gz"),
    "mouselab": (read_native, "mouselab's own table as .parquet or .csv (columns of mouselab.schema)"),
}


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: files read, rows per table, the store write summary."""

    files: list[str]
    rows: dict[str, int]
    write: WriteSummary


def read_files(fmt: str, paths: Sequence[Path], **options) -> dict[str, pl.DataFrame]:
    """Read every file with the reader for ``fmt`` and concatenate per table (no store access)."""
    if fmt not in FORMATS:
        raise IngestError(fmt, f"unknown format; choose one of {', '.join(FORMATS)}")
    reader = FORMATS[fmt][0]
    collected: dict[str, list[pl.DataFrame]] = {}
    for path in paths:
        for name, frame in reader(Path(path), **options).items():
            collected.setdefault(name, []).append(frame)
    return {name: pl.concat(frames, how="diagonal_relaxed") for name, frames in collected.items()}


def ingest_files(fmt: str, paths: Sequence[Path], *, store: Store, **options) -> IngestReport:
    """Read ``paths`` in format ``fmt`` and write them to ``store`` in one atomic, idempotent transaction."""
    if not paths:
        raise IngestError("(no files)", "give at least one input file")
    frames = read_files(fmt, paths, **options)
    summary = store.write(frames)
    return IngestReport(files=[str(p) for p in paths], rows={k: v.height for k, v in frames.items()}, write=summary)


__all__ = ["FORMATS", "IngestError", "IngestReport", "ingest_files", "read_files"]
