"""Reader for mousetrap's long trajectory format (``mt_export_long`` / the conformance files).

One row per sample with at least ``mt_id`` (trial id), ``subject_nr`` (participant), ``timestamps`` (ms),
``xpos`` and ``ypos`` (px). Every other column that is constant within a trial (``Condition``,
``count_trial``, ``correct``, ``response`` …) becomes a trial covariate; mousetrap's own per-sample
derived columns (``sample``, ``dist``, ``vel``, ``acc``, ``*_ideal``) are recomputed by mouselab and
not stored. Coordinates are stored exactly as in the file (mousetrap's long exports are usually already
remapped, i.e. y up); timestamps are kept as they are (mousetrap resets them to start at 0).

Reference: Kieslich, P. J., Henninger, F., Wulff, D. U., Haslbeck, J. M. B., & Schulte-Mecklenbeck, M.
(2019). Mouse-tracking: A practical guide to implementation and analysis. In *A Handbook of Process
Tracing Methods* (pp. 111–130). Routledge.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError
from mouselab.ingest.tabular import cast_numeric, check_time_order, read_text_table, require_columns

REQUIRED = {
    "mt_id": "trial id",
    "subject_nr": "participant id",
    "timestamps": "time in ms",
    "xpos": "x in px",
    "ypos": "y in px",
}
#: mousetrap's derived per-sample columns: recomputed by mouselab, not stored.
DERIVED_SAMPLE_COLUMNS = {"sample", "dist", "vel", "acc", "xpos_ideal", "ypos_ideal", "dev_ideal", "steps", "step_index"}
#: trial covariates mapped onto the contract's own columns.
_CONDITION_NAMES = ("Condition", "condition")
_SESSION_NAMES = ("session", "session_nr")


def read_mousetrap_long(path: Path, *, study: str, duplicates: str = "error") -> dict[str, pl.DataFrame]:
    """Read a mousetrap long CSV (plain or ``.gz``) into ``samples``, ``trials`` and ``participants`` frames.

    Raises :class:`~mouselab.ingest.errors.IngestError` (file, line, column, expectation) on missing
    columns, non-numeric or missing coordinates/timestamps, unsorted or duplicate timestamps
    (``duplicates="remove_first"`` drops duplicates the way mousetrap's import does), and trial columns
    that change within a trial.
    """
    path = Path(path)
    raw = read_text_table(path)
    require_columns(raw, path, REQUIRED)
    for key in ("mt_id", "subject_nr"):
        empty = raw[key].is_null()
        if empty.any():
            raise IngestError(path, f"is empty; expected a {REQUIRED[key]}", line=int(empty.arg_max()) + 2, column=key)
    frame = cast_numeric(raw, path, {"timestamps": "time in ms", "xpos": "x in px", "ypos": "y in px"})
    session_col = next((c for c in _SESSION_NAMES if c in frame.columns), None)
    frame = frame.with_columns(
        pl.col("subject_nr").str.strip_chars().alias("participant"),
        (pl.col(session_col).cast(pl.String) if session_col else pl.lit("s1")).alias("session"),
        pl.col("mt_id").str.strip_chars().alias("trial"),
    )
    _check_trial_ownership(frame, path)
    frame = check_time_order(frame, path, trial_key=["participant", "trial"], time_column="timestamps", duplicates=duplicates)
    samples = frame.select(
        pl.lit(study).alias("study"),
        "participant",
        "session",
        "trial",
        pl.col("timestamps").alias("t_ms"),
        pl.col("xpos").alias("x"),
        pl.col("ypos").alias("y"),
        pl.lit("move").alias("event"),
        pl.lit(0, dtype=pl.UInt8).alias("buttons"),
    )
    trials = _trial_table(frame, path, study=study, session_col=session_col)
    participants = trials.select("study", "participant").unique(maintain_order=True)
    return {"samples": samples, "trials": trials, "participants": participants}


def _check_trial_ownership(frame: pl.DataFrame, path: Path) -> None:
    owners = frame.group_by("trial").agg(pl.col("participant").n_unique().alias("n"))
    clash = owners.filter(pl.col("n") > 1)
    if clash.height:
        trial = clash["trial"][0]
        line = int((frame["trial"] == trial).arg_max()) + 2
        raise IngestError(path, f"trial id {trial!r} appears under more than one subject_nr; mt_id must be unique", line=line, column="mt_id")


def _trial_table(frame: pl.DataFrame, path: Path, *, study: str, session_col: str | None) -> pl.DataFrame:
    skip = set(REQUIRED) | DERIVED_SAMPLE_COLUMNS | {"participant", "session", "trial"} | ({session_col} if session_col else set())
    covariates = [c for c in frame.columns if c not in skip]
    key = ["participant", "session", "trial"]
    varying = (
        frame.group_by(key).agg(pl.col(c).n_unique().alias(c) for c in covariates).select(
            pl.col(c).max() for c in covariates
        )
        if covariates
        else pl.DataFrame()
    )
    per_trial = [c for c in covariates if varying[c][0] <= 1]
    trials = frame.group_by(key, maintain_order=True).agg(pl.col(c).first() for c in per_trial)
    trials = trials.with_columns(
        pl.lit(study).alias("study"),
        pl.int_range(1, pl.len() + 1).over(["participant", "session"]).cast(pl.Int32).alias("trial_index"),
    )
    renames = {}
    condition = next((c for c in _CONDITION_NAMES if c in per_trial), None)
    if condition:
        renames[condition] = "condition"
    if "count_trial" in per_trial:
        trials = trials.with_columns(pl.col("count_trial").cast(pl.Int32, strict=False).fill_null(pl.col("trial_index")).alias("trial_index"))
    for name in ("response", "stimulus"):
        if name in per_trial:
            renames[name] = name
    trials = trials.rename({k: v for k, v in renames.items() if k != v})
    if "correct" in trials.columns:
        trials = trials.with_columns(_as_bool(pl.col("correct")).alias("correct"))
    # the remaining covariates keep their names and are typed where they are clearly numeric
    extras = [c for c in trials.columns if c not in {"study", "trial_index", "condition", "response", "stimulus", "correct", *key}]
    trials = trials.with_columns(_narrow(trials[c]).alias(c) for c in extras)
    return trials


def _as_bool(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "true", "t", "yes"])).then(True)
        .when(text.is_in(["0", "false", "f", "no"])).then(False)
        .otherwise(None)
    )


def _narrow(series: pl.Series) -> pl.Series:
    """Cast a text covariate to Int64 or Float64 when every non-missing value parses as such."""
    for dtype in (pl.Int64, pl.Float64):
        cast = series.str.strip_chars().cast(dtype, strict=False)
        if cast.null_count() == series.null_count():
            return cast
    return series
