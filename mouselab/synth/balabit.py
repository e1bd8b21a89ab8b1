"""Synthetic sessions in the layout of the Balabit Mouse Dynamics Challenge (seeded; no real person behind them).

The real data set (Fülöp et al. 2016) holds free-use remote-desktop sessions of 10 users, logged by a
network monitor between the RDP client and the server, one file per session
(``training_files/user12/session_2144641057``) with the header
``record timestamp,client timestamp,button,state,x,y``: both timestamps in seconds since the session's
first row, ``Move`` / ``Drag`` rows with ``NoButton``, ``Pressed`` / ``Released`` with ``Left`` / ``Right``,
coordinates in screen pixels.

:func:`iter_balabit` writes the same layout from :func:`~mouselab.synth.free_use.simulate_free_use` with
**per-person style** (:class:`~mouselab.synth.free_use.StylePopulation`): every user gets a style, every
session a slightly drifted copy of it, so the users can be told apart as in the literature — and the
privacy-risk report has something real to measure.

What the real files look like (the source of the defaults)
----------------------------------------------------------
Measured in the first 16,000 characters (statistics only, no rows copied) of three files of
balabit/Mouse-Dynamics-Challenge — A ``test_files/user12/session_0032069206`` (64 rows, 14 s),
B ``training_files/user12/session_2144641057`` (358 rows, 244 s), C
``training_files/user35/session_1909471574`` (331 rows, 64 s) — given as A / B / C:

==============================================================  ======================================
client step between distinct client timestamps while moving      median 109 / 109 / 110 ms; in 15.625-ms
                                                                 ticks: 7 ticks 68–74 %, 6 ticks ~12 %,
                                                                 8 ticks ~12 %, 9–12 ticks (slow moves)
                                                                 the rest
step between distinct record timestamps                          median 111 / 112 / 117 ms
rows per second while moving (steps < 1 s)                       10.2 / 7.9 / 7.2
rows repeating the previous row's client timestamp               26.6 / 17.6 / 10.3 %
… its record timestamp                                           25.0 / 20.4 / 13.3 %
… both (always a pair, never three rows)                         4.7 / 3.9 / 6.0 %
client-only repeats ("late" rows; per move row with new stamps)  21.9 / 13.7 / 4.2 % of rows (0.45 /
                                                                 0.22 / 0.04); 70–77 % are followed by a
                                                                 row with their record timestamp and a
                                                                 new client timestamp; their position
                                                                 lies a median 26–35 % of the way from
                                                                 the row before to the row after
record − client of rows with new stamps                          mean −3.9 / 3.0 / 0.9 ms, SD 4.6–5.0 ms
                                                                 (lags > 40 ms left out); 21 / 11 / 8 %
                                                                 lag > 40 ms: sent with the next packet
                                                                 (mostly 104–140 ms, up to ~1 s before a
                                                                 pause)
Pressed / Released rows sharing the previous row's client time  3 of 8 / 5 of 16 / 19 of 46 (the row
                                                                 before: a Move or Drag at the same
                                                                 position, same record time)
Drag rows (between Pressed and Released, button ``NoButton``)     7.8 / 4.7 / 2.1 % of rows
gaps of ≥ 1 s between rows                                       8.4 / 2.2 / 8.5 per minute; longest
                                                                 6.4 / 161 / 6.8 s
Scroll rows, 65535 coordinates                                   none in the rows read
number format                                                    12 significant digits (Python 2
                                                                 ``str`` of a float): millisecond values
                                                                 with float noise of ~1e-7 s (record)
                                                                 and ~1e-11 s (client)
==============================================================  ======================================

Two other users read (``training_files/user7/session_0041905381``, 321 rows, 8.7 s, and
``training_files/user20/session_0214655159``, by eye) follow a second regime: a client timestamp every
15–16 ms (44 rows/s while moving), record timestamps in packets of 5–7 rows every ~106 ms (77 % of rows
repeat the previous record timestamp, 5 % the client timestamp), record − client from −73 to +63 ms. The
default schedule reproduces the first regime; ``schedule="fine"`` keeps the generator's original
fine-grained rows (one per position change at ``rate_hz``), which has the 60 Hz client clock of the second
regime but not its ~106 ms record packets.

The model (``schedule="rdp"``, the default)
-------------------------------------------
The person's movement is simulated at ``rate_hz`` (60 Hz) and then *reported* the way the RDP client
aggregates it; every row's position is where the pointer was at the time the row stands for:

* **report clock**: the client clock ticks every ``tick_ms`` = 15.625 ms (:class:`ReportClock`); while the
  pointer moves, its position is reported every 6 / 7 / 8 ticks (probabilities 0.12 / 0.74 / 0.14), the
  first report on the tick after it starts moving; a report that finds the pointer where it was last
  reported stops the clock until the pointer moves again;
* **button and wheel rows** are sent at once, stamped with the tick they fall in; when the pointer moved
  since the last report, a ``Move`` (``Drag`` while a button is held) row at the same stamps and in the same
  packet precedes them (``flush_on_button``);
* **held final report**: with probability ``held_report_prob``, the report that finds the pointer come to
  rest is held back: a button pressed or released within 100–1000 ms (``held_report_ms``) sends it as the
  row before it (the real files' Move/Drag + Pressed/Released pairs with equal stamps), otherwise it goes
  out on its own that much later (a record lag of up to ~1 s before a pause);
* **client clock lag**: with probability ``late_report_prob`` per report, an extra report taken
  ``late_report_at`` (10–50 %) of the way to the next report is stamped with the *previous* report's client
  time and sent in the next report's packet (its record time);
* **both clocks tie**: with probability ``paired_report_prob`` a report is preceded by one of the position
  15–45 ms earlier (``paired_report_before_ms``) with the same client and record stamps;
* **record clock**: a packet's record timestamp is its client stamp plus a network lag
  (``N(record_lag_ms, record_lag_sd_ms)``, relative to the first row's packet); with probability
  ``stalled_report_prob`` a packet is held back and sent with the next one (when that comes within
  300 ms) or 100–1000 ms later; the record clock never goes back;
* each **user's machine** (:class:`RecordingSetup`) draws these probabilities and its mean lag once,
  uniformly from the ranges in :class:`BalabitQuirks`; a user's sessions share them. The ranges are chosen
  so that the files written (10 users × 3 sessions of 2 min, seed 20261126) span the three real files:
  9–24 % of rows repeat the previous client timestamp (per user 11–24 %), 14–31 % the record one, 2–9 %
  both; 7–11 rows/s while moving; 13–44 % of the button rows share the previous row's client time (real:
  31–41 % — free_use's pointer rests before every press, the real one often still creeps).

Rows are written as the challenge prints them (12 significant digits, millisecond values with the float
noise of a difference of two large clock readings). Coordinates are clamped to the screen (a pointer flung
against an edge stays on it), and a move or wheel row is rarely logged at the sentinel position
``65535, 65535`` (``sentinel_prob``; none in the rows read — a modelling choice kept so that the reader's
sentinel check has something to find).

What a reader must quarantine
-----------------------------
:func:`balabit_lines` lists, per file, the rows mouselab's reader quarantines (``expected``; the oracle of
the ingest test), predicted from the reader's rules (:mod:`mouselab.ingest.balabit` with
``duplicates="remove_first"``): rows with a sentinel coordinate (``sentinel_coordinate``, column ``x``);
then, among the other rows, every row whose client timestamp the next row repeats
(``duplicate_timestamp``, column ``client timestamp``: the *last* of equal timestamps is kept). All other
rows are valid and stored: record/client lag, record-only repeats, screen-edge clamps.
``BalabitQuirks.none()`` gives files with nothing to quarantine.

This module is pure (frames and text in memory); ``mouselab synth balabit`` writes the files.

Reference: Fülöp, Á., Kovács, L., Kurics, T., & Windhager-Pokol, E. (2016). Balabit Mouse Dynamics
Challenge data set. https://github.com/balabit/Mouse-Dynamics-Challenge
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mouselab.synth.free_use import StylePopulation, simulate_free_use
from mouselab.synth.kinematics import rng_from

__all__ = ["HEADER", "SCHEDULES", "BalabitQuirks", "BalabitSession", "RecordingSetup", "ReportClock",
           "balabit_lines", "expected_quarantine", "iter_balabit"]

#: First line of every session file.
HEADER = "record timestamp,client timestamp,button,state,x,y"
#: The sentinel the network monitor writes when it has no pointer position.
SENTINEL = 65535
#: ``"rdp"``: reports on the coarse two-clock schedule of the real files (default); ``"fine"``: the original
#: fine-grained rows, one per position change at the polling rate.
SCHEDULES = ("rdp", "fine")
_EMPTY = {"line": pl.Int64, "column": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class ReportClock:
    """When the RDP client reports the pointer (schedule ``"rdp"``; see the module docstring).

    tick_ms : resolution of the client clock (ms; 15.625 = the 64 Hz Windows timer: steps of 15 / 16 ms).
    report_ticks, report_weights : ticks between two reports while the pointer moves, and their
        probabilities (measured: 7 ticks ≈ 109 ms in three quarters of the steps).
    """

    tick_ms: float = 15.625
    report_ticks: tuple[int, ...] = (6, 7, 8)
    report_weights: tuple[float, ...] = (0.12, 0.74, 0.14)

    def __post_init__(self) -> None:
        if not self.tick_ms > 0:
            raise ValueError(f"tick_ms must be > 0, got {self.tick_ms!r}")
        if (len(self.report_ticks) != len(self.report_weights) or not self.report_ticks
                or min(self.report_ticks) < 1 or min(self.report_weights) < 0 or sum(self.report_weights) <= 0):
            raise ValueError("report_ticks must be >= 1, with one weight >= 0 each (not all 0)")


@dataclass(frozen=True)
class BalabitQuirks:
    """Rates of the recording quirks (see the module docstring for the measured figures behind them).

    Schedule ``"rdp"`` — (low, high) ranges; each user's machine draws one value uniformly
    (:class:`RecordingSetup`):

    late_report_prob : extra reports stamped with the previous report's client time, per report.
    late_report_at : where between two reports such a report is taken (fractions of the interval).
    paired_report_prob : reports preceded by an earlier position with the same client and record stamps.
    paired_report_before_ms : how much earlier that position is (ms).
    held_report_prob : final reports of a movement held back until a button event (or ``held_report_ms``).
    held_report_ms : how long a held report waits at most (ms; then it goes on its own, that late).
    stalled_report_prob : packets sent late, with the next one.
    record_lag_ms : mean record − client lag of the user's network (ms); ``record_lag_sd_ms`` its SD.
    flush_on_button : a button or wheel row sends the pointer's unreported movement first, at its stamps.
    equal_client_stamps : False: a row that would repeat the previous row's client timestamp is stamped
        1 ms later instead (with ``late_report_prob = paired_report_prob = (0, 0)`` and no flush rows: clean
        files).

    Schedule ``"fine"`` (the original fine-grained rows):

    record_delay_ms : (base, mean extra) network delay of the record timestamp: ``base + Exponential(mean)``.
    record_batch_prob : probability that a row less than 30 ms after the one before is sent in one packet with
        it: both get the record timestamp of the later row.
    press_duplicate_prob : probability that a press directly after a move is logged at the move's client time.
    move_duplicate_prob : probability that a move directly after a move is logged at that move's client time.

    Both: ``sentinel_prob``, the probability that a move or wheel row is logged at ``65535, 65535``.
    """

    late_report_prob: tuple[float, float] = (0.04, 0.45)
    late_report_at: tuple[float, float] = (0.1, 0.5)
    paired_report_prob: tuple[float, float] = (0.005, 0.03)
    paired_report_before_ms: tuple[float, float] = (15.0, 45.0)
    held_report_prob: tuple[float, float] = (0.3, 0.8)
    held_report_ms: tuple[float, float] = (100.0, 1000.0)
    stalled_report_prob: tuple[float, float] = (0.03, 0.12)
    record_lag_ms: tuple[float, float] = (-4.0, 4.0)
    record_lag_sd_ms: float = 5.0
    flush_on_button: bool = True
    equal_client_stamps: bool = True
    record_delay_ms: tuple[float, float] = (2.0, 10.0)
    record_batch_prob: float = 0.03
    press_duplicate_prob: float = 0.15
    move_duplicate_prob: float = 0.002
    sentinel_prob: float = 0.0008

    @classmethod
    def none(cls) -> "BalabitQuirks":
        """Clean files: no repeated client timestamps, no sentinels (record lags, stalls and screen-edge
        clamps stay: they are valid)."""
        return cls(late_report_prob=(0.0, 0.0), paired_report_prob=(0.0, 0.0), held_report_prob=(0.0, 0.0),
                   flush_on_button=False,
                   equal_client_stamps=False, record_batch_prob=0.0, press_duplicate_prob=0.0,
                   move_duplicate_prob=0.0, sentinel_prob=0.0)

    def __post_init__(self) -> None:
        for name in ("record_batch_prob", "press_duplicate_prob", "move_duplicate_prob", "sentinel_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5, got {value!r}")
        for name, top in (("late_report_prob", 0.5), ("paired_report_prob", 0.5), ("stalled_report_prob", 0.5),
                          ("held_report_prob", 1.0), ("late_report_at", 1.0)):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi <= top:
                raise ValueError(f"{name} must be a (low, high) range within [0, {top}], got {(lo, hi)!r}")
        for name in ("paired_report_before_ms", "held_report_ms", "record_lag_ms"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name} must be a (low, high) range, got {(lo, hi)!r}")
        if min(self.paired_report_before_ms[0], self.held_report_ms[0], self.record_lag_sd_ms) < 0:
            raise ValueError("paired_report_before_ms, held_report_ms and record_lag_sd_ms must be >= 0")


@dataclass(frozen=True)
class RecordingSetup:
    """One user's machine and network (schedule ``"rdp"``): the rates of :class:`BalabitQuirks`, drawn once."""

    late_report_prob: float
    paired_report_prob: float
    held_report_prob: float
    stalled_report_prob: float
    record_lag_ms: float

    @classmethod
    def draw(cls, quirks: BalabitQuirks, *, seed: int | np.random.Generator) -> "RecordingSetup":
        rng = rng_from(seed)
        return cls(*(float(rng.uniform(*getattr(quirks, name)))
                     for name in ("late_report_prob", "paired_report_prob", "held_report_prob", "stalled_report_prob",
                                  "record_lag_ms")))


