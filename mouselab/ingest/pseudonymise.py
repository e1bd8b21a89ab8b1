"""Pseudonymisation on the way into the store: a sink wrapper that replaces raw participant and session ids
by their HMAC pseudonyms (:func:`mouselab.privacy.pseudonymise_frames`) before any row is staged.

Tables that hold ids only inside free text (``quarantine`` raw lines, ``ingest_log`` source paths) are held
back until commit and scrubbed with *every* raw id the transaction has seen, so a quarantined line of a
participant whose good rows arrive later is scrubbed too. The raw ids themselves never reach a file.
"""

from __future__ import annotations

import polars as pl

from mouselab.privacy.pseudonym import pseudonymise_frames

#: tables whose ids live in free text; scrubbed at commit with all ids seen
TEXT_ONLY_TABLES = ("quarantine", "ingest_log")


class PseudonymisingSink:
    """Wraps a sink (``add`` / ``declare_units`` / ``commit`` / ``abort``) and pseudonymises every frame."""

    def __init__(self, sink, *, key) -> None:
        self.sink = sink
        self.key = key
        self._ids: list[pl.DataFrame] = []
        self._deferred: list[tuple[str, str, pl.DataFrame, dict]] = []

    def _map(self, name: str, frame: pl.DataFrame) -> pl.DataFrame:
        if "participant" in frame.columns:
            cols = ["participant"] + (["session"] if "session" in frame.columns else [])
            self._ids.append(frame.select(cols).unique())
        return pseudonymise_frames({name: frame}, key=self.key)[name]

    def add(self, name: str, frame: pl.DataFrame, *, trusted: bool = False) -> None:
        if name in TEXT_ONLY_TABLES:
            self._deferred.append(("add", name, frame, {"trusted": trusted}))
            return
        self.sink.add(name, self._map(name, frame), trusted=trusted)

    def declare_units(self, name: str, frame: pl.DataFrame) -> None:
        if name in TEXT_ONLY_TABLES:
            self._deferred.append(("declare_units", name, frame, {}))
            return
        self.sink.declare_units(name, self._map(name, frame))

    def commit(self):
        if self._deferred:
            seen = (
                pl.concat(self._ids, how="diagonal_relaxed").unique()
                if self._ids
                else pl.DataFrame(schema={"participant": pl.String, "session": pl.String})
            )
            for method, name, frame, kwargs in self._deferred:
                scrubbed = pseudonymise_frames({"__ids": seen, name: frame}, key=self.key)[name]
                getattr(self.sink, method)(name, scrubbed, **kwargs)
        return self.sink.commit()

    def abort(self) -> None:
        self.sink.abort()
