"""Streaming, line-exact reading of delimited text (CSV) in bounded memory.

:func:`iter_csv` reads a file (plain or gzip) in blocks of ``chunk_bytes``, cuts every block at its last
line break and parses it with Polars (all columns as text, so that casting errors can be located). It
keeps the physical line number of every record, so a problem is always reported as *file, line,
column*. Lines that cannot become a record are returned as rejected rows instead of stopping the read:

* ``encoding`` – the line is not valid UTF-8 (or not valid in ``encoding``);
* ``truncated_line`` / ``extra_fields`` – fewer / more fields than the header;
* ``malformed_record`` – broken quoting or NUL bytes.

Blank lines hold no data and are skipped (they still count for line numbers). A UTF-8 byte-order mark
is dropped; a UTF-16 mark switches to UTF-16 transparently. Records must not contain line breaks inside
quoted fields: such records are rejected as malformed (no mouse-tracking format writes them).

Whole-file problems (missing, empty, no header, binary content) raise :class:`IngestError`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from mouselab.ingest.errors import IngestError

DEFAULT_CHUNK_BYTES = 8 << 20
_TAIL_LINES = 4096  # raw text of at most this many last lines of a block is found without indexing the block
MAX_LINE_BYTES = 64 << 20
REJECT_SCHEMA = {"_line": pl.Int64, "_reason": pl.String, "_column": pl.String, "_value": pl.String, "_raw": pl.String}


def open_binary(path: Path):
    """Open ``path`` for binary reading, transparently un-gzipping; whole-file errors as IngestError."""
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.is_dir():
        raise IngestError(path, "is a folder; give files, or a folder to the ingest command (it recurses)")
    if path.stat().st_size == 0:
        raise IngestError(path, "file is empty; expected a header line and at least one data row")
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def iter_blocks(path: Path, *, block_bytes: int, encoding: str | None = None, hasher=None) -> Iterator[bytes]:
    """UTF-8 bytes of the file in blocks (BOMs removed, other encodings transcoded).

    ``hasher`` (a hashlib object) is fed the file's bytes as they are read (plain files only)."""
    handle = open_binary(path)
    if isinstance(handle, gzip.GzipFile):
        hasher = None
    if hasher is not None:
        raw_read = handle.read

        def hashed_read(n: int = -1) -> bytes:
            data = raw_read(n)
            hasher.update(data)
            return data

        read = hashed_read
    else:
        read = handle.read
    with handle:
        try:
            head = read(4)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise IngestError(path, f"cannot be read ({exc})") from None
        source_encoding = (encoding or "").lower().replace("_", "-")
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
            source_encoding = source_encoding if source_encoding not in ("", "utf-8", "utf8", "utf-8-sig") else ""
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            source_encoding = "utf-16"
        if source_encoding in ("", "utf-8", "utf8"):
            yield head
            while True:
                try:
                    block = read(block_bytes)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    raise IngestError(path, f"cannot be read to the end ({exc}); the file is damaged") from None
                if not block:
                    return
                yield block
        else:
            try:
                decoder = codecs.getincrementaldecoder(source_encoding)(errors="strict")
            except LookupError:
                raise IngestError(path, f"unknown encoding {encoding!r}; use a Python codec name such as latin-1") from None
            try:
                text = decoder.decode(head)
                if text:
                    yield text.encode("utf-8")
                while block := read(block_bytes):
                    text = decoder.decode(block)
                    if text:
                        yield text.encode("utf-8")
                text = decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise IngestError(path, f"is not valid {source_encoding} text ({exc.reason}); pass the right --encoding") from None
            if text:
                yield text.encode("utf-8")


