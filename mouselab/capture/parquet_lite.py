"""A small pure-Python Parquet writer for the capture agent's segments (no Polars / Arrow in the agent).

Why: the agent runs all day next to the participant's work. Loading Polars or PyArrow to write a few
hundred rows every few seconds would put 60–70 MB of library code into its resident memory and cost CPU at
every flush; this writer needs only the standard library. It writes exactly what the segments need:

* one row group; one data page (format v1) per column, uncompressed;
* physical types DOUBLE, INT32 (logical INT(8, unsigned) for ``buttons``) and BYTE_ARRAY (logical STRING);
* REQUIRED columns for non-nullable contract columns, OPTIONAL ones with RLE definition levels;
* string columns dictionary-encoded (a PLAIN dictionary page + RLE_DICTIONARY indices), so the constant
  key columns cost a few bytes;
* file metadata in the Thrift compact protocol, as the Parquet format specification describes.

Segments are read back with Polars (and are readable by PyArrow and DuckDB — the tests check all three).
The column lists below must equal :data:`mouselab.schema.SAMPLES` / ``EVENTS`` (a test checks that too; the
agent does not import :mod:`mouselab.schema` because that loads Polars).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

# (name, kind, nullable) with kind one of "string", "double", "uint8"
SAMPLES_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("study", "string", False),
    ("participant", "string", False),
    ("session", "string", False),
    ("trial", "string", True),
    ("t_ms", "double", False),
    ("x", "double", False),
    ("y", "double", False),
    ("event", "string", False),
    ("buttons", "uint8", False),
)
EVENTS_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("study", "string", False),
    ("participant", "string", False),
    ("session", "string", False),
    ("trial", "string", True),
    ("t_ms", "double", False),
    ("kind", "string", False),
    ("button", "string", True),
    ("x", "double", True),
    ("y", "double", True),
    ("dx", "double", True),
    ("dy", "double", True),
    ("duration_ms", "double", True),
    ("app", "string", True),
)
COLUMNS = {"samples": SAMPLES_COLUMNS, "events": EVENTS_COLUMNS}

MAGIC = b"PAR1"
# Parquet enums
_INT32, _DOUBLE, _BYTE_ARRAY = 1, 5, 6
_REQUIRED, _OPTIONAL = 0, 1
_PLAIN, _RLE, _RLE_DICTIONARY = 0, 3, 8
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
_UTF8, _UINT_8 = 0, 11
# Thrift compact protocol types
_T_TRUE, _T_FALSE, _T_BYTE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 2, 3, 5, 6, 8, 9, 12


class _Thrift:
    """Just enough of the Thrift compact protocol to write Parquet metadata."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._last = [0]

    def _varint(self, n: int) -> None:
        while True:
            byte = n & 0x7F
            n >>= 7
            if n:
                self.buf.append(byte | 0x80)
            else:
                self.buf.append(byte)
                return

    @staticmethod
    def _zigzag(n: int) -> int:
        return (n << 1) ^ (n >> 63)

    def _field(self, fid: int, ctype: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.buf.append((delta << 4) | ctype)
        else:
            self.buf.append(ctype)
            self._varint(self._zigzag(fid))
        self._last[-1] = fid

    def i32(self, fid: int, value: int) -> None:
        self._field(fid, _T_I32)
        self._varint(self._zigzag(value))

    def i64(self, fid: int, value: int) -> None:
        self._field(fid, _T_I64)
        self._varint(self._zigzag(value))

    def byte(self, fid: int, value: int) -> None:
        self._field(fid, _T_BYTE)
        self.buf.append(value & 0xFF)

    def boolean(self, fid: int, value: bool) -> None:
        self._field(fid, _T_TRUE if value else _T_FALSE)

    def binary(self, fid: int, value: bytes) -> None:
        self._field(fid, _T_BINARY)
        self._varint(len(value))
        self.buf += value

    def begin_struct(self, fid: int) -> None:
        self._field(fid, _T_STRUCT)
        self._last.append(0)

    def begin_element(self) -> None:  # a struct inside a list
        self._last.append(0)

    def end_struct(self) -> None:
        self.buf.append(0)
        self._last.pop()

    def begin_list(self, fid: int, etype: int, size: int) -> None:
        self._field(fid, _T_LIST)
        if size < 15:
            self.buf.append((size << 4) | etype)
        else:
            self.buf.append(0xF0 | etype)
            self._varint(size)

    def list_i32(self, values: list[int]) -> None:
        for v in values:
            self._varint(self._zigzag(v))

    def list_binary(self, values: list[bytes]) -> None:
        for v in values:
            self._varint(len(v))
            self.buf += v

    def finish(self) -> bytes:
        self.buf.append(0)  # stop field of the outermost struct
        return bytes(self.buf)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _rle(values: list[int], bit_width: int) -> bytes:
    """RLE / bit-packing hybrid encoding using RLE runs only (valid for any input)."""
    width = (bit_width + 7) // 8
    out = bytearray()
    i, n = 0, len(values)
    while i < n:
        j = i
        v = values[i]
        while j < n and values[j] == v:
            j += 1
        out += _uvarint((j - i) << 1)
        out += v.to_bytes(width, "little")
        i = j
    return bytes(out)


def _page_header(page_type: int, size: int, num_values: int, encoding: int) -> bytes:
    t = _Thrift()
    t.i32(1, page_type)
    t.i32(2, size)
    t.i32(3, size)
    if page_type == _DATA_PAGE:
        t.begin_struct(5)
        t.i32(1, num_values)
        t.i32(2, encoding)
        t.i32(3, _RLE)
        t.i32(4, _RLE)
        t.end_struct()
    else:
        t.begin_struct(7)
        t.i32(1, num_values)
        t.i32(2, _PLAIN)
        t.end_struct()
    return t.finish()


def _column_chunk(kind: str, nullable: bool, values: list) -> tuple[bytes, bytes | None, int, int, list[int]]:
    """(data page body, dictionary page body or None, dictionary size, data page encoding, encodings used)."""
    present = [v for v in values if v is not None] if nullable else values
    if not nullable and len(present) != len(values):
        raise ValueError("a required column holds None")
    levels = _rle([0 if v is None else 1 for v in values], 1) if nullable else b""
    prefix = struct.pack("<I", len(levels)) + levels if nullable else b""
    if kind == "double":
        return prefix + struct.pack(f"<{len(present)}d", *present), None, 0, _PLAIN, [_PLAIN, _RLE]
    if kind == "uint8":
        return prefix + struct.pack(f"<{len(present)}i", *present), None, 0, _PLAIN, [_PLAIN, _RLE]
    if kind != "string":
        raise ValueError(f"unknown column kind {kind!r}")
    if not present:  # nothing to put in a dictionary: plain page of nulls
        return prefix, None, 0, _PLAIN, [_PLAIN, _RLE]
    index: dict[str, int] = {}
    codes = [index.setdefault(v, len(index)) for v in present]
    dictionary = bytearray()
    for v in index:
        raw = v.encode("utf-8")
        dictionary += struct.pack("<I", len(raw)) + raw
    bit_width = max(1, (len(index) - 1).bit_length())
    body = prefix + bytes([bit_width]) + _rle(codes, bit_width)
    return body, bytes(dictionary), len(index), _RLE_DICTIONARY, [_PLAIN, _RLE, _RLE_DICTIONARY]


def write(handle: BinaryIO, columns: tuple[tuple[str, str, bool], ...], data: dict[str, list], *,
          created_by: str = "mouselab capture (parquet_lite)") -> int:
    """Write ``data`` (column name → list of values, all the same length) as one Parquet file to ``handle``.

    Returns the number of bytes written.
    """
    n_rows = len(data[columns[0][0]]) if columns else 0
    for name, _, _ in columns:
        if len(data[name]) != n_rows:
            raise ValueError(f"column {name!r} has {len(data[name])} values, expected {n_rows}")
    out = bytearray(MAGIC)
    chunks = []
    for name, kind, nullable in columns:
        body, dictionary, dict_size, encoding, encodings = _column_chunk(kind, nullable, data[name])
        start = len(out)
        dict_offset = None
        if dictionary is not None:
            dict_offset = len(out)
            out += _page_header(_DICTIONARY_PAGE, len(dictionary), dict_size, _PLAIN)
            out += dictionary
        data_offset = len(out)
        out += _page_header(_DATA_PAGE, len(body), n_rows, encoding)
        out += body
        chunks.append((name, kind, start, data_offset, dict_offset, len(out) - start, encodings))
    meta = _Thrift()
    meta.i32(1, 1)
    meta.begin_list(2, _T_STRUCT, len(columns) + 1)
    meta.begin_element()
    meta.binary(4, b"schema")
    meta.i32(5, len(columns))
    meta.end_struct()
    for name, kind, nullable in columns:
        meta.begin_element()
        meta.i32(1, {"double": _DOUBLE, "uint8": _INT32, "string": _BYTE_ARRAY}[kind])
        meta.i32(3, _OPTIONAL if nullable else _REQUIRED)
        meta.binary(4, name.encode())
        if kind == "string":
            meta.i32(6, _UTF8)
            meta.begin_struct(10)  # LogicalType union: STRING
            meta.begin_struct(1)
            meta.end_struct()
            meta.end_struct()
        elif kind == "uint8":
            meta.i32(6, _UINT_8)
            meta.begin_struct(10)  # LogicalType union: INTEGER(8, unsigned)
            meta.begin_struct(10)
            meta.byte(1, 8)
            meta.boolean(2, False)
            meta.end_struct()
            meta.end_struct()
        meta.end_struct()
    meta.i64(3, n_rows)
    meta.begin_list(4, _T_STRUCT, 1)
    meta.begin_element()
    meta.begin_list(1, _T_STRUCT, len(chunks))
    total = 0
    for name, kind, start, data_offset, dict_offset, size, encodings in chunks:
        total += size
        meta.begin_element()
        meta.i64(2, start)
        meta.begin_struct(3)
        meta.i32(1, {"double": _DOUBLE, "uint8": _INT32, "string": _BYTE_ARRAY}[kind])
        meta.begin_list(2, _T_I32, len(encodings))
        meta.list_i32(encodings)
        meta.begin_list(3, _T_BINARY, 1)
        meta.list_binary([name.encode()])
        meta.i32(4, 0)  # UNCOMPRESSED
        meta.i64(5, n_rows)
        meta.i64(6, size)
        meta.i64(7, size)
        meta.i64(9, data_offset)
        if dict_offset is not None:
            meta.i64(11, dict_offset)
        meta.end_struct()
        meta.end_struct()
    meta.i64(2, total)
    meta.i64(3, n_rows)
    meta.end_struct()
    meta.binary(6, created_by.encode())
    footer = meta.finish()
    out += footer + struct.pack("<I", len(footer)) + MAGIC
    handle.write(out)
    return len(out)

