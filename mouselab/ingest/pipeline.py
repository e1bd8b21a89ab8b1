"""Run readers over files: validate every record, route it to the store or to quarantine, log each file.

For each file the pipeline reads batches from the format's reader, validates the candidate samples
(:class:`~mouselab.ingest.validate.Validator`), writes accepted rows, quarantined rows and the reader's
per-file tables to a sink, and records one ``ingest_log`` row. With ``on_error="fail"`` the first
quarantinable record stops everything with a one-line :class:`IngestError` (file, line, column) and
nothing is written; whole-file problems (missing columns, empty or unreadable files) are errors in both
modes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mouselab.ingest.base import BatchReader, ReadBatch
from mouselab.ingest.errors import IngestError
from mouselab.ingest.validate import UNIT, ValidationOptions, Validator, ensure_reason_columns, flag
from mouselab.schema import QUARANTINE_REASONS, SAMPLES

SAMPLE_COLUMNS = [c.name for c in SAMPLES.columns]
MEANINGS = {
    "t_ms": "time", "x": "x in px", "y": "y in px", "participant": "participant id", "session": "session id",
    "trial": "trial id", "event": "event code", "buttons": "button state",
}


@dataclass
class FileLog:
    """What happened to one file (printed by the CLI; stored in ``ingest_log`` without the timing)."""

    source_file: str
    format: str
    sha256: str
    bytes: int
    records_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    events: int = 0
    trials: int = 0
    reasons: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    seconds: float = 0.0
    participants: set = field(default_factory=set)

    @property
    def balanced(self) -> bool:
        return self.records_read == self.rows_stored + self.rows_quarantined

    def row(self, study: str) -> dict:
        return {
            "study": study, "source_file": self.source_file, "sha256": self.sha256, "bytes": self.bytes,
            "format": self.format, "records_read": self.records_read, "rows_stored": self.rows_stored,
            "rows_quarantined": self.rows_quarantined, "events": self.events, "trials": self.trials,
            "reasons": json.dumps(dict(sorted(self.reasons.items())), sort_keys=True),
            "warnings": "\n".join(self.warnings) or None,
            "options": json.dumps(self.options, sort_keys=True, default=str),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        text = (f"{self.source_file}: {self.records_read:,} read, {self.rows_stored:,} stored, "
                f"{self.rows_quarantined:,} quarantined")
        if self.reasons:
            text += " (" + ", ".join(f"{r} {n:,}" for r, n in self.reasons.most_common()) + ")"
        if self.events:
            text += f", {self.events:,} events"
        if self.trials:
            text += f", {self.trials:,} trials"
        return text


def describe(reason: str, value: str | None, column: str, canonical: str | None) -> str:
    """The message of a quarantined record as an error (``on_error="fail"``)."""
    meaning = MEANINGS.get(canonical or "", canonical or column)
    if canonical == "t_ms":
        meaning = "time in ms"
    shown = repr(value) if value is not None else "an empty value"
    return {
        "missing_value": f"is empty; expected a {meaning}" if canonical in ("participant", "session", "trial") else f"is empty; expected a finite number ({meaning})",
        "non_numeric": f"has {shown}; expected a finite number ({meaning})",
        "non_finite": f"has {value}; expected a finite number ({meaning})",
        "sentinel_coordinate": f"has the sentinel {value}; the recorder had no cursor position",
        "out_of_screen": f"has {value}, beyond any plausible screen (see --coordinate-limit / --screen)",
        "duplicate_timestamp": f"duplicate timestamp {value} within a trial; use --duplicates remove_first to keep the "
                               "last of equal timestamps (as mousetrap's import does)",
        "non_monotonic_timestamp": f"timestamp {value} is out of order: earlier than a previous sample of the same trial "
                                   "(or part of a short run ahead of the clock, or where the clock stepped back); rows "
                                   "must be sorted by time within each trial",
        "clock_jump": f"timestamp {value} jumps by more than --clock-jump-ms from its neighbours (a spike or short run "
                      "away from the clock, or the first sample after the clock was reset)",
        "impossible_speed": f"position {value} is reached and left faster than --max-speed px/ms (a spike, or a short "
                            "run of samples at a far-away position)",
        "unit_mismatch": f"timestamp {value} is in another time unit (seconds or microseconds) than the samples "
                         "around it; check how the file was written",
        "invalid_identifier": (f"is empty; expected a {meaning}" if value is None else
                               f"has {shown}; a {meaning} must start with a letter or digit and use only letters, "
                               "digits, '.', '_' or '-'"),
        "csv_injection": f"has {shown}, which a spreadsheet would run as a formula",
        "trial_id_conflict": f"trial id {value!r} appears under more than one participant (or session); trial ids "
                             "must be unique within a file",
    }.get(reason, f"{QUARANTINE_REASONS.get(reason, reason)} ({shown})")


class Pipeline:
    """Validate and route the records of many files to one sink (one validator across files)."""

    def __init__(self, *, study: str, sink, on_error: str = "quarantine", validation: ValidationOptions | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        if on_error not in ("quarantine", "fail"):
            raise ValueError(f"on_error must be 'quarantine' or 'fail', not {on_error!r}")
        self.study = study
        self.sink = sink
        self.on_error = on_error
        self.validation = validation or ValidationOptions()
        self.validator = Validator(self.validation)
        self.progress = progress
        self.logs: list[FileLog] = []
        self._done_units: pl.DataFrame | None = None
        self._people: set[tuple[str, str]] = set()

    def run_file(self, reader: BatchReader) -> FileLog:
        path = reader.path
        if not path.exists():
            raise IngestError(path, "file not found")
        log = FileLog(source_file=str(path.resolve()), format=reader.name, sha256="", bytes=path.stat().st_size)
        source = log.source_file
        units: list[pl.DataFrame] = []
        for batch in prefetch(reader.batches()):
            log.records_read += batch.records
            if batch.rejected.height:
                self._quarantine(reader, log, batch.rejected)
            if batch.samples.height:
                samples = batch.samples
                if reader.trials_complete_per_file:
                    samples = self._flag_reused_trials(samples, units)
                accepted, bad = self.validator.process(samples, raw=batch.raw)
                self._route(reader, log, accepted, bad)
                self._notes(reader)
            if self.progress and batch.nbytes:
                self.progress(batch.nbytes)
        accepted, bad = self.validator.finish()
        if accepted.height or bad.height:
            self._route(reader, log, accepted, bad)
        self._notes(reader)
        if units:
            done = pl.concat(units).unique().with_columns(pl.lit(source).alias("_first_file"))
            self._done_units = done if self._done_units is None else pl.concat([self._done_units, done]).unique(
                UNIT, keep="first", maintain_order=True)
        for name, frame in reader.finish().items():
            if name == "participants" and frame.height:  # one row per participant, however many files name them
                frame = frame.unique(["study", "participant"], keep="first", maintain_order=True)
                if self._people:
                    seen = pl.DataFrame(sorted(self._people), schema=["study", "participant"], orient="row")
                    frame = frame.join(seen, on=["study", "participant"], how="anti")
                self._people.update(frame.select("study", "participant").iter_rows())
            if frame.height:
                self.sink.add(name, frame)
                if name == "trials":
                    log.trials += frame.height
                elif name == "events":
                    log.events += frame.height
        log.records_read += reader.table_records  # whole tables (not samples) are stored or refused as a whole
        log.rows_stored += reader.table_records
        log.sha256 = reader.file_sha256()
        log.warnings = list(reader.warnings)
        log.options = {"reader": reader.options(), "validation": self.validation.to_dict(), "on_error": self.on_error}
        if not log.balanced:  # pragma: no cover - an internal invariant; a bug if it ever fires
            raise AssertionError(f"{source}: {log.records_read} records read but {log.rows_stored} stored + "
                                 f"{log.rows_quarantined} quarantined")
        for name, units in reader.declare().items():
            self.sink.declare_units(name, units)
        self.sink.declare_units("quarantine", pl.DataFrame({"study": [self.study], "source_file": [source]}))
        self.sink.add("ingest_log", pl.DataFrame([log.row(self.study)]))
        self.logs.append(log)
        return log

    def _notes(self, reader: BatchReader) -> None:
        """Unit splits at clock steps go to the file's warnings (stored in the ingest log)."""
        for note in self.validator.take_notes():
            reader.warn(note)

    def _flag_reused_trials(self, samples: pl.DataFrame, units: list[pl.DataFrame]) -> pl.DataFrame:
        """Trials are complete within a file: a trial id seen in an earlier file of this ingest is a conflict."""
        units.append(samples.select(UNIT).unique())
        if self._done_units is None:
            return samples
        samples = ensure_reason_columns(samples).join(self._done_units, on=UNIT, how="left", nulls_equal=True,
                                                      maintain_order="left")
        samples = flag(samples, pl.col("_first_file").is_not_null(), "trial_id_conflict", "trial", pl.col("trial"))
        return samples.drop("_first_file")

    def _route(self, reader: BatchReader, log: FileLog, accepted: pl.DataFrame, bad: pl.DataFrame) -> None:
        if bad.height:
            self._quarantine(reader, log, bad.rename({"reason": "_reason"}))
        if accepted.height:
            if "study" not in accepted.columns:
                accepted = accepted.with_columns(pl.lit(self.study).alias("study"))
            samples = accepted.select(SAMPLE_COLUMNS)
            self.sink.add("samples", samples, trusted=True)
            log.rows_stored += accepted.height
            people = accepted["participant"]
            log.participants.update([people[0]] if (people == people[0]).all() else people.unique().to_list())
            for name, frame in reader.on_accepted(accepted).items():
                if frame.height:
                    self.sink.add(name, frame)
                    if name == "events":
                        log.events += frame.height

    def _quarantine(self, reader: BatchReader, log: FileLog, bad: pl.DataFrame) -> None:
        mapping = reader.columns
        bad = bad.with_columns(pl.col("_column").replace(mapping).alias("_column_src"))
        if self.on_error == "fail":
            first = bad.sort("_line", nulls_last=True).row(0, named=True)
            reverse = {v: k for k, v in mapping.items()}
            column = first["_column"]
            canonical = column if (column in mapping or column in MEANINGS) else reverse.get(column)
            raise IngestError(reader.path, describe(first["_reason"], first["_value"], first["_column_src"], canonical),
                              line=first["_line"], column=first["_column_src"])
        log.rows_quarantined += bad.height
        log.reasons.update(bad["_reason"].to_list())
        rows = bad.select(
            pl.lit(self.study).alias("study"),
            pl.lit(log.source_file).alias("source_file"),
            pl.col("_line").alias("line"),
            pl.col("_column_src").alias("column"),
            pl.col("_reason").alias("reason"),
            pl.coalesce(pl.col("_raw"), pl.col("_value")).alias("raw"),
        )
        self.sink.add("quarantine", rows)