class CsvChunk:
    """One block of records: columns + ``_line``, the rejected lines, and raw-line access.

    Numeric columns requested as Float64 hold null where the text was empty or not a number; the raw
    text of such fields is available through :meth:`raw_fields`.
    """

    def __init__(self, frame: pl.DataFrame, rejected: pl.DataFrame, data: bytes, first_line: int, names: list[str],
                 separator: str, offsets: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.frame = frame
        self.rejected = rejected
        self.data = data
        self.first_line = first_line
        self.names = names
        self.separator = separator
        self._offsets = offsets
        self._n_lines: int | None = None

    @property
    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        if self._offsets is None:
            self._offsets = _line_offsets(self.data)
        return self._offsets

    @property
    def n_lines(self) -> int:
        if self._n_lines is None:
            self._n_lines = self.data.count(b"\n") + (0 if self.data.endswith(b"\n") or not self.data else 1)
        return self._n_lines

    @property
    def records(self) -> int:
        return self.frame.height + self.rejected.height

    def raw_lines(self, lines: pl.Series | list[int]) -> pl.Series:
        """Raw text of the given (absolute) line numbers of this block."""
        wanted = lines.to_list() if isinstance(lines, pl.Series) else list(lines)
        index = [line - self.first_line if line is not None else -1 for line in wanted]
        inside = [i for i in index if 0 <= i < self.n_lines]
        if self._offsets is None and inside and self.n_lines - min(inside) <= _TAIL_LINES:
            # the rows held back for the next batch are the block's last lines: find just those
            spans = self._tail_spans(self.n_lines - min(inside))
        else:
            starts, ends = self.offsets
            spans = None
        out = []
        for i in index:
            if not 0 <= i < self.n_lines:
                out.append(None)
            elif spans is not None:
                a, b = spans[i]
                out.append(_decode(self.data[a:b]))
            else:
                out.append(_decode(self.data[starts[i]:ends[i]]))
        return pl.Series("_raw", out, dtype=pl.String)

    def _tail_spans(self, count: int) -> dict[int, tuple[int, int]]:
        """(start, end) byte offsets of the last ``count`` lines, found from the end of the block."""
        data, spans = self.data, {}
        end = len(data) - 1 if data.endswith(b"\n") else len(data)
        for i in range(self.n_lines - 1, self.n_lines - 1 - count, -1):
            start = data.rfind(b"\n", 0, end) + 1
            spans[i] = (start, end)
            end = start - 1
        return spans

    def raw_fields(self, lines: pl.Series | list[int], column: str) -> list[str | None]:
        """Raw text of one column on the given lines (None where the line has no such field)."""
        k = self.names.index(column)
        out = []
        for text in self.raw_lines(lines).to_list():
            fields = _split(text, self.separator) if text is not None else None
            out.append(fields[k] if fields is not None and k < len(fields) else None)
        return out


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="backslashreplace")


def read_header(path: Path, first: bytes, *, separator: str) -> tuple[list[str], int]:
    """Column names from the first line of ``first``; returns (names, byte length of the header line)."""
    end = first.find(b"\n")
    line = first if end < 0 else first[:end]
    if not line.strip():
        raise IngestError(path, "the first line is empty; expected a header line naming the columns", line=1)
    if b"\x00" in line:
        raise IngestError(path, "holds binary data (NUL bytes in the header); expected a text CSV file", line=1)
    try:
        text = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError(path, "the header line is not UTF-8 text; pass --encoding (e.g. latin-1) or re-save as UTF-8",
                          line=1) from None
    names = [n.strip() for n in next(csv.reader([text], delimiter=separator))]
    if not names or any(n == "" for n in names):
        raise IngestError(path, f"the header has an empty column name ({text[:80]!r})", line=1)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise IngestError(path, f"the header names column(s) {', '.join(dupes)} more than once", line=1)
    return names, (len(line) + 1 if end >= 0 else len(line))


def iter_csv(
    path: Path,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    separator: str = ",",
    encoding: str | None = None,
    hasher=None,
    numeric: Callable[[list[str]], list[str]] | None = None,
) -> tuple[list[str], Iterator[CsvChunk]]:
    """Return the header names and an iterator over :class:`CsvChunk` blocks of the file.

    ``numeric(names)`` names the columns to parse as Float64 (null where empty or not a number; see
    :meth:`CsvChunk.raw_fields`); the other columns are text.
    """
    blocks = iter_blocks(path, block_bytes=chunk_bytes, encoding=encoding, hasher=hasher)
    buffer = b""
    for block in blocks:
        buffer += block
        if b"\n" in buffer or len(buffer) > MAX_LINE_BYTES:
            break
    if not buffer.strip():
        raise IngestError(path, "file is empty; expected a header line and at least one data row")
    if b"\x00" in buffer[:8192]:
        raise IngestError(path, "holds binary data (NUL bytes); expected a text CSV file", line=1)
    names, header_len = read_header(path, buffer, separator=separator)
    rest = buffer[header_len:]
    floats = set(numeric(names)) if numeric is not None else set()
    schema = {n: (pl.Float64 if n in floats else pl.String) for n in names}

    def chunks() -> Iterator[CsvChunk]:
        nonlocal rest
        line = 2
        pending = rest
        produced = False
        exhausted = False
        while not exhausted:
            parts = [pending]
            size = len(pending)
            while size < chunk_bytes:
                try:
                    block = next(blocks)
                except StopIteration:
                    exhausted = True
                    break
                parts.append(block)
                size += len(block)
            pending = b"".join(parts) if len(parts) > 1 else parts[0]
            if exhausted:
                data, pending = pending, b""
            else:
                cut = pending.rfind(b"\n")
                if cut < 0:
                    if len(pending) > MAX_LINE_BYTES:
                        raise IngestError(path, f"a line is longer than {MAX_LINE_BYTES >> 20} MiB; not a CSV file?", line=line)
                    continue
                data, pending = pending[: cut + 1], pending[cut + 1:]
            if not data:
                continue
            chunk = _parse_block(data, names, schema, first_line=line, separator=separator)
            line += chunk.n_lines
            if chunk.records:
                produced = True
                yield chunk
        if not produced:
            raise IngestError(path, "no data rows after the header; expected at least one sample")

    return names, chunks()


