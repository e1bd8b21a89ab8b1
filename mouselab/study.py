"""Study-level glue between the store and the pure layers: load trials from a store, compute measures,
join trial covariates. Notebooks and the CLI call these so they hold no logic of their own.

Measures are computed **partition by partition** (one store file = one study x participant): each
partition is read (only the columns the measures need), reduced to one row per trial and dropped, so memory
holds the per-trial results, not the samples. Sample entropy's pooled tolerance needs every trial first:
the first pass keeps each partition's time-normalised differences (about 8 bytes x 100 per trial) while
they fit in ``entropy_memory_mb`` and re-reads the partitions beyond that in the second pass.

The same passes run on a Dask distributed cluster (``scheduler="dask://host:port"`` or
``"local-cluster"``): one task per partition, the exact per-trial sums gathered on the client, one second
task per partition. Results are identical to the local run (the tolerance is combined exactly, every other
number is computed per trial).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from mouselab.store import Store

TRIAL_KEY = ["study", "participant", "session", "trial"]
#: trial covariates joined onto measures tables
COVARIATES = ["trial_index", "condition", "correct", "response", "stimulus"]
#: trial geometry handed to measures that need the target (HCI measures)
GEOMETRY = ["start_x", "start_y", "target_x", "target_y", "target_w", "target_h"]
_SAMPLE_COLUMNS = ["session", "trial", "t_ms", "x", "y"]


def parse_participants(text: str | Sequence[str] | None) -> list[str] | None:
    """``"P01, P02"`` → ``["P01", "P02"]``; empty or None → None (all participants)."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    cleaned = [p.strip() for p in items if p and p.strip()]
    return cleaned or None


def trial_samples(store: Store, *, study: str | None = None, participants: Sequence[str] | None = None) -> pl.LazyFrame:
    """Samples that belong to trials (free-use rows with a null trial are left out), pruned by partition."""
    _check_known(store, study=study, participants=participants)
    return store.scan("samples", study=study, participants=participants).filter(pl.col("trial").is_not_null())


def session_samples(store: Store, *, study: str | None = None, participants: Sequence[str] | None = None,
                    session: str | None = None) -> pl.LazyFrame:
    """Free-use samples (``trial`` null), optionally of one session, pruned by partition."""
    _check_known(store, study=study, participants=participants)
    frame = store.scan("samples", study=study, participants=participants).filter(pl.col("trial").is_null())
    return frame if session is None else frame.filter(pl.col("session") == session)


# ----------------------------------------------------------------------------------------- partitions
@dataclass(frozen=True)
class Partition:
    """One samples file of the store: its path, study, participant and row count."""

    path: str
    study: str
    participant: str
    rows: int


def sample_partitions(store: Store, *, study: str | None = None,
                      participants: Sequence[str] | None = None) -> list[Partition]:
    """The samples files to read, in store order, with their partition values and rows (from the manifest).

    The read is checked against the store's declared purposes and recorded in its audit log here, once
    (governed stores), because the files are then read by path, outside :meth:`Store.scan`.
    """
    store.note_read("partitions", ["samples"], study=study, participants=list(participants) if participants else None,
                    detail="mouselab.study.sample_partitions")
    wanted = set(participants) if participants is not None else None
    out = []
    for rel, entry in sorted(store.manifest.tables.get("samples", {}).items()):
        part = entry.partition
        if study is not None and part.get("study") != study:
            continue
        if wanted is not None and part.get("participant") not in wanted:
            continue
        out.append(Partition(str(store.path / "samples" / rel), part.get("study", ""), part.get("participant", ""),
                             entry.rows))
    return out


def read_partition(part: Partition, *, trials_only: bool = True) -> pl.DataFrame:
    """The columns measures need (session, trial, t_ms, x, y) of one samples file; trial rows only."""
    return read_partitions([part], trials_only=trials_only)[0]


