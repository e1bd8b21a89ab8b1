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

#: Why a row was quarantined on import: ``quarantine.reason`` is one of these codes (see the ingest docs).
QUARANTINE_REASONS: dict[str, str] = {
    "missing_value": "a required value (time, x or y) is empty",
    "non_numeric": "a time or coordinate value is not a number",
    "non_finite": "a time or coordinate value is NaN or infinite",
    "sentinel_coordinate": "a coordinate holds a sentinel such as 65535 (the recorder had no position)",
    "out_of_screen": "a coordinate lies beyond any plausible desktop (see coordinate_limit_px / screen_px)",
    "duplicate_timestamp": "the timestamp equals the previous accepted sample of the same trial/session",
    "non_monotonic_timestamp": "the timestamp is earlier than an accepted sample before it (a late sample, a "
                               "run of up to max_run_samples ahead of the clock, or the boundary of a step back)",
    "clock_jump": "the clock jumped by more than clock_jump_ms: a run of up to max_run_samples that comes back "
                  "(the whole run), or the boundary sample of a step that stays (the unit is split)",
    "impossible_speed": "a run of up to max_run_samples positions entered and left faster than "
                        "max_speed_px_per_ms (a spike or a teleport and back)",
    "unit_mismatch": "a stretch of timestamps in seconds or microseconds inside a file in milliseconds",
    "unknown_event_code": "an event / state / button code the format does not define",
    "truncated_line": "the line has fewer fields than the header",
    "extra_fields": "the line has more fields than the header",
    "malformed_record": "the record cannot be parsed (broken quoting, invalid JSON, bad array)",
    "encoding": "the line is not valid text in the file's encoding",
    "csv_injection": "a text field starts with =, +, -, @, tab or CR (spreadsheet formula injection)",
    "invalid_identifier": "a participant / session / trial id is empty or cannot name a partition",
    "array_length_mismatch": "x, y and time arrays of a trial have different lengths",
    "trial_id_conflict": "the trial id is already used by another participant or session",
    "empty_trajectory": "the trial holds no samples",
}

INGEST_LOG = Table(
    name="ingest_log",
    columns=(
        Column("study", pl.String(), "-", "study identifier (partition key)"),
        Column("source_file", pl.String(), "-", "absolute path of the ingested file"),
        Column("sha256", pl.String(), "-", "SHA-256 of the file's bytes"),
        Column("bytes", pl.Int64(), "B", "file size"),
        Column("format", pl.String(), "-", "reader used (mousetrap, balabit, generic, …)"),
        Column("records_read", pl.Int64(), "-", "source records read: lines, or samples of array formats"),
        Column("rows_stored", pl.Int64(), "-", "samples written to the store (rows of the file's table for mouselab files holding another table)"),
        Column("rows_quarantined", pl.Int64(), "-", "records written to the quarantine table"),
        Column("events", pl.Int64(), "-", "events written"),
        Column("trials", pl.Int64(), "-", "trials written"),
        Column("reasons", pl.String(), "-", "quarantined records per reason, as JSON"),
        Column("warnings", pl.String(), "-", "warnings raised while reading (e.g. detected time unit), newline-separated", True),
        Column("options", pl.String(), "-", "reader and validation options, as JSON"),
    ),
    partition_by=("study",),
    unit_key=("source_file",),
    sort_by=("source_file",),
    doc="one row per ingested file: what was read, stored and quarantined (records_read = rows_stored + "
    "rows_quarantined); deterministic, so re-ingesting the same file changes nothing",
)

#: Mouse-dynamics action kinds (Ahmed & Traore 2007): mouse move, point-click, drag-drop.
ACTION_KINDS = ("MM", "PC", "DD")


def _stat_columns(name: str, unit: str, doc: str) -> tuple[Column, ...]:
    return tuple(
        Column(f"{name}_{s}", pl.Float64(), unit, f"{label} of {doc} over the action's steps", True)
        for s, label in (("mean", "mean"), ("sd", "standard deviation"), ("min", "minimum"), ("max", "maximum"))
    )


ACTIONS = Table(
    name="actions",
    columns=_KEYS
    + (
        Column("session", pl.String(), "-", "session identifier"),
        Column("trial", pl.String(), "-", "trial identifier; null for free-use sessions", True),
        Column("action", pl.Int32(), "-", "1-based order of the action in its session (or trial)"),
        Column("type", pl.String(), "-", f"one of {', '.join(ACTION_KINDS)} (mouse move, point-click, drag-drop)"),
        Column("t_start_ms", pl.Float64(), "ms", "time of the action's first sample"),
        Column("t_end_ms", pl.Float64(), "ms", "time of the action's last sample"),
        Column("n_samples", pl.Int32(), "-", "samples in the action"),
        Column("start_x", pl.Float64(), "px", "x of the first sample"),
        Column("start_y", pl.Float64(), "px", "y of the first sample"),
        Column("end_x", pl.Float64(), "px", "x of the last sample"),
        Column("end_y", pl.Float64(), "px", "y of the last sample"),
        Column("button", pl.String(), "-", "left / right / middle for PC and DD actions", True),
        Column("duration_ms", pl.Float64(), "ms", "elapsed time, last minus first sample"),
        Column("distance_px", pl.Float64(), "px", "path length: sum of step lengths"),
        Column("displacement_px", pl.Float64(), "px", "straight-line distance first → last sample"),
        Column("straightness", pl.Float64(), "-", "displacement / distance (1 = straight; null when the cursor did not move)", True),
        Column("direction", pl.Int8(), "-", "direction of the displacement in 8 sectors of 45°, 0 = right, counter-clockwise on screen (y up)", True),
        Column("largest_deviation_px", pl.Float64(), "px", "largest perpendicular distance from the first–last line", True),
        Column("sum_of_angles", pl.Float64(), "rad", "sum of absolute direction changes between steps", True),
        Column("sharp_angles", pl.Int32(), "-", "direction changes sharper than 90°", True),
        Column("pauses", pl.Int32(), "-", "hesitations: still (no movement) for ≥ pause_ms inside the action", True),
        Column("acc_time_ms", pl.Float64(), "ms", "time from the action start to its peak speed (acceleration phase)", True),
    )
    + _stat_columns("vx", "px/s", "horizontal velocity")
    + _stat_columns("vy", "px/s", "vertical velocity (y down)")
    + _stat_columns("speed", "px/s", "speed (step length / step duration)")
    + _stat_columns("acc", "px/s^2", "acceleration (change of speed per time)")
    + _stat_columns("jerk", "px/s^3", "jerk (change of acceleration per time)")
    + _stat_columns("angular_velocity", "rad/s", "angular velocity (change of movement direction per time)")
    + _stat_columns("curvature", "rad/px", "curvature (change of movement direction per path length)"),
    partition_by=("study", "participant"),
    unit_key=("session",),
    sort_by=("session", "trial", "action"),
    doc="one row per mouse-dynamics action (MM / PC / DD) with its kinematic features, from mouselab.segmentation",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (SAMPLES, EVENTS, TRIALS, PARTICIPANTS, QUARANTINE, INGEST_LOG, ACTIONS)
}


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
