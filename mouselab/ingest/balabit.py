"""Reader for the Balabit Mouse Dynamics Challenge session files.

Layout (one file per session, ``…/user12/session_0041905381``, no extension)::

    record timestamp,client timestamp,button,state,x,y
    0.0,0.0,NoButton,Move,1253,608
    0.156,0.156,NoButton,Move,1246,611
    2.512,2.496,Left,Pressed,702,301
    2.631,2.621,Left,Released,702,301
    …

* ``client timestamp`` (seconds since the session start, float) is the sample time (``t_ms`` = × 1000);
  ``record timestamp`` (when the network monitor logged the event) must be numeric but is not stored.
* ``state`` / ``button``: ``Move`` (``NoButton``) → ``move``; ``Drag`` → ``drag`` with the held button
  (left when none was pressed — the data set writes ``NoButton`` on drags); ``Pressed`` / ``Released``
  with ``Left`` / ``Right`` / ``Middle`` → ``down`` / ``up`` and ``click_down`` / ``click_up`` events;
  ``Down`` / ``Up`` with ``Scroll`` → ``scroll`` samples and ``scroll`` events with ``dy`` +1 / −1 (wheel
  towards / away from the user, the DOM ``WheelEvent.deltaY`` sign). Any other combination is an
  ``unknown_event_code``.
* Coordinates are screen pixels; sentinel values such as 65535 (logged when the pointer position was
  unknown) are quarantined as ``sentinel_coordinate``.
* ``participant`` is the folder name (``user12``), ``session`` the file name, ``trial`` is null.
* The client clock ticks coarsely (15.625 ms), and the remote-desktop client sends reports about every
  109 ms, sometimes with the previous report's client time: a press often shares its timestamp with the
  move before it, and in real sessions 10–27 % of rows repeat the previous row's client time (measured on
  five sessions of the data set; see :mod:`mouselab.synth.balabit`). The default
  ``duplicates="remove_first"`` keeps the *last* of equal timestamps (the press; the latest position) and
  quarantines the others as ``duplicate_timestamp`` -- expect that share of a real file in the quarantine
  table, with its line numbers; pass ``duplicates="error"`` to keep the first instead. No time is ever
  invented for a tied row.

Reference: Fülöp, Á., Kovács, L., Kurics, T., & Windhager-Pokol, E. (2016). Balabit Mouse Dynamics
Challenge data set. https://github.com/balabit/Mouse-Dynamics-Challenge
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mouselab.ingest.base import BatchReader, ReadBatch, ensure_reasons, parse_floats, require
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_csv
from mouselab.ingest.validate import flag

COLUMNS = {
    "record timestamp": "seconds (float) when the event was logged",
    "client timestamp": "seconds (float) since the session start on the client",
    "button": "NoButton / Left / Right / Middle / Scroll",
    "state": "Move / Drag / Pressed / Released / Down / Up",
    "x": "x in px",
    "y": "y in px",
}
STATES = ("Move", "Drag", "Pressed", "Released", "Down", "Up")
BUTTONS = ("NoButton", "Left", "Right", "Middle", "Scroll")
_BITS = {"Left": 1, "Right": 2, "Middle": 4}


class BalabitReader(BatchReader):
    name = "balabit"
    patterns = ("session_*",)
    default_duplicates = "remove_first"

    def __init__(self, path: Path, *, study: str, participant: str | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(path, study=study)
        self.participant = participant or self.path.parent.name
        self.session = self.path.name
        self.chunk_bytes = chunk_bytes
        self.columns = {"t_ms": "client timestamp", "x": "x", "y": "y", "event": "state", "participant": "(folder)",
                        "session": "(file name)"}
        self._held = {b: 0 for b in _BITS}
        self._stored = False

    def options(self) -> dict:
        return {"participant": self.participant, "session": self.session}

    def batches(self) -> Iterator[ReadBatch]:
        names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, hasher=self._hasher,
                                 numeric=lambda names: [c for c in ("record timestamp", "client timestamp", "x", "y")
                                                        if c in names])
        require(self.path, names, COLUMNS)
        for chunk in chunks:
            yield ReadBatch(self._candidates(chunk.frame, chunk.raw_fields), chunk.rejected,
                            raw=lambda f, c=chunk: c.raw_lines(f["_line"]), nbytes=len(chunk.data))
        self.sha256 = self._hasher.hexdigest() if self.path.open("rb").read(2) != b"\x1f\x8b" else None

    def _candidates(self, frame: pl.DataFrame, raw_field=None) -> pl.DataFrame:
        frame = ensure_reasons(frame).with_columns(
            pl.lit(self.participant).alias("participant"), pl.lit(self.session).alias("session"),
            pl.lit(None, dtype=pl.String).alias("trial"),
            pl.col("button").str.strip_chars().alias("_button"), pl.col("state").str.strip_chars().alias("_state"),
        )
        frame = parse_floats(frame, {"_record": "record timestamp", "t_ms": "client timestamp", "x": "x", "y": "y"},
                             scale={"t_ms": 1000.0}, raw_field=raw_field)
        state, button = pl.col("_state"), pl.col("_button")
        valid = (
            ((state == "Move") & (button == "NoButton"))
            | ((state == "Drag") & button.is_in(["NoButton", "Left", "Right", "Middle"]))
            | (state.is_in(["Pressed", "Released"]) & button.is_in(["Left", "Right", "Middle"]))
            | (state.is_in(["Down", "Up"]) & (button == "Scroll"))
        )
        frame = flag(frame, ~valid.fill_null(False), "unknown_event_code", pl.when(state.is_in(list(STATES)))
                     .then(pl.lit("button")).otherwise(pl.lit("state")), pl.format("{}/{}", button, state))
        # held buttons: a state machine over presses and releases, carried across batches
        held_cols = []
        for name, bit in _BITS.items():
            change = (pl.when((state == "Pressed") & (button == name)).then(1)
                      .when((state == "Released") & (button == name)).then(0).otherwise(None))
            held = change.forward_fill().fill_null(self._held[name])
            held_cols.append((held * bit).alias(f"_held_{name}"))
        frame = frame.with_columns(held_cols)
        for name in _BITS:
            last = frame[f"_held_{name}"][-1] if frame.height else None
            if last is not None:
                self._held[name] = int(last > 0)
        mask = pl.sum_horizontal([pl.col(f"_held_{n}") for n in _BITS])
        event = (pl.when(state == "Move").then(pl.lit("move")).when(state == "Drag").then(pl.lit("drag"))
                 .when(state == "Pressed").then(pl.lit("down")).when(state == "Released").then(pl.lit("up"))
                 .when(state.is_in(["Down", "Up"])).then(pl.lit("scroll")).otherwise(pl.lit("move")))
        buttons = pl.when((state == "Drag") & (mask == 0)).then(1).otherwise(mask)
        frame = frame.with_columns(
            event.alias("event"), buttons.cast(pl.UInt8).alias("buttons"),
            pl.when(state == "Down").then(1.0).when(state == "Up").then(-1.0).otherwise(None).alias("_dy"),
        )
        return frame.select(["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons",
                             "_reason", "_column", "_value", "_button", "_dy"])

    def on_accepted(self, accepted: pl.DataFrame) -> dict[str, pl.DataFrame]:
        self._stored = True
        clicks = accepted.filter(pl.col("event").is_in(["down", "up", "scroll"]))
        if clicks.height == 0:
            return {}
        events = clicks.select(
            pl.lit(self.study).alias("study"), "participant", "session", "trial", "t_ms",
            pl.when(pl.col("event") == "down").then(pl.lit("click_down"))
            .when(pl.col("event") == "up").then(pl.lit("click_up")).otherwise(pl.lit("scroll")).alias("kind"),
            pl.when(pl.col("event") == "scroll").then(None).otherwise(pl.col("_button").str.to_lowercase()).alias("button"),
            "x", "y",
            pl.when(pl.col("event") == "scroll").then(0.0).otherwise(None).alias("dx"),
            pl.col("_dy").alias("dy"),
        )
        return {"events": events}

    def declare(self) -> dict[str, pl.DataFrame]:
        """Events of this session are replaced as a whole (even when none survive validation)."""
        if not self._stored:
            return {}
        return {"events": pl.DataFrame({"study": [self.study], "participant": [self.participant],
                                        "session": [self.session]})}

    def finish(self) -> dict[str, pl.DataFrame]:
        if not self._stored:
            return {}
        return {"participants": pl.DataFrame({"study": [self.study], "participant": [self.participant],
                                              "device": ["mouse"]})}


__all__ = ["BalabitReader"]