def read_partitions(parts: Sequence[Partition], *, trials_only: bool = True) -> list[pl.DataFrame]:
    """:func:`read_partition` of several files in one Polars multi-file read (one frame per partition).

    Reading files in groups costs about a third less CPU than one ``read_parquet`` call per file (the
    per-call setup is paid once and Polars decodes the files in parallel). The frame is cut back into
    partitions by the row counts the manifest records; a file whose rows differ from the manifest is an
    error (the store changed underneath the read, or it is damaged: ``mouselab store verify``).
    """
    if len(parts) == 1:
        whole = pl.read_parquet(parts[0].path, columns=_SAMPLE_COLUMNS)
    else:
        whole = pl.scan_parquet([p.path for p in parts], hive_partitioning=False).select(_SAMPLE_COLUMNS).collect()
    if whole.height != sum(p.rows for p in parts):
        for p in parts:  # name the file that disagrees
            rows = pl.scan_parquet(p.path, hive_partitioning=False).select(pl.len()).collect().item()
            if rows != p.rows:
                raise ValueError(f"samples file {p.path} holds {rows} rows but the store manifest records "
                                 f"{p.rows}; run `mouselab store verify`")
    frames, offset = [], 0
    for p in parts:
        frame = whole.slice(offset, p.rows)
        offset += p.rows
        if trials_only and frame.get_column("trial").null_count():
            frame = frame.filter(pl.col("trial").is_not_null())
        frames.append(frame)
    return frames


def partition_groups(parts: Sequence[Partition], *, max_rows: int = 1 << 20, max_files: int = 16
                     ) -> list[list[Partition]]:
    """Consecutive partitions in groups of at most ``max_files`` files and about ``max_rows`` rows (a
    partition larger than ``max_rows`` forms a group of its own): the unit of one read."""
    groups: list[list[Partition]] = []
    rows = 0
    for p in parts:
        if groups and len(groups[-1]) < max_files and rows + p.rows <= max_rows:
            groups[-1].append(p)
            rows += p.rows
        else:
            groups.append([p])
            rows = p.rows
    return groups


def _chunk_of(part: Partition, frame: pl.DataFrame, targets: pl.DataFrame | None):
    from mouselab.measures.compute import chunk_from_frame

    sub = None
    if targets is not None and targets.height:
        sub = targets.filter((pl.col("study") == part.study) & (pl.col("participant") == part.participant))
    return chunk_from_frame(frame, keys=["session", "trial"],
                            constant_keys={"study": part.study, "participant": part.participant}, targets=sub)


def _partition_chunk(part: Partition, targets: pl.DataFrame | None):
    return _chunk_of(part, read_partition(part), targets)


def _first_pass(run, part: Partition, targets: pl.DataFrame | None, keep_diffs: bool):
    """Task: read one partition and run the first pass (single-threaded; partitions run in parallel)."""
    return run.first_pass(_partition_chunk(part, targets), n_threads=1, keep_diffs=keep_diffs)


def _first_pass_group(run, group: Sequence[Partition], targets: pl.DataFrame | None, keep_diffs: bool) -> list:
    """Task: read a group of partitions at once, then the first pass of each (see :func:`read_partitions`)."""
    frames = read_partitions(group)
    out = []
    for i, part in enumerate(group):
        chunk = _chunk_of(part, frames[i], targets)
        frames[i] = None  # the chunk holds the arrays it needs
        out.append(run.first_pass(chunk, n_threads=1, keep_diffs=keep_diffs))
    return out


def _finish(run, part: Partition, partial, r: float | None, targets: pl.DataFrame | None):
    """Task: (keys, values) of one partition's measures (re-reading it when its differences were dropped)."""
    diffs = None
    if run.needs_entropy and partial.diffs is None and partial.n_trials:
        diffs = run.entropy_diffs(_partition_chunk(part, targets))
    return partial.keys, run.finish_values(partial, r=r, diffs=diffs, n_threads=1), partial.constants


def _entropy_sums(partial):
    """Task: the small part of a first-pass result the client needs for the tolerance."""
    from mouselab.measures.compute import PartialMeasures

    return PartialMeasures(keys=partial.keys.clear(), values={}, entropy_sums=partial.entropy_sums,
                           entropy_n=partial.entropy_n, constants=partial.constants)


