"""The Parquet trajectory store: hive-partitioned tables, a checksummed manifest, atomic idempotent writes.

Layout::

    STORE/
      manifest.json                       commit point: files per table with SHA-256, rows, bytes
      samples/study=S/participant=P/part-<sha16>.parquet
      events/…  trials/…  participants/…  quarantine/study=S/…
      .staging/                           files of a write in progress (never read)

Partition key columns live only in the path (not inside the files), so pyarrow, dask, DuckDB and Polars
all read the folder the same way; their types are pinned to strings on read.

Writes are atomic: new partition files are staged, moved into place under content-addressed names, and
only become visible when the manifest is replaced (one ``os.replace``). A crash at any point leaves the
previous manifest, so readers never see a partial write. Writing a unit again (rows with the same
partition and unit key, e.g. the same trial of the same participant) replaces it, so re-writing the same
data is idempotent and leaves byte-identical files.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from mouselab.schema import TABLES, SchemaError, Table, conform, table
from mouselab.store.manifest import MANIFEST_NAME, FileEntry, Manifest, sha256_file

_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAGING = ".staging"
_LOCK = ".lock"


class StoreError(RuntimeError):
    """A store operation could not be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class WriteSummary:
    """What a write did: rows written per table, partitions touched and files added / removed."""

    rows: dict[str, int]
    partitions: int
    files_added: int
    files_removed: int

    @property
    def changed(self) -> bool:
        return bool(self.files_added or self.files_removed)