def _line_offsets(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    ends = newlines
    if len(data) and data[-1:] != b"\n":
        ends = np.append(newlines, len(data))
    starts = np.concatenate(([0], newlines[: len(ends) - 1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
    return starts.astype(np.int64), ends.astype(np.int64)


def _parse_block(data: bytes, names: list[str], schema: dict[str, pl.DataType], *, first_line: int, separator: str
                 ) -> CsvChunk:
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    frame = None
    try:  # blank lines come out as all-null rows and are dropped below
        frame = pl.read_csv(io.BytesIO(data), has_header=False, new_columns=names, schema=schema,
                            separator=separator, quote_char='"', ignore_errors=True)
    except Exception:  # invalid UTF-8, too many fields, broken quoting: take the exact, line-by-line path
        frame = None
    if frame is not None and frame.height != n_lines:
        frame = None
    if frame is None:
        starts, ends = _line_offsets(data)
        frame, rejected = _parse_slow(data, starts, ends, names, first_line=first_line, separator=separator)
        frame = frame.with_columns(pl.col(n).cast(t, strict=False) for n, t in schema.items() if t != pl.String)
        return CsvChunk(frame, rejected, data, first_line, names, separator, (starts, ends))
    frame = frame.with_columns(pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64).alias("_line"))
    chunk = CsvChunk(frame, pl.DataFrame(schema=REJECT_SCHEMA), data, first_line, names, separator)
    chunk._n_lines = n_lines
    last = names[-1]
    suspects = frame.filter(pl.col(last).is_null())["_line"] if len(names) > 1 else pl.Series([], dtype=pl.Int64)
    if len(suspects):
        bad_lines, reasons, raws, blank = [], [], [], []
        for line, raw in zip(suspects.to_list(), chunk.raw_lines(suspects).to_list()):
            if not raw.strip():
                blank.append(line)  # a blank line holds no record
                continue
            fields = _split(raw, separator)
            if fields is None or len(fields) < len(names):
                bad_lines.append(line)
                reasons.append("truncated_line" if fields is not None else "malformed_record")
                raws.append(raw)
        if bad_lines or blank:
            chunk.frame = frame.filter(~pl.col("_line").is_in(bad_lines + blank))
        if bad_lines:
            chunk.rejected = _rejects(bad_lines, reasons, raws, names)
    return chunk


def _split(text: str, separator: str) -> list[str] | None:
    try:
        return next(csv.reader([text], delimiter=separator, strict=True))
    except (csv.Error, StopIteration):
        return None


def _rejects(lines: list[int], reasons: list[str], raws: list[str], names: list[str]) -> pl.DataFrame:
    columns = []
    for reason, raw in zip(reasons, raws):
        columns.append(None if reason in ("encoding", "malformed_record") else f"{len(_split(raw, ',') or [])} of {len(names)} fields")
    return pl.DataFrame(
        {"_line": lines, "_reason": reasons, "_column": [None] * len(lines), "_value": columns, "_raw": raws},
        schema=REJECT_SCHEMA,
    )


def _parse_slow(data: bytes, starts: np.ndarray, ends: np.ndarray, names: list[str], *, first_line: int, separator: str
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows: list[list[str | None]] = []
    lines: list[int] = []
    bad_lines, reasons, raws = [], [], []
    n = len(names)
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        raw = data[a:b].rstrip(b"\r")
        line = first_line + i
        if not raw:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.append(line)
            reasons.append("encoding")
            raws.append(raw.decode("utf-8", errors="backslashreplace"))
            continue
        fields = _split(text, separator) if "\x00" not in text else None
        if fields is None or (text.count('"') % 2 == 1):
            bad_lines.append(line)
            reasons.append("malformed_record")
            raws.append(text)
            continue
        if len(fields) != n:
            bad_lines.append(line)
            reasons.append("truncated_line" if len(fields) < n else "extra_fields")
            raws.append(text)
            continue
        rows.append([f if f != "" else None for f in fields])
        lines.append(line)
    frame = pl.DataFrame(rows, schema={name: pl.String for name in names}, orient="row") if rows else pl.DataFrame(
        schema={name: pl.String for name in names})
    frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64))
    rejected = _rejects(bad_lines, reasons, raws, names) if bad_lines else pl.DataFrame(schema=REJECT_SCHEMA)
    return frame, rejected
