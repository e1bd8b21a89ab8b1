"""Splitters of long sessions, one class per rule. Pure: frames in, frames out, no I/O.

Every splitter works on samples of many units at once (a unit is ``participant, session, trial``; free-use
sessions have a null trial) and never loops over units or segments in Python.

* :class:`IdleSplitter` — idle periods: gaps of at least ``idle_threshold_ms`` between consecutive samples
  (a desktop recorder writes no sample while the cursor is still); activity bouts are what lies between.
* :class:`ActionSplitter` — mouse-dynamics actions: mouse move (MM), point-click (PC), drag-drop (DD)
  (Ahmed & Traore 2007; the Balabit segmentation of Antal & Egyed-Zsigmond 2019), see its doc.
* :class:`FocusSplitter` — window-focus segments from ``focus`` events (coarse app category).
* :class:`MarkerSplitter` — task / trial segments that start at ``marker`` events.

References
----------
Ahmed, A. A. E., & Traore, I. (2007). A new biometric technology based on mouse dynamics. *IEEE
Transactions on Dependable and Secure Computing*, 4(3), 165–179.
Antal, M., & Egyed-Zsigmond, E. (2019). Intrusion detection using mouse dynamics. *IET Biometrics*, 8(5),
285–294.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

UNIT = ["participant", "session", "trial"]
SESSION = ["participant", "session"]


def _lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _keys(frame: pl.LazyFrame, keys: list[str]) -> list[str]:
    names = frame.collect_schema().names()
    return [k for k in (["study"] + keys) if k in names]


def _sorted(samples: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    lazy = _lazy(samples)
    keys = _keys(lazy, UNIT)
    return lazy.sort(keys + ["t_ms"], nulls_last=True, maintain_order=True)


@dataclass(frozen=True)
class IdleSplitter:
    """Idle periods are gaps ≥ ``idle_threshold_ms`` between consecutive samples of a unit."""

    idle_threshold_ms: float = 2000.0

    def __post_init__(self) -> None:
        if not self.idle_threshold_ms > 0:
            raise ValueError(f"idle_threshold_ms must be > 0, got {self.idle_threshold_ms!r}")

    def periods(self, samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """One row per idle period: unit keys, ``t_start_ms`` (last sample before), ``t_end_ms`` (first
        sample after), ``duration_ms``."""
        lazy = _sorted(samples)
        keys = _keys(lazy, UNIT)
        prev = pl.col("t_ms").shift().over(keys)
        return (
            lazy.with_columns(prev.alias("t_start_ms"))
            .filter((pl.col("t_ms") - pl.col("t_start_ms")) >= self.idle_threshold_ms)
            .select(keys + ["t_start_ms", pl.col("t_ms").alias("t_end_ms"),
                            (pl.col("t_ms") - pl.col("t_start_ms")).alias("duration_ms")])
            .collect()
        )

    def label(self, samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Samples (sorted by unit and time) with ``bout``: 1-based activity bout within the unit."""
        lazy = _sorted(samples)
        keys = _keys(lazy, UNIT)
        gap = (pl.col("t_ms").diff().over(keys) >= self.idle_threshold_ms).fill_null(False)
        return lazy.with_columns((gap.cum_sum().over(keys) + 1).cast(pl.Int32).alias("bout")).collect()