@dataclass
class BalabitSession:
    """One generated session file: where it goes, its text, and what a reader must make of it.

    path : relative path, ``training_files/userN/session_XXXXXXXXXX``.
    text : the file's content (header and one line per row, newline-terminated).
    rows : data rows (lines after the header).
    expected : the rows a reader must quarantine: ``line`` (1-based, the header is line 1), ``column``,
        ``reason``.
    counts : quirk counts: ``duplicate_timestamp``, ``sentinel_coordinate``, ``edge_rows`` (rows on the
        screen border), ``minutes`` (client time of the last row); schedule ``"rdp"`` also
        ``client_repeats`` / ``record_repeats`` / ``both_repeats`` (rows repeating the previous row's client /
        record / both timestamps), ``late_rows``, ``paired_rows``, ``held_rows`` (held reports sent on their
        own), ``flush_rows`` (movement sent with a button row), ``stalled_packets``,
        ``moving_s`` (time spent in steps of less than 1 s); schedule ``"fine"`` ``record_batched``.
    """

    user: str
    session: str
    path: str
    text: str
    rows: int
    expected: pl.DataFrame
    counts: dict[str, float] = field(default_factory=dict)


def expected_quarantine(client: np.ndarray, sentinel: np.ndarray) -> list[tuple[int, str, str]]:
    """The rows mouselab's Balabit reader quarantines, as ``(row index, column, reason)``, from the client
    timestamps (any unit, in file order) and which rows hold a sentinel coordinate.

    The reader's rules (``duplicates="remove_first"``): a sentinel row is ``sentinel_coordinate`` (column
    ``x``) and takes no part in the time checks; of the other rows, each one whose client timestamp the
    next one repeats is ``duplicate_timestamp`` (column ``client timestamp``) — the last of equal timestamps
    is kept. Client timestamps must not decrease.
    """
    client = np.asarray(client, dtype=float)
    sentinel = np.asarray(sentinel, dtype=bool)
    if np.any(np.diff(client) < 0):
        raise ValueError("client timestamps decrease: the reader's rules for that are not modelled here")
    out = [(int(i), "x", "sentinel_coordinate") for i in np.flatnonzero(sentinel)]
    rest = np.flatnonzero(~sentinel)
    repeated = rest[:-1][client[rest[:-1]] == client[rest[1:]]]
    out += [(int(i), "client timestamp", "duplicate_timestamp") for i in repeated]
    return sorted(out)


