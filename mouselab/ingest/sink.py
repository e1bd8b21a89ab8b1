"""Where validated rows go: an in-memory collector (``read_files``) or a streamed, atomic store transaction.

:class:`StoreTransaction` has the semantics of :meth:`mouselab.store.Store.write` — rows replace the stored
rows of the same partition and unit key, everything else is kept, nothing is visible before the manifest is
replaced — but takes rows in batches, so an ingest of any size runs in bounded memory:

* rows are buffered per partition; a partition that grows beyond ``merge_rows`` is streamed to a staged
  Parquet file (zstd, one row group per batch) instead, and the buffers of all partitions together never
  exceed ``buffer_rows`` (the largest are spilled to staged files);
* at commit, a partition whose new and kept rows fit in ``merge_rows`` is written as **one sorted file,
  byte-identical to what ``Store.write`` writes**; a larger one keeps the stored files that hold none of the
  written units, rewrites those that do without them, and adds the streamed file;
* the store lock is held from the first row to the commit, the staged files live in the store's
  ``.staging`` folder (removed on failure), and the manifest is replaced once: a failed ingest leaves the
  store exactly as it was.

The store module has no public API for a streamed transaction yet, so this class uses its lock, staging
folder and manifest the way ``Store.write`` does (see the note in ``mouselab/ingest/__init__.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from mouselab.schema import SchemaError, Table, conform, table
from mouselab.store import Store, WriteSummary
from mouselab.store.manifest import FileEntry, Manifest, sha256_file

_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MERGE_ROWS = 250_000
BUFFER_ROWS = 1_000_000


class MemorySink:
    """Collects frames per table (for :func:`mouselab.ingest.read_files`)."""

    def __init__(self) -> None:
        self.frames: dict[str, list[pl.DataFrame]] = defaultdict(list)

    def add(self, name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        if frame.height:
            self.frames[name].append(frame if trusted else conform(frame, name))

    def declare_units(self, name: str, frame: pl.DataFrame) -> None:
        """Units written even when they hold no rows (ignored in memory)."""

    def result(self) -> dict[str, pl.DataFrame]:
        return {n: pl.concat(f, how="diagonal_relaxed") for n, f in self.frames.items() if f}


@dataclass
class _Partition:
    spec: Table
    key: dict[str, str]
    buffer: list[pl.DataFrame] = field(default_factory=list)
    buffered: int = 0
    rows: int = 0
    writer: pq.ParquetWriter | None = None
    stream_path: Path | None = None
    spills: list[Path] = field(default_factory=list)
    units: list[pl.DataFrame] = field(default_factory=list)
    closed_units: set = field(default_factory=set)
    last_unit: tuple | None = None
    contiguous: bool = True

    @property
    def prefix(self) -> str:
        return "/".join(f"{k}={self.key[k]}" for k in self.spec.partition_by)

    @property
    def unit_cols(self) -> list[str]:
        return [k for k in self.spec.unit_key if k not in self.spec.partition_by]

    @property
    def order(self) -> list[str]:
        return [c for c in self.spec.sort_by if c not in self.spec.partition_by]


class StoreTransaction:
    """A streamed, atomic, idempotent write of many batches to ``store`` (see the module doc)."""

    def __init__(self, store: Store, *, merge_rows: int = MERGE_ROWS, buffer_rows: int = BUFFER_ROWS) -> None:
        self.store = store
        self.merge_rows = merge_rows
        self.buffer_rows = buffer_rows
        self._parts: dict[tuple[str, tuple[str, ...]], _Partition] = {}
        self._buffered = 0
        self._rows: dict[str, int] = defaultdict(int)
        self._extras: dict[str, dict[str, str]] = {}
        # a governed store (mouselab.privacy) checks every write and records the written units
        self._governed = (store.path / "governance").is_dir()
        self._written_units: list[pl.DataFrame] = []
        if self._governed:
            from mouselab.privacy import access

            self._access = access
        self._lock_cm = store._locked()
        self._lock_cm.__enter__()
        self._open = True
        try:
            store.refresh()
            store._gc_staging()
            self.staging = store.path / ".staging" / uuid.uuid4().hex
            self.staging.mkdir(parents=True)
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------ adding rows
    def add(self, name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        """Add rows of table ``name`` (validated against the contract unless ``trusted``)."""
        if frame.height == 0:
            return
        spec = table(name)
        frame = _select_trusted(frame, spec) if trusted else conform(frame, name)
        self._check_extras(spec, frame)
        if self._governed:
            self._access.before_write(self.store, {name: frame})  # pseudonyms, erased participants
            if {"study", "participant", "session"} <= set(frame.columns):
                self._written_units.append(frame.select("study", "participant", "session").unique())
        for key_values, part in _split(frame, spec):
            p = self._partition(spec, key_values)
            body = part.drop(list(spec.partition_by))
            self._track_units(p, body)
            p.rows += body.height
            self._rows[name] += body.height
            if p.writer is not None:
                self._stream(p, body)
            else:
                p.buffer.append(body)
                p.buffered += body.height
                self._buffered += body.height
                if p.buffered > self.merge_rows:
                    self._start_stream(p)
        while self._buffered > self.buffer_rows:
            biggest = max((p for p in self._parts.values() if p.buffered), key=lambda p: p.buffered)
            self._spill(biggest)

    def declare_units(self, name: str, frame: pl.DataFrame) -> None:
        """Mark units (partition + unit key columns) as written, so stored rows of them are replaced even
        when this transaction adds no rows for them (e.g. the quarantine rows of a file that is now clean)."""
        spec = table(name)
        for key_values, part in _split(frame, spec):
            p = self._partition(spec, key_values)
            p.units.append(part.select(p.unit_cols).unique())

    def _partition(self, spec: Table, key_values: dict[str, str]) -> _Partition:
        for k, v in key_values.items():
            if not _PARTITION_VALUE.match(v):
                raise SchemaError(f"{spec.name}: {k} value {v!r} cannot name a partition; use letters, digits, "
                                  "'.', '_' or '-' (at most 128 characters, not starting with a symbol)")
        ident = (spec.name, tuple(key_values[k] for k in spec.partition_by))
        if ident not in self._parts:
            self._parts[ident] = _Partition(spec, key_values)
        return self._parts[ident]

    def _track_units(self, p: _Partition, body: pl.DataFrame) -> None:
        cols = p.unit_cols
        if not cols:
            return
        keys = body.select(cols)
        if keys.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first()).all() for c in cols])).item():
            runs = [keys.row(0)]
        else:
            change = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift()) for c in cols]).fill_null(True)
            runs = keys.filter(keys.select(change).to_series()).rows()
        p.units.append(pl.DataFrame(runs, schema=keys.schema, orient="row").unique())
        for unit in runs:
            if unit == p.last_unit:
                continue
            if unit in p.closed_units:
                p.contiguous = False
            if p.last_unit is not None:
                p.closed_units.add(p.last_unit)
            p.last_unit = unit

    def _check_extras(self, spec: Table, frame: pl.DataFrame) -> None:
        known = self.store.manifest.extra_columns.get(spec.name, {})
        mine = self._extras.setdefault(spec.name, {})
        for col in frame.columns:
            if col in spec.names or frame[col].dtype == pl.Null:
                continue
            dtype = str(frame[col].dtype)
            expected = known.get(col) or mine.get(col)
            if expected and expected != dtype:
                raise SchemaError(f"{spec.name}: extra column {col!r} is {dtype} but the store holds it as {expected}; "
                                  "cast it before writing")
            mine.setdefault(col, dtype)

    def _start_stream(self, p: _Partition) -> None:
        p.stream_path = self.staging / f"stream-{uuid.uuid4().hex}.parquet"
        frames = [pl.read_parquet(spill) for spill in p.spills] + p.buffer
        self._buffered -= p.buffered
        p.buffer, p.buffered = [], 0
        for spill in p.spills:
            spill.unlink()
        p.spills = []
        if frames:
            self._stream(p, pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0])

    def _stream(self, p: _Partition, body: pl.DataFrame) -> None:
        arrow = body.to_arrow()
        if p.writer is None:
            text = [f.name for f in arrow.schema if str(f.type) in ("string", "large_string", "string_view")]
            p.writer = pq.ParquetWriter(p.stream_path, arrow.schema, compression="zstd", compression_level=1,
                                        use_dictionary=text, write_statistics=True)
        elif arrow.schema != p.writer.schema:
            arrow = arrow.cast(p.writer.schema)
        p.writer.write_table(arrow)

    def _spill(self, p: _Partition) -> None:
        path = self.staging / f"spill-{uuid.uuid4().hex}.parquet"
        pl.concat(p.buffer, how="diagonal_relaxed").write_parquet(path, compression="lz4", statistics=False)
        p.spills.append(path)
        self._buffered -= p.buffered
        p.buffer, p.buffered = [], 0

    # ------------------------------------------------------------------ commit / abort
    def commit(self) -> WriteSummary:
        """Make everything visible in one manifest replacement; returns what changed."""
        if not self._open:
            raise RuntimeError("transaction already finished")
        try:
            store = self.store
            manifest = store.manifest
            added: list[tuple[str, FileEntry, Path]] = []
            removed: list[tuple[str, str]] = []
            for p in self._parts.values():
                adds, drops = self._finish_partition(p, manifest)
                added += [(p.spec.name, e, path) for e, path in adds]
                removed += [(p.spec.name, rel) for rel in drops]
            for name, entry, staged in added:
                final = store.path / name / entry.relpath
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
            extras = {k: dict(v) for k, v in manifest.extra_columns.items()}
            for name, cols in self._extras.items():
                for col, dtype in cols.items():
                    extras.setdefault(name, {}).setdefault(col, dtype)
            new = Manifest(
                schema_version=manifest.schema_version,
                created=manifest.created,
                tables={k: dict(v) for k, v in manifest.tables.items()},
                extra_columns=extras,
            )
            for name, rel in removed:
                new.tables.setdefault(name, {}).pop(rel, None)
            for name, entry, _ in added:
                new.tables.setdefault(name, {})[entry.relpath] = entry
            changed = bool(added or removed)
            if changed or extras != manifest.extra_columns:
                new.save(store.path)  # ← commit point
                store.manifest = new
            live = {(n, rel) for n, files in store.manifest.tables.items() for rel in files}
            really_removed = 0
            for name, rel in removed:
                if (name, rel) not in live:
                    (store.path / name / rel).unlink(missing_ok=True)
                    really_removed += 1
            store._prune_empty_dirs()
            if self._governed and self._written_units:
                self._access.after_write(store, {"units": pl.concat(self._written_units).unique()})
            removed_set = set(removed)
            return WriteSummary(
                rows=dict(self._rows),
                partitions=len(self._parts),
                files_added=sum(1 for n, e, _ in added if (n, e.relpath) not in removed_set),
                files_removed=really_removed,
            )
        finally:
            self._cleanup()

    def abort(self) -> None:
        """Drop everything staged; the store is unchanged."""
        if self._open:
            self._cleanup()

    def _cleanup(self) -> None:
        for p in self._parts.values():
            if p.writer is not None:
                try:
                    p.writer.close()
                except Exception:  # pragma: no cover - closing a broken writer during abort
                    pass
                p.writer = None
        shutil.rmtree(self.staging, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._open:
            self._open = False
            self._lock_cm.__exit__(None, None, None)

    def __enter__(self) -> "StoreTransaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self._open:
            self.commit()

    # ------------------------------------------------------------------ per partition
    def _finish_partition(self, p: _Partition, manifest: Manifest) -> tuple[list[tuple[FileEntry, Path]], list[str]]:
        spec = p.spec
        old = sorted(rel for rel in manifest.tables.get(spec.name, {}) if rel.rsplit("/", 1)[0] == p.prefix)
        units = pl.concat(p.units, how="vertical_relaxed").unique() if p.units and p.unit_cols else None
        root = self.store.path / spec.name
        # which stored files hold written units
        overlapping, untouched = [], []
        for rel in old:
            if not p.unit_cols:
                overlapping.append(rel)  # tables without a unit key below the partition: replace the partition
                continue
            if units is None or units.height == 0:
                untouched.append(rel)
                continue
            keys = pl.read_parquet(root / rel, columns=p.unit_cols)
            hit = keys.join(units, on=p.unit_cols, how="semi", nulls_equal=True).height
            (overlapping if hit else untouched).append(rel)
        kept_rows = sum(manifest.tables[spec.name][rel].rows for rel in untouched + overlapping)
        if p.writer is None and p.rows + kept_rows <= self.merge_rows:
            return self._merge(p, old, units, root)
        adds: list[tuple[FileEntry, Path]] = []
        drops: list[str] = []
        for rel in overlapping:
            drops.append(rel)
            if not p.unit_cols:
                continue
            rest = pl.read_parquet(root / rel).join(units, on=p.unit_cols, how="anti", nulls_equal=True)
            if rest.height:
                adds.append(self._final(p, rest))
        new_path = self._new_rows_file(p)
        if new_path is not None:
            adds.append(self._final_path(p, new_path, p.rows))
        return _dedupe(adds, drops, old)

    def _merge(self, p: _Partition, old: list[str], units: pl.DataFrame | None, root: Path
               ) -> tuple[list[tuple[FileEntry, Path]], list[str]]:
        """Exactly what Store.write does: one file of kept + new rows, sorted."""
        body = self._new_rows_frame(p)
        if old:
            existing = pl.concat([pl.read_parquet(root / rel) for rel in old], how="diagonal_relaxed")
            if p.unit_cols and units is not None:
                kept = existing.join(units, on=p.unit_cols, how="anti", nulls_equal=True)
            else:
                kept = existing.clear()
            if body is None:
                body = kept
            elif kept.height:
                body = pl.concat([kept, body], how="diagonal_relaxed")
        if body is None or body.height == 0:
            return [], list(old)
        if p.order:
            body = body.sort(p.order, nulls_last=True, maintain_order=True)
        adds = [self._final(p, body)]
        return _dedupe(adds, list(old), old)

    def _new_rows_frame(self, p: _Partition) -> pl.DataFrame | None:
        frames = [pl.read_parquet(s) for s in p.spills] + p.buffer
        if not frames:
            return None
        return pl.concat(frames, how="diagonal_relaxed")

    def _new_rows_file(self, p: _Partition) -> Path | None:
        if p.writer is None:
            if not (p.buffer or p.spills):
                return None
            self._start_stream(p)
        elif p.buffer:
            self._stream(p, pl.concat(p.buffer, how="diagonal_relaxed"))
            p.buffer = []
        p.writer.close()
        p.writer = None
        path = p.stream_path
        if not p.contiguous and p.order:
            # units were interleaved in the input: sort out of core with DuckDB (spills to disk)
            import duckdb

            target = self.staging / f"sorted-{uuid.uuid4().hex}.parquet"
            con = duckdb.connect()
            try:
                con.execute("SET preserve_insertion_order = true")
                con.execute(f"SET temp_directory = '{self.staging}'")
                order = ", ".join(f'"{c}" NULLS LAST' for c in p.order)
                con.execute(f"COPY (SELECT * FROM read_parquet('{path}') ORDER BY {order}) TO '{target}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
            finally:
                con.close()
            path.unlink()
            path = target
        return path

    def _final(self, p: _Partition, body: pl.DataFrame) -> tuple[FileEntry, Path]:
        tmp = self.staging / f"{uuid.uuid4().hex}.parquet"
        body.write_parquet(tmp, compression="zstd", statistics=True)
        return self._final_path(p, tmp, body.height)

    def _final_path(self, p: _Partition, tmp: Path, rows: int) -> tuple[FileEntry, Path]:
        digest = sha256_file(tmp)
        rel = f"{p.prefix}/part-{digest[:16]}.parquet"
        return FileEntry(rel, digest, rows, tmp.stat().st_size), tmp


def _dedupe(adds: list[tuple[FileEntry, Path]], drops: list[str], old: list[str]
            ) -> tuple[list[tuple[FileEntry, Path]], list[str]]:
    """Files whose content is already stored under the same name are neither added nor removed."""
    keep_adds, same = [], set()
    for entry, path in adds:
        if entry.relpath in old:
            same.add(entry.relpath)
            path.unlink(missing_ok=True)
        else:
            keep_adds.append((entry, path))
    return keep_adds, [rel for rel in drops if rel not in same]


def _split(frame: pl.DataFrame, spec: Table):
    if frame.height == 0:
        return
    keys = list(spec.partition_by)
    if frame.select(pl.all_horizontal([pl.col(k).eq_missing(pl.col(k).first()).all() for k in keys])).item():
        yield {k: str(frame[k][0]) for k in keys}, frame
        return
    for key, part in frame.partition_by(keys, as_dict=True, maintain_order=True).items():
        yield dict(zip(keys, (str(k) for k in key))), part


def _select_trusted(frame: pl.DataFrame, spec: Table) -> pl.DataFrame:
    """Column order and dtypes of the contract for frames built by the validator (already checked)."""
    exprs = []
    for col in spec.columns:
        if col.name in frame.columns:
            expr = pl.col(col.name)
            exprs.append(expr if frame.schema[col.name] == col.dtype else expr.cast(col.dtype))
        else:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
    extra = [c for c in frame.columns if c not in spec.names] if spec.allow_extra else []
    return frame.select(exprs + extra)


class BackgroundSink:
    """Runs another sink's ``add`` / ``declare_units`` on a worker thread, so writing (Parquet encoding and
    compression release the GIL) overlaps with reading and validating. At most ``depth`` batches wait in
    the queue, which bounds memory. Errors of the worker surface on the next call, at ``commit``, or raise
    there; ``abort`` drops everything."""

    def __init__(self, sink, *, depth: int = 1) -> None:
        import queue
        import threading

        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="mouselab-ingest-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    method, args, kwargs = item
                    getattr(self.sink, method)(*args, **kwargs)
            except BaseException as exc:  # surfaced in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _put(self, method: str, *args, **kwargs) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((method, args, kwargs))

    def add(self, name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        self._put("add", name, frame, trusted=trusted)

    def declare_units(self, name: str, frame: pl.DataFrame) -> None:
        self._put("declare_units", name, frame)

    def _drain(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def commit(self):
        self._drain()
        return self.sink.commit()

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        try:
            self._queue.put(None)
            self._thread.join()
        finally:
            self.sink.abort()
