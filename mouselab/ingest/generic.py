"""Generic samples from CSV, JSON Lines or Parquet, with a column mapping and declared units.

``mouselab ingest generic FILES --map t=time,x=posX,y=posY,participant=user --time-unit s``

* ``--map`` maps mouselab's names to the file's columns: ``t`` (required), ``x``, ``y`` (default ``x``,
  ``y``), and optionally ``participant``, ``session``, ``trial``, ``event``, ``buttons``. Unmapped
  identifiers come from ``--participant`` / ``--session`` (default: the file name without extensions).
* ``--time-unit`` ``s``, ``ms``, ``us``, ``ns`` or ``auto`` (default): *auto* detects the unit from the
  median step between samples (mouse data step by 1–100 ms) and records a warning naming what it chose;
  a declared unit the data contradict (median step 1000× off) is an error. A session whose own steps are
  1000× off the file's unit is quarantined as ``unit_mismatch``. Timestamps that look absolute (first
  sample of a session ≥ 10⁹ ms, i.e. epoch clocks) are rebased to the session's first sample
  (``--time-origin keep`` stores them as they are), with a warning.
* ``event`` values ``move``, ``down``, ``up``, ``drag``, ``scroll`` (and the DOM names ``mousemove``,
  ``mousedown``, ``mouseup``, ``wheel``) are understood; anything else is ``unknown_event_code``.
  Without an event column every sample is a ``move``; ``buttons`` defaults to 0.

File types by extension: ``.csv``/``.tsv`` (optionally ``.gz``; streamed in blocks), ``.jsonl``/``.ndjson``
(one JSON object per line; streamed), ``.parquet`` (streamed by row group). For Parquet, the quarantine
``line`` is the 1-based row number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from mouselab.ingest.base import MISSING_MARKERS, TIME_UNITS, BatchReader, ReadBatch, detect_time_unit, ensure_reasons, parse_floats, reject_frame
from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_blocks, iter_csv
from mouselab.ingest.validate import UNIT, flag

CANONICAL = ("t", "x", "y", "participant", "session", "trial", "event", "buttons")
EVENT_SYNONYMS = {
    "move": "move", "mousemove": "move", "down": "down", "mousedown": "down", "up": "up", "mouseup": "up",
    "drag": "drag", "scroll": "scroll", "wheel": "scroll",
}
EPOCH_MS = 1e9
PARQUET_BATCH_ROWS = 1_000_000


def parse_mapping(text: str | dict[str, str] | None) -> dict[str, str]:
    """``"x=posX,t=time"`` → ``{"x": "posX", "t": "time"}`` (checked against mouselab's names)."""
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        pairs = dict(text)
    else:
        pairs = {}
        for item in text.split(","):
            if not item.strip():
                continue
            if "=" not in item:
                raise ValueError(f"--map item {item!r} is not NAME=COLUMN (e.g. x=posX)")
            name, column = (s.strip() for s in item.split("=", 1))
            pairs[name] = column
    if "t_ms" in pairs:
        pairs["t"] = pairs.pop("t_ms")
    unknown = sorted(set(pairs) - set(CANONICAL))
    if unknown:
        raise ValueError(f"--map names {', '.join(unknown)} unknown; use {', '.join(CANONICAL)}")
    return pairs


class GenericReader(BatchReader):
    name = "generic"
    patterns = ("*.csv", "*.csv.gz", "*.tsv", "*.tsv.gz", "*.jsonl", "*.ndjson", "*.jsonl.gz", "*.parquet")

    def __init__(self, path: Path, *, study: str, mapping: str | dict | None = None, time_unit: str = "auto",
                 time_origin: str = "auto", participant: str | None = None, session: str | None = None,
                 encoding: str | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES, **_ignored) -> None:
        super().__init__(path, study=study)
        self.mapping = parse_mapping(mapping)
        self.mapping.setdefault("x", "x")
        self.mapping.setdefault("y", "y")
        if "t" not in self.mapping:
            self.mapping["t"] = "t"
        if time_unit not in ("auto", *TIME_UNITS):
            raise ValueError(f"--time-unit must be auto, s, ms, us or ns, not {time_unit!r}")
        if time_origin not in ("auto", "keep"):
            raise ValueError(f"--time-origin must be auto or keep, not {time_origin!r}")
        self.time_unit = time_unit
        self.time_origin = time_origin
        self.participant = participant
        self.session = session if session is not None else _stem(self.path)
        self.encoding = encoding
        self.chunk_bytes = chunk_bytes
        self.columns = {("t_ms" if k == "t" else k): v for k, v in self.mapping.items()}
        self._scale: float | None = TIME_UNITS.get(time_unit)
        self._judged: dict[tuple, dict] = {}  # per unit: judged in another unit (unit_mismatch)? first time
        self._unit_checked = False

    def options(self) -> dict:
        return {"mapping": self.mapping, "time_unit": self.time_unit, "time_origin": self.time_origin,
                "participant": self.participant, "session": self.session, "encoding": self.encoding}

    # ------------------------------------------------------------------ reading
    def batches(self) -> Iterator[ReadBatch]:
        suffixes = "".join(self.path.suffixes[-2:]).lower()
        if suffixes.endswith(".parquet"):
            yield from self._parquet()
        elif suffixes.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
            yield from self._jsonl()
        else:
            separator = "\t" if ".tsv" in suffixes else ","
            numeric = [self.mapping[k] for k in ("t", "x", "y", "buttons") if k in self.mapping]
            names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, separator=separator,
                                     encoding=self.encoding, hasher=self._hasher,
                                     numeric=lambda names: [c for c in numeric if c in names])
            self._check_columns(names)
            for chunk in chunks:
                yield ReadBatch(self._candidates(chunk.frame, raw_field=chunk.raw_fields), chunk.rejected,
                                raw=lambda f, c=chunk: c.raw_lines(f["_line"]), nbytes=len(chunk.data))
            self.sha256 = self._hasher.hexdigest() if not _is_gzip(self.path) else None

    def _parquet(self) -> Iterator[ReadBatch]:
        if not self.path.exists():
            raise IngestError(self.path, "file not found")
        try:
            handle = pq.ParquetFile(self.path)
        except Exception as exc:
            raise IngestError(self.path, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        self._check_columns(handle.schema_arrow.names)
        if handle.metadata.num_rows == 0:
            raise IngestError(self.path, "the file holds no rows")
        offset = 1
        total = max(handle.metadata.num_rows, 1)
        size = self.path.stat().st_size
        for record_batch in handle.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            frame = pl.from_arrow(record_batch)
            frame = frame.with_columns(pl.int_range(offset, offset + frame.height, dtype=pl.Int64).alias("_line"))
            offset += frame.height
            yield ReadBatch(self._candidates(frame), raw=lambda f, src=frame: _json_rows(f, src),
                            nbytes=int(size * frame.height / total))

    def _jsonl(self) -> Iterator[ReadBatch]:
        pending = b""
        line = 1
        seen_columns = False
        for block in iter_blocks(self.path, block_bytes=self.chunk_bytes, encoding=self.encoding, hasher=self._hasher):
            pending += block
            cut = pending.rfind(b"\n")
            if cut < 0:
                continue
            data, pending = pending[: cut + 1], pending[cut + 1:]
            batch, line = self._json_block(data, line)
            if batch is not None:
                if not seen_columns and batch.samples.height:
                    seen_columns = True
                yield batch
        if pending.strip():
            batch, line = self._json_block(pending, line)
            if batch is not None:
                yield batch
        self.sha256 = self._hasher.hexdigest() if not _is_gzip(self.path) else None

    def _json_block(self, data: bytes, line: int) -> tuple[ReadBatch | None, int]:
        rows, lines, raws = [], [], []
        bad_lines, reasons, bad_raws = [], [], []
        wanted = set(self.mapping.values())
        for raw in data.split(b"\n"):
            here = line
            line += 1
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.append(here)
                reasons.append("encoding")
                bad_raws.append(raw.decode("utf-8", errors="backslashreplace"))
                continue
            try:
                record = json.loads(text)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                bad_lines.append(here)
                reasons.append("malformed_record")
                bad_raws.append(text)
                continue
            rows.append({k: (None if record.get(k) is None else _text(record.get(k))) for k in wanted})
            lines.append(here)
            raws.append(text)
        if line == 1 + data.count(b"\n") and not rows and not bad_lines:
            return None, line
        if not rows and not bad_lines:
            return None, line
        frame = pl.DataFrame(rows, schema={k: pl.String for k in wanted}, orient="row") if rows else pl.DataFrame(
            schema={k: pl.String for k in wanted})
        frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64), pl.Series("_raw", raws, dtype=pl.String))
        rejected = reject_frame(bad_lines, reasons, [None] * len(bad_lines), [None] * len(bad_lines), bad_raws)
        if frame.height and not any(frame[c].is_not_null().any() for c in [self.mapping["t"]]):
            raise IngestError(self.path, f"no record has the time field {self.mapping['t']!r}; check --map", line=lines[0])
        return ReadBatch(self._candidates(frame) if frame.height else _empty_candidates(), rejected,
                         nbytes=len(data)), line

    def _check_columns(self, names: list[str]) -> None:
        missing = [f"{k}={v}" for k, v in self.mapping.items() if v not in names]
        if missing:
            raise IngestError(self.path, f"mapped column(s) not in the file: {', '.join(missing)}. Columns found: "
                              f"{', '.join(names)}; set --map NAME=COLUMN")

    # ------------------------------------------------------------------ candidates
    def _candidates(self, frame: pl.DataFrame, raw_field=None) -> pl.DataFrame:
        m = self.mapping
        ids = []
        for name, constant in (("participant", self.participant), ("session", self.session), ("trial", None)):
            if name in m:
                ids.append(pl.col(m[name]).cast(pl.String).alias(name))  # taken verbatim; the validator checks them
            elif name == "participant" and constant is None:
                raise IngestError(self.path, "no participant: map a column (--map participant=COLUMN) or give --participant")
            else:
                ids.append(pl.lit(constant, dtype=pl.String).alias(name))
        frame = ensure_reasons(frame).with_columns(ids)
        frame = parse_floats(frame, {"t_ms": m["t"], "x": m["x"], "y": m["y"]}, raw_field=raw_field)
        frame = self._apply_time_unit(frame)
        codes = []
        if "event" in m:
            codes.append(("event", m["event"], _event_code, pl.String, "move"))
        if "buttons" in m:
            frame = self._buttons(frame, m["buttons"], raw_field)
        for canon, source, decode, dtype, default in codes:
            # codes repeat: decode the distinct values once, then map every row
            values = frame[source].cast(pl.String)
            table = {v: decode(v) for v in values.unique().to_list()}
            unknown = [v for v, code in table.items() if code is None and v is not None]
            mapped = values.replace_strict({k: v for k, v in table.items() if k is not None}, default=None, return_dtype=dtype)
            frame = frame.with_columns(mapped.fill_null(default).alias(canon))
            if unknown or (None in table and canon == "event"):
                bad = values.is_in(unknown)
                if canon == "event":
                    bad = bad | values.is_null()
                frame = flag(frame, pl.lit(bad), "unknown_event_code", source, pl.col(source).cast(pl.String))
        if "event" not in m:
            frame = frame.with_columns(pl.lit("move").alias("event"))
        if "buttons" not in m:
            frame = frame.with_columns(pl.lit(0, dtype=pl.UInt8).alias("buttons"))
        keep = ["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons",
                "_reason", "_column", "_value"] + (["_raw"] if "_raw" in frame.columns else [])
        return frame.select(keep)

    def _buttons(self, frame: pl.DataFrame, source: str, raw_field) -> pl.DataFrame:
        """Button bitmask 0–7; an empty field means 0; anything else is an ``unknown_event_code``.

        One cast for clean data; only fields that are not a valid bitmask are looked at as text."""
        values = frame[source]
        number = values if values.dtype == pl.Float64 else values.cast(pl.Float64, strict=False)
        valid = number.is_between(0, 7) & (number == number.floor())
        suspect = ~valid.fill_null(False)
        if suspect.any():
            idx = suspect.arg_true()
            if values.dtype == pl.String:
                raws = values.gather(idx).to_list()
            elif number.gather(idx).is_null().any() and raw_field is not None:
                raws = raw_field(frame["_line"].gather(idx), source)
            else:
                raws = [None if v is None else f"{v:g}" for v in values.gather(idx).to_list()]
            bad = [(i, r) for i, r in zip(idx.to_list(), raws) if r is not None and r.strip() not in ("", *MISSING_MARKERS)]
            if bad:
                mask = pl.Series([False] * frame.height)
                mask.scatter([i for i, _ in bad], True)
                text = pl.Series([None] * frame.height, dtype=pl.String)
                text.scatter([i for i, _ in bad], [r for _, r in bad])
                frame = frame.with_columns(text.alias("__braw"))
                frame = flag(frame, pl.lit(mask), "unknown_event_code", source, pl.col("__braw")).drop("__braw")
        codes = pl.when(valid.fill_null(False)).then(number).otherwise(0.0).cast(pl.UInt8)
        return frame.with_columns(frame.select(codes).to_series().alias("buttons"))

    def _apply_time_unit(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Scale to ms (declared or detected unit); quarantine sessions in another unit; rebase epoch times.

        Each unit (participant, session, trial) is judged once, from the first batch where it has enough
        steps; later batches of known units only scale (and rebase)."""
        t = pl.col("t_ms")
        single = frame.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first()).all() for c in UNIT])).item()
        if single:
            units = [frame.select(UNIT).row(0)]
        else:  # distinct units from the runs of consecutive rows (cheaper than hashing every row)
            change = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift()) for c in UNIT]).fill_null(True)
            units = list(dict.fromkeys(frame.filter(frame.select(change).to_series()).select(UNIT).rows()))
        fresh = [u for u in units if self._judged.get(u, {}).get("mismatch") is None]
        if fresh:
            self._judge(frame if single or len(fresh) == len(units) else frame.join(
                pl.DataFrame(fresh, schema=frame.select(UNIT).schema, orient="row"), on=UNIT, how="semi",
                nulls_equal=True), single)
        scale = self._scale or 1.0
        bad = [u for u in units if self._judged.get(u, {}).get("mismatch")]
        if bad:
            hit = frame.select(UNIT).join(pl.DataFrame(bad, schema=frame.select(UNIT).schema, orient="row")
                                          .with_columns(pl.lit(True).alias("_hit")), on=UNIT, how="left",
                                          nulls_equal=True, maintain_order="left")["_hit"].fill_null(False)
            frame = flag(frame, pl.lit(hit), "unit_mismatch", self.mapping["t"], t.cast(pl.String))
        if scale != 1.0:
            frame = frame.with_columns(t * scale)
        origins = {u: self._judged.get(u, {}).get("origin") for u in units}
        absolute = {u: o * scale for u, o in origins.items() if o is not None and o * scale >= EPOCH_MS}
        if absolute and self.time_origin == "auto":
            self.warn("timestamps look absolute (epoch clock); rebased to the first sample of each session "
                      "(use --time-origin keep to store them as they are)")
            if single:
                frame = frame.with_columns(t - absolute[units[0]])
            else:
                offsets = pl.DataFrame([(*u, o) for u, o in absolute.items()],
                                       schema={**frame.select(UNIT).schema, "_t0": pl.Float64}, orient="row")
                frame = frame.join(offsets, on=UNIT, how="left", nulls_equal=True, maintain_order="left")
                frame = frame.with_columns((t - pl.col("_t0").fill_null(0.0)).alias("t_ms")).drop("_t0")
        return frame

    def _judge(self, frame: pl.DataFrame, single: bool) -> None:
        """Per-unit median step and first time; the file's unit (auto) or a check of the declared one."""
        t = pl.col("t_ms")
        ok = pl.col("_reason").is_null() & t.is_finite()
        step = t.filter(ok).diff()
        aggs = [step.filter(step > 0).median().alias("med"), (step > 0).sum().alias("n"), t.filter(ok).first().alias("t0")]
        per_unit = (frame.select(*[pl.col(c).first() for c in UNIT], *aggs) if single
                    else frame.group_by(UNIT, maintain_order=True).agg(aggs))
        pooled = per_unit.filter(pl.col("n") >= 3)["med"]
        if self._scale is None:  # auto: decide from the first batch with steps
            candidates = pooled if pooled.len() else per_unit.filter(pl.col("n") >= 1)["med"]
            if candidates.len():
                median = float(candidates.median())
                unit = detect_time_unit(pl.Series([median] * 3))
                self.warn(f"time unit not declared; detected {unit} from the median step between samples "
                          f"({median:g} {unit}); declare --time-unit to silence")
            else:
                unit = "ms"
                self.warn("time unit not declared and not detectable (no two samples of one session in the first "
                          "block); assumed ms")
            self._scale = TIME_UNITS[unit]
        elif not self._unit_checked and pooled.len() and self.time_unit != "auto":
            self._unit_checked = True
            median = float(pooled.median())
            unit = detect_time_unit(pl.Series([median] * 3))
            if abs(_log10(TIME_UNITS[unit]) - _log10(self._scale)) >= 2.5:
                raise IngestError(self.path, f"declared --time-unit {self.time_unit}, but samples are a median "
                                  f"{median:g} {self.time_unit} apart, which looks like {unit}; fix --time-unit or "
                                  "use auto", column=self.mapping["t"])
        scale = self._scale
        for row in per_unit.iter_rows(named=True):
            unit = tuple(row[c] for c in UNIT)
            entry = self._judged.setdefault(unit, {"mismatch": None, "origin": None})
            if entry["origin"] is None and row["t0"] is not None:
                entry["origin"] = row["t0"]  # raw units; the first valid time of the unit is its origin
            if row["n"] >= 3 and entry["mismatch"] is None:
                med = row["med"]
                unit_scale = 1000.0 if med < 0.5 else 1.0 if med < 500 else 1e-3 if med < 500_000 else 1e-6
                entry["mismatch"] = abs(_log10(unit_scale) - _log10(scale)) >= 2.5


def _event_code(value: str | None) -> str | None:
    return None if value is None else EVENT_SYNONYMS.get(value.strip().lower())


def _log10(value: float) -> float:
    import math

    return math.log10(value)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".json"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _text(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value) if not isinstance(value, (dict, list)) else json.dumps(value)


def _json_rows(frame: pl.DataFrame, source: pl.DataFrame) -> pl.Series:
    """The source records (as JSON) of the candidate rows in ``frame``, in ``frame``'s order."""
    rows = frame.select("_line").join(source, on="_line", how="left", maintain_order="left").drop("_line").to_dicts()
    return pl.Series("_raw", [json.dumps(r, default=str, separators=(",", ":")) for r in rows], dtype=pl.String)


def _empty_candidates() -> pl.DataFrame:
    return pl.DataFrame(schema={"_line": pl.Int64, "participant": pl.String, "session": pl.String, "trial": pl.String,
                                "t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String,
                                "buttons": pl.UInt8, "_reason": pl.String, "_column": pl.String, "_value": pl.String})

