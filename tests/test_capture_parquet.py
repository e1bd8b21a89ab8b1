"""The agent's pure-Python Parquet writer: its columns are the contract's, and Polars, PyArrow and DuckDB
read back exactly what was written (property test)."""

from __future__ import annotations

import io

import duckdb
import polars as pl
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from mouselab.capture import parquet_lite
from mouselab.schema import EVENTS, SAMPLES, conform

_KIND_DTYPE = {"string": pl.String(), "double": pl.Float64(), "uint8": pl.UInt8()}


def test_columns_match_the_data_contract():
    for table, spec in (("samples", SAMPLES), ("events", EVENTS)):
        ours = [(name, _KIND_DTYPE[kind], nullable) for name, kind, nullable in parquet_lite.COLUMNS[table]]
        assert ours == [(c.name, c.dtype, c.nullable) for c in spec.columns], table


def _value(kind: str, nullable: bool):
    base = {
        "string": st.text(max_size=12),
        "double": st.floats(allow_nan=False, allow_infinity=False, width=64),
        "uint8": st.integers(0, 255),
    }[kind]
    return st.one_of(st.none(), base) if nullable else base


@st.composite
def _tables(draw):
    table = draw(st.sampled_from(["samples", "events"]))
    columns = parquet_lite.COLUMNS[table]
    n = draw(st.integers(0, 40))
    data = {name: draw(st.lists(_value(kind, nullable), min_size=n, max_size=n)) for name, kind, nullable in columns}
    return table, columns, data


@settings(max_examples=30, deadline=None)
@given(_tables())
def test_round_trip_through_polars_pyarrow_and_duckdb(tmp_path_factory, drawn):
    table, columns, data = drawn
    buf = io.BytesIO()
    size = parquet_lite.write(buf, columns, data)
    raw = buf.getvalue()
    assert size == len(raw) and raw[:4] == raw[-4:] == b"PAR1"
    frame = pl.read_parquet(io.BytesIO(raw))
    expected = pl.DataFrame(data, schema={name: _KIND_DTYPE[kind] for name, kind, _ in columns})
    assert frame.equals(expected)
    assert pq.read_table(io.BytesIO(raw)).to_pylist() == expected.to_dicts()
    path = tmp_path_factory.mktemp("pq") / "seg.parquet"
    path.write_bytes(raw)
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected.rows()]


def test_segment_conforms_to_the_contract():
    data = {
        "study": ["s"] * 3, "participant": ["P01"] * 3, "session": ["a"] * 3, "trial": [None] * 3,
        "t_ms": [0.0, 16.7, 33.3], "x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0], "event": ["move", "drag", "move"],
        "buttons": [0, 1, 0],
    }
    buf = io.BytesIO()
    parquet_lite.write(buf, parquet_lite.SAMPLES_COLUMNS, data)
    frame = pl.read_parquet(io.BytesIO(buf.getvalue()))
    assert conform(frame, "samples").equals(frame)
