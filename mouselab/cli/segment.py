"""``mouselab segment``: cut stored sessions into mouse-dynamics actions and write the actions table."""

from __future__ import annotations

from pathlib import Path

import click

from mouselab.cli.ingest import echo_actions


@click.command("segment")
@click.option("--store", "store_path", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Store folder.")
@click.option("--study", default=None, help="Only this study (default: all).")
@click.option("--participants", default=None, help="Comma-separated participant ids (default: all).")
@click.option("--free-use-only", is_flag=True, help="Only free-use sessions (trial is null), not trials.")
@click.option("--max-gap-ms", type=float, default=10_000.0, show_default=True,
              help="A pause this long between samples ends an action.")
@click.option("--min-samples", type=int, default=4, show_default=True, help="Shorter actions are dropped.")
@click.option("--pause-ms", type=float, default=100.0, show_default=True,
              help="A still period this long inside an action counts as a hesitation.")
def command(store_path: Path, study: str | None, participants: str | None, free_use_only: bool,
            max_gap_ms: float, min_samples: int, pause_ms: float) -> None:
    """Segment stored sessions into mouse-dynamics actions (MM / PC / DD) and write the actions table.

    Each action gets its kinematic features (velocity, acceleration, jerk, curvature, angles,
    straightness, duration, distance …; see mouselab.schema.ACTIONS). Running it again replaces the
    actions of the same sessions.

    \b
    Example:
      mouselab segment --store bb --study balabit
    """
    from mouselab.ingest.segment import segment_store
    from mouselab.store import Store

    people = [p.strip() for p in participants.split(",") if p.strip()] if participants else None
    actions, _ = segment_store(Store(store_path), study=study, participants=people, free_use_only=free_use_only,
                               max_gap_ms=max_gap_ms, min_samples=min_samples, pause_ms=pause_ms)
    echo_actions(actions)