def prefetch(iterator, *, depth: int = 1):
    """Iterate ``iterator`` on a worker thread, ``depth`` items ahead (reading and parsing the next block
    overlaps with validating this one; Polars releases the GIL). Exceptions are re-raised here."""
    import queue
    import threading

    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        box.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((True, done))
        except BaseException as exc:  # handed to the consumer
            box.put((False, exc))

    thread = threading.Thread(target=work, name="mouselab-ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = box.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def expand_paths(paths: Sequence[str | Path], patterns: Sequence[str]) -> list[Path]:
    """Files given directly, plus the files matching ``patterns`` anywhere below given folders (sorted,
    hidden files skipped, each file once)."""
    out: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted({f for pat in patterns for f in p.rglob(pat) if f.is_file()})
            found = [f for f in found if not any(part.startswith(".") for part in f.relative_to(p).parts)]
            if not found:
                raise IngestError(p, f"the folder holds no input files ({', '.join(patterns)})")
        else:
            found = [p]
        for f in found:
            key = f.resolve() if f.exists() else f
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def progress_bar(total_bytes: int, *, enabled: bool | None):
    """A tqdm bar over bytes on stderr; ``enabled=None`` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="ingest", file=sys.stderr,
                dynamic_ncols=True, leave=False)


__all__ = ["FileLog", "Pipeline", "ReadBatch", "expand_paths", "progress_bar"]