class Store:
    """A folder holding mouselab's tables as hive-partitioned Parquet, listed in ``manifest.json``.

    Open an existing store with ``Store(path)``; make a new one with ``Store.create(path)`` (or
    ``Store.open(path, create=True)``). Query with :meth:`sql` (DuckDB, returns Polars) or
    :meth:`scan` (Polars LazyFrame with partition pruning).
    """

    #: Returned by a :meth:`rewrite` transform to leave a file exactly as it is.
    KEEP = object()

    def __init__(
        self, path: str | os.PathLike[str], *, purpose: str | None = None, operator: str | None = None
    ):
        """Open the store at ``path``.

        ``purpose`` is the declared purpose of this access (default: the ``purpose`` setting) and
        ``operator`` who is reading (default: the ``operator`` setting, else the OS user). Both matter only
        for a *governed* store (one with a ``governance/`` folder, see :mod:`mouselab.privacy`): its reads
        are then checked against the purposes it declares and recorded in its audit log, one line per query.
        """
        self.path = Path(path)
        self.manifest = Manifest.load(self.path)
        self.purpose = purpose
        self.operator = operator

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, exist_ok: bool = True) -> "Store":
        """Create an empty store at ``path`` (an existing store is opened when ``exist_ok``)."""
        root = Path(path)
        if (root / MANIFEST_NAME).exists():
            if not exist_ok:
                raise StoreError(f"{root} already holds a mouselab store")
            return cls(root)
        if root.exists() and any(p for p in root.iterdir() if not p.name.startswith(".")):
            raise StoreError(f"{root} exists and is not empty; choose an empty folder for a new store")
        root.mkdir(parents=True, exist_ok=True)
        Manifest().save(root)
        return cls(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> "Store":
        """Open the store at ``path``; with ``create=True`` make it when missing."""
        root = Path(path)
        if create and not (root / MANIFEST_NAME).exists():
            return cls.create(root)
        return cls(root)

    def refresh(self) -> None:
        """Re-read the manifest (another process may have written)."""
        self.manifest = Manifest.load(self.path)

    # ----------------------------------------------------------------- reading
    def files(
        self, table_name: str, *, study: str | None = None, participants: Iterable[str] | None = None
    ) -> list[Path]:
        """Absolute paths of a table's committed files, optionally pruned to a study / participants."""
        spec = table(table_name)
        wanted = set(participants) if participants is not None else None
        out = []
        for rel, entry in sorted(self.manifest.tables.get(spec.name, {}).items()):
            part = entry.partition
            if study is not None and part.get("study") != study:
                continue
            if wanted is not None and "participant" in part and part["participant"] not in wanted:
                continue
            out.append(self.path / spec.name / rel)
        return out

    def scan(
        self, table_name: str, *, study: str | None = None, participants: Iterable[str] | None = None
    ) -> pl.LazyFrame:
        """A Polars LazyFrame over a table, with the contract's column order and dtypes.

        ``study`` and ``participants`` prune whole partition files before anything is read; further
        filters on ``study`` / ``participant`` are pushed down by Polars to the hive paths as well.
        """
        participants = list(participants) if participants is not None else None
        self.note_read("scan", [table(table_name).name], study=study, participants=participants)
        return self._scan(table_name, study=study, participants=participants)

    def _scan(
        self, table_name: str, *, study: str | None = None, participants: Iterable[str] | None = None
    ) -> pl.LazyFrame:
        spec = table(table_name)
        paths = self.files(spec.name, study=study, participants=participants)
        if not paths:
            return pl.LazyFrame(schema=self._schema(spec))
        frame = pl.scan_parquet(
            [str(p) for p in paths],
            hive_partitioning=True,
            hive_schema={k: pl.String() for k in spec.partition_by},
            missing_columns="insert",
            extra_columns="ignore",
            schema=self._schema(spec, with_keys=False),
        )
        return frame.select(list(self._schema(spec)))

    def read(self, table_name: str, **prune) -> pl.DataFrame:
        """Eagerly read a table (see :meth:`scan` for pruning arguments)."""
        if prune.get("participants") is not None:
            prune["participants"] = list(prune["participants"])
        self.note_read("read", [table(table_name).name], study=prune.get("study"), participants=prune.get("participants"))
        return self._scan(table_name, **prune).collect()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB connection with one view per table over the committed files."""
        self.note_read("connect", list(TABLES))
        return self._connect()

    def note_read(
        self, op: str, tables: list[str], *, study: str | None = None, participants: list[str] | None = None,
        detail: str | None = None,
    ) -> None:
        """Check the purpose of, and record in the audit log, a read of ``tables`` (governed stores only).

        Called by :meth:`scan`, :meth:`read`, :meth:`sql` and :meth:`connect`; code that reads partition
        files directly (by path, from the manifest) should call it once per query too. Raises
        ``PermissionError`` when the purpose is not declared by the store.
        """
        if not (self.path / "governance").is_dir():
            return
        from mouselab.privacy import access

        access.before_read(self, op, tables, study=study, participants=participants, detail=detail)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        for spec in TABLES.values():
            con.execute(self._view_sql(spec))
        return con

    def sql(self, query: str, *, params: list | dict | None = None) -> pl.DataFrame:
        """Run SQL over the store's tables (``samples``, ``events``, ``trials``, ``participants``,
        ``quarantine``) with DuckDB and return a Polars DataFrame."""
        mentioned = [t for t in TABLES if re.search(rf"\b{t}\b", query, re.I)]
        self.note_read("sql", mentioned or list(TABLES), detail=_one_line(query, 200))
        con = self._connect()
        try:
            try:
                rel = con.execute(query, params) if params is not None else con.sql(query)
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {str(exc).splitlines()[0]}") from None
            if rel is None:
                return pl.DataFrame()
            return rel.pl()
        finally:
            con.close()

    def _schema(self, spec: Table, *, with_keys: bool = True) -> dict[str, pl.DataType]:
        schema = {c.name: c.dtype for c in spec.columns if with_keys or c.name not in spec.partition_by}
        for name, dtype in self.manifest.extra_columns.get(spec.name, {}).items():
            schema[name] = _dtype_from_str(dtype)
        return schema

    def _view_sql(self, spec: Table) -> str:
        schema = self._schema(spec)
        paths = self.files(spec.name)
        if not paths:
            cols = ", ".join(f"CAST(NULL AS {_duck_type(t)}) AS {_q(n)}" for n, t in schema.items())
            return f"CREATE VIEW {spec.name} AS SELECT {cols} WHERE false"
        listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        hive = ", ".join(f"'{k}': VARCHAR" for k in spec.partition_by)
        present = set(spec.partition_by)
        cols = ", ".join(
            _q(n) if n in present or n in spec.names else _q(n) for n in schema
        )
        return (
            f"CREATE VIEW {spec.name} AS SELECT {cols} FROM read_parquet([{listing}], "
            f"hive_partitioning = true, hive_types = {{{hive}}}, union_by_name = true)"
        )

    # ----------------------------------------------------------------- writing
    def write(self, frames: dict[str, pl.DataFrame]) -> WriteSummary:
        """Write frames to their tables in one atomic transaction.

        Rows replace any stored rows with the same partition (study, participant) and unit key
        (e.g. session + trial); everything else in the store is kept. Frames are validated against the
        contract first; on any error nothing is written.
        """
        prepared = {name: conform(frame, name) for name, frame in frames.items()}
        for name, frame in prepared.items():
            self._check_partition_values(table(name), frame)
            self._check_extras(table(name), frame)
        governed = (self.path / "governance").is_dir()
        if governed:
            from mouselab.privacy import access

            access.before_write(self, prepared)
        with self._locked():
            self.refresh()
            self._gc_staging()
            manifest = self.manifest
            staging = self.path / _STAGING / uuid.uuid4().hex
            staging.mkdir(parents=True)
            added: list[tuple[str, FileEntry, Path]] = []
            removed: list[tuple[str, str]] = []
            partitions = 0
            try:
                for name, frame in prepared.items():
                    spec = table(name)
                    for key_values, part in _partitions(frame, spec):
                        partitions += 1
                        adds, drops = self._rewrite_partition(spec, key_values, part, staging)
                        added += [(name, e, p) for e, p in adds]
                        removed += [(name, rel) for rel in drops]
                for name, entry, staged in added:
                    final = self.path / name / entry.relpath
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                new_manifest = Manifest(
                    schema_version=manifest.schema_version,
                    created=manifest.created,
                    tables={k: dict(v) for k, v in manifest.tables.items()},
                    extra_columns=_merge_extras(manifest.extra_columns, prepared),
                )
                for name, rel in removed:
                    new_manifest.tables[name].pop(rel, None)
                for name, entry, _ in added:
                    new_manifest.tables[name][entry.relpath] = entry
                new_manifest.save(self.path)  # ← commit point
                self.manifest = new_manifest
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            really_removed = 0
            live = {(n, rel) for n, files in self.manifest.tables.items() for rel in files}
            for name, rel in removed:
                if (name, rel) not in live:
                    (self.path / name / rel).unlink(missing_ok=True)
                    really_removed += 1
            self._prune_empty_dirs()
        if governed:
            access.after_write(self, prepared)
        return WriteSummary(
            rows={n: f.height for n, f in prepared.items()},
            partitions=partitions,
            files_added=sum(1 for n, e, _ in added if (n, e.relpath) not in set(removed)),
            files_removed=really_removed,
        )

    def _rewrite_partition(
        self, spec: Table, key_values: dict[str, str], new_rows: pl.DataFrame, staging: Path
    ) -> tuple[list[tuple[FileEntry, Path]], list[str]]:
        prefix = "/".join(f"{k}={key_values[k]}" for k in spec.partition_by)
        old = [rel for rel in self.manifest.tables.get(spec.name, {}) if rel.rsplit("/", 1)[0] == prefix]
        body = new_rows.drop(list(spec.partition_by))
        if old:
            existing = pl.concat(
                [pl.read_parquet(self.path / spec.name / rel) for rel in old], how="diagonal_relaxed"
            )
            key = [k for k in spec.unit_key if k not in spec.partition_by]
            if key:
                kept = existing.join(body.select(key).unique(), on=key, how="anti", nulls_equal=True)
            else:
                kept = existing.clear()
            body = pl.concat([kept, body], how="diagonal_relaxed") if kept.height else body
        order = [c for c in spec.sort_by if c not in spec.partition_by]
        if order:
            body = body.sort(order, nulls_last=True, maintain_order=True)
        tmp = staging / f"{uuid.uuid4().hex}.parquet"
        body.write_parquet(tmp, compression="zstd", statistics=True)
        digest = sha256_file(tmp)
        rel = f"{prefix}/part-{digest[:16]}.parquet"
        entry = FileEntry(rel, digest, body.height, tmp.stat().st_size)
        if rel in old:  # identical content already stored: idempotent no-op
            tmp.unlink()
            return [], [r for r in old if r != rel]
        return [(entry, tmp)], old

    def _check_partition_values(self, spec: Table, frame: pl.DataFrame) -> None:
        for key in spec.partition_by:
            for value in frame[key].unique().to_list():
                if value is None or not _PARTITION_VALUE.match(str(value)):
                    raise SchemaError(
                        f"{spec.name}: {key} value {value!r} cannot name a partition; use letters, digits, "
                        "'.', '_' or '-' (at most 128 characters, not starting with a symbol)"
                    )

    def _check_extras(self, spec: Table, frame: pl.DataFrame) -> None:
        known = self.manifest.extra_columns.get(spec.name, {})
        for name in frame.columns:
            if name in spec.names or name not in known:
                continue
            if str(frame[name].dtype) != known[name] and frame[name].dtype != pl.Null:
                raise SchemaError(
                    f"{spec.name}: extra column {name!r} is {frame[name].dtype} but the store holds it as "
                    f"{known[name]}; cast it before writing"
                )

    def delete_partitions(self, table_name: str, *, study: str, participant: str | None = None) -> int:
        """Remove whole partitions (used by privacy governance). Returns the number of files removed."""
        spec = table(table_name)
        with self._locked():
            self.refresh()
            doomed = [
                rel
                for rel, e in self.manifest.tables.get(spec.name, {}).items()
                if e.partition.get("study") == study
                and (participant is None or e.partition.get("participant") == participant)
            ]
            if not doomed:
                return 0
            for rel in doomed:
                self.manifest.tables[spec.name].pop(rel)
            self.manifest.save(self.path)
            for rel in doomed:
                (self.path / spec.name / rel).unlink(missing_ok=True)
            self._prune_empty_dirs()
        return len(doomed)

    def rewrite(
        self,
        transform: Callable[[str, dict[str, str], Callable[[], pl.DataFrame]], object],
        *,
        tables: Iterable[str] | None = None,
    ) -> WriteSummary:
        """Rewrite files of whole tables in **one** atomic transaction (privacy governance: key rotation,
        erasure, retention).

        For every committed file of ``tables`` (default: all), ``transform(table, partition, load)`` is
        called with the file's partition values (e.g. ``{"study": "s", "participant": "p"}``) and a function
        that reads the file *with* its partition key columns. It returns

        * :attr:`Store.KEEP` — leave the file as it is (nothing is read);
        * ``None`` or an empty frame — remove the file's rows;
        * a frame in the table's layout — its rows replace the file's rows; they are re-partitioned, so
          partition key values may change (a new pseudonym moves rows to a new partition folder).

        Nothing is visible until the single manifest replacement at the end; a failure leaves the previous
        content. Rows landing in the same partition from several files are combined.
        """
        names = [table(n).name for n in (tables if tables is not None else TABLES)]
        with self._locked():
            self.refresh()
            self._gc_staging()
            manifest = self.manifest
            staging = self.path / _STAGING / uuid.uuid4().hex
            staging.mkdir(parents=True)
            removed: list[tuple[str, str]] = []
            added: list[tuple[str, FileEntry, Path]] = []
            rows: dict[str, int] = {}
            moved: list[Path] = []
            partitions = 0
            try:
                for name in names:
                    spec = table(name)
                    outputs: dict[tuple[str, ...], list[pl.DataFrame]] = {}
                    for rel, entry in sorted(manifest.tables.get(name, {}).items()):
                        path = self.path / name / rel
                        part = entry.partition

                        def load(path=path, part=part, spec=spec) -> pl.DataFrame:
                            frame = pl.read_parquet(path)
                            return frame.with_columns(
                                [pl.lit(part[k], dtype=pl.String).alias(k) for k in spec.partition_by]
                            ).select(list(spec.partition_by) + [c for c in frame.columns if c not in spec.partition_by])

                        result = transform(name, dict(part), load)
                        if result is Store.KEEP:
                            continue
                        removed.append((name, rel))
                        if result is None or not isinstance(result, pl.DataFrame) or result.height == 0:
                            if result is not None and not isinstance(result, pl.DataFrame):
                                raise StoreError(f"rewrite of {name}/{rel}: the transform returned {type(result).__name__}")
                            continue
                        frame = conform(result, name)
                        self._check_partition_values(spec, frame)
                        for key_values, piece in _partitions(frame, spec):
                            outputs.setdefault(tuple(key_values[k] for k in spec.partition_by), []).append(piece)
                    for key, pieces in outputs.items():
                        partitions += 1
                        body = pl.concat(pieces, how="diagonal_relaxed").drop(list(spec.partition_by))
                        order = [c for c in spec.sort_by if c not in spec.partition_by]
                        if order:
                            body = body.sort(order, nulls_last=True, maintain_order=True)
                        prefix = "/".join(f"{k}={v}" for k, v in zip(spec.partition_by, key))
                        tmp = staging / f"{uuid.uuid4().hex}.parquet"
                        body.write_parquet(tmp, compression="zstd", statistics=True)
                        digest = sha256_file(tmp)
                        entry = FileEntry(f"{prefix}/part-{digest[:16]}.parquet", digest, body.height, tmp.stat().st_size)
                        added.append((name, entry, tmp))
                        rows[name] = rows.get(name, 0) + body.height
                unchanged = {(n, e.relpath) for n, e, _ in added} & set(removed)
                old_files = {(n, rel) for n, files in manifest.tables.items() for rel in files}
                for name, entry, staged in added:
                    if (name, entry.relpath) in unchanged:
                        staged.unlink()
                        continue
                    final = self.path / name / entry.relpath
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    if (name, entry.relpath) not in old_files:
                        moved.append(final)
                new_manifest = Manifest(
                    schema_version=manifest.schema_version,
                    created=manifest.created,
                    tables={k: dict(v) for k, v in manifest.tables.items()},
                    extra_columns=manifest.extra_columns,
                )
                for name, rel in removed:
                    new_manifest.tables[name].pop(rel, None)
                for name, entry, _ in added:
                    new_manifest.tables.setdefault(name, {})[entry.relpath] = entry
                new_manifest.save(self.path)  # ← commit point
                self.manifest = new_manifest
            except BaseException:
                for path in moved:  # not committed: leave no stray files behind
                    path.unlink(missing_ok=True)
                self._prune_empty_dirs()
                raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            live = {(n, rel) for n, files in self.manifest.tables.items() for rel in files}
            really_removed = 0
            for name, rel in removed:
                if (name, rel) not in live:
                    (self.path / name / rel).unlink(missing_ok=True)
                    really_removed += 1
            self._prune_empty_dirs()
        return WriteSummary(
            rows=rows,
            partitions=partitions,
            files_added=sum(1 for n, e, _ in added if (n, e.relpath) not in unchanged),
            files_removed=really_removed,
        )

    # ----------------------------------------------------------------- integrity
    def verify(self) -> list[str]:
        """Check every file against the manifest (existence, size, SHA-256) and list stray files.

        Returns a list of problems, empty when the store is intact. Catches flipped bytes that
        Parquet readers do not notice.
        """
        problems = []
        for name, files in self.manifest.tables.items():
            for rel, entry in sorted(files.items()):
                path = self.path / name / rel
                if not path.exists():
                    problems.append(f"{name}/{rel}: missing (listed in the manifest)")
                    continue
                size = path.stat().st_size
                if size != entry.bytes:
                    problems.append(f"{name}/{rel}: size {size} B, manifest says {entry.bytes} B")
                    continue
                digest = sha256_file(path)
                if digest != entry.sha256:
                    problems.append(f"{name}/{rel}: SHA-256 mismatch (content changed or corrupted)")
        listed = {self.path / n / rel for n, files in self.manifest.tables.items() for rel in files}
        for path in sorted(self.path.rglob("*.parquet")):
            if _STAGING in path.parts:
                continue
            if path not in listed:
                problems.append(f"{path.relative_to(self.path)}: not in the manifest (left by an interrupted write)")
        return problems

    def info(self) -> dict:
        """Summary: schema version, per-table files, rows, bytes, studies and participants."""
        tables = {}
        for name, files in self.manifest.tables.items():
            studies = {e.partition.get("study") for e in files.values()}
            people = {(e.partition.get("study"), e.partition.get("participant")) for e in files.values()}
            tables[name] = {
                "files": len(files),
                "rows": sum(e.rows for e in files.values()),
                "bytes": sum(e.bytes for e in files.values()),
                "studies": sorted(s for s in studies if s),
                "participants": len({p for p in people if p[1]}),
            }
        return {
            "path": str(self.path),
            "schema_version": self.manifest.schema_version,
            "created": self.manifest.created,
            "updated": self.manifest.updated,
            "content_sha256": self.manifest.content_hash(),
            "tables": tables,
        }

    def content_hash(self, tables: list[str] | None = None) -> str:
        """SHA-256 identifying the store's committed content (for provenance blocks)."""
        return self.manifest.content_hash(tables)

    def gc(self) -> int:
        """Remove files not listed in the manifest (remains of interrupted writes). Returns count."""
        with self._locked():
            self.refresh()
            self._gc_staging()
            listed = {self.path / n / rel for n, files in self.manifest.tables.items() for rel in files}
            stray = [p for p in self.path.rglob("*.parquet") if p not in listed and _STAGING not in p.parts]
            for p in stray:
                p.unlink()
            self._prune_empty_dirs()
        return len(stray)

    # ----------------------------------------------------------------- internals
    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path / _LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _gc_staging(self) -> None:
        shutil.rmtree(self.path / _STAGING, ignore_errors=True)

    def _prune_empty_dirs(self) -> None:
        for name in TABLES:
            root = self.path / name
            if not root.exists():
                continue
            for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(d.iterdir()):
                    d.rmdir()

    def __repr__(self) -> str:
        rows = {n: sum(e.rows for e in f.values()) for n, f in self.manifest.tables.items()}
        return f"Store({str(self.path)!r}, rows={rows})"


