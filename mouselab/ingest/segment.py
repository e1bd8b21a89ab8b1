"""Write the ``actions`` table of a store: segment stored sessions into MM / PC / DD actions.

The computation is :func:`mouselab.segmentation.action_table` (pure); this module only reads samples
session by session (bounded memory) and writes the result in one atomic store write. Writing again
replaces the actions of the same sessions (idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mouselab.segmentation import action_table
from mouselab.store import Store, WriteSummary


def segment_store(
    store: Store,
    *,
    study: str | None = None,
    participants: Sequence[str] | None = None,
    free_use_only: bool = False,
    max_gap_ms: float = 10_000.0,
    min_samples: int = 4,
    pause_ms: float = 100.0,
    pause_speed_px_per_ms: float = 0.05,
) -> tuple[pl.DataFrame, WriteSummary | None]:
    """Compute the actions of every stored session (optionally one study / some participants) and write them.

    Returns the actions frame and the write summary (None when there was nothing to segment).
    """
    scan = store.scan("samples", study=study, participants=participants)
    if free_use_only:
        scan = scan.filter(pl.col("trial").is_null())
    sessions = scan.select("study", "participant", "session").unique().sort(["study", "participant", "session"]).collect()
    parts = []
    for s, p, sess in sessions.iter_rows():
        samples = scan.filter((pl.col("study") == s) & (pl.col("participant") == p) & (pl.col("session") == sess))
        actions = action_table(samples.collect(), max_gap_ms=max_gap_ms, min_samples=min_samples, pause_ms=pause_ms,
                               pause_speed_px_per_ms=pause_speed_px_per_ms)
        if actions.height:
            parts.append(actions)
    if not parts:
        return pl.DataFrame(), None
    actions = pl.concat(parts, how="vertical_relaxed")
    return actions, store.write({"actions": actions})
