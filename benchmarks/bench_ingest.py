"""Benchmark: validated, partitioned ingest of a large CSV, beside an unvalidated DuckDB CSV → Parquet copy.

usage: python benchmarks/bench_ingest.py [--gb 1.0] [--csv PATH] [--keep]

1. Writes (once; reuse with ``--csv``) a generic samples CSV of about ``--gb`` GB: columns
   ``user,session,time,posX,posY,buttons``, time in seconds, 1 M samples per participant (a long
   free-use session each: random-walk cursor, 5–20 ms between samples, some button presses), so the
   store gets one partition per participant.
2. In a fresh child process: ``mouselab.ingest.ingest_files("generic", …)`` with
   ``--map participant=user,session=session,t=time,x=posX,y=posY,buttons=buttons --time-unit s``: every
   row validated (identifiers, numbers, sentinels, screen bounds, time order, clock jumps, speed spikes),
   written to a new store partitioned by study/participant, with the progress bar. Peak RSS is the child's
   ``ru_maxrss``.
3. In another fresh child: DuckDB ``COPY (SELECT * FROM read_csv(…)) TO … (FORMAT parquet, PARTITION_BY
   (user))`` — the same file to partitioned Parquet with no validation at all.

Both are measured in this run, on this machine; the script prints rows/s and peak RSS of each, and the
ratio of the validated ingest to the DuckDB baseline (rows/s and CPU time), which stays comparable when other
processes load the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS_PER_PARTICIPANT = 1_000_000
BYTES_PER_ROW = 31.5  # measured for this layout
MAP = "participant=user,session=session,t=time,x=posX,y=posY,buttons=buttons"


def write_csv(path: Path, gb: float, seed: int = 11) -> int:
    """Write the benchmark CSV in 1 M-row blocks (bounded memory); returns the number of data rows."""
    import polars as pl

    rng = np.random.default_rng(seed)
    rows = int(gb * 1e9 / BYTES_PER_ROW)
    done = 0
    with open(path, "wb") as handle:
        handle.write(b"user,session,time,posX,posY,buttons\n")
        p = 0
        while done < rows:
            n = min(ROWS_PER_PARTICIPANT, rows - done)
            t = 1.0 + np.cumsum(rng.integers(5, 21, n)) / 1000.0
            x = np.clip(np.cumsum(rng.integers(-4, 5, n)) + 900, -1900, 3800)
            y = np.clip(np.cumsum(rng.integers(-4, 5, n)) + 500, -100, 2100)
            buttons = (rng.random(n) < 0.02).astype(np.uint8)
            frame = pl.DataFrame({"user": f"P{p:04d}", "session": "work1", "time": np.round(t, 3), "posX": x,
                                  "posY": y, "buttons": buttons})
            frame.write_csv(handle, include_header=False)
            done += n
            p += 1
    return done


def _ingest(csv: str, store: str, out: mp.Queue) -> None:
    from mouselab.ingest import ingest_files
    from mouselab.store import Store

    began = time.perf_counter()
    report = ingest_files("generic", [Path(csv)], store=Store.create(store), study="bench", mapping=MAP,
                          time_unit="s", progress=True)
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put({"rows": report.records_read, "stored": report.rows.get("samples", 0), "quarantined": report.quarantined,
             "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime})


def _duckdb(csv: str, target: str, out: mp.Queue) -> None:
    import duckdb

    began = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(
        f"COPY (SELECT * FROM read_csv('{csv}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (user))"
    ).fetchall()[0][0]
    con.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put({"rows": rows, "seconds": time.perf_counter() - began, "peak_mb": usage.ru_maxrss / 1024,
             "cpu_s": usage.ru_utime + usage.ru_stime})


def _child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    import queue as queues

    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queues.Empty:
            if not proc.is_alive():
                raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}") from None
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the generated CSV in GB (default 1.0)")
    parser.add_argument("--csv", type=Path, default=None, help="use/keep the CSV here (generated when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the store and the Parquet output")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    csv = args.csv or work / "samples.csv"
    try:
        if not csv.exists():
            t0 = time.perf_counter()
            rows = write_csv(csv, args.gb)
            print(f"wrote {csv} ({csv.stat().st_size / 1e9:.2f} GB, {rows:,} rows) in {time.perf_counter() - t0:.0f} s")
        size_gb = csv.stat().st_size / 1e9
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
              f"load average {os.getloadavg()[0]:.1f}")
        ing = _child(_ingest, str(csv), str(work / "store"))
        duck = _child(_duckdb, str(csv), str(work / "duck"))
        print()
        print(f"input: {size_gb:.2f} GB CSV, {ing['rows']:,} rows")
        print(f"{'':38s}{'rows/s':>12s}{'seconds':>9s}{'CPU s':>8s}{'peak RSS':>11s}")
        for name, r in (("mouselab ingest (validated, store)", ing), ("DuckDB CSV -> Parquet (unvalidated)", duck)):
            print(f"{name:38s}{r['rows'] / r['seconds']:>12,.0f}{r['seconds']:>9.1f}{r['cpu_s']:>8.1f}"
                  f"{r['peak_mb']:>8,.0f} MB")
        ratio = (ing["rows"] / ing["seconds"]) / (duck["rows"] / duck["seconds"])
        print(f"validated ingest / DuckDB baseline of this run: {ratio:.2f} in rows/s, "
              f"{duck['cpu_s'] / ing['cpu_s']:.2f} in CPU time (both robust to other load on the machine)")
        print(f"load average after the run: {os.getloadavg()[0]:.1f} (other processes compete for the CPUs)")
        print(f"stored {ing['stored']:,} rows, quarantined {ing['quarantined']:,}; "
              f"ingest peak memory {'under' if ing['peak_mb'] < 1024 else 'OVER'} 1 GB")
        if ing["stored"] + ing["quarantined"] != ing["rows"]:
            print("ERROR: rows read != stored + quarantined", file=sys.stderr)
            return 1
        if args.keep:
            print(f"kept: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
