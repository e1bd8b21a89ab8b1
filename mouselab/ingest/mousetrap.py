"""Readers for mousetrap data: the long trajectory format and OpenSesame / mousetrap-os raw wide data.

**Long** (``mt_export_long``, the conformance files): one row per sample with at least ``mt_id`` (trial
id), ``subject_nr`` (participant), ``timestamps`` (ms), ``xpos`` and ``ypos`` (px). Every other column
that is constant within every trial (``Condition``, ``count_trial``, ``correct``, ``response`` …) becomes
a trial covariate; mousetrap's derived per-sample columns (``sample``, ``dist``, ``vel``, ``acc``,
``*_ideal``) are recomputed by mouselab and not stored. Coordinates and timestamps are stored as in the
file. A trial id used by two participants (or sessions) of one file is a ``trial_id_conflict``.

**Wide** (OpenSesame with mousetrap-os, ``mt_import_mousetrap`` semantics): one row per trial; for each
tracking item a triple of columns ``xpos_<item>``, ``ypos_<item>``, ``timestamps_<item>`` holding lists as
``"[1, 2, 3]"`` or ``"1,2,3"``. Several items in one trial are concatenated in column order. The trial id
is ``mt_id`` when present, else ``id0001``, ``id0002`` … by row (mousetrap's default); the participant is
``subject_nr`` (else the file name). Timestamps are reset to start at 0 per trial (``reset_timestamps``,
mousetrap's default). Every list element is one record: a non-numeric element quarantines that sample;
lists of different lengths quarantine the whole trial (``array_length_mismatch``); an empty trial is one
``empty_trajectory`` record. The other columns are trial covariates as in the long format.

The format is detected from the header. Reference: Kieslich, P. J., Henninger, F., Wulff, D. U.,
Haslbeck, J. M. B., & Schulte-Mecklenbeck, M. (2019). Mouse-tracking: A practical guide to implementation
and analysis. In *A Handbook of Process Tracing Methods* (pp. 111–130). Routledge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mouselab.ingest.base import BatchReader, ReadBatch, ensure_reasons, parse_floats, require
from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_csv
from mouselab.ingest.trials import CollectsTrials, TrialCollector, flag_injection
from mouselab.ingest.validate import flag

REQUIRED = {
    "mt_id": "trial id",
    "subject_nr": "participant id",
    "timestamps": "time in ms",
    "xpos": "x in px",
    "ypos": "y in px",
}
#: mousetrap's derived per-sample columns: recomputed by mouselab, not stored.
DERIVED_SAMPLE_COLUMNS = {"sample", "dist", "vel", "acc", "xpos_ideal", "ypos_ideal", "dev_ideal", "steps", "step_index"}
_SESSION_NAMES = ("session", "session_nr")
_WIDE = re.compile(r"^(xpos|ypos|timestamps)_(.+)$")


class MousetrapReader(CollectsTrials, BatchReader):
    """mousetrap long or OpenSesame raw wide CSV (plain or gzip), detected from the header."""

    name = "mousetrap"
    patterns = ("*.csv", "*.csv.gz")
    trials_complete_per_file = True

    def __init__(self, path: Path, *, study: str, reset_timestamps: bool = True, encoding: str | None = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(path, study=study)
        self.reset_timestamps = reset_timestamps
        self.encoding = encoding
        self.chunk_bytes = chunk_bytes
        self.layout = "?"
        self.collector: TrialCollector | None = None
        self._owners: pl.DataFrame | None = None
        self._row = 0

    def options(self) -> dict:
        return {"layout": self.layout, "reset_timestamps": self.reset_timestamps, "encoding": self.encoding}

    def batches(self) -> Iterator[ReadBatch]:
        names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, encoding=self.encoding, hasher=self._hasher,
                                 numeric=lambda names: [c for c in ("timestamps", "xpos", "ypos") if c in names]
                                 if "mt_id" in names else [])
        if set(REQUIRED) - {"mt_id", "subject_nr"} <= set(names) and "mt_id" in names:
            self.layout = "long"
            require(self.path, names, REQUIRED)
            make = self._long(names)
        elif any(_WIDE.match(n) for n in names):
            self.layout = "wide"
            make = self._wide(names)
        else:
            require(self.path, names, REQUIRED)  # raises, naming what a long file needs
            raise AssertionError  # pragma: no cover
        for chunk in chunks:
            self._raw_field = chunk.raw_fields
            yield ReadBatch(make(chunk.frame), chunk.rejected, raw=_raw_for(chunk, self.layout), nbytes=len(chunk.data))
        self.sha256 = self._hasher.hexdigest() if self.path.open("rb").read(2) != b"\x1f\x8b" else None

    def finish(self) -> dict[str, pl.DataFrame]:
        return self.trials_tables(self.collected_trials())

    # ------------------------------------------------------------------ long
    def _long(self, names: list[str]):
        session_col = next((c for c in _SESSION_NAMES if c in names), None)
        skip = set(REQUIRED) | DERIVED_SAMPLE_COLUMNS | ({session_col} if session_col else set())
        covariates = [c for c in names if c not in skip]
        self.collector = TrialCollector(covariates, study=self.study)
        self.columns = {"t_ms": "timestamps", "x": "xpos", "y": "ypos", "participant": "subject_nr", "trial": "mt_id",
                        "session": session_col or "session"}

        def make(frame: pl.DataFrame) -> pl.DataFrame:
            frame = ensure_reasons(frame).with_columns(
                pl.col("subject_nr").str.strip_chars().alias("participant"),
                (pl.col(session_col).str.strip_chars() if session_col else pl.lit("s1")).alias("session"),
                pl.col("mt_id").str.strip_chars().alias("trial"),
            )
            frame = flag(frame, pl.col("trial").is_null() | (pl.col("trial") == ""), "invalid_identifier", "mt_id",
                         pl.lit(None, dtype=pl.String))
            frame = flag_injection(frame, ["subject_nr", "mt_id"] + covariates)
            frame = parse_floats(frame, {"t_ms": "timestamps", "x": "xpos", "y": "ypos"}, raw_field=self._raw_field)
            frame = self._conflicts(frame)
            return frame.with_columns(pl.lit("move").alias("event"), pl.lit(0, dtype=pl.UInt8).alias("buttons")).select(
                ["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons",
                 "_reason", "_column", "_value"] + covariates
            )

        return make

    def _conflicts(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows whose trial id belongs to another participant/session of this file: trial_id_conflict."""
        ok = frame.filter(pl.col("trial").is_not_null() & pl.col("participant").is_not_null())
        owners = ok.group_by("trial", maintain_order=True).agg(
            pl.col("participant").first().alias("_owner_p"), pl.col("session").first().alias("_owner_s"))
        if self._owners is not None:
            owners = pl.concat([self._owners, owners.join(self._owners.select("trial"), on="trial", how="anti")])
        self._owners = owners
        frame = frame.join(owners, on="trial", how="left", maintain_order="left")
        clash = (pl.col("participant") != pl.col("_owner_p")) | (pl.col("session") != pl.col("_owner_s"))
        frame = flag(frame, clash, "trial_id_conflict", "mt_id", pl.col("trial"))
        return frame.drop(["_owner_p", "_owner_s"])

    # ------------------------------------------------------------------ wide
    def _wide(self, names: list[str]):
        groups: dict[str, dict[str, str]] = {}
        for n in names:
            m = _WIDE.match(n)
            if m:
                groups.setdefault(m.group(2), {})[m.group(1)] = n
        items = [item for item, cols in groups.items() if set(cols) == {"xpos", "ypos", "timestamps"}]
        incomplete = [item for item, cols in groups.items() if set(cols) != {"xpos", "ypos", "timestamps"}]
        if not items:
            raise IngestError(self.path, "no complete xpos_<item>, ypos_<item>, timestamps_<item> column triple; "
                              f"found {', '.join(sorted(n for n in names if _WIDE.match(n)))}")
        if incomplete:
            self.warn(f"ignored incomplete tracking column group(s): {', '.join(incomplete)}")
        tracking = {groups[i][k] for i in items for k in ("xpos", "ypos", "timestamps")}
        tracking |= {n for n in names if _WIDE.match(n)}
        has_subject = "subject_nr" in names
        if not has_subject:
            self.warn("no subject_nr column; the participant id is the file name")
        session_col = next((c for c in _SESSION_NAMES if c in names), None)
        covariates = [c for c in names if c not in tracking and c not in {"mt_id", "subject_nr", session_col}]
        self.collector = TrialCollector(covariates, study=self.study)
        first = groups[items[0]]
        self.columns = {"t_ms": first["timestamps"], "x": first["xpos"], "y": first["ypos"],
                        "participant": "subject_nr", "trial": "mt_id", "session": session_col or "session"}
        stem = _stem(self.path)

        def make(frame: pl.DataFrame) -> pl.DataFrame:
            n = frame.height
            frame = frame.with_columns(pl.int_range(self._row + 1, self._row + n + 1).alias("_row"))
            self._row += n
            frame = ensure_reasons(frame).with_columns(
                (pl.col("subject_nr").str.strip_chars() if has_subject else pl.lit(stem)).alias("participant"),
                (pl.col(session_col).str.strip_chars() if session_col else pl.lit("s1")).alias("session"),
                (pl.col("mt_id").str.strip_chars() if "mt_id" in names
                 else pl.format("id{}", pl.col("_row").cast(pl.String).str.zfill(4))).alias("trial"),
            )
            frame = flag_injection(frame, (["subject_nr"] if has_subject else []) + covariates)
            pieces = []
            for item in items:
                cols = groups[item]
                lists = {k: _split_list(pl.col(cols[k])) for k in ("xpos", "ypos", "timestamps")}
                pieces.append(frame.select(["_line", "trial"] + [v.alias(k) for k, v in lists.items()]
                                           + [pl.lit(item).alias("_item")]))
            per_item = pl.concat(pieces, how="vertical")
            lengths = per_item.with_columns(
                pl.col(k).list.len().alias(f"n_{k}") for k in ("xpos", "ypos", "timestamps"))
            lengths = lengths.with_columns(
                pl.max_horizontal("n_xpos", "n_ypos", "n_timestamps").alias("n"),
                ((pl.col("n_xpos") != pl.col("n_ypos")) | (pl.col("n_xpos") != pl.col("n_timestamps"))).alias("mismatch"),
            )
            per_trial = lengths.group_by("_line", maintain_order=True).agg(
                pl.col("mismatch").any(), pl.col("n").sum().alias("n_total"),
                pl.format("{}/{}/{}", "n_xpos", "n_ypos", "n_timestamps").first().alias("lens"))
            # explode every item into samples, padding short lists with nulls
            samples = lengths.with_columns(
                pl.int_ranges(0, pl.col("n")).alias("_k")
            ).select(["_line", "_item", "_k"] + [pl.col(k) for k in ("xpos", "ypos", "timestamps")]).explode("_k")
            samples = samples.with_columns(
                pl.col(k).list.get(pl.col("_k"), null_on_oob=True).alias(k) for k in ("xpos", "ypos", "timestamps"))
            samples = samples.filter(pl.col("_k").is_not_null())
            samples = samples.join(frame.drop([c for c in tracking if c in frame.columns]), on="_line", how="left",
                                   maintain_order="left")
            samples = samples.join(per_trial, on="_line", how="left", maintain_order="left")
            samples = flag(samples, pl.col("mismatch"), "array_length_mismatch", first["xpos"], pl.col("lens"))
            samples = parse_floats(samples, {"t_ms": "timestamps", "x": "xpos", "y": "ypos"})
            samples = samples.with_columns(
                pl.col("_column").replace({"timestamps": first["timestamps"], "xpos": first["xpos"], "ypos": first["ypos"]}))
            if self.reset_timestamps:
                t0 = pl.col("t_ms").filter(pl.col("t_ms").is_finite()).first().over("_line")
                samples = samples.with_columns((pl.col("t_ms") - t0).alias("t_ms"))
            samples = samples.with_columns(
                pl.lit("move").alias("event"), pl.lit(0, dtype=pl.UInt8).alias("buttons"),
                pl.format("row {} item {} sample {}: timestamps={} xpos={} ypos={}", pl.col("_row"), pl.col("_item"),
                          pl.col("_k") + 1, *(pl.col(k).fill_null("") for k in ("timestamps", "xpos", "ypos")))
                .alias("_raw"))
            samples = self._conflicts(samples)
            keep = ["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons", "_reason",
                    "_column", "_value", "_raw"] + covariates
            out = samples.select(keep)
            empty = per_trial.filter(pl.col("n_total") == 0).join(frame, on="_line", how="left")
            if empty.height:
                stub = empty.select(["_line", "_row", "participant", "session", "trial"] + covariates).with_columns(
                    pl.lit(None, dtype=pl.Float64).alias("t_ms"), pl.lit(None, dtype=pl.Float64).alias("x"),
                    pl.lit(None, dtype=pl.Float64).alias("y"), pl.lit("move").alias("event"),
                    pl.lit(0, dtype=pl.UInt8).alias("buttons"), pl.lit("empty_trajectory").alias("_reason"),
                    pl.lit(first["xpos"]).alias("_column"), pl.lit(None, dtype=pl.String).alias("_value"),
                    pl.format("row {}: no samples", pl.col("_row")).alias("_raw"))
                out = pl.concat([out, stub.select(keep)], how="diagonal_relaxed").sort("_line", maintain_order=True)
            return out

        return make


def _split_list(expr: pl.Expr) -> pl.Expr:
    """``"[1, 2, 3]"`` / ``"1,2,3"`` → list of trimmed strings (empty text → empty list)."""
    text = expr.str.strip_chars().str.strip_chars("[]").str.strip_chars()
    return pl.when(text.is_null() | (text == "")).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(
        text.str.split(",").list.eval(pl.element().str.strip_chars()))


def _raw_for(chunk, layout: str):
    if layout == "wide":
        return None  # wide candidates carry their own _raw (the sample's list elements)
    return lambda f: chunk.raw_lines(f["_line"])


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def read_mousetrap_long(path: Path, *, study: str, duplicates: str = "error") -> dict[str, pl.DataFrame]:
    """Read a mousetrap long CSV strictly (the first bad record raises :class:`IngestError`).

    Kept for the issue-2 API; :func:`mouselab.ingest.read_files` with ``on_error="quarantine"`` keeps the
    good records and quarantines the rest.
    """
    from mouselab.ingest import read_files

    frames = read_files("mousetrap", [path], study=study, duplicates=duplicates, on_error="fail")
    return {k: v for k, v in frames.items() if k in ("samples", "trials", "participants")}
