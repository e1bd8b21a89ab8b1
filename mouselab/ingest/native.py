"""Reader for mouselab's own tables written as Parquet or CSV (e.g. exported from another store).

The file must hold the columns of one table of :mod:`mouselab.schema` (``--table``, default samples).
A missing ``study`` column is filled from ``--study``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError
from mouselab.ingest.tabular import cast_numeric, check_time_order, read_text_table, require_columns
from mouselab.schema import SchemaError, conform, table


def read_native(path: Path, *, study: str, table_name: str = "samples", duplicates: str = "error") -> dict[str, pl.DataFrame]:
    """Read a mouselab table from ``.parquet`` or ``.csv``/``.csv.gz`` and validate it against the contract."""
    path = Path(path)
    spec = table(table_name)
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet"):
        if not path.exists():
            raise IngestError(path, "file not found")
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # polars raises several types for corrupt files
            raise IngestError(path, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        if frame.height == 0:
            raise IngestError(path, "the file holds no rows")
    elif suffixes.endswith((".csv", ".csv.gz")):
        frame = read_text_table(path)
        numeric = {c.name: f"{c.unit}" for c in spec.columns if c.dtype.is_float() and c.name in frame.columns and not c.nullable}
        frame = cast_numeric(frame, path, numeric)
    else:
        raise IngestError(path, "unknown file type; expected .parquet, .csv or .csv.gz")
    if "study" not in frame.columns:
        frame = frame.with_columns(pl.lit(study).alias("study"))
    required = {c.name: c.doc for c in spec.columns if not c.nullable}
    require_columns(frame, path, required)
    try:
        frame = conform(frame, table_name)
    except SchemaError as exc:
        message = str(exc).split(": ", 1)[-1]
        raise IngestError(path, message) from None
    if table_name == "samples":
        frame = check_time_order(frame, path, trial_key=["participant", "session", "trial"], time_column="t_ms", duplicates=duplicates)
    return {table_name: frame}
