"""The reader protocol shared by every format, and helpers to turn text into candidate samples.

A reader is a class built with ``(path, *, study, **options)``. The pipeline (``mouselab.ingest``)
calls :meth:`BatchReader.batches`, validates each batch's candidate samples, gives the accepted rows back
to :meth:`BatchReader.on_accepted` (which may derive events from them) and finally calls
:meth:`BatchReader.finish` for per-file tables (trials, participants). Readers never touch the store.

Candidate samples hold ``_line, participant, session, trial, t_ms, x, y, event, buttons`` (see
:mod:`mouselab.ingest.validate`); rows the reader already knows to be broken carry ``_reason``,
``_column`` and ``_value``. ``columns`` maps canonical names to the file's own column names, so that
quarantine rows and errors speak the file's language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import REJECT_SCHEMA
from mouselab.ingest.validate import REASON_COLUMNS
from mouselab.store.manifest import sha256_file

#: Text that means "missing" in files written by R, pandas and spreadsheet programs.
MISSING_MARKERS = ["", "NA", "NaN", "nan", "NULL", "null", "None", "N/A", "#N/A"]
#: Multipliers from a declared time unit to milliseconds.
TIME_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class ReadBatch:
    """Candidate samples of one block of a file, the block's rejected records, and raw-text access."""

    samples: pl.DataFrame
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_SCHEMA))
    raw: Callable[[pl.DataFrame], pl.Series] | None = None
    nbytes: int = 0

    @property
    def records(self) -> int:
        return self.samples.height + self.rejected.height


class BatchReader:
    """Base class of the readers (see the module doc)."""

    #: format name and file patterns picked up when a folder is given
    name = "?"
    patterns: tuple[str, ...] = ("*.csv", "*.csv.gz")
    batch_reader = True
    #: trial-based formats hold whole trials per file: a trial id seen in an earlier file is a conflict
    trials_complete_per_file = False
    #: records of a non-sample table read as a whole (mouselab files holding events, trials …)
    table_records = 0

    def __init__(self, path: Path, *, study: str) -> None:
        self.path = Path(path)
        self.study = study
        self.warnings: list[str] = []
        self.columns: dict[str, str] = {}
        self._hasher = hashlib.sha256()
        self._hashed_bytes = 0
        self.sha256: str | None = None

    def batches(self) -> Iterator[ReadBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_accepted(self, accepted: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """Extra rows derived from accepted samples (e.g. click events). Default: none."""
        return {}

    def finish(self) -> dict[str, pl.DataFrame]:
        """Per-file tables once every batch is done (trials, participants). Default: participants."""
        return {}

    def declare(self) -> dict[str, pl.DataFrame]:
        """Units (partition + unit key columns) this file replaces even if it wrote no rows for them."""
        return {}

    def options(self) -> dict:
        """Reader options recorded in the ingest log."""
        return {}

    def file_sha256(self) -> str:
        return self.sha256 or sha256_file(self.path)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def parse_floats(frame: pl.DataFrame, columns: dict[str, str], *, scale: dict[str, float] | None = None,
                 raw_field: Callable[[pl.Series, str], list[str | None]] | None = None) -> pl.DataFrame:
    """Numbers under canonical names, with ``missing_value`` / ``non_numeric`` reasons where they fail.

    ``columns`` maps canonical name (``t_ms``, ``x``, ``y``) → source column. A source column may be text,
    or already Float64 (parsed by the CSV reader) with ``raw_field(lines, column)`` giving the original
    text of null fields. Non-finite values (nan, inf) parse and are flagged later by the validator. Clean
    data cost one cast per column and one null check.
    """
    frame = ensure_reasons(frame)
    values = {}
    for canon, source in columns.items():
        col = frame[source]
        values[canon] = col if col.dtype == pl.Float64 else col.cast(pl.Float64, strict=False)
    nulls = pl.any_horizontal([v.is_null() for v in values.values()]) if values else None
    failing = frame.select(nulls).to_series() if values else pl.Series([], dtype=pl.Boolean)
    if values and failing.any():
        idx = failing.arg_true()
        lines = frame["_line"].gather(idx)
        reason = frame["_reason"].clone()
        column = frame["_column"].clone()
        value_text = frame["_value"].clone()
        have_reason = reason.gather(idx).is_not_null().to_list()
        decided = list(have_reason)
        for canon, source in columns.items():
            v = values[canon]
            col = frame[source]
            sub_null = v.gather(idx).is_null().to_list()
            if not any(sub_null):
                continue
            if col.dtype == pl.String:
                raws = col.gather(idx).to_list()
            elif raw_field is not None:
                raws = raw_field(lines, source)
            else:
                raws = [None] * len(idx)
            fixed = v.gather(idx).to_list()
            for j, (is_null, raw) in enumerate(zip(sub_null, raws)):
                if not is_null:
                    continue
                text = raw.strip() if isinstance(raw, str) else None
                number = _to_float(text)
                if number is not None:
                    fixed[j] = number
                    continue
                if decided[j]:
                    continue
                decided[j] = True
                i = idx[j]
                missing = text is None or text in MISSING_MARKERS
                reason[i] = "missing_value" if missing else "non_numeric"
                column[i] = source
                value_text[i] = None if missing else raw
            values[canon] = v.scatter(idx, pl.Series(fixed, dtype=pl.Float64)) if v is not col else \
                v.clone().scatter(idx, pl.Series(fixed, dtype=pl.Float64))
        frame = frame.with_columns(reason.alias("_reason"), column.alias("_column"), value_text.alias("_value"))
    out = []
    for canon, v in values.items():
        factor = (scale or {}).get(canon, 1.0)
        out.append((v * factor if factor != 1.0 else v).alias(canon))
    return frame.with_columns(out)


def _to_float(text: str | None) -> float | None:
    if text is None or text in MISSING_MARKERS:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def ensure_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REASON_COLUMNS if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else frame


def text_id(expr: pl.Expr) -> pl.Expr:
    """An identifier column as trimmed text (numbers such as 1.0 written by R stay as written)."""
    return expr.cast(pl.String).str.strip_chars()


def detect_time_unit(dt: pl.Series) -> str | None:
    """Guess the unit of timestamps from their median positive step (mouse data: 1–100 ms apart)."""
    steps = dt.drop_nulls().filter(dt.drop_nulls() > 0)
    if steps.len() < 3:
        return None
    median = float(steps.median())
    if median < 0.5:
        return "s"
    if median < 500:
        return "ms"
    if median < 500_000:
        return "us"
    return "ns"


def reject_frame(lines: list[int], reasons: list[str], columns: list[str | None], values: list[str | None],
                 raws: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"_line": lines, "_reason": reasons, "_column": columns, "_value": values, "_raw": raws},
                        schema=REJECT_SCHEMA)


def require(path: Path, names: list[str], required: dict[str, str]) -> None:
    """Raise naming every missing column and what it should hold (a whole-file error)."""
    missing = [n for n in required if n not in names]
    if missing:
        wanted = "; ".join(f"{m} ({required[m]})" for m in missing)
        raise IngestError(path, f"missing column(s): {wanted}. Columns found: {', '.join(names)}")
