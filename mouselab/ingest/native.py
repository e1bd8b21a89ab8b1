"""Reader for mouselab's own tables written as Parquet or CSV (exports of another store, capture output).

The file holds the columns of one table of :mod:`mouselab.schema` (``table_name``, default ``samples``;
capture spool segments ``NNNNNN.samples.seg`` / ``NNNNNN.events.seg`` name their table). A missing
``study`` column is filled from ``study``. Samples are validated record by record like every other format
(the quarantine ``line`` is the CSV line, or the 1-based row for Parquet); the other tables are checked
against the contract as a whole (a violation is a file error).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from mouselab.ingest.base import BatchReader, ReadBatch, ensure_reasons, parse_floats, require
from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_csv
from mouselab.ingest.validate import flag
from mouselab.schema import SAMPLE_EVENTS, SchemaError, conform, table

BATCH_ROWS = 1_000_000


class NativeReader(BatchReader):
    name = "mouselab"
    patterns = ("*.parquet", "*.csv", "*.csv.gz", "*.samples.seg", "*.events.seg")

    def __init__(self, path: Path, *, study: str, table_name: str = "samples", chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(path, study=study)
        name = self.path.name
        if name.endswith(".samples.seg"):
            table_name = "samples"
        elif name.endswith(".events.seg"):
            table_name = "events"
        self.spec = table(table_name)
        self.table_name = table_name
        self.chunk_bytes = chunk_bytes
        self._other: pl.DataFrame | None = None
        self._raw_field = None

    def options(self) -> dict:
        return {"table": self.table_name}

    def _kind(self) -> str:
        suffixes = self.path.name.lower()
        if suffixes.endswith((".parquet", ".seg")):
            return "parquet"
        if suffixes.endswith((".csv", ".csv.gz")):
            return "csv"
        raise IngestError(self.path, "unknown file type; expected .parquet, .csv or .csv.gz")

    def batches(self) -> Iterator[ReadBatch]:
        kind = self._kind()
        required = {c.name: c.doc for c in self.spec.columns if not c.nullable and c.name != "study"}
        if kind == "parquet":
            if not self.path.exists():
                raise IngestError(self.path, "file not found")
            try:
                handle = pq.ParquetFile(self.path)
            except Exception as exc:  # pyarrow raises several types for corrupt files
                raise IngestError(self.path, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from None
            if handle.metadata.num_rows == 0:
                raise IngestError(self.path, "the file holds no rows")
            require(self.path, handle.schema_arrow.names, required)
            offset = 1
            size = self.path.stat().st_size
            for rb in handle.iter_batches(batch_size=BATCH_ROWS):
                frame = pl.from_arrow(rb)
                frame = frame.with_columns(pl.int_range(offset, offset + frame.height, dtype=pl.Int64).alias("_line"))
                offset += frame.height
                batch = self._batch(frame, numeric_text=False)
                if batch is not None:
                    batch.nbytes = int(size * frame.height / max(handle.metadata.num_rows, 1))
                    yield batch
        else:
            names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, hasher=self._hasher,
                                     numeric=lambda names: [c for c in ("t_ms", "x", "y") if c in names]
                                     if self.table_name == "samples" else [])
            require(self.path, names, required)
            for chunk in chunks:
                self._raw_field = chunk.raw_fields
                batch = self._batch(chunk.frame, numeric_text=True)
                if batch is not None:
                    batch.rejected = chunk.rejected
                    batch.raw = lambda f, c=chunk: c.raw_lines(f["_line"])
                    batch.nbytes = len(chunk.data)
                    yield batch
                elif chunk.rejected.height:
                    yield ReadBatch(_no_samples(), chunk.rejected, nbytes=len(chunk.data))
            self.sha256 = self._hasher.hexdigest() if not self.path.name.endswith(".gz") else None

    def _batch(self, frame: pl.DataFrame, *, numeric_text: bool) -> ReadBatch | None:
        if "study" not in frame.columns:
            frame = frame.with_columns(pl.lit(self.study).alias("study"))
        if self.table_name != "samples":
            self._collect_other(frame)
            return None
        self.columns = {"t_ms": "t_ms", "x": "x", "y": "y"}
        frame = ensure_reasons(frame)
        if numeric_text or frame.schema["t_ms"] == pl.String:
            frame = parse_floats(frame, {"t_ms": "t_ms", "x": "x", "y": "y"},
                                 raw_field=self._raw_field if numeric_text else None)
        else:
            frame = frame.with_columns(pl.col(c).cast(pl.Float64) for c in ("t_ms", "x", "y"))
        text = {c: pl.col(c).cast(pl.String).str.strip_chars() for c in ("participant", "session", "trial", "event")}
        frame = frame.with_columns(v.alias(k) for k, v in text.items())
        frame = flag(frame, ~pl.col("event").is_in(list(SAMPLE_EVENTS)), "unknown_event_code", "event", pl.col("event"))
        raw_buttons = pl.col("buttons").cast(pl.String).str.strip_chars()
        buttons = raw_buttons.cast(pl.Float64, strict=False)
        ok = buttons.is_not_null() & (buttons >= 0) & (buttons <= 255) & (buttons == buttons.floor())
        frame = flag(frame, ~ok, "unknown_event_code", "buttons", raw_buttons)
        frame = frame.with_columns(pl.when(ok).then(buttons).otherwise(0).cast(pl.UInt8).alias("buttons"))
        extra = [c for c in frame.columns if c.startswith("_") or c == "study"]
        raw = None
        if not numeric_text:
            source = frame.select([c for c in frame.columns if not c.startswith("_") or c == "_line"])
            raw = lambda f, src=source: _json_rows(f, src)  # noqa: E731
        return ReadBatch(frame.select(["participant", "session", "trial", "t_ms", "x", "y", "event", "buttons"]
                                      + extra), raw=raw)

    def _collect_other(self, frame: pl.DataFrame) -> None:
        body = frame.drop("_line")
        self._other = body if self._other is None else pl.concat([self._other, body], how="diagonal_relaxed")

    def finish(self) -> dict[str, pl.DataFrame]:
        if self._other is None:
            return {}
        frame = self._other
        if self.path.name.lower().endswith((".csv", ".csv.gz")):
            numeric = [c.name for c in self.spec.columns if c.dtype.is_float() and c.name in frame.columns]
            frame = frame.with_columns(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in numeric)
        try:
            frame = conform(frame, self.table_name)
        except SchemaError as exc:
            raise IngestError(self.path, str(exc).split(": ", 1)[-1]) from None
        self.table_records = frame.height
        return {self.table_name: frame}


def _json_rows(frame: pl.DataFrame, source: pl.DataFrame) -> pl.Series:
    rows = frame.select("_line").join(source, on="_line", how="left", maintain_order="left").drop("_line").to_dicts()
    return pl.Series("_raw", [json.dumps(r, default=str, separators=(",", ":")) for r in rows], dtype=pl.String)


def _no_samples() -> pl.DataFrame:
    return pl.DataFrame(schema={"_line": pl.Int64, "participant": pl.String, "session": pl.String, "trial": pl.String,
                                "t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String,
                                "buttons": pl.UInt8})


def read_native(path: Path, *, study: str, table_name: str = "samples", duplicates: str = "error") -> dict[str, pl.DataFrame]:
    """Read a mouselab table strictly (first bad record raises); kept for the issue-2 API."""
    from mouselab.ingest import read_files

    frames = read_files("mouselab", [path], study=study, table_name=table_name, duplicates=duplicates, on_error="fail")
    return {k: v for k, v in frames.items() if k == table_name}
