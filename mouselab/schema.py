"""The one data contract of mouselab: table names, column names, dtypes, units and conventions.

Conventions
-----------
* Samples are long and flat: one row per cursor sample, contiguous and time-sorted per trial.
* Coordinates ``x``, ``y`` are in screen pixels (px), origin top-left, y pointing **down**, as recorded.
  Negative values are valid (multi-monitor set-ups). Analysis helpers that need "y up" (e.g. mousetrap's
  ``remap_symmetric``) say so explicitly.
* Time ``t_ms`` is milliseconds (float64) since the start of the trial (trial data) or of the session
  (free-use data, ``trial`` is null).
* ``study`` and ``participant`` are the store's hive partition keys; ``participant`` is always a pseudonym.
* No keystrokes, no screen content and no raw window titles exist anywhere in this contract.

Every table is described by a :class:`Table` with its columns, its partition keys and its *unit key*: the
columns that identify one written unit. Writing a unit again replaces it (idempotent writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

SCHEMA_VERSION = 1

#: Event kinds allowed in ``samples.event`` (what produced the sample).
SAMPLE_EVENTS = ("move", "down", "up", "drag", "scroll")
#: Event kinds allowed in the ``events`` table.
EVENT_KINDS = ("click_down", "click_up", "scroll", "focus", "idle_start", "idle_end", "marker")


@dataclass(frozen=True)
class Column:
    """One column of the contract: name, Polars dtype, unit and meaning."""

    name: str
    dtype: pl.DataType
    unit: str
    doc: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One table of the store."""

    name: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...]
    unit_key: tuple[str, ...]
    sort_by: tuple[str, ...]
    doc: str
    allow_extra: bool = False  # extra columns kept as-is (e.g. study-specific trial covariates)
    extra_doc: str = field(default="")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


_KEYS = (
    Column("study", pl.String(), "-", "study identifier (hive partition key)"),
    Column("participant", pl.String(), "-", "pseudonymous participant id (hive partition key)"),
)

SAMPLES = Table(
    name="samples",
    columns=_KEYS
    + (
        Column("session", pl.String(), "-", "session identifier within the participant"),
        Column("trial", pl.String(), "-", "trial identifier; null for free-use (session) recordings", True),
        Column("t_ms", pl.Float64(), "ms", "time since trial start (or session start for free use)"),
        Column("x", pl.Float64(), "px", "cursor x, origin left, increasing to the right"),
        Column("y", pl.Float64(), "px", "cursor y, origin top, increasing downwards"),
        Column("event", pl.String(), "-", f"what produced the sample: one of {', '.join(SAMPLE_EVENTS)}"),
        Column("buttons", pl.UInt8(), "bitmask", "pressed buttons: 1 left, 2 right, 4 middle"),
    ),
    partition_by=("study", "participant"),
    unit_key=("session", "trial"),
    sort_by=("session", "trial", "t_ms"),
    doc="cursor samples, one row per sample",
)

EVENTS = Table(
    name="events",
    columns=_KEYS
    + (
        Column("session", pl.String(), "-", "session identifier"),
        Column("trial", pl.String(), "-", "trial identifier, null outside trials", True),
        Column("t_ms", pl.Float64(), "ms", "time of the event (same clock as samples)"),
        Column("kind", pl.String(), "-", f"one of {', '.join(EVENT_KINDS)}"),
        Column("button", pl.String(), "-", "left / right / middle for clicks", True),
        Column("x", pl.Float64(), "px", "cursor x at the event", True),
        Column("y", pl.Float64(), "px", "cursor y at the event", True),
        Column("dx", pl.Float64(), "wheel steps", "horizontal scroll amount, positive = right (browser WheelEvent convention)", True),
        Column("dy", pl.Float64(), "wheel steps", "vertical scroll amount, positive = down / content moves up (browser WheelEvent convention)", True),
        Column("duration_ms", pl.Float64(), "ms", "duration of idle periods", True),
        Column("app", pl.String(), "-", "focused application as keyed pseudonym or coarse category", True),
    ),
    partition_by=("study", "participant"),
    unit_key=("session",),
    sort_by=("session", "t_ms"),
    doc="discrete events: clicks, scrolls, window-focus changes, idle periods, markers",
)

TRIALS = Table(
    name="trials",
    columns=_KEYS
    + (
        Column("session", pl.String(), "-", "session identifier"),
        Column("trial", pl.String(), "-", "trial identifier, unique within the study"),
        Column("trial_index", pl.Int32(), "-", "1-based order of the trial in the session"),
        Column("condition", pl.String(), "-", "experimental condition", True),
        Column("stimulus", pl.String(), "-", "stimulus label", True),
        Column("start_x", pl.Float64(), "px", "start button centre x", True),
        Column("start_y", pl.Float64(), "px", "start button centre y", True),
        Column("target_x", pl.Float64(), "px", "chosen/correct target centre x", True),
        Column("target_y", pl.Float64(), "px", "target centre y", True),
        Column("target_w", pl.Float64(), "px", "target width", True),
        Column("target_h", pl.Float64(), "px", "target height", True),
        Column("response", pl.String(), "-", "the response given", True),
        Column("correct", pl.Boolean(), "-", "whether the response was correct", True),
    ),
    partition_by=("study", "participant"),
    unit_key=("session", "trial"),
    sort_by=("session", "trial_index", "trial"),
    doc="one row per trial: condition, stimulus, target geometry, response, correctness",
    allow_extra=True,
    extra_doc="study-specific trial covariates (e.g. mousetrap's Exemplar) are kept as extra columns",
)

