"""Shared helpers for readers of delimited / columnar input: read as text, then cast with row-exact errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError

#: Text that means "missing" in files written by R, pandas and spreadsheet programs.
MISSING_MARKERS = ["", "NA", "NaN", "nan", "NULL", "null", "None"]
#: Line of the first data row in a CSV with one header line.
HEADER_LINES = 1


def read_text_table(path: Path) -> pl.DataFrame:
    """Read a CSV (plain or gzip) with every column as text, so that casting errors can be located."""
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "file is empty; expected a header line and at least one data row")
    try:
        frame = pl.read_csv(path, infer_schema=False, null_values=MISSING_MARKERS)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(path, f"not a readable CSV file ({first})") from None
    if frame.height == 0:
        raise IngestError(path, "no data rows after the header; expected at least one sample")
    return frame


def require_columns(frame: pl.DataFrame, path: Path, required: dict[str, str]) -> None:
    """Raise naming every missing column and what it should hold."""
    missing = [name for name in required if name not in frame.columns]
    if missing:
        wanted = "; ".join(f"{m} ({required[m]})" for m in missing)
        raise IngestError(path, f"missing column(s): {wanted}. Columns found: {', '.join(frame.columns)}")


def cast_numeric(frame: pl.DataFrame, path: Path, columns: dict[str, str], *, finite: bool = True) -> pl.DataFrame:
    """Cast text columns to Float64, raising at the first unparsable, missing or non-finite value.

    ``columns`` maps column name → what it holds (for the message). Line numbers count the header.
    """
    out = frame.with_columns(
        pl.col(c).str.strip_chars().cast(pl.Float64, strict=False).alias(c) for c in columns
    )
    for name, meaning in columns.items():
        raw, parsed = frame[name], out[name]
        bad = parsed.is_null() | (~parsed.is_finite() if finite else pl.Series([False] * len(parsed)))
        if bad.any():
            row = int(bad.arg_max())
            value = raw[row]
            what = "is empty" if value is None else f"has {value!r}"
            raise IngestError(
                path,
                f"{what}; expected a finite number ({meaning})",
                line=row + 1 + HEADER_LINES,
                column=name,
            )
    return out


def check_time_order(frame: pl.DataFrame, path: Path, *, trial_key: list[str], time_column: str, duplicates: str) -> pl.DataFrame:
    """Check strictly increasing time within each trial; optionally drop duplicate timestamps.

    ``duplicates="error"`` raises on the first repeated timestamp; ``"remove_first"`` keeps the last of a
    run of equal timestamps as mousetrap's ``mt_import_*(duplicates = "remove_first")`` does. Decreasing
    time (unsorted rows) always raises: reordering silently could hide a merged or corrupted file.
    """
    indexed = frame.with_row_index("__line", offset=1 + HEADER_LINES)
    dt = pl.col(time_column).diff().over(trial_key)
    backwards = indexed.filter(dt < 0)
    if backwards.height:
        r = backwards.row(0, named=True)
        raise IngestError(
            path,
            f"timestamp {r[time_column]:g} is earlier than the previous sample of the same trial; "
            "rows must be sorted by time within each trial",
            line=r["__line"],
            column=time_column,
        )
    repeated = indexed.filter(dt == 0)
    if repeated.height:
        if duplicates == "error":
            r = repeated.row(0, named=True)
            raise IngestError(
                path,
                f"duplicate timestamp {r[time_column]:g} within a trial; use --duplicates remove_first "
                "to keep the last of equal timestamps (as mousetrap's import does)",
                line=r["__line"],
                column=time_column,
            )
        if duplicates != "remove_first":
            raise ValueError(f"duplicates must be 'error' or 'remove_first', not {duplicates!r}")
        nxt = pl.col(time_column).shift(-1).over(trial_key)
        frame = frame.filter((nxt != pl.col(time_column)) | nxt.is_null())
    return frame
