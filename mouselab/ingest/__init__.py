"""Readers that bring recordings into the store: one module per format behind :func:`ingest_files`.

Every record of every file either enters the store or goes to the ``quarantine`` table with file, line,
column and reason (:data:`mouselab.schema.QUARANTINE_REASONS`); one ``ingest_log`` row per file records
``records_read = rows_stored + rows_quarantined``. All files of a call are written in one atomic
transaction, streamed in bounded memory (:class:`~mouselab.ingest.sink.StoreTransaction`): a failure leaves
the store as it was, and ingesting the same files again changes nothing.

``on_error="fail"`` keeps the strict behaviour: the first bad record stops the ingest with a one-line
:class:`IngestError` naming file, line and column, and nothing is written. Whole-file problems (missing
file or columns, empty file, unreadable content) are errors in both modes.

Formats (``FORMATS``): ``mousetrap`` (long or OpenSesame wide), ``jspsych``, ``mousetracker``,
``balabit``, ``generic`` (CSV / JSONL / Parquet with ``mapping``), ``mouselab`` (own tables / capture).
A format entry is ``(reader, description)``: a :class:`~mouselab.ingest.base.BatchReader` subclass, or a
plain function ``reader(path, **options) -> {table: frame}`` whose samples are validated the same way.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mouselab.ingest.balabit import BalabitReader
from mouselab.ingest.base import BatchReader, ReadBatch
from mouselab.ingest.errors import IngestError
from mouselab.ingest.generic import GenericReader
from mouselab.ingest.jspsych import JsPsychReader
from mouselab.ingest.mousetrap import MousetrapReader, read_mousetrap_long
from mouselab.ingest.mousetracker import MouseTrackerReader
from mouselab.ingest.native import NativeReader, read_native
from mouselab.ingest.pipeline import FileLog, Pipeline, expand_paths, progress_bar
from mouselab.ingest.pseudonymise import PseudonymisingSink
from mouselab.ingest.sink import BackgroundSink, MemorySink, StoreTransaction
from mouselab.ingest.validate import ValidationOptions
from mouselab.ingest.web import read_web_jsonl
from mouselab.store import Store, WriteSummary

Reader = Callable[..., dict[str, pl.DataFrame]] | type[BatchReader]

#: format name → (reader, one-line description)
FORMATS: dict[str, tuple[Reader, str]] = {
    "mousetrap": (MousetrapReader, "mousetrap long CSV (mt_id, subject_nr, timestamps, xpos, ypos + trial columns) or "
                  "OpenSesame/mousetrap-os raw wide CSV (one row per trial, xpos_*/ypos_*/timestamps_* lists), plain or .gz"),
    "jspsych": (JsPsychReader, "jsPsych data (.json or .csv) with the mouse-tracking extension's mouse_tracking_data"),
    "mousetracker": (MouseTrackerReader, "MouseTracker-style trial rows: subject, trial, X_1..X_n, Y_1..Y_n, T_1..T_n"),
    "balabit": (BalabitReader, "Balabit Mouse Dynamics Challenge session files (userNN/session_*)"),
    "generic": (GenericReader, "any samples CSV / JSONL / Parquet with --map t=…,x=…,y=… and --time-unit"),
    "web": (read_web_jsonl, "JSON lines from the browser snippet mouselab/capture/web/mouselab-capture.js"),
    "mouselab": (NativeReader, "mouselab's own table as .parquet or .csv (columns of mouselab.schema), e.g. capture output"),
}

#: options that configure validation rather than a reader
VALIDATION_OPTIONS = {"duplicates", "max_speed_px_per_ms", "clock_jump_ms", "coordinate_limit_px", "screen_px", "sentinels",
                      "max_run_samples", "min_step_ms"}


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: files read, rows per data table, quarantined records, per-file logs, the write."""

    files: list[str]
    rows: dict[str, int]
    write: WriteSummary | None
    quarantined: int = 0
    logs: list[FileLog] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records_read(self) -> int:
        return sum(log.records_read for log in self.logs)


