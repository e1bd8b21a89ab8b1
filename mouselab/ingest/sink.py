"""Where validated rows go: an in-memory collector (``read_files``) or a store transaction.

:class:`StoreTransaction` is the ingest pipeline's sink protocol (``add`` / ``declare_units`` / ``commit`` /
``abort``) over the store's public transaction API, :meth:`mouselab.store.Store.transaction`: rows replace
the stored rows of the same partition and unit key, everything else is kept, an ingest of any size runs in
bounded memory, and nothing is visible before the single manifest replacement at commit — a failed ingest
leaves the store exactly as it was. :class:`BackgroundSink` runs any sink on a worker thread.
"""

from __future__ import annotations

from collections import defaultdict

import polars as pl

from mouselab.schema import conform
from mouselab.store import Store, WriteSummary
from mouselab.store.core import BUFFER_ROWS, MERGE_ROWS, Transaction


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


class StoreTransaction:
    """The pipeline's sink over ``store.transaction()``: a streamed, atomic, idempotent write of many batches.

    Opening it takes the store's writer lock (held until :meth:`commit` or :meth:`abort`)."""

    def __init__(self, store: Store, *, merge_rows: int = MERGE_ROWS, buffer_rows: int = BUFFER_ROWS,
                 timeout_s: float | None = None) -> None:
        self.store = store
        self.tx: Transaction = store.transaction(merge_rows=merge_rows, buffer_rows=buffer_rows, timeout_s=timeout_s)
        self._sessions: set[tuple[str, str, str]] = set()  # (study, participant, session) of samples written

    def add(self, name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        """Add rows of table ``name`` (validated against the contract unless ``trusted``)."""
        if name == "samples" and frame.height and {"study", "participant", "session"} <= set(frame.columns):
            self._sessions.update(frame.select("study", "participant", "session").unique().iter_rows())
        self.tx.write(name, frame, trusted=trusted)

    def declare_units(self, name: str, frame: pl.DataFrame) -> None:
        """Replace these units' stored rows even when no rows are added for them."""
        self.tx.declare_units(name, frame)

    def commit(self) -> WriteSummary:
        """Make everything visible in one manifest replacement; returns what changed."""
        self._replace_stale_splits()
        return self.tx.commit()

    def _replace_stale_splits(self) -> None:
        """Sessions the validator split at a clock step are stored as ``<session>~2``, ``~3`` …; when a
        session is written again (say, from a corrected file) its earlier split parts are replaced too,
        so no part of the old version survives beside the new one."""
        bases = {(st, p, s.split("~")[0]) for st, p, s in self._sessions}
        if not bases or "samples" not in self.store.manifest.tables:
            return
        people = sorted({p for _, p, _ in bases})
        stored = (self.store.scan("samples", participants=people)
                  .filter(pl.col("session").str.contains(r"~\d+$"))
                  .select("study", "participant", "session", "trial").unique().collect())
        if stored.height == 0:
            return
        wanted = pl.DataFrame(sorted(bases), schema=["study", "participant", "base"], orient="row")
        stale = (stored.with_columns(pl.col("session").str.replace(r"~\d+$", "").alias("base"))
                 .join(wanted, on=["study", "participant", "base"], how="semi").drop("base"))
        if stale.height:
            self.tx.declare_units("samples", stale)
            self.tx.declare_units("events", stale.select("study", "participant", "session").unique())

    def abort(self) -> None:
        """Drop everything staged; the store is unchanged."""
        self.tx.abort()

    def __enter__(self) -> "StoreTransaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self.tx.active:
            self.commit()


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
