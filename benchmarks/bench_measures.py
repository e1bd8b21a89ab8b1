"""Benchmark: the mousetrap preset computed from a Parquet store, against a pandas groupby-apply baseline.

usage: python benchmarks/bench_measures.py [--samples 10_000_000] [--store PATH] [--baseline-samples 200_000]
                                           [--repeat 3] [--threads N] [--engine auto|numba|numpy]

1. Builds (once, in a child process so its memory does not count) a synthetic store of ``--samples``
   samples: trials of ~100 samples at 100 Hz, minimum-jerk reaches with curvature and noise, spread over
   participants in separate partitions (500 trials = 50,000 samples per partition).
2. Times ``mouselab.study.trial_measures(store, preset="mousetrap")`` over the whole store, end to end
   (reading the Parquet partitions, all 29 measures including sample entropy's two passes, joining trial
   covariates), ``--repeat`` times. The first call includes loading the compiled kernels from numba's
   on-disk cache; the best call is the steady state. The process's peak RSS is read right after (nothing
   else heavy ran in this process before).
3. Runs the pandas baseline (``pandas_baseline.py``) on the first ``--baseline-samples`` samples of the
   same store, in this same process, and prints the per-sample throughput ratio and a Markdown table row.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLES_PER_TRIAL = 100
TRIALS_PER_PARTICIPANT = 500


def build_store(path: str, n_samples: int, seed: int = 7) -> None:
    """Write a synthetic store of ``n_samples`` samples (vectorised NumPy, one write per 20 participants)."""
    import polars as pl

    from mouselab.store import Store

    rng = np.random.default_rng(seed)
    store = Store.open(path, create=True)
    n_trials = max(1, n_samples // SAMPLES_PER_TRIAL)
    n_participants = max(1, n_trials // TRIALS_PER_PARTICIPANT)
    s = np.linspace(0.0, 1.0, SAMPLES_PER_TRIAL)
    profile = 10 * s**3 - 15 * s**4 + 6 * s**5  # minimum-jerk position profile
    batch = 20
    for first in range(0, n_participants, batch):
        people = range(first, min(first + batch, n_participants))
        k = len(people) * TRIALS_PER_PARTICIPANT
        side = rng.choice([-1.0, 1.0], size=(k, 1))
        bend = rng.normal(150, 80, size=(k, 1)) * np.sin(np.pi * s)
        x = side * (600 * profile - bend) + rng.normal(0, 2, size=(k, SAMPLES_PER_TRIAL))
        y = 800 * profile + rng.normal(0, 2, size=(k, SAMPLES_PER_TRIAL))
        x[:, 0] = y[:, 0] = 0.0
        t = np.broadcast_to(np.arange(SAMPLES_PER_TRIAL) * 10.0, (k, SAMPLES_PER_TRIAL))
        pid = np.repeat([f"B{p:04d}" for p in people], TRIALS_PER_PARTICIPANT * SAMPLES_PER_TRIAL)
        tid = np.repeat([f"B{p:04d}-t{i:04d}" for p in people for i in range(TRIALS_PER_PARTICIPANT)], SAMPLES_PER_TRIAL)
        frame = pl.DataFrame({
            "study": "bench", "participant": pid, "session": "s1", "trial": tid,
            "t_ms": t.ravel(), "x": np.round(x).ravel(), "y": np.round(y).ravel(), "event": "move", "buttons": 0,
        })
        store.write({"samples": frame})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000_000, help="samples in the synthetic store")
    parser.add_argument("--store", type=Path, default=None, help="reuse/keep the store here (default: temp dir)")
    parser.add_argument("--baseline-samples", type=int, default=200_000, help="samples given to the pandas baseline")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of trial_measures (best is reported)")
    parser.add_argument("--threads", type=int, default=None, help="partitions computed at once (default: cores)")
    parser.add_argument("--engine", default="auto", choices=["auto", "numba", "numpy"], help="measure engine")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory() if args.store is None else None
    store_path = Path(tmp.name) / "store" if tmp else args.store
    if not (store_path / "manifest.json").exists():
        t0 = time.perf_counter()
        child = mp.get_context("spawn").Process(target=build_store, args=(str(store_path), args.samples))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("building the benchmark store failed", file=sys.stderr)
            return 1
        print(f"built store {store_path} in {time.perf_counter() - t0:.1f} s")

    import polars as pl

    from mouselab.store import Store
    from mouselab.study import trial_measures

    store = Store(store_path)
    n = store.info()["tables"]["samples"]["rows"]
    rss_before = peak_rss_mb()
    times, cpu = [], []
    for _ in range(max(1, args.repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        ours = trial_measures(store, preset="mousetrap", n_threads=args.threads, engine=args.engine)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del_ours = ours.height
        del ours
    rss_peak = peak_rss_mb()
    ours_s = min(times)
    ours_rate = n / ours_s

    import pandas as pd

    sys.path.insert(0, str(Path(__file__).parent))
    from pandas_baseline import pandas_measures

    sub = store.scan("samples").head(args.baseline_samples).collect()
    last_trial = sub["trial"][-1]
    sub = sub.filter(pl.col("trial") != last_trial)  # whole trials only
    frame = sub.select("participant", "session", "trial", "t_ms", "x", "y").to_pandas()
    t0 = time.perf_counter()
    base = pandas_measures(frame)
    base_s = time.perf_counter() - t0
    base_rate = len(frame) / base_s

    ours = trial_measures(store, preset="mousetrap", participants=sorted(set(sub["participant"].to_list())),
                          n_threads=args.threads, engine=args.engine)
    check = ours.filter(pl.col("trial").is_in(base["trial"].tolist())).sort("trial")
    agree = np.allclose(check["MAD"].to_numpy(), base.sort_values("trial")["MAD"].to_numpy(), atol=1e-6)

    print(f"machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} cores, Python {platform.python_version()}, "
          f"polars {pl.__version__}, pandas {pd.__version__}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: load average {load:.1f} at the end of the run")
    print(f"mouselab measures (mousetrap preset, engine {args.engine}): {n:,} samples, {del_ours:,} trials; "
          f"calls {', '.join(f'{t:.2f}' for t in times)} s; best {ours_s:.2f} s = {ours_rate / 1e6:.2f} M samples/s "
          f"(first call {n / times[0] / 1e6:.2f} M samples/s); peak RSS {rss_peak:.0f} MB (before: {rss_before:.0f} MB)")
    best_cpu = cpu[times.index(ours_s)]
    print(f"CPU time of the best call {best_cpu:.2f} s (all threads) = {n / best_cpu / 1e6:.2f} M samples per "
          f"CPU-second; wall/CPU shows how much of {mp.cpu_count()} cores the process got (load from other "
          "processes slows the wall clock, not the CPU time)")
    print(f"pandas groupby-apply baseline: {len(frame):,} samples, {base.shape[0]:,} trials in {base_s:.2f} s "
          f"= {base_rate / 1e3:.1f} k samples/s")
    print(f"ratio (samples/s, mouselab / pandas): {ours_rate / base_rate:.0f}x; MAD agrees on shared trials: {agree}")
    print("| samples | mouselab best (first call) | peak RSS | pandas baseline | ratio |")
    print(f"| {n / 1e6:.0f} M | {ours_rate / 1e6:.1f} M/s ({n / times[0] / 1e6:.1f} M/s) | {rss_peak:.0f} MB | "
          f"{base_rate / 1e3:.0f} k/s | {ours_rate / base_rate:.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