def reader_for(fmt: str) -> Reader:
    if fmt not in FORMATS:
        raise IngestError(fmt, f"unknown format; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt][0]


def _split_options(fmt: str, options: dict) -> tuple[dict, ValidationOptions]:
    reader = reader_for(fmt)
    validation = {k: options[k] for k in VALIDATION_OPTIONS if k in options and options[k] is not None}
    if "duplicates" not in validation and getattr(reader, "default_duplicates", None):
        validation["duplicates"] = reader.default_duplicates
    if "screen_px" in validation and validation["screen_px"] is not None:
        validation["screen_px"] = tuple(validation["screen_px"])
    if "sentinels" in validation:
        validation["sentinels"] = tuple(float(v) for v in validation["sentinels"])
    rest = {k: v for k, v in options.items() if k not in VALIDATION_OPTIONS}
    if getattr(reader, "batch_reader", False):
        accepted = inspect.signature(reader.__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            unknown = sorted(k for k, v in rest.items() if k not in accepted and v is not None)
            if unknown:
                raise ValueError(f"option(s) {', '.join(unknown)} do not apply to format {fmt!r}")
        rest = {k: v for k, v in rest.items() if k in accepted and v is not None}
    return rest, ValidationOptions(**validation)


class _FramesReader(BatchReader):
    """Adapter for plain function readers returning ``{table: frame}`` (their samples are validated too)."""

    def __init__(self, fmt: str, function, path: Path, *, study: str, **options) -> None:
        super().__init__(path, study=study)
        self.name = fmt
        self._function = function
        self._options = {"study": study, **options}
        self._frames: dict[str, pl.DataFrame] = {}

    def batches(self):
        frames = dict(self._function(self.path, **self._options))
        samples = frames.pop("samples", None)
        self._frames = frames
        if samples is not None and samples.height:
            candidates = samples.with_columns(pl.int_range(1, samples.height + 1, dtype=pl.Int64).alias("_line"))
            yield ReadBatch(candidates.drop("study", strict=False), nbytes=self.path.stat().st_size)

    def finish(self):
        return self._frames


def _make(fmt: str, path: Path, study: str, options: dict) -> BatchReader:
    reader = reader_for(fmt)
    if getattr(reader, "batch_reader", False):
        return reader(path, study=study, **options)
    return _FramesReader(fmt, reader, path, study=study, **options)


def _run(fmt: str, paths: Sequence[Path], sink, *, study: str, on_error: str, progress: bool | None, options: dict
         ) -> tuple[list[Path], Pipeline]:
    if not paths:
        raise IngestError("(no files)", "give at least one input file")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", study or ""):
        raise ValueError(f"study {study!r} cannot name a partition; use letters, digits, '.', '_' or '-' "
                         "(at most 128 characters, starting with a letter or digit)")
    reader_cls = reader_for(fmt)
    files = expand_paths(paths, getattr(reader_cls, "patterns", ("*.csv", "*.csv.gz")))
    reader_options, validation = _split_options(fmt, options)
    total = sum(p.stat().st_size for p in files if p.exists())
    bar = progress_bar(total, enabled=progress)
    pipeline = Pipeline(study=study, sink=sink, on_error=on_error, validation=validation,
                        progress=bar.update if bar is not None else None)
    try:
        for path in files:
            began = time.perf_counter()
            log = pipeline.run_file(_make(fmt, Path(path), study, reader_options))
            log.seconds = time.perf_counter() - began
    finally:
        if bar is not None:
            bar.close()
    return files, pipeline


def read_files(fmt: str, paths: Sequence[Path], *, study: str = "study", on_error: str = "quarantine",
               progress: bool = False, **options) -> dict[str, pl.DataFrame]:
    """Read and validate ``paths`` in format ``fmt`` into frames per table (no store access).

    Returns the data tables plus ``quarantine`` and ``ingest_log``; raises :class:`IngestError` on
    whole-file problems (and on the first bad record with ``on_error="fail"``).
    """
    sink = MemorySink()
    _run(fmt, list(paths), sink, study=study, on_error=on_error, progress=progress, options=options)
    return sink.result()


def pseudonym_key_for(store: Store, pseudonymise: bool | None):
    """The key chain to pseudonymise an ingest into ``store`` with, or None for raw ids (see ingest_files)."""
    from mouselab.privacy import governance, keys

    chain = keys.configured_chain(store.path)
    policy = governance.load_policy(store.path) if governance.is_governed(store.path) else {}
    store_key = policy.get("pseudonym_key_id")
    if pseudonymise is None:
        pseudonymise = chain is not None or bool(store_key)
    if not pseudonymise:
        if store_key:
            raise IngestError(str(store.path), "this store is pseudonymised; ingest with pseudonymisation on")
        return None
    if chain is None:
        raise IngestError(
            str(store.path),
            "pseudonymisation needs a key: create one with `mouselab privacy keygen --out PATH` (outside the "
            "store) and set MOUSELAB_KEY_FILE=PATH or key_file in mouselab.toml",
        )
    adopted = keys.adopt(store.path)
    if adopted is None:
        raise IngestError(
            str(store.path),
            "the store already holds raw participant ids; convert it first with `mouselab privacy pseudonymise`",
        )
    if adopted != chain.key_id:
        raise IngestError(str(store.path), f"the store is pseudonymised under key {adopted}, not the configured key {chain.key_id}")
    store.refresh()
    return chain


def ingest_files(fmt: str, paths: Sequence[Path], *, store: Store, study: str = "study", on_error: str = "quarantine",
                 progress: bool | None = False, pseudonymise: bool | None = None, **options) -> IngestReport:
    """Read ``paths`` (files, or folders searched recursively) in format ``fmt`` and write them to ``store``
    in one atomic, idempotent, streamed transaction. See the module doc for the options.

    ``pseudonymise``: replace participant and session ids by HMAC pseudonyms under the configured key
    (setting ``key_file``) before anything is written. ``None`` (default) pseudonymises when a key is
    configured or the store is already pseudonymised; ``True`` without a key is an error.
    """
    began = time.perf_counter()
    key = pseudonym_key_for(store, pseudonymise)
    sink = StoreTransaction(store)
    transaction = BackgroundSink(PseudonymisingSink(sink, key=key) if key is not None else sink)
    try:
        files, pipeline = _run(fmt, list(paths), transaction, study=study, on_error=on_error, progress=progress,
                               options=options)
        summary = transaction.commit()
    except BaseException:
        transaction.abort()
        raise
    data_tables = ("samples", "events", "trials", "participants")
    rows = {t: summary.rows[t] for t in data_tables if summary.rows.get(t)}
    return IngestReport(
        files=[str(p) for p in files], rows=rows, write=summary,
        quarantined=sum(log.rows_quarantined for log in pipeline.logs), logs=pipeline.logs,
        seconds=time.perf_counter() - began,
    )


__all__ = [
    "FORMATS", "FileLog", "IngestError", "IngestReport", "ValidationOptions", "ingest_files", "read_files",
    "read_mousetrap_long", "read_native",
]