@dataclass(frozen=True)
class ActionSplitter:
    """Mouse-dynamics actions (Ahmed & Traore 2007; Antal & Egyed-Zsigmond 2019).

    Within each unit, in time order, an action ends

    * at a button release (``up``): the action is a **PC** (point-click: the movement ending in a
      press and release) or, when the button was held while the cursor moved, a **DD** (drag-drop);
    * before a press that starts a drag: the DD runs from the press to the release, the movement
      before it is an MM;
    * at a pause of ``max_gap_ms`` or more between samples (the literature's 10 s);
    * around scrolling: ``scroll`` samples belong to no action.

    Everything else is an **MM** (mouse move: movement without a click). Actions with fewer than
    ``min_samples`` samples are dropped (their kinematics are undefined). A sample moved while a button is
    held (``drag``, or ``move`` with ``buttons`` > 0) is a drag sample.
    """

    max_gap_ms: float = 10_000.0
    min_samples: int = 4

    def __post_init__(self) -> None:
        if not self.max_gap_ms > 0:
            raise ValueError(f"max_gap_ms must be > 0, got {self.max_gap_ms!r}")
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {self.min_samples!r}")

    def label(self, samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Samples (sorted) with ``action`` (1-based within the unit; null for scroll samples and dropped
        short actions) and ``type`` (MM / PC / DD)."""
        lazy = _sorted(samples)
        keys = _keys(lazy, UNIT)
        ev = pl.col("event")
        drag_like = (ev == "drag") | ((ev == "move") & (pl.col("buttons") > 0))
        lazy = lazy.with_columns(
            (ev == "down").cum_sum().over(keys).alias("_press"),
            (ev == "scroll").alias("_scroll"),
        )
        press = keys + ["_press"]
        lazy = lazy.with_columns((ev == "up").cum_sum().over(press).alias("_ups"))
        lazy = lazy.with_columns(
            (drag_like & (pl.col("_ups") == 0) & (pl.col("_press") > 0)).any().over(press).alias("_drag_press")
        )
        prev_event = ev.shift().over(keys)
        gap = pl.col("t_ms").diff().over(keys) >= self.max_gap_ms
        brk = (
            gap.fill_null(False)
            | (prev_event == "up").fill_null(False)
            | ((ev == "down") & pl.col("_drag_press"))
            | pl.col("_scroll")
            | pl.col("_scroll").shift().over(keys).fill_null(False)
        )
        lazy = lazy.with_columns(brk.cum_sum().over(keys).alias("_seg"))
        seg = keys + ["_seg"]
        kind = (
            pl.when(drag_like.any().over(seg)).then(pl.lit("DD"))
            .when((ev == "up").any().over(seg)).then(pl.lit("PC"))
            .otherwise(pl.lit("MM"))
        )
        lazy = lazy.with_columns(
            kind.alias("type"),
            pl.len().over(seg).alias("_n"),
        )
        keep = ~pl.col("_scroll") & (pl.col("_n") >= self.min_samples)
        lazy = lazy.with_columns(
            pl.when(keep).then(pl.col("_seg")).otherwise(None).alias("_seg"),
        )
        first = keep & (pl.col("_seg") != pl.col("_seg").shift().over(keys)).fill_null(True)
        lazy = lazy.with_columns(
            pl.when(keep).then(first.cast(pl.Int32).cum_sum().over(keys)).otherwise(None).cast(pl.Int32).alias("action"),
            pl.when(keep).then(pl.col("type")).otherwise(None).alias("type"),
        )
        return lazy.drop(["_press", "_scroll", "_ups", "_drag_press", "_seg", "_n"]).collect()


@dataclass(frozen=True)
class FocusSplitter:
    """Window-focus segments: each ``focus`` event starts a segment of its ``app`` that lasts until the
    next focus event of the session, or until ``session_end`` (the session's last sample)."""

    def segments(self, events: pl.DataFrame | pl.LazyFrame, *, samples: pl.DataFrame | pl.LazyFrame | None = None
                 ) -> pl.DataFrame:
        """One row per focus segment: session keys, ``segment`` (1-based), ``app``, ``t_start_ms``,
        ``t_end_ms``, ``duration_ms``."""
        ev = _lazy(events)
        keys = _keys(ev, SESSION)
        focus = ev.filter(pl.col("kind") == "focus").sort(keys + ["t_ms"], maintain_order=True)
        out = focus.select(
            keys + [
                pl.int_range(1, pl.len() + 1).over(keys).cast(pl.Int32).alias("segment"),
                "app",
                pl.col("t_ms").alias("t_start_ms"),
                pl.col("t_ms").shift(-1).over(keys).alias("t_end_ms"),
            ]
        )
        if samples is not None:
            ends = _lazy(samples).group_by(keys).agg(pl.col("t_ms").max().alias("_end"))
            out = out.join(ends, on=keys, how="left", nulls_equal=True).with_columns(
                pl.coalesce(pl.col("t_end_ms"), pl.max_horizontal("_end", "t_start_ms")).alias("t_end_ms")
            ).drop("_end")
        # a join does not keep row order: sort so segments come out in time order, run after run
        return (out.with_columns((pl.col("t_end_ms") - pl.col("t_start_ms")).alias("duration_ms"))
                .sort(keys + ["t_start_ms"], nulls_last=True).collect())

    def label(self, samples: pl.DataFrame | pl.LazyFrame, events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Samples with ``focus_segment`` and ``app`` of the focus segment they fall in (null before the
        first focus event)."""
        segs = self.segments(events).lazy()
        lazy = _sorted(samples)
        keys = _keys(segs, SESSION)
        right = segs.select(keys + ["t_start_ms", pl.col("segment").alias("focus_segment"), "app"]).sort("t_start_ms")
        out = lazy.sort("t_ms").join_asof(right, left_on="t_ms", right_on="t_start_ms", by=keys, strategy="backward", check_sortedness=False)
        return out.drop("t_start_ms").sort(_keys(lazy, UNIT) + ["t_ms"], nulls_last=True, maintain_order=True).collect()


@dataclass(frozen=True)
class MarkerSplitter:
    """Task (or trial) segments from ``marker`` events: each marker starts a task that lasts until the next
    marker of the session. The task label is the marker's ``app`` value when set (capture tools write a
    coarse task label there), else ``task<n>``."""

    kind: str = "marker"

    def segments(self, events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """One row per task: session keys, ``task`` (1-based), ``label``, ``t_start_ms``, ``t_end_ms`` (null
        for the last task: open until the session ends)."""
        ev = _lazy(events)
        keys = _keys(ev, SESSION)
        marks = ev.filter(pl.col("kind") == self.kind).sort(keys + ["t_ms"], maintain_order=True)
        n = pl.int_range(1, pl.len() + 1).over(keys).cast(pl.Int32)
        return marks.select(
            keys + [
                n.alias("task"),
                pl.coalesce(pl.col("app"), pl.format("task{}", n)).alias("label"),
                pl.col("t_ms").alias("t_start_ms"),
                pl.col("t_ms").shift(-1).over(keys).alias("t_end_ms"),
            ]
        ).collect()

    def label(self, samples: pl.DataFrame | pl.LazyFrame, events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Samples with ``task`` and ``task_label`` (null before the first marker)."""
        segs = self.segments(events).lazy()
        lazy = _sorted(samples)
        keys = _keys(segs, SESSION)
        right = segs.select(keys + ["t_start_ms", "task", pl.col("label").alias("task_label")]).sort("t_start_ms")
        out = lazy.sort("t_ms").join_asof(right, left_on="t_ms", right_on="t_start_ms", by=keys, strategy="backward", check_sortedness=False)
        return out.drop("t_start_ms").sort(_keys(lazy, UNIT) + ["t_ms"], nulls_last=True, maintain_order=True).collect()

    def as_trials(self, samples: pl.DataFrame | pl.LazyFrame, events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Samples re-cut into trials: ``trial`` = ``<session>-<task label>-<n>``, ``t_ms`` from the task
        start (samples before the first marker are dropped) — ready for the per-trial measures."""
        labelled = self.label(samples, events)
        segs = self.segments(events)
        keys = _keys(segs.lazy(), SESSION)
        out = labelled.filter(pl.col("task").is_not_null()).join(
            segs.select(keys + ["task", "t_start_ms"]), on=keys + ["task"], how="left", maintain_order="left")
        return out.with_columns(
            pl.format("{}-{}-{}", pl.col("session"), pl.col("task_label"), pl.col("task")).alias("trial"),
            (pl.col("t_ms") - pl.col("t_start_ms")).alias("t_ms"),
        ).drop(["t_start_ms"])
