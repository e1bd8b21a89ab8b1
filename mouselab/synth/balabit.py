"""Synthetic sessions in the layout of the Balabit Mouse Dynamics Challenge (seeded; no real person behind them).

The real data set (Fülöp et al. 2016) holds free-use remote-desktop sessions of 10 users, logged by a
network monitor between the RDP client and the server, one file per session::

    training_files/user12/session_0041905381
        record timestamp,client timestamp,button,state,x,y
        0.0,0.0,NoButton,Move,1253,608
        0.018,0.01600000075995922,NoButton,Move,1246,611
        …

:func:`iter_balabit` writes the same layout from :func:`~mouselab.synth.free_use.simulate_free_use` with
**per-person style** (:class:`~mouselab.synth.free_use.StylePopulation`): every user gets a style, every
session a slightly drifted copy of it, so the users can be told apart as in the literature — and the
privacy-risk report has something real to measure. Rows are rendered as the challenge logs them:

* ``client timestamp``: seconds since the session start on the client (the first row is 0.0), written as
  the challenge does, a single-precision float printed in full (``0.10000000149011612``);
* ``record timestamp``: when the network monitor saw the event — the client time plus a small, variable
  network delay (never decreasing; rows sent in one packet share it), three decimals;
* ``Move`` / ``Drag`` rows with ``NoButton`` (the data set writes ``NoButton`` on drags), ``Pressed`` /
  ``Released`` with ``Left`` / ``Right``, wheel steps as ``Scroll`` ``Down`` / ``Up``;
* coordinates in screen pixels, clamped to the screen (a pointer flung against an edge stays on it).

And the data set's quirks, each at a low, configurable rate (:class:`BalabitQuirks`); the ones a reader
must quarantine are listed per file with their line and reason (the *oracle* of the ingest test):

* a press logged at the same client time as the move just before it, and more rarely two moves sharing a
  client time — mouselab's reader keeps the last of equal timestamps and quarantines the earlier row as
  ``duplicate_timestamp`` (column ``client timestamp``);
* a move or wheel row logged at the sentinel position ``65535, 65535`` (the monitor had no position):
  ``sentinel_coordinate`` (column ``x``);
* record vs client timestamp jitter and packet batching, and screen-edge clamps — valid rows, stored.

Quirk rates are *modelling choices*: the real files are not reproduced here, and the exact rates of the
real data set were not measured for this generator.

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

__all__ = ["HEADER", "BalabitQuirks", "BalabitSession", "balabit_lines", "iter_balabit"]

#: First line of every session file.
HEADER = "record timestamp,client timestamp,button,state,x,y"
#: The sentinel the network monitor writes when it has no pointer position.
SENTINEL = 65535


@dataclass(frozen=True)
class BalabitQuirks:
    """Rates of the recording quirks (modelling choices; see the module docstring).

    record_delay_ms : (base, mean extra) network delay of the record timestamp: ``base + Exponential(mean)``.
    record_batch_prob : probability that a row less than 30 ms after the one before is sent in one packet with
        it: both get the record timestamp of the later row.
    press_duplicate_prob : probability that a press directly after a move is logged at the move's client time.
    move_duplicate_prob : probability that a move directly after a move is logged at that move's client time.
    sentinel_prob : probability that a move or wheel row is logged at ``65535, 65535``.
    """

    record_delay_ms: tuple[float, float] = (2.0, 10.0)
    record_batch_prob: float = 0.03
    press_duplicate_prob: float = 0.15
    move_duplicate_prob: float = 0.002
    sentinel_prob: float = 0.0008

    @classmethod
    def none(cls) -> "BalabitQuirks":
        """Clean files: no duplicates, no sentinels (timestamps still jitter, screens still clamp)."""
        return cls(record_batch_prob=0.0, press_duplicate_prob=0.0, move_duplicate_prob=0.0, sentinel_prob=0.0)

    def __post_init__(self) -> None:
        for name in ("record_batch_prob", "press_duplicate_prob", "move_duplicate_prob", "sentinel_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5, got {value!r}")


@dataclass
class BalabitSession:
    """One generated session file: where it goes, its text, and what a reader must make of it.

    path : relative path, ``training_files/userN/session_XXXXXXXXXX``.
    text : the file's content (header and one line per row, newline-terminated).
    rows : data rows (lines after the header).
    expected : the rows a reader must quarantine: ``line`` (1-based, the header is line 1), ``column``,
        ``reason``.
    counts : quirk counts: ``duplicate_timestamp``, ``sentinel_coordinate``, ``edge_rows`` (rows on the
        screen border), ``record_batched``; and ``minutes`` (client time of the last row).
    """

    user: str
    session: str
    path: str
    text: str
    rows: int
    expected: pl.DataFrame
    counts: dict[str, float] = field(default_factory=dict)


def balabit_lines(
    samples: pl.DataFrame, events: pl.DataFrame, *, seed: int | np.random.Generator,
    quirks: BalabitQuirks = BalabitQuirks(), screen_px: tuple[int, int] | None = None,
) -> tuple[list[str], pl.DataFrame, dict[str, float]]:
    """One session's samples (one participant and session, mouselab schema) as Balabit data lines.

    Returns ``(lines, expected, counts)``: the lines without the header, the rows a reader must quarantine
    (``line``, ``column``, ``reason``; line 2 is the first data line) and the quirk counts.
    """
    rng = rng_from(seed)
    s = samples.sort("t_ms")
    t = s["t_ms"].to_numpy().astype(float)
    x = s["x"].to_numpy().astype(np.int64)
    y = s["y"].to_numpy().astype(np.int64)
    ev = s["event"].to_list()
    bits = s["buttons"].to_numpy()
    n = t.size
    if n == 0:
        return [], pl.DataFrame(schema={"line": pl.Int64, "column": pl.String, "reason": pl.String}), {}
    scroll_dy = dict(events.filter(pl.col("kind") == "scroll").select("t_ms", "dy").iter_rows())
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
    exp = pl.DataFrame(
        {"line": [i + 2 for i, _, _ in expected], "column": [c for _, c, _ in expected],
         "reason": [r for _, _, r in expected]},
        schema={"line": pl.Int64, "column": pl.String, "reason": pl.String},
    ).sort("line")
    counts: dict[str, float] = {
        "duplicate_timestamp": float(sum(r == "duplicate_timestamp" for _, _, r in expected)),
        "sentinel_coordinate": float(sum(r == "sentinel_coordinate" for _, _, r in expected)),
        "record_batched": float(batch[1:].sum()),
        "minutes": float(client[-1] / 60.0),
    }
    if screen_px is not None:
        w, h = screen_px
        counts["edge_rows"] = float(((x <= 0) | (x >= w - 1) | (y <= 0) | (y >= h - 1)).sum())
    return lines, exp, counts


def _client_text(seconds: np.ndarray) -> list[str]:
    """Client timestamps as the challenge prints them: single precision, printed in full. Beyond about an
    hour single precision no longer separates milliseconds; such a session is printed in double precision
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
) -> Iterator[BalabitSession]:
    """Generate ``users`` × ``sessions`` Balabit-layout session files, one at a time (bounded memory).

    Parameters
    ----------
    users : number of users, folders ``user1`` … ``userN``.
    sessions : sessions per user, files ``session_`` + 10 seeded digits (unique across the set).
    minutes : mean session length; each session lasts ``U(0.8, 1.2) × minutes`` (idle breaks included).
    seed : master seed: the same arguments give byte-identical files.
    screen_px : (width, height) of every user's screen (px).
    rate_hz : polling rate of the movement kernel (Hz); rows are written when the position changes.
    quirks : rates of the recording quirks (:class:`BalabitQuirks`; ``BalabitQuirks.none()`` for clean files).
    population : the population every user's style is drawn from, and how much sessions drift.
    """
    if users < 1 or sessions < 1:
        raise ValueError("users and sessions must be >= 1")
    if not minutes > 0:
        raise ValueError(f"minutes must be > 0, got {minutes!r}")
    root = np.random.SeedSequence(seed)
    style_seq, name_seq, session_seq = root.spawn(3)
    ids = [f"user{i + 1}" for i in range(users)]
    styles = population.draw(ids, seed=np.random.default_rng(style_seq))
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
                                                    screen_px=screen_px)
            text = "\n".join([HEADER, *lines]) + "\n"
            yield BalabitSession(user=user, session=names[j], path=f"training_files/{user}/{names[j]}", text=text,
                                 rows=len(lines), expected=expected, counts=counts)
