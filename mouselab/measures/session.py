"""Session-level measures for long free-use recordings (samples with ``trial`` null plus the events table).

Pure functions: frames in, one row per (study, participant, session) out. Definitions:

* **Idle and active time.** Idle periods are the union of the periods marked by ``idle_start`` /
  ``idle_end`` events and of gaps longer than ``idle_gap_ms`` between consecutive inputs (samples and
  click / scroll events). ``duration_ms`` runs from the first to the last input or event of the session;
  ``active_time_ms = duration_ms - idle_time_ms``.
* **Rates.** ``click_rate_per_min`` = ``click_down`` events per active minute; ``scroll_rate_per_min`` =
  ``scroll`` events per active minute; ``movement_px_per_active_min`` = cursor path length (sum of
  Euclidean steps between consecutive samples, steps across idle periods excluded) per active minute.
* **Movements.** Consecutive samples with the same position are collapsed (so polled and event-driven
  recordings agree); the path is cut into movements wherever the cursor stays still for
  ``movement_gap_ms`` or longer. Movements with at least 3 samples and ``min_movement_px`` of path are
  kept. Per movement: mean speed (path / duration, px/ms), path efficiency (straight distance / path) and
  hesitations (internal still periods of ``pause_threshold_ms`` or longer).
* **Time-on-task drift** (the fatigue signal): least-squares slopes of movement speed, path efficiency and
  hesitations per movement on the movement's start time in minutes since the session start
  (``speed_drift_per_min`` in px/ms per minute, ...). Negative speed and efficiency slopes and positive
  hesitation slopes indicate slowing, less efficient, more hesitant movement over the session.
* **Repetitive movement.** Along each axis, the path is split into strokes (maximal runs of steps moving
  in one direction on that axis; steps without movement on the axis do not break a stroke; a still period
  of ``movement_gap_ms`` does). A *repetitive bout* is a run of at least ``repetitive_min_strokes``
  consecutive strokes that each cover at least ``repetitive_min_amplitude_px`` on the axis, last at most
  ``repetitive_max_stroke_ms`` and differ from the previous stroke's amplitude by at most a factor of 2 --
  a rapid back-and-forth scrubbing or wiggling. Bouts found on x and on y are merged where they overlap
  in time; ``repetitive_bouts`` counts them and ``repetitive_time_ms`` sums their durations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mouselab.preprocess._frames import FrameLike, require_columns

SESSION_KEY = ("study", "participant", "session")


@dataclass(frozen=True)
class SessionParameters:
    """Thresholds of the session measures (names carry their units)."""

    idle_gap_ms: float = 30_000.0
    movement_gap_ms: float = 300.0
    pause_threshold_ms: float = 100.0
    min_movement_px: float = 20.0
    repetitive_min_strokes: int = 4
    repetitive_min_amplitude_px: float = 20.0
    repetitive_max_stroke_ms: float = 400.0


def _intervals_union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if b < a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _slope(t: np.ndarray, v: np.ndarray) -> float:
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < 3 or np.ptp(t) == 0:
        return float("nan")
    tc = t - t.mean()
    return float(np.sum(tc * (v - v.mean())) / np.sum(tc * tc))


def movements(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, params: SessionParameters) -> dict[str, np.ndarray]:
    """Movement segmentation of one session's samples (time-sorted): per movement its start time (ms),
    duration (ms), path (px), speed (px/ms), efficiency and hesitations; see the module docstring."""
    if t.size:
        keep = np.ones(t.size, dtype=bool)
        keep[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
        t, x, y = t[keep], x[keep], y[keep]
    empty = {k: np.zeros(0) for k in ("start", "duration", "path", "speed", "efficiency", "hesitations")}
    if t.size < 3:
        return empty
    gap = np.diff(t)
    cut = np.flatnonzero(gap >= params.movement_gap_ms) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [t.size])) - 1
    step = np.hypot(np.diff(x), np.diff(y))
    cstep = np.concatenate(([0.0], np.cumsum(step)))
    path = cstep[ends] - cstep[starts]
    duration = t[ends] - t[starts]
    straight = np.hypot(x[ends] - x[starts], y[ends] - y[starts])
    pause = (gap >= params.pause_threshold_ms) & (gap < params.movement_gap_ms)
    cpause = np.concatenate(([0], np.cumsum(pause)))
    hes = (cpause[ends] - cpause[starts]).astype(float)
    ok = (ends - starts >= 2) & (path >= params.min_movement_px) & (duration > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "start": t[starts][ok], "duration": duration[ok], "path": path[ok], "speed": (path / duration)[ok],
            "efficiency": np.minimum(straight / path, 1.0)[ok], "hesitations": hes[ok],
        }


def repetitive_bouts(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, params: SessionParameters
                     ) -> list[tuple[float, float]]:
    """Time intervals (start, end) of repetitive back-and-forth bouts in one session (see module docstring)."""
    if t.size < 3:
        return []
    gap = np.diff(t)
    brk = gap >= params.movement_gap_ms  # step k -> k+1 follows a long still period
    bouts = []
    for v in (x, y):
        d = np.diff(v)
        nz = np.flatnonzero(d != 0)
        if nz.size < params.repetitive_min_strokes:
            continue
        sign = np.sign(d[nz])
        cbrk = np.concatenate(([0], np.cumsum(brk)))
        new = np.ones(nz.size, dtype=bool)
        # a new stroke starts at a sign change or after a still period between the two steps
        new[1:] = (sign[1:] != sign[:-1]) | (cbrk[nz[1:] + 1] - cbrk[nz[:-1] + 1] > 0)
        sid = np.cumsum(new) - 1
        first = nz[new]  # first step of each stroke (step k: sample k -> k+1)
        last = nz[np.concatenate((np.flatnonzero(new)[1:] - 1, [nz.size - 1]))]
        amp = np.abs(np.bincount(sid, weights=d[nz]))
        t0, t1 = t[first], t[last + 1]
        ok = (amp >= params.repetitive_min_amplitude_px) & (t1 - t0 <= params.repetitive_max_stroke_ms)
        # strokes chain when consecutive (no still period between) and of similar amplitude
        chain = np.zeros(amp.size, dtype=bool)
        if amp.size > 1:
            ratio = amp[1:] / np.maximum(amp[:-1], 1e-12)
            adjacent = (cbrk[first[1:]] - cbrk[last[:-1] + 1] == 0) & (sign[new][1:] != sign[new][:-1])
            chain[1:] = ok[1:] & ok[:-1] & adjacent & (ratio <= 2.0) & (ratio >= 0.5)
        i = 0
        while i < amp.size:
            if not ok[i]:
                i += 1
                continue
            j = i
            while j + 1 < amp.size and chain[j + 1]:
                j += 1
            if j - i + 1 >= params.repetitive_min_strokes:
                bouts.append((float(t0[i]), float(t1[j])))
            i = j + 1
    return _intervals_union(bouts)


def session_measures(
    samples: FrameLike,
    events: FrameLike | None = None,
    *,
    idle_gap_ms: float = SessionParameters.idle_gap_ms,
    movement_gap_ms: float = SessionParameters.movement_gap_ms,
    pause_threshold_ms: float = SessionParameters.pause_threshold_ms,
    min_movement_px: float = SessionParameters.min_movement_px,
    repetitive_min_strokes: int = SessionParameters.repetitive_min_strokes,
    repetitive_min_amplitude_px: float = SessionParameters.repetitive_min_amplitude_px,
    repetitive_max_stroke_ms: float = SessionParameters.repetitive_max_stroke_ms,
) -> pl.DataFrame:
    """One row per (study, participant, session) of free-use data: activity, rates, movement, drift and
    repetitive movement (definitions in the module docstring; registry entries with level ``session``).

    ``samples``: ``study, participant, session, t_ms, x, y`` (rows with a non-null ``trial`` are ignored);
    ``events``: ``study, participant, session, t_ms, kind`` (+ ``duration_ms`` for idle events), optional.
    """
    params = SessionParameters(idle_gap_ms, movement_gap_ms, pause_threshold_ms, min_movement_px,
                               int(repetitive_min_strokes), repetitive_min_amplitude_px, repetitive_max_stroke_ms)
    if params.pause_threshold_ms >= params.movement_gap_ms:
        raise ValueError("pause_threshold_ms must be smaller than movement_gap_ms")
    key = list(SESSION_KEY)
    require_columns(samples, key + ["t_ms", "x", "y"])
    s = samples.lazy()
    if "trial" in s.collect_schema().names():
        s = s.filter(pl.col("trial").is_null())
    s = s.select(key + ["t_ms", "x", "y"]).sort(key + ["t_ms"], maintain_order=True).collect()
    if events is not None:
        require_columns(events, key + ["t_ms", "kind"])
        ev = events.lazy()
        cols = key + ["t_ms", "kind"] + (["duration_ms"] if "duration_ms" in ev.collect_schema().names() else [])
        ev = ev.select(cols).sort(key + ["t_ms"], maintain_order=True).collect()
        if "trial" in events.lazy().collect_schema().names():
            ev = events.lazy().filter(pl.col("trial").is_null()).select(cols).sort(key + ["t_ms"]).collect()
    else:
        ev = pl.DataFrame(schema={**{k: pl.String for k in key}, "t_ms": pl.Float64, "kind": pl.String})
    sessions = pl.concat([s.select(key), ev.select(key)]).unique(maintain_order=True).sort(key)
    s_groups = s.partition_by(key, as_dict=True, maintain_order=True)
    e_groups = ev.partition_by(key, as_dict=True, maintain_order=True) if ev.height else {}
    rows = []
    for sess in sessions.iter_rows():
        sf = s_groups.get(sess)
        ef = e_groups.get(sess)
        t = sf["t_ms"].to_numpy() if sf is not None else np.zeros(0)
        x = sf["x"].to_numpy() if sf is not None else np.zeros(0)
        y = sf["y"].to_numpy() if sf is not None else np.zeros(0)
        rows.append({**dict(zip(key, sess)), **_one_session(t, x, y, ef, params)})
    schema = {**{k: pl.String for k in key}, **{name: pl.Float64 for name in _COLUMNS}}
    schema.update({c: pl.Int64 for c in _INT_COLUMNS})
    return pl.DataFrame(rows, schema=schema)


_COLUMNS = (
    "duration_ms", "active_time_ms", "idle_time_ms", "clicks", "click_rate_per_min", "scrolls",
    "scroll_rate_per_min", "movement_px", "movement_px_per_active_min", "movements", "movement_speed_mean",
    "speed_drift_per_min", "efficiency_drift_per_min", "hesitation_drift_per_min", "repetitive_bouts",
    "repetitive_time_ms",
)
_INT_COLUMNS = ("clicks", "scrolls", "movements", "repetitive_bouts")


def _one_session(t, x, y, ev: pl.DataFrame | None, params: SessionParameters) -> dict:
    kinds = ev["kind"].to_numpy() if ev is not None else np.zeros(0, dtype=object)
    et = ev["t_ms"].to_numpy() if ev is not None else np.zeros(0)
    times = np.concatenate([t, et])
    if times.size == 0:
        return dict.fromkeys(_COLUMNS)
    t_start, t_end = float(times.min()), float(times.max())
    duration = t_end - t_start
    # idle: marked periods and long gaps between inputs
    idle = []
    starts = et[kinds == "idle_start"]
    ends = et[kinds == "idle_end"]
    for a in starts:
        later = ends[ends >= a]
        if later.size:
            idle.append((float(a), float(later.min())))
        elif ev is not None and "duration_ms" in ev.columns:
            dur = ev.filter((pl.col("kind") == "idle_start") & (pl.col("t_ms") == a))["duration_ms"].to_list()
            if dur and dur[0] is not None:
                idle.append((float(a), float(a + dur[0])))
    inputs = np.sort(np.concatenate([t, et[np.isin(kinds, ["click_down", "click_up", "scroll"])]]))
    if inputs.size > 1:
        g = np.diff(inputs)
        for k in np.flatnonzero(g > params.idle_gap_ms):
            idle.append((float(inputs[k]), float(inputs[k + 1])))
    merged = _intervals_union(idle)
    idle_ms = float(sum(b - a for a, b in merged))
    active = max(duration - idle_ms, 0.0)
    active_min = active / 60_000.0
    clicks = int(np.sum(kinds == "click_down"))
    scrolls = int(np.sum(kinds == "scroll"))
    # path length, without steps that span an idle period
    if t.size > 1:
        step = np.hypot(np.diff(x), np.diff(y))
        mid_a, mid_b = t[:-1], t[1:]
        across = np.zeros(step.size, dtype=bool)
        for a, b in merged:
            across |= (mid_a <= a) & (mid_b >= b) | ((mid_a >= a) & (mid_b <= b))
        path = float(step[~across].sum())
    else:
        path = 0.0
    mv = movements(t, x, y, params=params)
    minutes = (mv["start"] - t_start) / 60_000.0
    bouts = repetitive_bouts(t, x, y, params=params)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "duration_ms": duration,
            "active_time_ms": active,
            "idle_time_ms": idle_ms,
            "clicks": clicks,
            "click_rate_per_min": clicks / active_min if active_min > 0 else float("nan"),
            "scrolls": scrolls,
            "scroll_rate_per_min": scrolls / active_min if active_min > 0 else float("nan"),
            "movement_px": path,
            "movement_px_per_active_min": path / active_min if active_min > 0 else float("nan"),
            "movements": int(mv["start"].size),
            "movement_speed_mean": float(np.mean(mv["speed"])) if mv["speed"].size else float("nan"),
            "speed_drift_per_min": _slope(minutes, mv["speed"]),
            "efficiency_drift_per_min": _slope(minutes, mv["efficiency"]),
            "hesitation_drift_per_min": _slope(minutes, mv["hesitations"]),
            "repetitive_bouts": len(bouts),
            "repetitive_time_ms": float(sum(b - a for a, b in bouts)),
        }
