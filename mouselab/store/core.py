"""The Parquet trajectory store: hive-partitioned tables, a checksummed manifest, atomic idempotent writes.

Layout::

    STORE/
      manifest.json                       commit point: files per table with SHA-256, rows, bytes
      samples/study=S/participant=P/part-<sha16>.parquet
      events/…  trials/…  participants/…  quarantine/study=S/…
      .staging/<transaction>/             files of a write in progress (never read)
      .lock                               the writers' lock (holds the pid of the current writer)

Partition key columns live only in the path (not inside the files), so pyarrow, dask, DuckDB and Polars
all read the folder the same way; their types are pinned to strings on read.

Every write is a **transaction** (:meth:`Store.transaction`; :meth:`Store.write`, :meth:`Store.rewrite`
and :meth:`Store.delete_partitions` are one-shot transactions on the same code path):

* it holds the store's lock from start to end, so writers are serialised (a second writer waits, or
  gets a :class:`StoreError` after ``timeout_s``; a nested transaction in the same thread is refused);
* new partition files are staged in ``.staging/``, flushed to disk, moved into place under
  content-addressed names, and only become visible when the manifest is replaced (one ``os.replace``):
  a reader never sees a partial write;
* on an error before that point nothing changes: staged files and files already moved into place are
  removed, and the store is byte-for-byte what it was. If the process dies (power cut, ``kill -9``) or
  is interrupted (``KeyboardInterrupt``) between moving files and replacing the manifest, the previous
  manifest stays in force and the orphans are invisible; the next writer (or :meth:`Store.gc`) removes
  them, guided by the transaction's journal;
* writing a unit again (rows with the same partition and unit key, e.g. the same trial of the same
  participant) replaces it, so re-writing the same data is idempotent and leaves byte-identical files.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from mouselab.schema import TABLES, SchemaError, Table, conform, table
from mouselab.store.manifest import MANIFEST_NAME, FileEntry, Manifest, fsync_dir, fsync_file, sha256_file

_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAGING = ".staging"
_LOCK = ".lock"
_JOURNAL = "journal.txt"
#: Rows of one partition kept in memory by a transaction before they are streamed to a staged file.
MERGE_ROWS = 250_000
#: Rows of all partitions buffered in memory by a transaction before the largest are spilled to disk.
BUFFER_ROWS = 1_000_000

# Store locks held by this process: resolved store path -> id of the thread holding it. ``flock`` does not
# see that two handles of one process conflict with each other, so a nested transaction would wait forever.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


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
    :meth:`scan` (Polars LazyFrame with partition pruning). Write with :meth:`write` (frames in memory)
    or :meth:`transaction` (any number of batches, in bounded memory); both are atomic.
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
    def transaction(
        self, *, merge_rows: int | None = MERGE_ROWS, buffer_rows: int | None = BUFFER_ROWS,
        timeout_s: float | None = None,
    ) -> "Transaction":
        """Start an atomic write of any number of frames, in bounded memory (see :class:`Transaction`)::

            with store.transaction() as tx:
                tx.write("samples", samples)     # any number of calls, any tables, any batch sizes
                tx.write("trials", trials)
            tx.summary                           # WriteSummary: rows, partitions, files added / removed

        Leaving the ``with`` block normally commits (one manifest replacement); an exception aborts,
        and the store is exactly as it was. The store's lock is held until then: another writer waits
        (``timeout_s=None``, the default) or gets a :class:`StoreError` after ``timeout_s`` seconds;
        starting a second transaction in the same thread while one is open raises :class:`StoreError`.

        ``merge_rows`` bounds the rows of one partition held in memory (beyond it the partition is
        streamed to a staged file) and ``buffer_rows`` the rows of all partitions (beyond it the largest
        buffers are spilled); ``None`` keeps everything in memory (what :meth:`write` does).
        """
        return Transaction(self, merge_rows=merge_rows, buffer_rows=buffer_rows, timeout_s=timeout_s)

    def write(self, frames: dict[str, pl.DataFrame], *, timeout_s: float | None = None) -> WriteSummary:
        """Write frames to their tables in one atomic transaction (a one-shot :meth:`transaction`).

        Rows replace any stored rows with the same partition (study, participant) and unit key
        (e.g. session + trial); everything else in the store is kept. Frames are validated against the
        contract; on any error nothing is written.
        """
        with self.transaction(merge_rows=None, buffer_rows=None, timeout_s=timeout_s) as tx:
            for name, frame in frames.items():
                tx.write(name, frame)
        return tx.summary

    def delete_partitions(self, table_name: str, *, study: str, participant: str | None = None) -> int:
        """Remove whole partitions (used by privacy governance). Returns the number of files removed."""
        spec = table(table_name)
        with self.transaction() as tx:
            doomed = [
                rel
                for rel, e in tx.manifest.tables.get(spec.name, {}).items()
                if e.partition.get("study") == study
                and (participant is None or e.partition.get("participant") == participant)
            ]
            for rel in doomed:
                tx._remove_file(spec.name, rel)
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
        with self.transaction() as tx:
            for name in names:
                spec = table(name)
                outputs: dict[tuple[str, ...], list[pl.DataFrame]] = {}
                for rel, entry in sorted(tx.manifest.tables.get(name, {}).items()):
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
                    tx._remove_file(name, rel)
                    if result is None or not isinstance(result, pl.DataFrame) or result.height == 0:
                        if result is not None and not isinstance(result, pl.DataFrame):
                            raise StoreError(f"rewrite of {name}/{rel}: the transform returned {type(result).__name__}")
                        continue
                    frame = conform(result, name)
                    for key_values, piece in _split(frame, spec):
                        outputs.setdefault(tuple(key_values[k] for k in spec.partition_by), []).append(piece)
                for key, pieces in outputs.items():
                    body = pl.concat(pieces, how="diagonal_relaxed").drop(list(spec.partition_by))
                    order = [c for c in spec.sort_by if c not in spec.partition_by]
                    if order:
                        body = body.sort(order, nulls_last=True, maintain_order=True)
                    tx._add_file(name, dict(zip(spec.partition_by, key)), body)
        return tx.summary

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
    def gc(self, *, timeout_s: float | None = None) -> int:
        """Remove files not listed in the manifest (remains of interrupted writes). Returns count."""
        with self._locked(timeout_s=timeout_s):
            self.refresh()
            removed = self._recover()
            listed = {self.path / n / rel for n, files in self.manifest.tables.items() for rel in files}
            stray = [p for p in self.path.rglob("*.parquet") if p not in listed and _STAGING not in p.parts]
            for p in stray:
                p.unlink()
            self._prune_empty_dirs()
        return removed + len(stray)

    # ----------------------------------------------------------------- internals
    @contextmanager
    def _locked(self, *, timeout_s: float | None = None) -> Iterator[None]:
        release = self._lock(timeout_s=timeout_s)
        try:
            yield
        finally:
            release()

    def _lock(self, *, timeout_s: float | None = None) -> Callable[[], None]:
        """Take the store's writer lock; returns the function that releases it.

        Serialises writers of all processes (``flock``); within this process a second lock taken by the
        thread that holds one is refused (it would wait for itself forever)."""
        key = str(self.path.resolve())
        me = threading.get_ident()
        with _HELD_GUARD:
            if _HELD.get(key) == me:
                raise StoreError(
                    f"{self.path}: this thread already has a write transaction open on the store; finish it "
                    "(commit, abort, or leave its `with` block) before writing again — transactions do not nest"
                )
        handle = open(self.path / _LOCK, "a+")
        try:
            if timeout_s is None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + timeout_s
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            handle.seek(0)
                            holder = handle.read().strip() or "unknown"
                            raise StoreError(
                                f"{self.path}: another writer holds the store (process {holder}); waited "
                                f"{timeout_s:g} s. Try again when it has finished, or wait longer (timeout_s)"
                            ) from None
                        time.sleep(min(0.05, max(deadline - time.monotonic(), 0.001)))
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except BaseException:
            handle.close()
            raise
        with _HELD_GUARD:
            _HELD[key] = me
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            with _HELD_GUARD:
                if _HELD.get(key) == me:
                    del _HELD[key]
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                handle.close()

        return release

    def _recover(self) -> int:
        """Under the lock: undo what dead or interrupted transactions left (journal-listed files that the
        manifest does not hold, and every staging folder). Returns the number of files removed."""
        staging = self.path / _STAGING
        if not staging.exists():
            return 0
        listed = {(n, rel) for n, files in self.manifest.tables.items() for rel in files}
        removed = 0
        for journal in sorted(staging.glob(f"*/{_JOURNAL}")):
            try:
                lines = journal.read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                name, _, rel = line.partition("/")
                if not rel or name not in TABLES or (name, rel) in listed or ".." in Path(rel).parts:
                    continue
                path = self.path / name / rel
                if path.exists():
                    path.unlink()
                    removed += 1
        shutil.rmtree(staging, ignore_errors=True)
        if removed:
            self._prune_empty_dirs()
        return removed

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


@dataclass
class _Partition:
    """Rows a transaction holds for one partition of one table (buffered, spilled or streamed)."""

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


class Transaction:
    """An atomic, idempotent write of any number of frames to a :class:`Store` (``store.transaction()``).

    * :meth:`write` adds rows of a table (any number of calls, in batches of any size). Rows replace the
      stored rows of the same partition and unit key (e.g. the same trial of the same participant);
      everything else is kept. :meth:`declare_units` marks units as written even when no rows come (their
      stored rows are then removed).
    * :meth:`commit` makes everything visible in one manifest replacement and returns a
      :class:`WriteSummary` (also in :attr:`summary`); :meth:`abort` drops everything. Used as a context
      manager, leaving the block commits and an exception aborts.
    * Memory is bounded: rows are buffered per partition; a partition beyond ``merge_rows`` rows is
      streamed to a staged Parquet file, and beyond ``buffer_rows`` buffered rows in all the largest
      buffers are spilled. At commit a partition whose new and kept rows fit in ``merge_rows`` is written
      as one sorted file; a larger one keeps the stored files that hold none of the written units,
      rewrites those that do without them, and adds the streamed file (sorted out of core by DuckDB when
      its units arrived interleaved).
    * Governed stores (see :mod:`mouselab.privacy`): every :meth:`write` is checked (pseudonyms, erased
      participants) before anything is staged, and the written units are recorded after the commit.

    A transaction holds the store's lock from start to end and is meant for one thread at a time (calls
    from a worker thread are fine when they do not overlap). The store is unchanged until :meth:`commit`
    replaces the manifest; see the module doc for what happens on errors, interrupts and crashes.
    """

    def __init__(self, store: "Store", *, merge_rows: int | None = MERGE_ROWS, buffer_rows: int | None = BUFFER_ROWS,
                 timeout_s: float | None = None) -> None:
        self.store = store
        self.merge_rows = merge_rows if merge_rows is not None else float("inf")
        self.buffer_rows = buffer_rows if buffer_rows is not None else float("inf")
        self.summary: WriteSummary | None = None
        self._parts: dict[tuple[str, tuple[str, ...]], _Partition] = {}
        self._buffered = 0
        self._rows: dict[str, int] = defaultdict(int)
        self._extras: dict[str, dict[str, str]] = {}
        self._file_adds: list[tuple[str, FileEntry, Path]] = []
        self._file_partitions: set[tuple[str, str]] = set()
        self._removals: list[tuple[str, str]] = []
        self._written_units: list[pl.DataFrame] = []
        self._governed = (store.path / "governance").is_dir()
        if self._governed:
            from mouselab.privacy import access

            self._access = access
        self._release = store._lock(timeout_s=timeout_s)
        self._open = True
        try:
            store.refresh()
            store._recover()
            self.staging = store.path / _STAGING / uuid.uuid4().hex
            self.staging.mkdir(parents=True)
        except BaseException:
            self._finish(keep_staging=False)
            raise
        #: The committed manifest this transaction started from (the store's state while it is open).
        self.manifest: Manifest = store.manifest

    @property
    def active(self) -> bool:
        """True until the transaction is committed or aborted."""
        return self._open

    # ------------------------------------------------------------------ adding rows
    def write(self, table_name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        """Add rows of table ``table_name``.

        The frame is checked against the data contract (:func:`mouselab.schema.conform`: required columns,
        lossless casts, finite coordinates, known codes) and partition values are checked to be safe
        folder names; on error :class:`~mouselab.schema.SchemaError` is raised and the transaction should
        be aborted. ``trusted=True`` skips the contract check for frames that already satisfy it (the
        ingest validator's output); column order and dtypes are still set.
        """
        self._check_open()
        if frame.height == 0:
            return
        spec = table(table_name)
        frame = _select_trusted(frame, spec) if trusted else conform(frame, table_name)
        self._check_extras(spec, frame)
        if self._governed:
            self._access.before_write(self.store, {spec.name: frame})  # pseudonyms, erased participants
            if {"study", "participant", "session"} <= set(frame.columns):
                self._written_units.append(frame.select("study", "participant", "session").unique())
        for key_values, part in _split(frame, spec):
            p = self._partition(spec, key_values)
            body = part.drop(list(spec.partition_by))
            self._track_units(p, body)
            p.rows += body.height
            self._rows[spec.name] += body.height
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

    def declare_units(self, table_name: str, units: pl.DataFrame) -> None:
        """Mark units (partition + unit key columns) as written, so stored rows of them are replaced even
        when this transaction writes no rows for them (e.g. the quarantine rows of a file that is now clean)."""
        self._check_open()
        spec = table(table_name)
        for key_values, part in _split(units, spec):
            p = self._partition(spec, key_values)
            if p.unit_cols:
                p.units.append(part.select(p.unit_cols).unique())

    # ------------------------------------------------------------------ commit / abort
    def commit(self) -> WriteSummary:
        """Make everything visible in one manifest replacement; returns (and keeps in :attr:`summary`) what
        changed. On an exception the store is left as it was (see the module doc)."""
        self._check_open()
        store = self.store
        manifest = self.manifest
        moved: list[Path] = []
        committed = False
        interrupted = False
        try:
            added: list[tuple[str, FileEntry, Path]] = []
            removed: list[tuple[str, str]] = []
            for p in self._parts.values():
                adds, drops = self._finish_partition(p, manifest)
                added += [(p.spec.name, e, path) for e, path in adds]
                removed += [(p.spec.name, rel) for rel in drops]
            added += self._file_adds
            removed += self._removals
            live = {(n, rel) for n, files in manifest.tables.items() for rel in files}
            fresh = []
            for name, entry, staged in added:  # content already stored under the same name: nothing to do
                if (name, entry.relpath) in live:
                    staged.unlink(missing_ok=True)
                else:
                    fresh.append((name, entry, staged))
            kept = {(n, e.relpath) for n, e, _ in added}
            removed = [r for r in dict.fromkeys(removed) if r not in kept and r in live]
            extras = {k: dict(v) for k, v in manifest.extra_columns.items()}
            for name, cols in self._extras.items():
                for col, dtype in cols.items():
                    extras.setdefault(name, {}).setdefault(col, dtype)
            if fresh or removed or extras != manifest.extra_columns:
                # the journal lets the next writer remove files moved into place by a transaction that died
                journal = self.staging / _JOURNAL
                journal.write_text("".join(f"{n}/{e.relpath}\n" for n, e, _ in fresh))
                fsync_file(journal)
                folders = set()
                for name, entry, staged in fresh:
                    fsync_file(staged)  # data on disk before the manifest that lists it
                    final = store.path / name / entry.relpath
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    moved.append(final)
                    folders.add(final.parent)
                for folder in folders:
                    fsync_dir(folder)
                new = Manifest(
                    schema_version=manifest.schema_version,
                    created=manifest.created,
                    tables={k: dict(v) for k, v in manifest.tables.items()},
                    extra_columns=extras,
                )
                for name, rel in removed:
                    new.tables.setdefault(name, {}).pop(rel, None)
                for name, entry, _ in fresh:
                    new.tables.setdefault(name, {})[entry.relpath] = entry
                new.save(store.path)  # ← commit point
                committed = True
                store.manifest = self.manifest = new
                for name, rel in removed:
                    (store.path / name / rel).unlink(missing_ok=True)
                if removed or fresh:
                    store._prune_empty_dirs()
            else:
                committed = True
            if self._governed and self._written_units:
                self._access.after_write(store, {"units": pl.concat(self._written_units).unique()})
            self.summary = WriteSummary(
                rows=dict(self._rows),
                partitions=len(self._parts) + len(self._file_partitions),
                files_added=len(fresh),
                files_removed=len(removed),
            )
            return self.summary
        except Exception:
            if not committed:  # an error before the commit point: leave the store exactly as it was
                for path in moved:
                    path.unlink(missing_ok=True)
                store._prune_empty_dirs()
            raise
        except BaseException:
            # an interrupt (KeyboardInterrupt, SystemExit) is treated like a crash: do no more file work;
            # the journal lets the next writer or gc() remove what was moved into place
            interrupted = not committed and bool(moved)
            raise
        finally:
            self._finish(keep_staging=interrupted)

    def abort(self) -> None:
        """Drop everything staged; the store is unchanged. Does nothing when already finished."""
        if self._open:
            self._finish(keep_staging=False)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self._open:
            self.commit()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"{self.store.path}: this transaction is already finished (committed or aborted); "
                             "start a new one with store.transaction()")

    def _finish(self, *, keep_staging: bool) -> None:
        for p in self._parts.values():
            if p.writer is not None:
                try:
                    p.writer.close()
                except Exception:  # pragma: no cover - closing a broken writer during abort
                    pass
                p.writer = None
        staging = getattr(self, "staging", None)
        if staging is not None and not keep_staging:
            shutil.rmtree(staging, ignore_errors=True)
            try:
                staging.parent.rmdir()  # .staging itself, when no other transaction's files are left
            except OSError:
                pass
        if self._open:
            self._open = False
            self._release()

    # ------------------------------------------------------------------ file-level steps (rewrite)
    def _remove_file(self, name: str, rel: str) -> None:
        """Drop a committed file of table ``name`` (governance rewrites; no unit-key logic)."""
        self._check_open()
        self._removals.append((name, rel))

    def _add_file(self, name: str, key_values: dict[str, str], body: pl.DataFrame) -> None:
        """Stage ``body`` (already sorted, without partition columns) as a new file of one partition."""
        self._check_open()
        spec = table(name)
        p = _Partition(spec, key_values)
        entry, path = self._final(p, body)
        self._file_adds.append((name, entry, path))
        self._file_partitions.add((name, p.prefix))
        self._rows[name] += body.height

    # ------------------------------------------------------------------ internals
    def _partition(self, spec: Table, key_values: dict[str, str]) -> _Partition:
        ident = (spec.name, tuple(key_values[k] for k in spec.partition_by))
        if ident not in self._parts:
            self._parts[ident] = _Partition(spec, key_values)
        return self._parts[ident]

    def _track_units(self, p: _Partition, body: pl.DataFrame) -> None:
        cols = p.unit_cols
        if not cols:
            return
        keys = body.select(cols)
        if self.merge_rows == float("inf"):  # never streamed: only the set of units matters
            p.units.append(keys.unique())
            return
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
        known = self.manifest.extra_columns.get(spec.name, {})
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
        return adds, drops

    def _merge(self, p: _Partition, old: list[str], units: pl.DataFrame | None, root: Path
               ) -> tuple[list[tuple[FileEntry, Path]], list[str]]:
        """One file of kept + new rows, sorted (what a one-shot write always does)."""
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
        return [self._final(p, body)], list(old)

    def _new_rows_frame(self, p: _Partition) -> pl.DataFrame | None:
        frames = [pl.read_parquet(s) for s in p.spills] + p.buffer
        if not frames:
            return None
        return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]

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

    def __repr__(self) -> str:
        state = "open" if self._open else "finished"
        return f"Transaction({str(self.store.path)!r}, {state}, rows={dict(self._rows)})"


def _split(frame: pl.DataFrame, spec: Table) -> Iterator[tuple[dict[str, str], pl.DataFrame]]:
    """The frame's rows per partition (in order), with partition values checked to be safe folder names."""
    if frame.height == 0:
        return
    keys = list(spec.partition_by)
    if frame.select(pl.all_horizontal([pl.col(k).eq_missing(pl.col(k).first()).all() for k in keys])).item():
        pieces = [(tuple(frame[k][0] for k in keys), frame)]
    else:
        pieces = list(frame.partition_by(keys, as_dict=True, maintain_order=True).items())
    for key, part in pieces:
        for k, v in zip(keys, key):
            if v is None or not _PARTITION_VALUE.match(str(v)):
                raise SchemaError(f"{spec.name}: {k} value {v!r} cannot name a partition; use letters, digits, "
                                  "'.', '_' or '-' (at most 128 characters, not starting with a symbol)")
        yield dict(zip(keys, (str(v) for v in key))), part


def _select_trusted(frame: pl.DataFrame, spec: Table) -> pl.DataFrame:
    """Column order and dtypes of the contract for frames that already satisfy it (validator output)."""
    exprs = []
    for col in spec.columns:
        if col.name in frame.columns:
            expr = pl.col(col.name)
            exprs.append(expr if frame.schema[col.name] == col.dtype else expr.cast(col.dtype))
        else:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
    extra = [c for c in frame.columns if c not in spec.names] if spec.allow_extra else []
    return frame.select(exprs + extra)


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