# ----------------------------------------------------------------------------------------- measures
def trial_measures(
    store: Store,
    *,
    study: str | None = None,
    participants: Sequence[str] | None = None,
    preset: str = "mousetrap",
    measures: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    scheduler: str | None = None,
    n_threads: int | None = None,
    entropy_memory_mb: float = 512.0,
    engine: Literal["auto", "numba", "numpy"] = "auto",
) -> pl.DataFrame:
    """One row per trial: key columns, trial covariates, then the measures of ``preset`` (or ``measures``).

    Parameters
    ----------
    store, study, participants:
        The store and which partitions to read (None: all).
    preset, measures, params:
        What to compute (see :func:`mouselab.measures.compute_measures`). Target geometry
        (``start_x/y, target_x/y/w/h``) is taken from the trials table when it has it.
    scheduler:
        None or ``"threads"``: this process, ``n_threads`` partitions at a time. ``"local-cluster"``: a
        Dask ``LocalCluster`` started for this call; ``"dask://host:port"`` (or ``tcp://``): an existing
        Dask scheduler whose workers can read the store path. Results are identical on every scheduler.
    n_threads:
        Partitions processed at once locally (None: the CPU count, at most 4).
    entropy_memory_mb:
        Memory for the time-normalised differences kept between the passes; partitions beyond it are read
        twice.
    engine:
        ``"auto"``, ``"numba"`` or ``"numpy"`` (see :func:`~mouselab.measures.compute_measures`).
    """
    from mouselab.measures.compute import MeasureRun, default_threads

    _check_known(store, study=study, participants=participants)
    run = MeasureRun.create(preset=preset, measures=measures, params=params, engine=engine)
    parts = [p for p in sample_partitions(store, study=study, participants=participants) if p.rows]
    trials = _trials_table(store, study=study, participants=participants)
    targets = trials.select([c for c in TRIAL_KEY + GEOMETRY if c in trials.columns]) \
        if any(c in trials.columns for c in GEOMETRY) else None
    if scheduler in (None, "", "threads", "local"):
        if run.engine == "numba":
            from mouselab.measures._kernels import warm_up_async

            warm_up_async(entropy=run.needs_entropy)  # loads the compiled kernels while the first files are read
        frames = _run_local(run, parts, targets, default_threads(n_threads), entropy_memory_mb)
    else:
        frames = _run_dask(run, parts, targets, scheduler)
    frames = [f for f in frames if f[0].height]
    if frames:
        measures_frame = run.assemble([f[0] for f in frames], [f[1] for f in frames], [f[2] for f in frames])
    else:  # no trial in the selection: an empty frame with the right columns
        measures_frame = pl.DataFrame(schema={**{k: pl.String for k in TRIAL_KEY},
                                              **{n: _dtype(n) for n in run.names}})
    del frames  # the per-partition arrays: the assembled frame holds the same numbers
    release_free_memory()
    if not measures_frame.select(pl.struct(TRIAL_KEY).is_sorted()).item():  # partitions come in key order
        measures_frame = measures_frame.sort(TRIAL_KEY)
    present = [c for c in COVARIATES if c in trials.columns]
    if not present:
        return measures_frame
    out = measures_frame.join(trials.select(TRIAL_KEY + present), on=TRIAL_KEY, how="left", maintain_order="left")
    return out.select(TRIAL_KEY + present + list(run.names))


def release_free_memory() -> None:
    """Hand memory freed by this call back to the operating system (glibc ``malloc_trim``; no-op elsewhere).

    The partition threads free many mid-sized NumPy buffers; glibc keeps such memory in per-thread arenas,
    so without a trim a second call in the same process (a notebook rerun) starts from the first call's
    peak instead of from what is live.
    """
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
        try:
            _LIBC = ctypes.CDLL(name) if name else False
            if _LIBC is not False and not hasattr(_LIBC, "malloc_trim"):
                _LIBC = False
        except OSError:
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def _dtype(name: str):
    from mouselab.measures.registry import MEASURES

    return MEASURES[name].dtype


