"""Reader for MouseTracker-style exports: one row per trial, samples spread over numbered columns.

Accepted layout (CSV, plain or gzip; header names are case-insensitive)::

    subject,trial,condition,stimulus,response,error,RT,X_1,X_2,…,X_n,Y_1,…,Y_n,T_1,…,T_n

* ``subject`` (participant id) and ``trial`` (trial number or label) are required; the trial id is
  ``<subject>-t<trial>``. ``session`` is used when present, else ``s1``.
* Sample ``i`` of a trial is ``X_i``, ``Y_i`` (px) and ``T_i`` (ms since the trial start); ``X1`` or
  ``x_1`` spellings are accepted. **Raw time-stamped trajectories are required**: MouseTracker's
  time-normalised export (``X_1…X_101`` without ``T_i``) carries no time and is refused.
* Trials have different lengths: empty cells *after* a trial's last sample are padding, not records. An
  empty cell before it is a ``missing_value``; a row with no samples is one ``empty_trajectory`` record.
* Every other column is a trial covariate (``condition``, ``stimulus``/``stimfile``, ``response``; ``error``
  0/1 also gives ``correct``). Coordinates must be pixels: when every |x| ≤ 1.5 the file is probably in
  MouseTracker's normalised space (x −1…1, y 0…1.5) and a warning says so.

Reference: Freeman, J. B., & Ambady, N. (2010). MouseTracker: Software for studying real-time mental
processing using a computer mouse-tracking method. *Behavior Research Methods*, 42(1), 226–241.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mouselab.ingest.base import BatchReader, ReadBatch, ensure_reasons, parse_floats
from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_csv
from mouselab.ingest.trials import CollectsTrials, TrialCollector, as_bool, flag_injection

_SAMPLE = re.compile(r"^([XYTxyt])_?(\d+)$")


class MouseTrackerReader(CollectsTrials, BatchReader):
    name = "mousetracker"
    patterns = ("*.csv", "*.csv.gz")
    trials_complete_per_file = True

    def __init__(self, path: Path, *, study: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(path, study=study)
        self.chunk_bytes = chunk_bytes
        self.collector: TrialCollector | None = None
        self._max_abs_x = 0.0

    def batches(self) -> Iterator[ReadBatch]:
        names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, hasher=self._hasher)
        lower = {n.lower(): n for n in names}
        missing = [c for c in ("subject", "trial") if c not in lower]
        if missing:
            raise IngestError(self.path, f"missing column(s): {', '.join(missing)}. Columns found: {', '.join(names)}")
        subject, trial_col = lower["subject"], lower["trial"]
        session_col = lower.get("session")
        sample_cols: dict[str, dict[int, str]] = {"X": {}, "Y": {}, "T": {}}
        for n in names:
            m = _SAMPLE.match(n)
            if m:
                sample_cols[m.group(1).upper()][int(m.group(2))] = n
        if not sample_cols["X"] or not sample_cols["Y"]:
            raise IngestError(self.path, "no X_i / Y_i sample columns (expected X_1, X_2, …, Y_1, …, T_1, …)")
        if not sample_cols["T"]:
            raise IngestError(self.path, "no T_i time columns: MouseTracker's time-normalised export carries no time; "
                              "export raw trajectories with X_i, Y_i and T_i (ms)")
        idx = sorted(set(sample_cols["X"]) | set(sample_cols["Y"]) | set(sample_cols["T"]))
        sample_names = {c for d in sample_cols.values() for c in d.values()}
        covariates = [c for c in names if c not in sample_names and c not in (subject, trial_col, session_col)]
        self.collector = TrialCollector(covariates, study=self.study)
        self.columns = {"t_ms": "T_i", "x": "X_i", "y": "Y_i", "participant": subject, "trial": trial_col}
        for chunk in chunks:
            frame = chunk.frame
            ids = frame.select(
                "_line",
                pl.col(subject).str.strip_chars().alias("participant"),
                (pl.col(session_col).str.strip_chars() if session_col else pl.lit("s1")).alias("session"),
                pl.format("{}-t{}", pl.col(subject).str.strip_chars(), pl.col(trial_col).str.strip_chars()).alias("trial"),
                *[pl.col(c) for c in covariates],
            )
            long = []
            for axis in ("X", "Y", "T"):
                cols = [sample_cols[axis][i] for i in idx if i in sample_cols[axis]]
                part = frame.select(["_line"] + cols).unpivot(index="_line", variable_name="_col", value_name=axis)
                part = part.with_columns(pl.col("_col").str.extract(r"(\d+)$").cast(pl.Int64).alias("_i")).drop("_col")
                long.append(part)
            samples = long[0].join(long[1], on=["_line", "_i"], how="full", coalesce=True).join(
                long[2], on=["_line", "_i"], how="full", coalesce=True)
            present = pl.any_horizontal([pl.col(a).is_not_null() & (pl.col(a).str.strip_chars() != "") for a in "XYT"])
            samples = samples.with_columns(present.alias("_present"))
            last = samples.filter(pl.col("_present")).group_by("_line").agg(pl.col("_i").max().alias("_n"))
            samples = samples.join(last, on="_line", how="inner").filter(pl.col("_i") <= pl.col("_n"))
            samples = samples.sort(["_line", "_i"]).join(ids, on="_line", how="left", maintain_order="left")
            samples = ensure_reasons(samples)
            samples = flag_injection(samples, [c for c in covariates] + ["participant"])
            samples = parse_floats(samples, {"t_ms": "T", "x": "X", "y": "Y"})
            samples = samples.with_columns(
                pl.format("{}_{}", pl.col("_column"), pl.col("_i")).alias("_column"),
                pl.format("row {} sample {}: X={} Y={} T={}", pl.col("_line"), pl.col("_i"),
                          *(pl.col(a).fill_null("") for a in "XYT")).alias("_raw"),
                pl.lit("move").alias("event"), pl.lit(0, dtype=pl.UInt8).alias("buttons"),
            )
            xs = samples["x"].drop_nulls()
            if xs.len():
                self._max_abs_x = max(self._max_abs_x, float(xs.abs().max()))
            keep = ["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons",
                    "_reason", "_column", "_value", "_raw"] + covariates
            out = samples.select(keep)
            empty = ids.join(last, on="_line", how="anti")
            if empty.height:
                stub = empty.with_columns(
                    pl.lit(None, dtype=pl.Float64).alias("t_ms"), pl.lit(None, dtype=pl.Float64).alias("x"),
                    pl.lit(None, dtype=pl.Float64).alias("y"), pl.lit("move").alias("event"),
                    pl.lit(0, dtype=pl.UInt8).alias("buttons"), pl.lit("empty_trajectory").alias("_reason"),
                    pl.lit("X_1").alias("_column"), pl.lit(None, dtype=pl.String).alias("_value"),
                    pl.lit("(no samples)").alias("_raw"))
                out = pl.concat([out, stub.select(keep)], how="diagonal_relaxed").sort("_line", maintain_order=True)
            yield ReadBatch(out, chunk.rejected, nbytes=len(chunk.data))
        if 0 < self._max_abs_x <= 1.5:
            self.warn("every |x| is at most 1.5: the file looks like MouseTracker's normalised coordinate space "
                      "(x -1..1, y 0..1.5), not pixels; rescale before comparing with pixel data")
        self.sha256 = self._hasher.hexdigest() if self.path.open("rb").read(2) != b"\x1f\x8b" else None

    def finish(self) -> dict[str, pl.DataFrame]:
        trials = self.collected_trials()
        if trials is None:
            return {}
        renames = {c: c.lower() for c in trials.columns if c.lower() in ("condition", "stimulus", "response")
                   and c != c.lower() and c.lower() not in trials.columns}
        trials = trials.rename(renames)
        if "stimulus" not in trials.columns and "stimfile" in trials.columns:
            trials = trials.rename({"stimfile": "stimulus"}).with_columns(pl.col("stimulus").cast(pl.String))
        if "correct" not in trials.columns:
            error = next((c for c in trials.columns if c.lower() == "error"), None)
            if error:
                trials = trials.with_columns((~as_bool(pl.col(error))).alias("correct"))
        return self.trials_tables(trials)