def _partitions(frame: pl.DataFrame, spec: Table) -> Iterator[tuple[dict[str, str], pl.DataFrame]]:
    if frame.height == 0:
        return
    for key, part in frame.partition_by(list(spec.partition_by), as_dict=True, maintain_order=True).items():
        yield dict(zip(spec.partition_by, (str(k) for k in key))), part


def _merge_extras(known: dict[str, dict[str, str]], frames: dict[str, pl.DataFrame]) -> dict[str, dict[str, str]]:
    merged = {k: dict(v) for k, v in known.items()}
    for name, frame in frames.items():
        spec = table(name)
        for col in frame.columns:
            if col not in spec.names and frame[col].dtype != pl.Null:
                merged.setdefault(name, {}).setdefault(col, str(frame[col].dtype))
    return merged


_DTYPES = {
    "String": pl.String(), "Float64": pl.Float64(), "Float32": pl.Float32(), "Int64": pl.Int64(),
    "Int32": pl.Int32(), "Int16": pl.Int16(), "Int8": pl.Int8(), "UInt8": pl.UInt8(), "UInt32": pl.UInt32(),
    "UInt64": pl.UInt64(), "Boolean": pl.Boolean(), "Date": pl.Date(),
}


def _dtype_from_str(name: str) -> pl.DataType:
    try:
        return _DTYPES[name]
    except KeyError:
        raise StoreError(f"extra column type {name!r} is not supported; use a plain numeric, string or bool") from None


def _duck_type(dtype: pl.DataType) -> str:
    return {
        pl.String: "VARCHAR", pl.Float64: "DOUBLE", pl.Float32: "FLOAT", pl.Int64: "BIGINT", pl.Int32: "INTEGER",
        pl.Int16: "SMALLINT", pl.Int8: "TINYINT", pl.UInt8: "UTINYINT", pl.UInt32: "UINTEGER",
        pl.UInt64: "UBIGINT", pl.Boolean: "BOOLEAN", pl.Date: "DATE",
    }[dtype.base_type()]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
