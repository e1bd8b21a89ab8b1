"""Row validation for every reader: each sample record is accepted or quarantined with one reason.

Readers hand :class:`Validator` batches of *candidate samples* (canonical columns, see
:data:`CANDIDATE_COLUMNS`) in file order. Rows a reader already found broken carry ``_reason`` (and
``_column`` / ``_value``); everything else is checked here, vectorised with Polars over whole batches, in
three stages. Thresholds are :class:`ValidationOptions` fields (written below as J = ``clock_jump_ms``,
default 3 600 000 ms; R = ``max_run_samples``, default 10 samples; V = ``max_speed_px_per_ms``, default
30 px/ms; S = ``min_step_ms``, default 0.1 ms). A *unit* is (participant, session, trial); its samples are
taken in record order, and "the previous sample" is the previous one of the unit that passed the earlier
stages (carried across batches and files).

A. **row-local**: identifiers (partition-safe participant id, non-empty session, no CSV-injection text),
   time and coordinates present, numeric and finite, no sentinel coordinates (65535 …), nothing beyond
   ``coordinate_limit_px`` (or beyond one extra monitor on each side of ``screen_px``). Negative
   coordinates are valid (multi-monitor desktops).

B. **time**, per unit, first the unit check, then the clock checks over the remaining samples:

   B1 ``unit_mismatch`` — a stretch of samples whose times are in seconds (factor f = 1000) or in
      microseconds (f = 1/1000) in a unit recorded in milliseconds (e.g. part of a file written by
      another logger). A step has two readings, raw (``t_i − t_prev``) and in the other unit
      (``f·t_i − t_prev``); a reading is *plausible* in [S, J] ms, and one reading is *closer* than another
      when it is plausible, within a factor 10 of the unit's previous positive step (its sampling
      interval) and nearer to it in log ratio. A stretch starts at sample i when the reading in the other
      unit is closer than the raw one, and the next sample confirms it: continuing the stretch
      (``f·(t_{i+1} − t_i)``) or coming back (``t_{i+1} − f·t_i``) is closer than continuing sample i raw.
      It ends at the first sample m for which coming back (``t_m − f·t_{m−1}``) is plausible and beats
      staying (``f·(t_m − t_{m−1})``, smaller wins); that sample starts no stretch of its own. Every
      sample of the stretch is quarantined, however long it is.
   B2 ``clock_jump`` (run) — 1 to R samples whose time is more than J away from the previous sample's,
      followed by a sample back within J of that previous sample: every sample of the run (an isolated
      spike forward or backward is a run of one).
   B3 ``clock_jump`` (step) — a jump of more than J, forward or backward, that does not come back within
      R samples: the clock was reset and stays shifted. Only the boundary sample (the first one after the
      jump) is quarantined; the unit is **split**: the samples after it are stored under session
      ``<session>~2`` (``~3`` after the next step, …), so that every stored session keeps a consistent,
      strictly increasing clock. The ingest log records each split as a warning.
   B4 backward steps and runs of at most J — at a drop (``t_k`` earlier than the previous sample that is
      not part of a B2 run) the samples before k that are later than ``t_k`` (the run *ahead*) and the
      samples from k on that are not later than that previous sample (the run *behind*) are counted, up to
      R + 1. The shorter run is wrong (ties: the run behind, i.e. late samples): a run ahead of at most R
      samples is ``non_monotonic_timestamp``; a run behind is quarantined by B5. When both runs are longer
      than R the clock stepped back by less than J and stays: the boundary sample k is
      ``non_monotonic_timestamp`` and the unit is split as in B3.
   B5 order against the accepted samples of the unit (its running maximum): a repeated timestamp is a
      ``duplicate_timestamp`` (with ``duplicates="remove_first"`` the *last* of equal timestamps is kept,
      as mousetrap's import does); an earlier one is ``non_monotonic_timestamp`` (``clock_jump`` when more
      than J earlier).

C. **speed**, per unit over the samples B accepted: a step is *fast* when the distance to the previous
   sample exceeds V times the time between them. ``impossible_speed`` is every sample of a run of 1 to R
   samples entered and left by a fast step with no fast step inside, provided that — for runs of two or
   more — the positions before and after the run are within V of each other (the pointer came back: a
   teleport there and back). A single fast step (the pointer warping to another place and staying there)
   is kept, and so are two warps that do not come back.

Stages B and C look ahead within the *run* of consecutive records of one unit (in a file whose trials or
sessions are contiguous, a run is the whole unit), never beyond it. At the end of a batch the tail of the
run still open is held back until the next batch: at least 2R + 4 samples, and more until a stretch free
of anomalies is reached, so that results do not depend on the batch size (a safety cap of
:data:`MAX_HELD_ROWS` rows ends the wait in pathological files). The unit state (time order, clock segment,
unit stretch, last position) is carried across runs, batches and files.

Accepted rows come out in record order. Every record yields exactly one accepted row or one quarantine
row: this is what ``records_read = rows_stored + rows_quarantined`` in the ingest log counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
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
#: Separator of the segment number in the session id of a unit split at a clock step (``s1~2``).
SPLIT_MARK = "~"
#: Rows of one open run held back at most while waiting for a stretch free of anomalies.
MAX_HELD_ROWS = 100_000


@dataclass(frozen=True)
class ValidationOptions:
    """Thresholds of the row checks (units in the names). Stored as JSON in the ingest log."""

    max_speed_px_per_ms: float = 30.0
    clock_jump_ms: float = 3_600_000.0
    coordinate_limit_px: float = 16_384.0
    screen_px: tuple[int, int] | None = None
    sentinels: tuple[float, ...] = DEFAULT_SENTINELS
    duplicates: str = "error"  # "error": keep the first of equal timestamps; "remove_first": keep the last
    max_run_samples: int = 10  # longest run of bad samples recognised as a run (clock, position); see B2–B4, C
    min_step_ms: float = 0.1  # shortest plausible step between two samples (recognises seconds / µs, B1)

    def __post_init__(self) -> None:
        if self.duplicates not in ("error", "remove_first"):
            raise ValueError(f"duplicates must be 'error' or 'remove_first', not {self.duplicates!r}")
        for name in ("max_speed_px_per_ms", "clock_jump_ms", "coordinate_limit_px", "min_step_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not (isinstance(self.max_run_samples, int) and 1 <= self.max_run_samples <= 1000):
            raise ValueError(f"max_run_samples must be an integer from 1 to 1000, got {self.max_run_samples!r}")
        if not self.min_step_ms < self.clock_jump_ms:
            raise ValueError("min_step_ms must be smaller than clock_jump_ms")

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


def flag_codes(frame: pl.DataFrame, codes: np.ndarray, reasons: list[str], column: str, value: pl.Expr) -> pl.DataFrame:
    """Set ``_reason``/``_column``/``_value`` where ``codes`` (one per row: 0 = fine, k = ``reasons[k - 1]``)
    flag a row that has no reason yet. For rules whose conditions are already computed as columns: only the
    (usually few) flagged rows are touched."""
    idx = np.flatnonzero(codes)
    if not len(idx):
        return frame
    sub = frame[idx].select(pl.col("_reason").is_null().alias("_free"), value.cast(pl.String).alias("_v"))
    free = sub["_free"].to_numpy()
    idx, values = idx[free], sub["_v"].filter(sub["_free"])
    if not len(idx):
        return frame
    names = [reasons[k - 1] for k in codes[idx].tolist()]
    for name in set(names):
        assert name in QUARANTINE_REASONS, name
    out = []
    for name, data in (("_reason", pl.Series(names, dtype=pl.String)), ("_column", pl.Series([column] * len(idx), dtype=pl.String)),
                       ("_value", values)):
        series = frame[name].cast(pl.String).clone()
        series.scatter(idx, data)
        out.append(series.alias(name))
    return frame.with_columns(out)


def _codes(flags: pl.DataFrame) -> np.ndarray:
    """Per row, 1 + the index of the first true column of ``flags`` (0 when none is)."""
    codes = np.zeros(flags.height, dtype=np.int16)
    for k in range(flags.width, 0, -1):
        codes[flags[:, k - 1].to_numpy()] = k
    return codes


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
    """Per-unit carried state and the pending (held back, undecided) rows of a stage."""

    lookahead: int  # rows a decision may look ahead within a run
    lookback: int  # rows after an anomaly before the state is clean again
    state: pl.DataFrame | None = None  # UNIT + scalars
    pending: pl.DataFrame | None = None  # the held tail of the open run


@dataclass
class Validator:
    """Stateful, vectorised validator for one ingest (state carries across batches and files)."""

    options: ValidationOptions = field(default_factory=ValidationOptions)

    def __post_init__(self) -> None:
        r = self.options.max_run_samples
        self._b = _Stage(lookahead=2 * r + 4, lookback=r + 3)
        self._c = _Stage(lookahead=r + 2, lookback=r + 2)
        self._seq = 0
        self._notes: list[str] = []
        self._one_unit = False  # set by stage A: the batch holds one unit

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
        pieces, single = ([passed_a], True) if self._one_unit else self._runs(passed_a)
        good_parts, bad_parts = [], [failed_a]
        for i, piece in enumerate(pieces):
            # a run that is not the batch's last one is complete: its look-ahead ends with it
            end = final if i == len(pieces) - 1 else True
            decided_b, failed_b = self._delay_stage(self._b, piece, self._decide_b, raw=raw, final=end, single=single)
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
    def _runs(rows: pl.DataFrame, max_runs: int = 16) -> tuple[list[pl.DataFrame], bool]:
        """Split rows into runs of one unit when there are few (each then takes the fast single-unit path);
        many short runs (interleaved trials) are processed together, grouped by unit. The flag says whether
        every piece holds one unit."""
        if rows.height == 0:
            return [rows], True
        if rows.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).first()).all() for c in UNIT])).item():
            return [rows], True
        change = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift()) for c in UNIT]).fill_null(True)
        starts = rows.select(change.arg_true()).to_series().to_list()
        if len(starts) == 1 or len(starts) > max_runs:
            return [rows], len(starts) == 1
        bounds = starts + [rows.height]
        return [rows.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])], True

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
        ids = ("participant", "session", "trial")
        # identifiers repeat: check their distinct values (one pass finds the columns that are constant)
        constant = frame.select(pl.col(n).eq_missing(pl.col(n).first()).all() for n in ids).row(0) if frame.height else (True,) * 3
        self._one_unit = all(constant)
        for name, same in zip(ids, constant):
            col = pl.col(name)
            uniq = frame.select(col.first() if same else col.unique())
            if name == "participant":
                invalid_expr = ~col.str.contains(PARTITION_PATTERN)
            else:
                invalid_expr = (col.str.strip_chars() == "") | col.str.contains(r"[\x00-\x1f]")
            checked = uniq.select(col, _injection_on(col).alias("_inj"), invalid_expr.fill_null(False).alias("_inv"))
            injected = checked.filter(pl.col("_inj"))[name].to_list()
            if injected:
                rules.append((col.is_in(injected), "csv_injection", name, col))
            invalid = checked.filter(pl.col("_inv"))[name].to_list()
            missing = name != "trial" and checked[name].null_count() > 0  # a trial may be empty (free use)
            if invalid or missing:
                rules.append((col.is_in(invalid) | (col.is_null() if missing else pl.lit(False)), "invalid_identifier",
                              name, col))
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
        id_rules = [r for r in rules if r[2] in ids]  # present only when some identifier is bad
        if not id_rules and frame.lazy().select(pl.all_horizontal(fine).all()).collect().item():
            return frame
        return flag_rules(frame, rules)

    # ------------------------------------------------------------------ held-back stages
    def _delay_stage(self, stage: _Stage, rows: pl.DataFrame, decide, *, raw, final: bool, single: bool = False
                     ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Run ``decide`` over the held rows + ``rows``; hold back the undecided tail of the run still open.

        Held rows whose unit is not the unit of the first new row end their run: they are decided alone
        first, so the new rows keep the fast path."""
        if stage.pending is not None and rows.height and rows.select(UNIT).row(0) != stage.pending.select(UNIT).row(0):
            flushed_good, flushed_bad = self._delay_core(stage, rows.clear(), decide, raw=raw, final=True)
            good, bad = self._delay_core(stage, rows, decide, raw=raw, final=final, single=single)
            return (pl.concat([flushed_good, good], how="diagonal_relaxed"),
                    pl.concat([flushed_bad, bad], how="diagonal_relaxed"))
        return self._delay_core(stage, rows, decide, raw=raw, final=final, single=single)

    def _delay_core(self, stage: _Stage, rows: pl.DataFrame, decide, *, raw, final: bool, single: bool = False
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``single=True`` promises that ``rows`` hold one unit (held rows are the tail of one run, of the
        same unit when they get here)."""
        parts = [p for p in (stage.pending, rows) if p is not None and p.height]
        if not parts:
            return rows, rows
        keep = parts[-1].columns
        s = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
        if not single or not rows.height:
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
        if final:
            cut = n
        else:  # the open run is the batch's last one; decide it up to a stretch free of anomalies
            last = 0 if single else n - int((s["_run"] == s["_run"][-1]).sum())
            cut = last + _quiet_cut(s["_strong"].slice(last), s["_weak"].slice(last),
                                    lookahead=stage.lookahead, lookback=stage.lookback)
        done, held = s.slice(0, cut), s.slice(cut)
        stage.state = self._new_state(done, stage.state, single)
        if "_seg" in done.columns:
            done = self._apply_splits(done)
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
        cols = sorted(c for c in done.columns if c.startswith("_next_st_"))
        if done.height == 0:
            return old
        renamed = [pl.col(c).alias(c.replace("_next_st_", "_st_")) for c in cols]
        if single:
            last = done.tail(1).select(UNIT + renamed)
        else:
            last = done.group_by("_uid", maintain_order=True).agg(pl.col(UNIT).last(), *[e.last() for e in renamed]).drop("_uid")
        if old is None or old.height == 0:
            return last
        if old.height == 1 and last.height == 1 and old.select(UNIT).row(0) == last.select(UNIT).row(0):
            return last
        kept = old.join(last.select(UNIT), on=UNIT, how="anti", nulls_equal=True)
        return pl.concat([kept, last], how="vertical_relaxed")

    def _apply_splits(self, done: pl.DataFrame) -> pl.DataFrame:
        """Session ids of samples after a clock step (``s1~2``), and a note for the ingest log per step."""
        splits = done.filter(pl.col("_split"))
        for row in splits.iter_rows(named=True):
            new = f"{row['session']}{SPLIT_MARK}{row['_seg'] + 1}"
            where = f"line {row['_line']}" if row["_line"] is not None else "a sample"
            unit = f"participant {row['participant']}, session {row['session']}" + (
                f", trial {row['trial']}" if row["trial"] is not None else "")
            self._notes.append(f"{where} ({unit}): the clock stepped to {row['t_ms']:.10g} ms and stayed there "
                               f"({row['_reason']}); the samples after it are stored as session {new!r}")
        if done.select((pl.col("_seg") > 0).any()).item():
            renamed = pl.concat_str([pl.col("session"), pl.lit(SPLIT_MARK), (pl.col("_seg") + 1).cast(pl.String)])
            done = done.with_columns(pl.when(pl.col("_seg") > 0).then(renamed).otherwise(pl.col("session")).alias("session"))
        return done

    def take_notes(self) -> list[str]:
        """Messages about unit splits (clock steps) since the last call, for the ingest log's warnings."""
        notes, self._notes = self._notes, []
        return notes

    # ------------------------------------------------------------------ stage B: time
    def _decide_b(self, s: pl.DataFrame, single: bool) -> pl.DataFrame:
        o = self.options
        J, S = o.clock_jump_ms, o.min_step_ms
        s = _with_state_columns(s, _B_STATE)
        U = _over(single, "_uid")
        t = pl.col("t_ms")
        first_u = U(pl.int_range(pl.len())) == 0
        tp = pl.when(first_u).then(pl.col("_st_raw_t")).otherwise(U(t.shift(1)))
        dt = pl.col("_dt")
        # the unit's previous positive step: the scale a reading of a step is judged against (B1)
        ref = U(pl.when(dt > 0).then(dt).shift(1).forward_fill()).fill_null(pl.col("_st_step"))
        s = s.lazy().with_columns(tp.alias("_tp")).with_columns((t - pl.col("_tp")).alias("_dt")).collect()
        tp = pl.col("_tp")
        quick = s.select(
            (pl.col("_st_mode").fill_null(0.0) != 0.0).any().alias("stretch"),
            ((dt < S) | (dt > J)).fill_null(False).any().alias("step"),
            (first_u & (t <= pl.col("_st_pm"))).fill_null(False).any().alias("order"),
            # a step read in seconds or microseconds is plausible at all (rare on a millisecond clock)
            (_plausible(1000.0 * t - tp, S, J) | _plausible(1e-3 * t - tp, S, J)).fill_null(False).any().alias("scaled"),
        ).row(0)
        s = s.with_columns(ref.alias("_ref_step")) if quick[3] else s.with_columns(pl.lit(None, dtype=pl.Float64)
                                                                                   .alias("_ref_step"))
        if quick[3] and not quick[0]:
            quick = (s.select(pl.any_horizontal([_starts_stretch(f, dt, pl.col("_ref_step"), S, J).fill_null(False).any()
                                                 for f in (1000.0, 1e-3)])).item(), *quick[1:3])
        else:
            quick = quick[:3]
        if not any(quick):  # clean, strictly increasing time: every row is accepted
            seg = pl.col("_st_seg").fill_null(0)
            return s.with_columns(
                pl.lit(False).alias("_strong"), pl.lit(False).alias("_weak"), pl.lit(False).alias("_split"),
                seg.alias("_seg"), seg.alias("_next_st_seg"), t.alias("_next_st_raw_t"), t.alias("_next_st_clock_t"),
                t.alias("_next_st_ref_t"), t.alias("_next_st_pm"), pl.lit(0.0).alias("_next_st_mode"),
                dt.fill_null(pl.col("_st_step")).alias("_next_st_step"),
            ).drop([*_B_STATE, "_tp", "_dt", "_ref_step"])
        s = s.drop("_dt")
        return self._decide_b_full(s, single, stretch=quick[0])

    def _decide_b_full(self, s: pl.DataFrame, single: bool, *, stretch: bool) -> pl.DataFrame:
        o = self.options
        J, S = o.clock_jump_ms, o.min_step_ms
        U, Rn = _over(single, "_uid"), _over(single, "_run")
        t, tp = pl.col("t_ms"), pl.col("_tp")
        dt = t - tp
        first_u = U(pl.int_range(pl.len())) == 0
        state_mode = pl.col("_st_mode").fill_null(0.0)

        step_state = U(pl.when(dt > 0).then(dt).forward_fill()).fill_null(pl.col("_st_step")).alias("_next_st_step")
        if not stretch:  # no sample could start a stretch in another unit, and none is open: B2–B5 only
            clock = self._clock(s.select("_seq", "t_ms", "_uid", "_run", "_st_clock_t", "_st_ref_t", "_st_pm", "_st_seg"),
                                single)
            s = s.drop(REASON_COLUMNS).hstack(clock.drop("_seq"))
            reason = pl.col("_reason")
            s = s.with_columns(
                pl.col("_c_clock_t").alias("_next_st_clock_t"), pl.col("_c_ref_t").alias("_next_st_ref_t"),
                pl.col("_c_pm").alias("_next_st_pm"),
                pl.col("_c_seg").alias("_next_st_seg"), pl.col("_c_seg").alias("_seg"), pl.col("_c_split").alias("_split"),
                t.alias("_next_st_raw_t"), pl.lit(0.0).alias("_next_st_mode"), step_state,
                (((dt < 0) | (dt > J) | (reason.is_not_null() & (reason != "duplicate_timestamp")))
                 | (first_u & (t <= pl.col("_st_pm")))).fill_null(False).alias("_strong"),
                (((dt >= 0) & (dt < S)) | (reason == "duplicate_timestamp")).fill_null(False).alias("_weak"),
            )
            return s.drop([c for c in s.columns if c.startswith("_c_")] + [*_B_STATE, "_tp", "_ref_step"])

        # B1: stretches in another time unit (a small state machine: enter / exit events, forward-filled)
        tn = Rn(t.shift(-1))
        cols = []
        ref = pl.col("_ref_step")
        for f, tag in ((1000.0, "s"), (1e-3, "us")):
            cand = _starts_stretch(f, dt, ref, S, J)
            n_raw, n_stay, n_back = tn - t, f * (tn - t), tn - f * t
            conf = _closer(n_stay, n_raw, ref, S, J) | _closer(n_back, n_raw, ref, S, J)
            enter = (cand & conf).fill_null(False)
            stay, back = f * dt, t - f * tp
            leave = (_plausible(back, S, J) & (~_plausible(stay, S, J) | (back < stay))).fill_null(False)
            cols += [enter.alias(f"_en_{tag}"), leave.alias(f"_ex_{tag}")]
        s = s.with_columns(cols)

        def inside(f: float, tag: str, enter: pl.Expr) -> pl.Expr:
            event = pl.when(pl.col(f"_ex_{tag}")).then(pl.lit(0, dtype=pl.Int8)).when(enter).then(pl.lit(1, dtype=pl.Int8))
            return (U(event.forward_fill()).fill_null((state_mode == f).cast(pl.Int8)) == 1).alias(f"_in_{tag}")

        s = s.with_columns(inside(1000.0, "s", pl.col("_en_s")), inside(1e-3, "us", pl.col("_en_us")))
        # the sample that ends a stretch continues the clock: it does not start a stretch in the other unit
        ends = {tag: pl.col(f"_ex_{tag}") & pl.when(first_u).then(state_mode == f).otherwise(U(pl.col(f"_in_{tag}").shift(1)))
                for f, tag in ((1000.0, "s"), (1e-3, "us"))}
        s = s.with_columns((pl.col("_en_s") & ~ends["us"].fill_null(False)).alias("_en_s"),
                           (pl.col("_en_us") & ~ends["s"].fill_null(False)).alias("_en_us"))
        s = s.with_columns(inside(1000.0, "s", pl.col("_en_s")), inside(1e-3, "us", pl.col("_en_us")))
        mode = pl.when(pl.col("_in_s")).then(1000.0).when(pl.col("_in_us")).then(1e-3).otherwise(0.0)
        s = s.with_columns(mode.alias("_mode"))
        prev_mode = pl.when(first_u).then(state_mode).otherwise(U(pl.col("_mode").shift(1)))
        s = s.with_columns((pl.col("_en_s") | pl.col("_en_us") | (pl.col("_ex_s") & (prev_mode == 1000.0))
                            | (pl.col("_ex_us") & (prev_mode == 1e-3))).alias("_strong_mode"))

        # B2–B5 over the samples on the unit's clock
        clock = self._clock(s.filter(pl.col("_mode") == 0.0).select(
            "_seq", "t_ms", "_uid", "_run", "_st_clock_t", "_st_ref_t", "_st_pm", "_st_seg"), single)
        s = s.drop(REASON_COLUMNS).join(clock, on="_seq", how="left", maintain_order="left")
        s = flag_codes(s, (s["_mode"] != 0.0).to_numpy().astype(np.int16), ["unit_mismatch"], "t_ms", _fmt(t))
        reason = pl.col("_reason")
        on_clock = pl.col("_mode") == 0.0
        carried = [  # rows of a unit stretch carry the clock state of the samples before them
            U(pl.col(f"_c_{name}").forward_fill()).fill_null(pl.col(f"_st_{name}")).alias(f"_next_st_{name}")
            for name in ("clock_t", "ref_t", "pm", "seg")
        ]
        s = s.with_columns(
            carried + [
                t.alias("_next_st_raw_t"), pl.col("_mode").alias("_next_st_mode"), step_state,
                ((on_clock & ((dt < 0) | (dt > J) | (reason.is_not_null() & (reason != "duplicate_timestamp"))))
                 | pl.col("_strong_mode") | (first_u & (t <= pl.col("_st_pm")))).fill_null(False).alias("_strong"),
                (((dt >= 0) & (dt < S)) | (reason == "duplicate_timestamp")).fill_null(False).alias("_weak"),
                pl.col("_c_split").fill_null(False).alias("_split"),
            ]
        )
        s = s.with_columns(pl.col("_next_st_seg").fill_null(0).alias("_seg"))
        return s.drop([c for c in s.columns if c.startswith(("_c_", "_en_", "_ex_", "_in_"))]
                      + [*_B_STATE, "_tp", "_ref_step", "_mode", "_strong_mode"])

    def _clock(self, c: pl.DataFrame, single: bool) -> pl.DataFrame:
        """B2–B5 over the samples of units on their own clock (``c``: ``_seq, t_ms, _uid, _run`` + state).

        Returns ``_seq``, the reason columns, ``_c_split`` and the state after each row (``_c_clock_t``,
        ``_c_pm``, ``_c_seg``)."""
        o = self.options
        J, R = o.clock_jump_ms, o.max_run_samples
        U = _over(single, "_uid")
        t = pl.col("t_ms")
        false = pl.lit(False)
        first_u = U(pl.int_range(pl.len())) == 0
        c = c.with_columns(pl.when(first_u).then(pl.col("_st_clock_t")).otherwise(U(t.shift(1))).alias("_tpc"))
        c = c.with_columns(((t - pl.col("_tpc")).abs() > J).fill_null(False).alias("_big"))

        # B2 / B3: jumps of more than J that come back within R samples (runs) or not (steps)
        if c["_big"].any():
            def excursions(a: dict, shift) -> dict:
                t_, tpc = a["t_ms"], a["_tpc"]
                lret = _first_true_np([np.abs(shift(t_, -k) - tpc) <= J for k in range(1, R + 1)])
                # a jump inside another run, or coming back from it, starts no run of its own
                start = _greedy_starts(a["_big"] & (lret > 0), lret, shift, R)
                return {"_member": _any_np([shift(start, k) & (shift(lret, k) > k) for k in range(R)], len(t_)),
                        "_comeback": _any_np([shift(start, k) & (shift(lret, k) == k) for k in range(1, R + 1)], len(t_))}

            member, comeback = _in_windows(c.select("t_ms", "_tpc", "_big", "_run"), c["_big"], 2 * R + 2,
                                           excursions, ["_member", "_comeback"])
            c = c.with_columns(pl.Series("_member", member), pl.Series("_comeback", comeback))
            c = c.with_columns((pl.col("_big") & ~pl.col("_member") & ~pl.col("_comeback")).alias("_bigstep"))
        else:
            c = c.with_columns(false.alias("_member"), false.alias("_bigstep"))

        # B4: drops of at most J, on the samples left (runs and step boundaries removed); a sample is compared
        # with the previous one that is not part of a run (a step boundary is the first of the new clock)
        seg_b = U(pl.col("_bigstep").cum_sum()).cast(pl.Int32)
        ref = pl.when(pl.col("_member")).then(None).otherwise(t)
        c = c.with_columns(seg_b.alias("_segb"), U(ref.shift(1).forward_fill()).fill_null(pl.col("_st_ref_t")).alias("_prev"),
                           U(ref.forward_fill()).fill_null(pl.col("_st_ref_t")).alias("_c_ref_t"))
        removed = c.select(pl.col("_member") | pl.col("_bigstep")).to_series()
        d = c.select("_seq", "t_ms", "_uid", "_run", "_segb", "_prev")
        if removed.any():
            d = d.filter(~removed)
        groups = bool(c["_bigstep"].any()) or not single
        G = (lambda e: e.over(["_run", "_segb"])) if groups else (lambda e: e)
        d = d.with_columns((t < pl.col("_prev")).fill_null(False).alias("_drop"))
        superseded = ((G(t.shift(-1)) == t).fill_null(False) if o.duplicates == "remove_first" else false)
        if d["_drop"].any():
            d = d.with_columns(G(pl.int_range(pl.len())).alias("_pos"),
                               G(pl.col("_prev").first()).alias("_hist"))  # the sample before the group

            def drops(a: dict, shift) -> dict:
                t_, prev_, n_ = a["t_ms"], a["_prev"], len(a["t_ms"])
                ahead = _prefix_count_np([shift(t_, q) > t_ for q in range(1, R + 2)], n_)
                behind = _prefix_count_np([shift(t_, -q) <= prev_ for q in range(0, R + 1)], n_)
                # an ahead run reaching back into samples already decided cannot be taken back: count it as long
                ahead = np.where((ahead == a["_pos"]) & (a["_hist"] > t_), R + 1, ahead)
                drop = a["_drop"]
                small = drop & (ahead > R) & (behind > R)
                alen = np.where(drop & ~small & (ahead < behind), ahead, 0)
                return {"_smallstep": small, "_aheadrun": _any_np([shift(alen, -j) >= j for j in range(1, R + 1)], n_)}

            keys = ["_run", "_segb"] if groups else []
            small, ahead = _in_windows(d.select("t_ms", "_prev", "_drop", "_pos", "_hist", *keys), d["_drop"], R + 2,
                                       drops, ["_smallstep", "_aheadrun"], keys=keys)
            d = d.with_columns(pl.Series("_smallstep", small), pl.Series("_aheadrun", ahead))
        else:
            d = d.with_columns(false.alias("_smallstep"), false.alias("_aheadrun"))
        d = d.with_columns(superseded.alias("_sup")).select("_seq", "_smallstep", "_aheadrun", "_sup")
        if d.height == c.height:
            c = c.hstack(d.drop("_seq"))
        else:
            c = c.join(d, on="_seq", how="left", maintain_order="left").with_columns(
                pl.col("_smallstep", "_aheadrun", "_sup").fill_null(False))

        # B5: order against the running maximum of accepted samples, per clock segment
        step = pl.col("_bigstep") | pl.col("_smallstep")
        steps = bool(c.select(step.any()).item())
        G2 = (lambda e: e.over(["_uid", "_segl"])) if (steps or not single) else (lambda e: e)
        base = pl.when(pl.col("_segl") == 0).then(pl.col("_st_pm").fill_null(float("-inf"))).otherwise(float("-inf"))
        skip = pl.col("_member") | step | pl.col("_aheadrun") | pl.col("_sup")
        t_eff = pl.when(skip).then(float("-inf")).otherwise(t)
        c = (c.lazy().with_columns(U(step.cum_sum()).cast(pl.Int32).alias("_segl"))
             .with_columns(base.alias("_base"))
             .with_columns(pl.max_horizontal(pl.col("_base"), G2(t_eff.cum_max())).alias("_after"))
             .with_columns(pl.when(G2(pl.int_range(pl.len())) == 0).then(pl.col("_base"))
                           .otherwise(G2(pl.col("_after").shift())).alias("_pm"))
             .collect())
        pm = pl.col("_pm")
        codes = _codes(c.select(  # the first matching rule wins
            pl.col("_member"), pl.col("_bigstep"), pl.col("_smallstep"), pl.col("_aheadrun"), pl.col("_sup"),
            (t == pm).fill_null(False).alias("_dup"), ((pm - t) > J).fill_null(False).alias("_far"),
            (t < pm).fill_null(False).alias("_late")))
        c = flag_codes(ensure_reason_columns(c), codes, [
            "clock_jump", "clock_jump", "non_monotonic_timestamp", "non_monotonic_timestamp", "duplicate_timestamp",
            "duplicate_timestamp", "clock_jump", "non_monotonic_timestamp"], "t_ms", _fmt(t))
        return c.select(
            "_seq", *REASON_COLUMNS, step.alias("_c_split"), t.alias("_c_clock_t"), "_c_ref_t", pl.col("_after").alias("_c_pm"),
            (pl.col("_st_seg").fill_null(0) + pl.col("_segl")).cast(pl.Int32).alias("_c_seg"),
        )

    # ------------------------------------------------------------------ stage C: speed
    def _decide_c(self, s: pl.DataFrame, single: bool) -> pl.DataFrame:
        """Runs of 1..R samples entered and left by a fast step (see the module doc, C)."""
        R = self.options.max_run_samples
        vmax2 = self.options.max_speed_px_per_ms ** 2
        s = _with_state_columns(s, _C_STATE)
        U = _over(single, "_uid")
        first_u = U(pl.int_range(pl.len())) == 0
        x, y, t = pl.col("x"), pl.col("y"), pl.col("t_ms")

        def prev(c: str, n: pl.Expr) -> pl.Expr:
            return pl.when(first_u).then(pl.col(f"_st_{c}")).otherwise(U(n.shift()))

        px, py, pt = prev("x", x), prev("y", y), prev("t", t)
        fast = ((x - px) ** 2 + (y - py) ** 2) > vmax2 * (t - pt) ** 2  # speed > vmax without a square root
        s = s.lazy().with_columns(fast.fill_null(False).alias("_fast")).collect()
        if s["_fast"].any():
            def runs(a: dict, shift) -> dict:
                x_, y_, t_, px, py, pt, fast_ = (a[k] for k in ("x", "y", "t_ms", "_px", "_py", "_pt", "_fast"))
                n_ = len(x_)
                ln = _first_true_np([shift(fast_, -k) for k in range(1, R + 1)])
                comes_back = np.zeros(n_, dtype=bool)
                for k in range(2, R + 1):  # the positions before and after a run of k >= 2 are within reach
                    reach = (shift(x_, -k) - px) ** 2 + (shift(y_, -k) - py) ** 2 <= vmax2 * (shift(t_, -k) - pt) ** 2
                    comes_back |= (ln == k) & reach
                cand = fast_ & ((ln == 1) | comes_back)
                # runs do not overlap; a longer run may not start right after another run either (its "before"
                # position would be the spike); single spikes keep the rule "reached and left too fast"
                starts = _greedy_starts(cand, ln, shift, R, exempt=ln == 1)
                return {"_member": _any_np([shift(starts, k) & (shift(ln, k) > k) for k in range(R)], n_)}

            window = s.select(x, y, t, px.alias("_px"), py.alias("_py"), pt.alias("_pt"), "_fast", "_run")
            (member,) = _in_windows(window, s["_fast"], R + 2, runs, ["_member"])
            s = flag_codes(s, member.astype(np.int16), ["impossible_speed"], "x,y", pl.format("({}, {})", x, y))
        return s.with_columns(
            pl.col("_fast").alias("_strong"), pl.lit(False).alias("_weak"),
            t.alias("_next_st_t"), x.alias("_next_st_x"), y.alias("_next_st_y"),
        ).drop(["_fast", *_C_STATE])

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


_B_STATE = {"_st_raw_t": pl.Float64, "_st_step": pl.Float64, "_st_clock_t": pl.Float64, "_st_ref_t": pl.Float64,
            "_st_pm": pl.Float64, "_st_seg": pl.Int32, "_st_mode": pl.Float64}
_C_STATE = {"_st_t": pl.Float64, "_st_x": pl.Float64, "_st_y": pl.Float64}


def _with_state_columns(s: pl.DataFrame, names: dict[str, pl.DataType]) -> pl.DataFrame:
    missing = [c for c in names if c not in s.columns]
    return s.with_columns(pl.lit(None, dtype=names[c]).alias(c) for c in missing) if missing else s


def _over(single: bool, *keys: str):
    """Identity for a batch of one unit, else a window over ``keys`` (the unit, or the run)."""
    return (lambda e: e) if single else (lambda e: e.over(list(keys)))


def _plausible(step: pl.Expr, low: float, high: float) -> pl.Expr:
    """A step between two samples that a mouse recording can have, in ms."""
    return (step >= low) & (step <= high)


def _closeness(step: pl.Expr, ref: pl.Expr, low: float, high: float) -> pl.Expr:
    """|log10(step / ref)| for a plausible step (infinite otherwise): how far a reading is from the scale
    of the unit's sampling."""
    return pl.when(_plausible(step, low, high) & (ref > 0)).then((step / ref).log10().abs()).otherwise(float("inf"))


def _closer(reading: pl.Expr, raw: pl.Expr, ref: pl.Expr, low: float, high: float) -> pl.Expr:
    """The reading of a step is within a factor 10 of the reference step and closer to it than the raw one."""
    near = _closeness(reading, ref, low, high)
    return (near <= 1.0) & (near < _closeness(raw, ref, low, high))


def _starts_stretch(f: float, dt: pl.Expr, ref: pl.Expr, low: float, high: float) -> pl.Expr:
    """Sample i may start a stretch in a unit f times off: its step read in that unit (``f·t_i − t_prev``)
    beats the raw step (B1; the next sample must confirm it)."""
    t = pl.col("t_ms")
    return _closer(f * t - (t - dt), dt, ref, low, high)


def _in_windows(frame: pl.DataFrame, seeds: pl.Series, radius: int, compute, names: list[str], *,
                keys: list[str] = ("_run",)) -> list[np.ndarray]:
    """Evaluate a rule only on the rows within ``radius`` rows of a seed (an anomaly).

    ``compute(arrays, shift)`` gets the columns of those rows as NumPy arrays and ``shift(a, k)`` — ``a``
    moved by ``k`` rows (k > 0: the value k rows earlier; k < 0: later) within each stretch of consecutive
    such rows with equal ``keys``, NaN / False / 0 beyond it — and returns boolean arrays ``names``. They
    come back (as NumPy arrays) full length, False elsewhere. A rule that looks at most ``radius`` rows away from an
    anomaly thus costs a vectorised pass over the few rows near anomalies instead of one over the batch."""
    n = frame.height
    hits = np.flatnonzero(seeds.to_numpy())
    mark = np.zeros(n + 1, dtype=np.int64)
    np.add.at(mark, np.clip(hits - radius, 0, n), 1)
    np.add.at(mark, np.clip(hits + radius + 1, 0, n), -1)
    rows = np.flatnonzero(np.cumsum(mark[:-1]) > 0)
    new = np.ones(len(rows), dtype=bool)
    new[1:] = np.diff(rows) > 1
    sub = frame[rows]
    for key in keys:
        values = sub[key].to_numpy()
        new[1:] |= values[1:] != values[:-1]
    group = np.cumsum(new) - 1
    index = np.arange(len(rows))
    first = np.flatnonzero(new)
    lo = first[group]
    hi = np.append(first[1:], len(rows))[group] - 1
    arrays = {c: sub[c].to_numpy() for c in sub.columns if c not in keys}

    def shift(a: np.ndarray, k: int) -> np.ndarray:
        j = index - k
        ok = (j >= lo) & (j <= hi)
        fill = False if a.dtype == bool else (np.nan if a.dtype.kind == "f" else 0)
        out = np.full(len(a), fill, dtype=a.dtype if a.dtype.kind != "i" else np.int64)
        out[ok] = a[j[ok]]
        return out

    result = compute(arrays, shift)
    columns = []
    for name in names:
        full = np.zeros(n, dtype=bool)
        full[rows] = result[name]
        columns.append(full)
    return columns


def _greedy_starts(cand: np.ndarray, length: np.ndarray, shift, longest: int, *,
                   exempt: np.ndarray | None = None, rounds: int = 64) -> np.ndarray:
    """Run starts chosen left to right: a candidate i is dropped when an earlier start j has i - j <= length[j]
    (i lies inside j's run, or is the row right after it: the one coming back). ``exempt`` candidates are
    never dropped. Solved as a vectorised fixed point — each round settles at least the leftmost open
    candidate of every chain — in at most ``rounds`` rounds."""
    start = cand.copy()
    keep = np.zeros(len(cand), dtype=bool) if exempt is None else exempt & cand
    for _ in range(rounds):
        hidden = _any_np([shift(start, k) & (shift(length, k) >= k) for k in range(1, longest + 1)], len(cand))
        new = cand & (~hidden | keep)
        if np.array_equal(new, start):
            break
        start = new
    return start


def _first_true_np(conditions: list[np.ndarray]) -> np.ndarray:
    """1-based index of the first true condition per row (0 when none is)."""
    out = np.zeros(len(conditions[0]), dtype=np.int64)
    for k in range(len(conditions), 0, -1):
        out = np.where(conditions[k - 1], k, out)
    return out


def _any_np(conditions: list[np.ndarray], n: int) -> np.ndarray:
    return np.logical_or.reduce(conditions) if conditions else np.zeros(n, dtype=bool)


def _prefix_count_np(conditions: list[np.ndarray], n: int) -> np.ndarray:
    """How many of the conditions hold in a row from the first (0 … len), per row."""
    prefix, total = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
    for cond in conditions:
        prefix &= cond
        total += prefix
    return total


def _quiet_cut(strong: pl.Series, weak: pl.Series, *, lookahead: int, lookback: int) -> int:
    """How many rows of an open run can be decided now: the largest q <= n - lookahead with no strong anomaly
    in rows [q - lookback, q + lookahead) and no weak one in [q - 2, q + 2) (so no decision before q depends
    on rows not yet read, and the state at q is clean); at most MAX_HELD_ROWS rows stay held."""
    n = len(strong)
    limit = n - lookahead
    if limit <= 0:
        return 0
    pos = [np.flatnonzero(strong.to_numpy()), np.flatnonzero(weak.to_numpy())]
    lo = np.concatenate([pos[0] - lookahead + 1, pos[1] - 1])
    hi = np.concatenate([pos[0] + lookback, pos[1] + 2])
    q = limit
    if len(lo):
        order = np.argsort(lo, kind="stable")
        lo, hi = lo[order], np.maximum.accumulate(hi[order])
        # merge the forbidden intervals [lo, hi]; find the one holding `limit`, if any
        new = np.ones(len(lo), dtype=bool)
        new[1:] = lo[1:] > hi[:-1] + 1
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(lo)) - 1
        hit = np.flatnonzero((lo[starts] <= limit) & (hi[ends] >= limit))
        if len(hit):
            q = int(lo[starts[hit[0]]]) - 1
    q = max(q, 0)
    if n - q > MAX_HELD_ROWS:
        q = limit  # pathological density of anomalies: stop waiting
    return q