def balabit_lines(
    samples: pl.DataFrame, events: pl.DataFrame, *, seed: int | np.random.Generator,
    quirks: BalabitQuirks = BalabitQuirks(), screen_px: tuple[int, int] | None = None, schedule: str = "rdp",
    clock: ReportClock = ReportClock(), setup: RecordingSetup | None = None,
) -> tuple[list[str], pl.DataFrame, dict[str, float]]:
    """One session's samples (one participant and session, mouselab schema) as Balabit data lines.

    ``schedule``: ``"rdp"`` (reports on the two-clock schedule of the real files, default) or ``"fine"``
    (one row per sample, the original mode); ``clock`` and ``setup`` (the user's machine; drawn from
    ``quirks`` when None) apply to ``"rdp"``.

    Returns ``(lines, expected, counts)``: the lines without the header, the rows a reader must quarantine
    (``line``, ``column``, ``reason``; line 2 is the first data line) and the quirk counts.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    rng = rng_from(seed)
    s = samples.sort("t_ms")
    if s.height == 0:
        return [], pl.DataFrame(schema=_EMPTY), {}
    scroll_dy = dict(events.filter(pl.col("kind") == "scroll").select("t_ms", "dy").iter_rows())
    if schedule == "fine":
        lines, expected, counts, (x, y) = _fine_lines(s, scroll_dy, rng, quirks)
    else:
        if setup is None:
            setup = RecordingSetup.draw(quirks, seed=rng)
        lines, expected, counts, (x, y) = _rdp_lines(s, scroll_dy, rng, quirks, clock, setup)
    if screen_px is not None:
        w, h = screen_px
        counts["edge_rows"] = float(((x <= 0) | (x >= w - 1) | (y <= 0) | (y >= h - 1)).sum())
    exp = pl.DataFrame(
        {"line": [i + 2 for i, _, _ in expected], "column": [c for _, c, _ in expected],
         "reason": [r for _, _, r in expected]}, schema=_EMPTY,
    ).sort("line")
    counts["duplicate_timestamp"] = float(sum(r == "duplicate_timestamp" for _, _, r in expected))
    counts["sentinel_coordinate"] = float(sum(r == "sentinel_coordinate" for _, _, r in expected))
    return lines, exp, counts


# ------------------------------------------------------------------------------------------ schedule "rdp"
def _rdp_lines(s: pl.DataFrame, scroll_dy: dict, rng: np.random.Generator, quirks: BalabitQuirks,
               clock: ReportClock, setup: RecordingSetup) -> tuple[list[str], list, dict[str, float], tuple]:
    t = s["t_ms"].to_numpy().astype(float)
    x = s["x"].to_numpy().astype(np.int64)
    y = s["y"].to_numpy().astype(np.int64)
    ev = np.asarray(s["event"].to_list(), dtype=object)
    bits = s["buttons"].to_numpy()
    moving = (ev == "move") | (ev == "drag")
    mt, mx, my, mdrag = t[moving], x[moving], y[moving], ev[moving] == "drag"
    discrete = np.flatnonzero(~moving)
    t0 = float(t[0])
    tick = clock.tick_ms
    phase = float(rng.uniform(0.0, tick)) + t0  # the client clock's ticks: phase + n * tick
    weights = np.asarray(clock.report_weights, dtype=float)
    weights = weights / weights.sum()

    def tick_floor(v: float) -> float:
        return phase + np.floor((v - phase) / tick + 1e-9) * tick

    def stamp(v: float) -> int:  # ms since the session start on the client clock: the tick v falls in
        return int(round(tick_floor(v) - t0))

    def where(v: float) -> int:  # the movement sample showing the pointer at time v (-1: none yet)
        return int(np.searchsorted(mt, v, side="right")) - 1

    def move_state(i: int) -> str:
        return "Drag" if mdrag[i] else "Move"

    rows: list[list] = []  # [client stamp (ms), packet, button, state, x, y]
    sends: list[float] = []  # per packet: when it is sent (ms on the client clock)
    counts = {"late_rows": 0.0, "paired_rows": 0.0, "held_rows": 0.0, "flush_rows": 0.0}

    def packet(send_ms: float) -> int:
        sends.append(send_ms)
        return len(sends) - 1

    pressed = "Left"
    reported = -1  # the movement sample whose position was reported last
    timer: float | None = None  # when the next report is due (None: the pointer rests, no reports)
    prev: tuple[float, int] | None = None  # (time, client stamp) of the previous report of this run
    hold: tuple[int, int, float, float] | None = None  # held final report: (sample, stamp, due, send by)
    last_button = -np.inf
    k, n_disc = 0, discrete.size
    while True:
        t_ev = t[discrete[k]] if k < n_disc else np.inf
        if hold is not None:
            resume = mt[hold[0] + 1] if hold[0] + 1 < mt.size else np.inf
            if not t_ev <= min(hold[3], resume):  # no button comes to send it: it goes on its own, late
                idx, c_held, due, by = hold
                send = min(by, resume)
                rows.append([c_held, packet(c_held + send - due), "NoButton", move_state(idx), mx[idx], my[idx]])
                counts["held_rows"] += 1
                reported, hold = idx, None
                continue
        elif timer is None:
            start = mt[reported + 1] if reported + 1 < mt.size else np.inf
            if start == np.inf and t_ev == np.inf:
                break
            if start < t_ev:
                timer = tick_floor(start) + tick  # the first report: on the tick after the pointer starts moving
                prev = None
                continue
        if timer is not None and timer <= t_ev:
            due = timer
            now = where(due)
            if now <= reported:  # the pointer has not moved since the last report: the clock stops
                timer = prev = None
                continue
            c_now = stamp(due)
            step = tick * float(rng.choice(clock.report_ticks, p=weights))
            if where(due + step) == now and rng.random() < setup.held_report_prob:
                # the pointer came to rest: its final position is held back (sent with a button, or late)
                hold = (now, c_now, due, due + rng.uniform(*quirks.held_report_ms))
                timer = prev = None
                continue
            pk = packet(c_now)
            if prev is not None and last_button < prev[0] and rng.random() < setup.late_report_prob:
                at = prev[0] + rng.uniform(*quirks.late_report_at) * (due - prev[0])
                late = where(at)
                if reported < late < now:  # the pointer moved after the last report, and again before this one
                    rows.append([prev[1], pk, "NoButton", move_state(late), mx[late], my[late]])
                    counts["late_rows"] += 1
                    reported = late
            if rng.random() < setup.paired_report_prob:
                earlier = where(due - rng.uniform(*quirks.paired_report_before_ms))
                if reported < earlier < now:
                    rows.append([c_now, pk, "NoButton", move_state(earlier), mx[earlier], my[earlier]])
                    counts["paired_rows"] += 1
            rows.append([c_now, pk, "NoButton", move_state(now), mx[now], my[now]])
            reported = now
            prev = (due, c_now)
            timer = due + step
            continue
        # a press, release or wheel step at t_ev: sent at once, stamped with the tick it falls in
        i = discrete[k]
        k += 1
        e, b = ev[i], bits[i]
        if e == "down":
            pressed = "Right" if b == 2 else "Left"
            button, state = pressed, "Pressed"
        elif e == "up":
            button, state = pressed, "Released"
        elif e == "scroll":
            button, state = "Scroll", "Down" if scroll_dy.get(t[i], 1.0) > 0 else "Up"
        else:  # pragma: no cover - simulate_free_use writes only these events
            raise ValueError(f"cannot write sample event {e!r} in the Balabit layout")
        c_now = stamp(t_ev)
        pk = packet(c_now)
        now = where(t_ev)
        if now > reported and (quirks.flush_on_button or hold is not None):
            # the pointer's unreported movement goes first, in the same packet
            c_flush = c_now if quirks.flush_on_button else hold[1]
            rows.append([c_flush, pk, "NoButton", move_state(now), mx[now], my[now]])
            counts["flush_rows"] += 1
            reported = now
        hold = None
        rows.append([c_now, pk, button, state, x[i], y[i]])
        last_button = t_ev

    n = len(rows)
    client = np.array([r[0] for r in rows], dtype=np.int64)
    if not quirks.equal_client_stamps:
        for j in range(1, n):
            client[j] = max(client[j], client[j - 1] + 1)
    client -= client[0]
    if np.any(np.diff(client) < 0):  # pragma: no cover - guarded by construction
        raise AssertionError("Balabit rdp schedule produced a decreasing client clock")

    # record clock: a packet is recorded when it is sent plus a network lag, relative to the first row's
    # packet; a stalled packet goes with the next one (within 300 ms) or 100–1000 ms late; never back
    send = np.asarray(sends, dtype=float)
    n_pk = send.size
    record_pk = send + rng.normal(setup.record_lag_ms, quirks.record_lag_sd_ms, n_pk)
    stalled = rng.random(n_pk) < setup.stalled_report_prob
    stalled[rows[0][1]] = False  # the monitor's clock starts with the session's first row
    wait = rng.uniform(100.0, 1000.0, n_pk)
    for a in range(n_pk - 1, -1, -1):  # from the end: a stalled packet may join one that stalled too
        if stalled[a]:
            near = a + 1 < n_pk and send[a + 1] - send[a] <= 300.0
            record_pk[a] = record_pk[a + 1] if near else record_pk[a] + wait[a]
    packet_of = np.array([r[1] for r in rows], dtype=np.int64)
    record = np.rint(record_pk[packet_of] - record_pk[packet_of[0]])
    record = np.maximum.accumulate(np.maximum(record, 0.0))

    # sentinels (a move or wheel row logged without a position), kept off the first rows
    states = [r[3] for r in rows]
    sentinel = np.zeros(n, dtype=bool)
    u = rng.random(n)
    for j in range(2, n):
        if states[j] in ("Move", "Down", "Up") and u[j] < quirks.sentinel_prob:
            sentinel[j] = True
    expected = expected_quarantine(client, sentinel)

    client_base = int(rng.integers(10**8, 10**9))  # the client's clock: ms since boot
    record_base = int(rng.integers(1_420_000_000_000, 1_460_000_000_000))  # the monitor's: ms since 1970
    lines = []
    for j, r in enumerate(rows):
        px, py = (SENTINEL, SENTINEL) if sentinel[j] else (int(r[4]), int(r[5]))
        lines.append(f"{_clock_text(record_base, record[j])},{_clock_text(client_base, client[j])},"
                     f"{r[2]},{r[3]},{px},{py}")

    same_c = np.r_[False, client[1:] == client[:-1]]
    same_r = np.r_[False, record[1:] == record[:-1]]
    step = np.diff(client.astype(float))
    counts.update({
        "client_repeats": float(same_c.sum()), "record_repeats": float(same_r.sum()),
        "both_repeats": float((same_c & same_r).sum()), "stalled_packets": float(stalled.sum()),
        "moving_s": float(step[step < 1000.0].sum() / 1000.0), "minutes": float(client[-1] / 60_000.0),
    })
    on_screen = (np.array([r[4] for r in rows])[~sentinel], np.array([r[5] for r in rows])[~sentinel])
    return lines, expected, counts, on_screen


def _clock_text(base_ms: int, value_ms: float) -> str:
    """A timestamp as the challenge prints it: the difference of two readings of a clock that counts whole
    milliseconds from ``base_ms`` (so carrying that clock's float noise), in seconds, 12 significant digits
    (Python 2 ``str``)."""
    seconds = (base_ms + int(value_ms)) / 1000.0 - base_ms / 1000.0
    text = f"{seconds:.12g}"
    return text if ("." in text or "e" in text) else text + ".0"


# ------------------------------------------------------------------------------------------ schedule "fine"
def _fine_lines(s: pl.DataFrame, scroll_dy: dict, rng: np.random.Generator,
                quirks: BalabitQuirks) -> tuple[list[str], list, dict[str, float], tuple]:
    """The original writer: one row per sample of the polled movement, quirks injected at low rates."""
    t = s["t_ms"].to_numpy().astype(float)
    x = s["x"].to_numpy().astype(np.int64)
    y = s["y"].to_numpy().astype(np.int64)
    ev = s["event"].to_list()
    bits = s["buttons"].to_numpy()
    n = t.size
    client = (t - t[0]) / 1000.0
    button = np.empty(n, dtype=object)
    state = np.empty(n, dtype=object)
    held = "Left"
    for i, (e, b) in enumerate(zip(ev, bits)):
        if e == "move":
            button[i], state[i] = "NoButton", "Move"
        elif e == "drag":
            button[i], state[i] = "NoButton", "Drag"
        elif e == "down":
            held = "Right" if b == 2 else "Left"
            button[i], state[i] = held, "Pressed"
        elif e == "up":
            button[i], state[i] = held, "Released"
        elif e == "scroll":
            button[i], state[i] = "Scroll", "Down" if scroll_dy.get(t[i], 1.0) > 0 else "Up"
        else:  # pragma: no cover - simulate_free_use writes only these events
            raise ValueError(f"cannot write sample event {e!r} in the Balabit layout")

    # quirks that a reader must quarantine; keep them two rows apart so that each is decided on its own
    touched = np.zeros(n + 2, dtype=bool)
    expected: list[tuple[int, str, str]] = []
    client_out = client.copy()
    u_dup = rng.random(n)
    u_sent = rng.random(n)
    for i in range(2, n - 1):
        if touched[i - 2:i + 2].any():
            continue
        duplicate = {"Pressed": quirks.press_duplicate_prob, "Move": quirks.move_duplicate_prob}.get(state[i], 0.0)
        if state[i - 1] == "Move" and u_dup[i] < duplicate:
            client_out[i] = client_out[i - 1]  # logged at the client time of the move before it
            expected.append((i - 1, "client timestamp", "duplicate_timestamp"))  # that earlier row goes
            touched[i - 1:i + 1] = True
        elif state[i] in ("Move", "Down", "Up") and u_sent[i] < quirks.sentinel_prob:
            expected.append((i, "x", "sentinel_coordinate"))
            touched[i] = True
    xs = x.astype(object)
    ys = y.astype(object)
    for i, _, reason in expected:
        if reason == "sentinel_coordinate":
            xs[i] = ys[i] = SENTINEL

    # record timestamps: client time + network delay, never decreasing; some rows share a packet
    base, extra = quirks.record_delay_ms
    delay = (base + rng.exponential(extra, n)) / 1000.0 if extra > 0 else np.full(n, base / 1000.0)
    delay[0] = 0.0  # the monitor's clock starts with the session's first row
    record = np.maximum.accumulate(client_out + delay)
    # a row sent in one packet with the row after it (rows < 30 ms apart) is recorded when that packet arrives
    batch = (rng.random(n) < quirks.record_batch_prob) & (np.diff(client_out, prepend=-1.0) < 0.03)
    batch[:2] = False
    for i in np.flatnonzero(batch)[::-1]:
        record[i - 1] = record[i]

    lines = [
        f"{record[i]:.3f},{c},{button[i]},{state[i]},{xs[i]},{ys[i]}"
        for i, c in enumerate(_client_text(client_out))
    ]
    counts: dict[str, float] = {"record_batched": float(batch[1:].sum()), "minutes": float(client[-1] / 60.0)}
    return lines, sorted(expected), counts, (x, y)  # edge rows as before: of the samples, sentinels included


def _client_text(seconds: np.ndarray) -> list[str]:
    """Client timestamps of schedule ``"fine"``: single precision, printed in full. Beyond about an hour
    single precision no longer separates milliseconds; such a session is printed in double precision
    (rounded to the microsecond) rather than invent duplicate timestamps."""
    single = seconds.astype(np.float32)
    distinct = np.diff(single) != 0
    wanted = np.diff(seconds) != 0
    if np.array_equal(distinct, wanted):
        return [repr(float(v)) for v in single]
    return [repr(float(round(v, 6))) for v in seconds]


def iter_balabit(
    *,
    users: int = 10,
    sessions: int = 3,
    minutes: float = 5.0,
    seed: int,
    screen_px: tuple[int, int] = (1920, 1080),
    rate_hz: float = 60.0,
    quirks: BalabitQuirks = BalabitQuirks(),
    population: StylePopulation = StylePopulation(),
    schedule: str = "rdp",
    clock: ReportClock = ReportClock(),
) -> Iterator[BalabitSession]:
    """Generate ``users`` × ``sessions`` Balabit-layout session files, one at a time (bounded memory).

    Parameters
    ----------
    users : number of users, folders ``user1`` … ``userN``.
    sessions : sessions per user, files ``session_`` + 10 seeded digits (unique across the set).
    minutes : mean session length; each session lasts ``U(0.8, 1.2) × minutes`` (idle breaks included).
    seed : master seed: the same arguments give byte-identical files.
    screen_px : (width, height) of every user's screen (px).
    rate_hz : polling rate of the movement kernel (Hz): the trajectory the reports are taken from.
    quirks : rates of the recording quirks (:class:`BalabitQuirks`; ``BalabitQuirks.none()`` for clean files).
    population : the population every user's style is drawn from, and how much sessions drift.
    schedule : ``"rdp"`` (default): reports on the coarse two-clock schedule of the real files (~9 rows/s
        while moving); ``"fine"``: the original fine-grained rows, one per position change at ``rate_hz``
        (byte-identical to the files this function wrote before ``schedule`` existed).
    clock : the report clock of schedule ``"rdp"`` (:class:`ReportClock`).
    """
    if users < 1 or sessions < 1:
        raise ValueError("users and sessions must be >= 1")
    if not minutes > 0:
        raise ValueError(f"minutes must be > 0, got {minutes!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    root = np.random.SeedSequence(seed)
    style_seq, name_seq, session_seq, setup_seq = root.spawn(4)  # the first three as before setups existed
    ids = [f"user{i + 1}" for i in range(users)]
    styles = population.draw(ids, seed=np.random.default_rng(style_seq))
    setup_rng = np.random.default_rng(setup_seq)
    setups = {user: RecordingSetup.draw(quirks, seed=setup_rng) for user in ids}
    names_rng = np.random.default_rng(name_seq)
    numbers: set[int] = set()
    while len(numbers) < users * sessions:
        numbers.add(int(names_rng.integers(10**8, 10**10)))
    names = [f"session_{v:010d}" for v in names_rng.permutation(sorted(numbers))]
    streams = session_seq.spawn(users * sessions)
    span = (0.8 * minutes * 60.0, 1.2 * minutes * 60.0)
    for u, user in enumerate(ids):
        for k in range(sessions):
            j = u * sessions + k
            rng = np.random.default_rng(streams[j])
            style = population.for_session(styles[user], seed=rng)
            sim = simulate_free_use([user], seed=rng, session=names[j], duration_s=span, screen_px=screen_px,
                                    rate_hz=rate_hz, styles={user: style})
            lines, expected, counts = balabit_lines(sim["samples"], sim["events"], seed=rng, quirks=quirks,
                                                    screen_px=screen_px, schedule=schedule, clock=clock,
                                                    setup=setups[user])
            text = "\n".join([HEADER, *lines]) + "\n"
            yield BalabitSession(user=user, session=names[j], path=f"training_files/{user}/{names[j]}", text=text,
                                 rows=len(lines), expected=expected, counts=counts)