def _trials_table(store: Store, *, study: str | None, participants: Sequence[str] | None) -> pl.DataFrame:
    trials = store.scan("trials", study=study, participants=participants)
    names = trials.collect_schema().names()
    wanted = TRIAL_KEY + [c for c in COVARIATES + GEOMETRY if c in names]
    return trials.select(wanted).collect()


def _run_local(run, parts: list[Partition], targets, threads: int, entropy_memory_mb: float) -> list:
    budget = entropy_memory_mb * 2**20
    kept = 0.0
    partials = [None] * len(parts)

    groups = partition_groups(parts)
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + len(g))

    def first(j: int):
        return _first_pass_group(run, groups[j], targets, keep_diffs=True)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for j, results in enumerate(pool.map(first, range(len(groups)))):
            for i, partial in enumerate(results, start=offsets[j]):
                if partial.diffs is not None:
                    if kept + partial.diffs_bytes > budget:
                        partial.diffs = None  # re-read in the second pass
                    else:
                        kept += partial.diffs_bytes
                partials[i] = partial
        r = run.tolerance(partials)

        def second(i: int):
            frame = _finish(run, parts[i], partials[i], r, targets)
            partials[i] = None  # free the differences as soon as they are used
            return frame

        return list(pool.map(second, range(len(parts))))


def dask_client(scheduler: str):
    """A ``distributed.Client`` for ``"local-cluster"`` (2 in-process workers) or ``"dask://host:port"``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("the dask scheduler needs dask.distributed: pip install 'mouselab[dask]'") from None
    if scheduler == "local-cluster":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
        return Client(cluster), cluster
    address = scheduler
    if address.startswith("dask://"):
        address = "tcp://" + address[len("dask://"):]
    if not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise ValueError(f"scheduler {scheduler!r}: use 'threads', 'local-cluster' or 'dask://host:port'")
    return Client(address), None


def _run_dask(run, parts: list[Partition], targets, scheduler) -> list:
    if isinstance(scheduler, str):
        client, cluster = dask_client(scheduler)
        owned = True
    else:  # an existing distributed.Client
        client, cluster, owned = scheduler, None, False
    try:
        if targets is not None:  # send the (small) trial geometry to every worker once, not with every task
            targets = client.scatter(targets, broadcast=True)
        first = [client.submit(_first_pass, run, p, targets, True, pure=False) for p in parts]
        sums = client.gather([client.submit(_entropy_sums, f) for f in first])
        r = run.tolerance(sums)
        second = [client.submit(_finish, run, p, f, r, targets, pure=False) for p, f in zip(parts, first)]
        frames = client.gather(second)
        del first, second
        return frames
    finally:
        if owned:
            client.close()
            if cluster is not None:
                cluster.close()


def _check_known(store: Store, *, study: str | None, participants: Sequence[str] | None) -> None:
    info = store.info()["tables"]["samples"]
    if study is not None and study not in info["studies"]:
        known = ", ".join(info["studies"]) or "none"
        raise ValueError(f"study {study!r} is not in the store {store.path} (studies: {known})")
    if participants:
        have = {e.partition.get("participant") for e in store.manifest.tables["samples"].values()}
        unknown = sorted(set(participants) - have)
        if unknown:
            raise ValueError(f"participant(s) {', '.join(unknown)} not in the store {store.path}")


__all__ = [
    "COVARIATES", "GEOMETRY", "TRIAL_KEY", "Partition", "dask_client", "parse_participants", "read_partition",
    "partition_groups", "read_partitions", "sample_partitions", "session_samples", "trial_measures", "trial_samples",
]


def session_measures(
    store: Store,
    *,
    study: str | None = None,
    participants: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """One row per free-use session (samples with a null trial + events): see
    :func:`mouselab.measures.session_measures`. ``params`` holds its keyword arguments (thresholds)."""
    from mouselab.measures.session import session_measures as compute

    samples = session_samples(store, study=study, participants=participants)
    events = store.scan("events", study=study, participants=participants)
    out = compute(samples, events, **(params or {}))
    sessions = samples.select("study", "participant", "session").unique().collect()
    return out.join(sessions, on=["study", "participant", "session"], how="semi").sort(
        ["study", "participant", "session"])
