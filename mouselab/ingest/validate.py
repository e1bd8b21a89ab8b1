"""Row validation for every reader: each sample record is accepted or quarantined with one reason.

Readers hand :class:`Validator` batches of *candidate samples* (canonical columns, see
:data:`CANDIDATE_COLUMNS`) in file order. Rows a reader already found broken carry ``_reason`` (and
``_column`` / ``_value``); everything else is checked here, vectorised with Polars, in three stages:

A. **row-local**: identifiers (partition-safe participant id, non-empty session, no CSV-injection text),
   time and coordinates present, numeric and finite, no sentinel coordinates (65535 …), nothing beyond
   ``coordinate_limit_px`` (or beyond one extra monitor on each side of ``screen_px``). Negative
   coordinates are valid (multi-monitor desktops).
B. **time order** within a unit (participant, session, trial): an isolated forward spike of more than
   ``clock_jump_ms`` is a ``clock_jump``; a repeated timestamp is a ``duplicate_timestamp`` (with
   ``duplicates="remove_first"`` the *last* of equal timestamps is kept, as mousetrap's import does); a
   timestamp earlier than an accepted one is ``non_monotonic_timestamp``, or ``clock_jump`` when it is more
   than ``clock_jump_ms`` earlier.
C. **speed**: a sample that is reached *and* left faster than ``max_speed_px_per_ms`` (an isolated
   position spike) is ``impossible_speed``. A single fast step (the pointer warping to another place and
   staying there) is kept.

Stages B and C need the next sample of the unit. They look ahead within the *run* of consecutive
records of one unit (in a file whose trials or sessions are contiguous, a run is the whole unit); the last
candidate of a run still open at the end of a batch waits for the next batch, so results do not depend on
the batch size. Time order (stage B's running maximum) is carried across runs, batches and files.

Accepted rows come out in record order. Every record yields exactly one accepted row or one quarantine
row: this is what ``records_read = rows_stored + rows_quarantined`` in the ingest log counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import polars as pl

from mouselab.schema import QUARANTINE_REASONS, SAMPLE_EVENTS

#: Columns a reader's candidate batch holds (besides optional ``_``-prefixed helper columns).
CANDIDATE_COLUMNS = ("_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons")
#: Reason / column / offending value of rows a reader already rejected (null when fine so far).
REASON_COLUMNS = ("_reason", "_column", "_value")
UNIT = ["participant", "session", "trial"]
#: First characters that make spreadsheet programs evaluate a cell as a formula (OWASP CSV injection).
INJECTION_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Sentinel coordinates written by recorders that had no position (Windows / X11 / Java "unknown").
DEFAULT_SENTINELS = (65535.0, -65535.0, 65536.0, 32767.0, -32768.0, -32767.0, 2147483647.0, -2147483648.0)
PARTITION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


@dataclass(frozen=True)
class ValidationOptions:
    """Thresholds of the row checks (units in the names). Stored as JSON in the ingest log."""

    max_speed_px_per_ms: float = 30.0
    clock_jump_ms: float = 3_600_000.0
    coordinate_limit_px: float = 16_384.0
    screen_px: tuple[int, int] | None = None
    sentinels: tuple[float, ...] = DEFAULT_SENTINELS
    duplicates: str = "error"  # "error": keep the first of equal timestamps; "remove_first": keep the last

    def __post_init__(self) -> None:
        if self.duplicates not in ("error", "remove_first"):
            raise ValueError(f"duplicates must be 'error' or 'remove_first', not {self.duplicates!r}")
        for name in ("max_speed_px_per_ms", "clock_jump_ms", "coordinate_limit_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["sentinels"] = list(self.sentinels)
        out["screen_px"] = list(self.screen_px) if self.screen_px else None
        return out


def injection_expr(column: str) -> pl.Expr:
    """True where a text value looks like a spreadsheet formula (and is not simply a negative number)."""
    return _injection_on(pl.col(column))


def _injection_on(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.String)
    starts = pl.any_horizontal([text.str.starts_with(p) for p in INJECTION_PREFIXES])
    numeric = text.str.strip_chars().cast(pl.Float64, strict=False).is_not_null()
    return (starts & ~numeric).fill_null(False)


def flag(frame: pl.DataFrame, condition: pl.Expr, reason: str, column: str | pl.Expr, value: pl.Expr) -> pl.DataFrame:
    """Set ``_reason``/``_column``/``_value`` where ``condition`` holds and no reason is set yet."""
    return flag_rules(frame, [(condition, reason, column, value)])


Rule = tuple[pl.Expr, str, "str | pl.Expr", pl.Expr]


def flag_rules(frame: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """Apply rules in order (first matching rule wins, an existing reason is kept) in one pass.

    Conditions are evaluated once over the frame; the column and value texts are computed only for the
    (usually few) rows that match, so checking clean data costs one vectorised pass.
    """
    if not rules or frame.height == 0:
        return frame
    for _, reason, _, _ in rules:
        assert reason in QUARANTINE_REASONS, reason
    chain = pl.when(pl.col("_reason").is_not_null()).then(pl.lit(0, dtype=pl.Int32))
    for i, (cond, _, _, _) in enumerate(rules, start=1):
        chain = chain.when(cond.fill_null(False)).then(pl.lit(i, dtype=pl.Int32))
    rule = frame.select(chain.otherwise(None).alias("_rule")).to_series()
    hits = (rule > 0).fill_null(False)
    if not hits.any():
        return frame
    idx = hits.arg_true()
    sub = frame[idx].with_columns(rule.gather(idx).alias("_rule"))
    reason_e = pl.lit(None, dtype=pl.String)
    column_e = pl.lit(None, dtype=pl.String)
    value_e = pl.lit(None, dtype=pl.String)
    for i, (_, reason, column, value) in reversed(list(enumerate(rules, start=1))):
        here = pl.col("_rule") == i
        reason_e = pl.when(here).then(pl.lit(reason)).otherwise(reason_e)
        column_e = pl.when(here).then(pl.lit(column) if isinstance(column, str) else column.cast(pl.String)).otherwise(column_e)
        value_e = pl.when(here).then(value.cast(pl.String)).otherwise(value_e)
    sub = sub.select(reason_e.alias("_reason"), column_e.alias("_column"), value_e.alias("_value"))
    out = []
    for name in ("_reason", "_column", "_value"):
        series = frame[name].cast(pl.String).clone()
        series.scatter(idx, sub[name])
        out.append(series.alias(name))
    return frame.with_columns(out)


def bad_values(frame: pl.DataFrame, column: str, predicate: pl.Expr) -> list:
    """Distinct values of ``column`` for which ``predicate`` (over ``pl.col(column)``) holds — identifiers
    repeat, so checking their distinct values is far cheaper than checking every row."""
    if frame.height == 0:
        return []
    col = pl.col(column)
    if frame.select(col.eq_missing(col.first()).all()).item():
        uniq = frame.select(col.first())
    else:
        uniq = frame.select(col.unique())
    return uniq.filter(predicate.fill_null(False))[column].to_list()


def ensure_reason_columns(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REASON_COLUMNS if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else frame


def _fmt(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


@dataclass
class _Stage:
    """Per-unit carried state and the pending (undecided) row of a delay-one stage."""

    state: pl.DataFrame | None = None  # UNIT + scalars
    pending: pl.DataFrame | None = None  # 0 or 1 row


@dataclass
class Validator:
    """Stateful, vectorised validator for one ingest (state carries across batches and files)."""

    options: ValidationOptions = field(default_factory=ValidationOptions)

    def __post_init__(self) -> None:
        self._b = _Stage()
        self._c = _Stage()
        self._seq = 0

    # ------------------------------------------------------------------ public
    def process(
        self, batch: pl.DataFrame, *, raw: Callable[[pl.DataFrame], pl.Series] | None = None, final: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Validate one batch; returns ``(accepted, quarantined)``.

        ``accepted`` holds the batch columns (minus helper reason columns) in record order;
        ``quarantined`` holds ``_line, _column, reason, _value, _raw`` (plus ``_file`` when present).
        ``raw`` gives the raw text of rows (called for quarantined rows and for rows held back).
        ``final=True`` ends the file: held-back rows are decided with no next sample.
        """
        frame = ensure_reason_columns(batch).with_columns(
            pl.col("participant").cast(pl.String), pl.col("session").cast(pl.String), pl.col("trial").cast(pl.String),
            pl.col("t_ms").cast(pl.Float64), pl.col("x").cast(pl.Float64), pl.col("y").cast(pl.Float64),
            pl.col("event").cast(pl.String), pl.col("buttons").cast(pl.UInt8), pl.col("_line").cast(pl.Int64),
        )
        if "_raw" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_raw"))
        frame = frame.with_columns(pl.int_range(self._seq, self._seq + frame.height, dtype=pl.Int64).alias("_seq"))
        self._seq += frame.height
        frame = self._stage_a(frame)
        bad_a = frame["_reason"].is_not_null()
        if bad_a.any():
            failed_a, passed_a = frame.filter(bad_a), frame.filter(~bad_a)
        else:
            failed_a, passed_a = frame.clear(), frame
        pieces = self._runs(passed_a)
        good_parts, bad_parts = [], [failed_a]
        for i, piece in enumerate(pieces):
            # a run that is not the batch's last one is complete: its look-ahead ends with it
            end = final if i == len(pieces) - 1 else True
            decided_b, failed_b = self._delay_stage(self._b, piece, self._decide_b, raw=raw, final=end)
            decided_c, failed_c = self._delay_stage(self._c, decided_b, self._decide_c, raw=raw, final=end)
            good_parts.append(decided_c)
            bad_parts += [failed_b, failed_c]
        good_parts = [g for g in good_parts if g.height]
        accepted = (pl.concat(good_parts, how="diagonal_relaxed") if len(good_parts) > 1 else
                    good_parts[0] if good_parts else passed_a.clear())
        bad_parts = [b for b in bad_parts if b.height]
        quarantined = pl.concat(bad_parts, how="diagonal_relaxed") if bad_parts else failed_a
        quarantined = self._quarantine_rows(quarantined, raw)
        # accepted rows leave both stages in record order (held rows precede the next batch's rows)
        accepted = accepted.drop([c for c in ("_reason", "_column", "_value", "_raw", "_seq") if c in accepted.columns])
        return accepted, quarantined

    @staticmethod
    def _runs(rows: pl.DataFrame, max_runs: int = 16) -> list[pl.DataFrame]:
        """Split rows into runs of one unit when there are few (each then takes the fast single-unit path);
        many short runs (interleaved trials) are processed together, grouped by unit."""
        if rows.height == 0:
            return [rows]
        if rows.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first()).all() for c in UNIT])).item():
            return [rows]
        change = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift()) for c in UNIT]).fill_null(True)
        starts = rows.select(change.arg_true()).to_series().to_list()
        if len(starts) == 1 or len(starts) > max_runs:
            return [rows]
        bounds = starts + [rows.height]
        return [rows.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])]

    def finish(self, *, raw: Callable[[pl.DataFrame], pl.Series] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Decide every held-back row (end of a file). Unit state (time order) is kept."""
        if self._b.pending is None and self._c.pending is None:
            return pl.DataFrame(), pl.DataFrame()
        template = self._b.pending if self._b.pending is not None else self._c.pending
        return self.process(template.clear().drop(["_seq"]), raw=raw, final=True)

    # ------------------------------------------------------------------ stage A
    def _stage_a(self, frame: pl.DataFrame) -> pl.DataFrame:
        o = self.options
        rules: list[Rule] = []
        for name in ("participant", "session", "trial"):
            col = pl.col(name)
            injected = bad_values(frame, name, _injection_on(col))
            if injected:
                rules.append((col.is_in(injected), "csv_injection", name, col))
            if name == "participant":
                invalid = bad_values(frame, name, ~col.str.contains(PARTITION_PATTERN))
                rules.append((col.is_null() | col.is_in(invalid), "invalid_identifier", name, col))
            elif name == "session":
                invalid = bad_values(frame, name, (col.str.strip_chars() == "") | col.str.contains(r"[\x00-\x1f]"))
                rules.append((col.is_null() | col.is_in(invalid), "invalid_identifier", name, col))
            else:
                invalid = bad_values(frame, name, (col.str.strip_chars() == "") | col.str.contains(r"[\x00-\x1f]"))
                if invalid:
                    rules.append((col.is_in(invalid), "invalid_identifier", name, col))
        for name in ("t_ms", "x", "y"):
            rules.append((pl.col(name).is_null(), "missing_value", name, pl.lit(None, dtype=pl.String)))
            rules.append((~pl.col(name).is_finite(), "non_finite", name, _fmt(pl.col(name))))
        for name in ("x", "y"):
            rules.append((pl.col(name).is_in(list(o.sentinels)), "sentinel_coordinate", name, _fmt(pl.col(name))))
        if o.screen_px:
            w, h = o.screen_px
            bounds = {"x": (-w, 2 * w), "y": (-h, 2 * h)}
        else:
            bounds = {"x": (-o.coordinate_limit_px, o.coordinate_limit_px), "y": (-o.coordinate_limit_px, o.coordinate_limit_px)}
        for name, (lo, hi) in bounds.items():
            rules.append(((pl.col(name) < lo) | (pl.col(name) > hi), "out_of_screen", name, _fmt(pl.col(name))))
        bad_event = pl.col("event").is_null() | ~pl.col("event").is_in(list(SAMPLE_EVENTS))
        rules.append((bad_event, "unknown_event_code", "event", pl.col("event")))
        # clean data: one fused check (bounds reject NaN, null and every sentinel beyond them)
        fine = [pl.col("_reason").is_null(), pl.col("t_ms").is_finite().fill_null(False),
                pl.col("event").is_in(list(SAMPLE_EVENTS)).fill_null(False)]
        fine += [pl.col(n).is_between(lo, hi).fill_null(False) & ~pl.col(n).is_in([v for v in o.sentinels if lo <= v <= hi])
                 for n, (lo, hi) in bounds.items()]
        id_rules = [r for r in rules if r[2] in ("participant", "session", "trial")]
        if frame.lazy().select(pl.all_horizontal(fine).all()).collect().item() and not any(
                frame.select(r[0].any()).item() for r in id_rules):
            return frame
        return flag_rules(frame, rules)

    # ------------------------------------------------------------------ delay-one stages
    def _delay_stage(self, stage: _Stage, rows: pl.DataFrame, decide, *, raw, final: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Run ``decide`` over pending + ``rows``; hold back the last row of the run still open.

        A pending row whose unit is not the unit of the first new row ends its run: it is decided alone
        first, so the new rows keep the fast path."""
        if stage.pending is not None and rows.height and rows.select(UNIT).row(0) != stage.pending.select(UNIT).row(0):
            flushed_good, flushed_bad = self._delay_core(stage, rows.clear(), decide, raw=raw, final=True)
            good, bad = self._delay_core(stage, rows, decide, raw=raw, final=final)
            return (pl.concat([flushed_good, good], how="diagonal_relaxed"),
                    pl.concat([flushed_bad, bad], how="diagonal_relaxed"))
        return self._delay_core(stage, rows, decide, raw=raw, final=final)

    def _delay_core(self, stage: _Stage, rows: pl.DataFrame, decide, *, raw, final: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
        parts = [p for p in (stage.pending, rows) if p is not None and p.height]
        if not parts:
            return rows, rows
        keep = parts[-1].columns
        s = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
        single = s.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first()).all() for c in UNIT])).item()
        if single:
            s = s.with_columns(pl.lit(0, dtype=pl.UInt32).alias("_uid"), pl.lit(0, dtype=pl.UInt32).alias("_run"))
            if stage.state is not None and stage.state.height:
                unit = s.select(UNIT).row(0)
                match = stage.state.filter(pl.all_horizontal([pl.col(c).eq_missing(v) for c, v in zip(UNIT, unit)]))
                if match.height:
                    s = s.with_columns(pl.lit(v, dtype=match.schema[c]).alias(c)
                                       for c, v in match.drop(UNIT).row(0, named=True).items())
        else:
            uid = pl.struct(UNIT).rank("dense").cast(pl.UInt32)
            s = s.with_columns(uid.alias("_uid"))
            s = s.with_columns((pl.col("_uid") != pl.col("_uid").shift()).fill_null(True).cum_sum().cast(pl.UInt32).alias("_run"))
            if stage.state is not None and stage.state.height:
                s = s.join(stage.state, on=UNIT, how="left", nulls_equal=True, maintain_order="left")
        s = decide(s, single)
        n = s.height
        # the last row's decision waits for the next row of its run (the next batch), unless the file ends
        done, held = (s, s.clear()) if final else (s.slice(0, n - 1), s.slice(n - 1, 1))
        stage.state = self._new_state(done, stage.state, single)
        held = held.select(keep)
        if held.height:
            if raw is not None and held["_raw"].is_null().any():
                held = held.with_columns(pl.coalesce(pl.col("_raw"), raw(held)).alias("_raw"))
            stage.pending = held.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in REASON_COLUMNS)
        else:
            stage.pending = None
        failed = done["_reason"].is_not_null()
        if not failed.any():
            return done.select(keep), done.clear().select(keep)
        return done.filter(~failed).select(keep), done.filter(failed).select(keep)

    @staticmethod
    def _new_state(done: pl.DataFrame, old: pl.DataFrame | None, single: bool = False) -> pl.DataFrame | None:
        cols = [c for c in done.columns if c.startswith("_next_st_")]
        if done.height == 0:
            return old
        renamed = [pl.col(c).alias(c.replace("_next_st_", "_st_")) for c in cols]
        if single:
            last = done.tail(1).select(UNIT + renamed)
        else:
            last = done.group_by("_uid", maintain_order=True).agg(pl.col(UNIT).last(), *[e.last() for e in renamed]).drop("_uid")
        if old is None or old.height == 0:
            return last
        kept = old.join(last.select(UNIT), on=UNIT, how="anti", nulls_equal=True)
        return pl.concat([kept, last], how="vertical_relaxed")

    # ------------------------------------------------------------------ stage B: time order
    def _decide_b(self, s: pl.DataFrame, single: bool) -> pl.DataFrame:
        o = self.options
        jump = o.clock_jump_ms
        s = _with_state_columns(s, ("_st_pm", "_st_prev_t"))
        over_u = (lambda e: e) if single else (lambda e: e.over("_uid"))
        t = pl.col("t_ms")
        first_in_unit = over_u(pl.int_range(pl.len())) == 0
        prev_t = pl.when(first_in_unit).then(pl.col("_st_prev_t")).otherwise(over_u(t.shift()))
        next_t = t.shift(-1) if single else t.shift(-1).over("_run")
        spike = (((t - pl.col("_prev_t")) > jump) & ((t - pl.col("_next_t")) > jump)).fill_null(False)
        superseded = (t == pl.col("_next_t")).fill_null(False) if o.duplicates == "remove_first" else pl.lit(False)
        t_eff = pl.when(pl.col("_spike") | pl.col("_sup")).then(float("-inf")).otherwise(t)
        base = pl.col("_st_pm").fill_null(float("-inf"))
        pm = pl.col("_pm")
        rules = [
            (pl.col("_spike"), "clock_jump", "t_ms", _fmt(t)),
            (pl.col("_sup"), "duplicate_timestamp", "t_ms", _fmt(t)),
            (t == pm, "duplicate_timestamp", "t_ms", _fmt(t)),
            ((pm - t) > jump, "clock_jump", "t_ms", _fmt(t)),
            (t < pm, "non_monotonic_timestamp", "t_ms", _fmt(t)),
        ]
        # one lazy query: Polars fuses the steps and runs them in parallel
        s = (
            s.lazy()
            .with_columns(prev_t.alias("_prev_t"), next_t.alias("_next_t"))
            .with_columns(spike.alias("_spike"), superseded.alias("_sup"))
            .with_columns(pl.max_horizontal(base, over_u(t_eff.cum_max())).alias("_after_pm"))
            .with_columns(pl.when(first_in_unit).then(base).otherwise(over_u(pl.col("_after_pm").shift())).alias("_pm"))
            .with_columns(pl.any_horizontal([r[0] for r in rules]).alias("_bad"))
            .collect()
        )
        if s["_bad"].any():
            s = flag_rules(s, rules)
        return s.with_columns(
            pl.col("_after_pm").alias("_next_st_pm"), t.alias("_next_st_prev_t")
        ).drop(["_prev_t", "_next_t", "_spike", "_sup", "_after_pm", "_pm", "_st_pm", "_st_prev_t", "_bad"])

    # ------------------------------------------------------------------ stage C: isolated speed spikes
    def _decide_c(self, s: pl.DataFrame, single: bool) -> pl.DataFrame:
        """A sample is a spike when the step into it and the step out of it are both too fast."""
        vmax2 = self.options.max_speed_px_per_ms ** 2
        s = _with_state_columns(s, ("_st_t", "_st_x", "_st_y"))
        over_u = (lambda e: e) if single else (lambda e: e.over("_uid"))
        first_in_unit = over_u(pl.int_range(pl.len())) == 0
        x, y, t = pl.col("x"), pl.col("y"), pl.col("t_ms")

        def prev(c: str, n: pl.Expr) -> pl.Expr:
            return pl.when(first_in_unit).then(pl.col(f"_st_{c}")).otherwise(over_u(n.shift()))

        dx, dy, dt = x - prev("x", x), y - prev("y", y), t - prev("t", t)
        fast_in = (dx * dx + dy * dy) > vmax2 * dt * dt  # speed > vmax without a square root or division
        s = s.lazy().with_columns(fast_in.fill_null(False).alias("_fast")).collect()
        if s["_fast"].any():
            fast_out = pl.col("_fast").shift(-1) if single else pl.col("_fast").shift(-1).over("_run")
            s = flag_rules(s, [(pl.col("_fast") & fast_out, "impossible_speed", "x,y", pl.format("({}, {})", x, y))])
        return s.with_columns(t.alias("_next_st_t"), x.alias("_next_st_x"), y.alias("_next_st_y")).drop(
            ["_fast", "_st_t", "_st_x", "_st_y"]
        )

    # ------------------------------------------------------------------ output
    @staticmethod
    def _quarantine_rows(bad: pl.DataFrame, raw) -> pl.DataFrame:
        if bad.height == 0:
            return pl.DataFrame(schema={"_line": pl.Int64, "_column": pl.String, "reason": pl.String,
                                        "_value": pl.String, "_raw": pl.String})
        if raw is not None and bad["_raw"].is_null().any():
            bad = bad.with_columns(pl.coalesce(pl.col("_raw"), raw(bad)).alias("_raw"))
        cols = ["_line", "_column", pl.col("_reason").alias("reason"), "_value", "_raw"]
        if "_file" in bad.columns:
            cols.append("_file")
        return bad.sort("_seq").select(cols)


def _with_state_columns(s: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    missing = [c for c in names if c not in s.columns]
    return s.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in missing) if missing else s
