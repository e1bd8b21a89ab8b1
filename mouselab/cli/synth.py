"""``mouselab synth``: generate synthetic, seeded mouse-movement data into a store."""

from __future__ import annotations

import click


@click.group("synth")
def command() -> None:
    """Generate synthetic mouse-movement data (seeded; no real person behind it)."""


@command.command("sample-study")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Store folder (created when missing).")
@click.option("--seed", type=int, required=True, help="Master seed; the same seed gives byte-identical files (default study: 20261126).")
@click.option("--participants", type=click.IntRange(min=1), default=30, show_default=True, help="Number of participants.")
@click.option(
    "--trials-per-condition", type=click.IntRange(min=1), default=20, show_default=True,
    help="Trials per load condition and participant.",
)
def sample_study(out: str, seed: int, participants: int, trials_per_condition: int) -> None:
    """Build the synthetic 'cogload' mouse-tracking study and write it into the store --out.

    \b
    Two load conditions (low / high) within participants, planted effects on initiation time, MAD,
    x-flips, hesitations and errors (see data/sample/README.md), plus three free-use desktop sessions.
    """
    from mouselab.store import Store
    from mouselab.synth import build_sample_study

    frames = build_sample_study(
        seed=seed, n_participants=participants, trials_per_condition=trials_per_condition,
        free_participants=min(3, participants),
    )
    store = Store.create(out)
    study = frames["trials"]["study"][0]
    new = set(frames["participants"]["participant"].to_list())
    old = {
        e.partition.get("participant")
        for files in store.manifest.tables.values()
        for e in files.values()
        if e.partition.get("study") == study
    }
    stale = sorted(p for p in old - new if p)
    if stale:
        raise ValueError(
            f"{out} already holds study {study!r} with participants not in this build ({', '.join(stale[:5])}"
            f"{', …' if len(stale) > 5 else ''}); write into a new folder"
        )
    summary = store.write(frames)
    trials = frames["trials"]
    click.echo(
        f"study {study}: {participants} participants × {trials.height // participants} trials "
        f"(low/high load), seed {seed}"
    )
    for name, rows in summary.rows.items():
        click.echo(f"  {name:<13}{rows:>10,} rows")
    size = sum(e.bytes for files in store.manifest.tables.values() for e in files.values())
    state = f"wrote {summary.files_added} file(s)" if summary.changed else "already up to date"
    click.echo(f"{state}: {out} ({size / 1e6:.2f} MB), content sha256 {store.content_hash()}")