PARTICIPANTS = Table(
    name="participants",
    columns=_KEYS
    + (
        Column("cohort", pl.String(), "-", "cohort / group label", True),
        Column("handedness", pl.String(), "-", "left / right / unknown", True),
        Column("age_band", pl.String(), "-", "coarse age band such as 25-34 (never a birth date)", True),
        Column("device", pl.String(), "-", "pointing device: mouse / touchpad / trackball", True),
    ),
    partition_by=("study", "participant"),
    unit_key=("participant",),
    sort_by=("participant",),
    doc="one row per participant: pseudonymous id and coarse cohort attributes",
)

QUARANTINE = Table(
    name="quarantine",
    columns=(
        Column("study", pl.String(), "-", "study identifier (partition key)"),
        Column("source_file", pl.String(), "-", "file the row came from"),
        Column("line", pl.Int64(), "-", "1-based line (or record) number in the source file", True),
        Column("column", pl.String(), "-", "offending column", True),
        Column("reason", pl.String(), "-", "why the row was quarantined"),
        Column("raw", pl.String(), "-", "the offending value(s) as text", True),
    ),
    partition_by=("study",),
    unit_key=("source_file",),
    sort_by=("source_file", "line"),
    doc="rows that did not enter the store, with file, line and reason",
)

TABLES: dict[str, Table] = {t.name: t for t in (SAMPLES, EVENTS, TRIALS, PARTICIPANTS, QUARANTINE)}


class SchemaError(ValueError):
    """A frame does not match the data contract. The message names table, column and expectation."""


def table(name: str) -> Table:
    """Return the :class:`Table` called ``name`` or raise a clear error."""
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; the store has: {', '.join(TABLES)}") from None


def conform(frame: pl.DataFrame, table_name: str) -> pl.DataFrame:
    """Return ``frame`` with the contract's column order and dtypes, adding missing nullable columns.

    Raises :class:`SchemaError` when a required column is missing, a value cannot be cast losslessly,
    a non-nullable column holds nulls or (for tables without extras) an unknown column is present.
    """
    spec = table(table_name)
    missing = [c.name for c in spec.columns if c.name not in frame.columns and not c.nullable]
    if missing:
        raise SchemaError(
            f"{table_name}: missing required column(s) {', '.join(missing)}; expected {', '.join(spec.names)}"
        )
    extra = [c for c in frame.columns if c not in spec.names]
    if extra and not spec.allow_extra:
        raise SchemaError(f"{table_name}: unexpected column(s) {', '.join(extra)}; expected {', '.join(spec.names)}")
    exprs = []
    for col in spec.columns:
        if col.name in frame.columns:
            exprs.append(pl.col(col.name).cast(col.dtype, strict=False).alias(col.name))
        else:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
    out = frame.select(exprs + [pl.col(c) for c in extra])
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        lost = out[col.name].is_null() & frame[col.name].is_not_null()
        if lost.any():
            row = int(lost.arg_max())
            raise SchemaError(
                f"{table_name}: column {col.name!r} row {row + 1}: value {frame[col.name][row]!r} "
                f"is not a valid {col.dtype} ({col.unit}: {col.doc})"
            )
        if not col.nullable and out[col.name].null_count():
            row = int(out[col.name].is_null().arg_max())
            raise SchemaError(f"{table_name}: column {col.name!r} row {row + 1} is empty; a value is required")
    for name in ("x", "y", "t_ms"):
        if name in spec.names and out.height:
            bad = ~out[name].is_finite()
            if spec.column(name).nullable:
                bad = bad & out[name].is_not_null()
            if bad.fill_null(False).any():
                row = int(bad.fill_null(False).arg_max())
                raise SchemaError(f"{table_name}: column {name!r} row {row + 1} is {out[name][row]}; a finite number is required")
    if "event" in spec.names:
        _check_in(out, table_name, "event", SAMPLE_EVENTS)
    if "kind" in spec.names:
        _check_in(out, table_name, "kind", EVENT_KINDS)
    return out


def _check_in(frame: pl.DataFrame, table_name: str, column: str, allowed: tuple[str, ...]) -> None:
    bad = ~frame[column].is_in(list(allowed))
    if bad.any():
        row = int(bad.arg_max())
        raise SchemaError(
            f"{table_name}: column {column!r} row {row + 1}: {frame[column][row]!r} is not one of {', '.join(allowed)}"
        )


def validate_samples_order(frame: pl.DataFrame, *, source: str = "samples") -> None:
    """Check that timestamps strictly increase within each (participant, session, trial).

    Raises :class:`SchemaError` naming the first offending row (1-based, in frame order).
    """
    keys = ["participant", "session", "trial"]
    step = pl.col("t_ms").diff().over(keys)
    bad = frame.with_row_index("__row").with_columns(step.alias("__dt")).filter(pl.col("__dt") <= 0)
    if bad.height:
        r = bad.row(0, named=True)
        kind = "duplicate" if r["__dt"] == 0 else "decreasing (unsorted)"
        raise SchemaError(
            f"{source}: row {r['__row'] + 1}, column 't_ms': {kind} timestamp {r['t_ms']} in trial {r['trial']!r} "
            f"of participant {r['participant']!r}; timestamps must strictly increase within a trial"
        )


def describe() -> str:
    """Markdown description of every table (used by docs and ``data/sample/README.md``)."""
    lines = []
    for t in TABLES.values():
        lines.append(f"### `{t.name}`\n\n{t.doc}. Partitioned by {', '.join(t.partition_by)}.\n")
        lines.append("| column | dtype | unit | meaning |\n|---|---|---|---|")
        for c in t.columns:
            lines.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {c.doc}{' (nullable)' if c.nullable else ''} |")
        if t.allow_extra:
            lines.append(f"\nExtra columns: {t.extra_doc}.")
        lines.append("")
    return "\n".join(lines)
