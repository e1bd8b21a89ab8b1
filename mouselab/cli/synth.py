"""``mouselab synth``: generate synthetic, seeded mouse-movement data into a store."""

from __future__ import annotations

from pathlib import Path

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


def _screen(value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().replace(",", "x").split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT (e.g. 1920x1080)") from None
    if w < 200 or h < 200:
        raise click.BadParameter(f"{value!r}: a screen needs at least 200 x 200 px")
    return (w, h)


@command.command("balabit")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--users", type=click.IntRange(min=1), default=10, show_default=True, help="Number of users (userN folders).")
@click.option("--sessions", type=click.IntRange(min=1), default=3, show_default=True, help="Sessions per user.")
@click.option("--minutes", type=click.FloatRange(min=0.1, max=600.0), default=5.0, show_default=True,
              help="Mean session length in minutes (each session lasts 0.8–1.2 × this, idle breaks included).")
@click.option("--seed", type=int, required=True, help="Master seed; the same arguments give byte-identical files.")
@click.option("--screen", default="1920x1080", show_default=True, metavar="WxH", help="Screen size of every user (px).")
@click.option("--schedule", type=click.Choice(["rdp", "fine"]), default="rdp", show_default=True,
              help="rdp: reports every ~109 ms on two lagging clocks, as in the real files; fine: the original "
                   "fine-grained rows (one per position change at 60 Hz).")
@click.option("--clean", is_flag=True, help="No repeated client timestamps and no sentinel coordinates (nothing to quarantine).")
def balabit(out: Path, users: int, sessions: int, minutes: float, seed: int, screen: str, schedule: str,
            clean: bool) -> None:
    """Write synthetic free-use sessions in the Balabit Mouse Dynamics Challenge layout into OUT.

    \b
    OUT/training_files/userN/session_XXXXXXXXXX   one file per session, as the challenge logs them:
        record timestamp,client timestamp,button,state,x,y   (seconds as floats;
        Move/Drag/Pressed/Released with NoButton/Left/Right, Down/Up with Scroll)
    OUT/expected_quarantine.csv   the rows a reader must quarantine: file, line, column, reason

    Every user moves with their own style (speed, Fitts' law, curvature, hesitations, click timing, how
    much they drag and scroll, where on the screen they work), drawn once per user; their sessions vary a
    little around it — so users can be told apart, as in real mouse-dynamics data (see
    mouselab.synth.free_use). The movement is reported as in the real files (--schedule rdp): a row about
    every 109 ms while the pointer moves (~9 rows/s), button rows at once; the client and record clocks
    lag each other, so that 10–25 % of rows repeat the previous row's client timestamp (the reader keeps
    the last of equal timestamps and quarantines the others), and record-only repeats, record lags and
    stalled packets occur at the rates measured on the real files (each user's machine has its own; see
    mouselab.synth.balabit). Rarely a position is logged as 65535 (sentinel), and pointers are clamped at
    the screen edge. No real person is behind any row.

    \b
    Example:
      mouselab synth balabit bb --users 10 --sessions 3 --minutes 5 --seed 1
      mouselab ingest balabit bb/training_files --store bb/store --study balabit --segment
      mouselab report run notebooks/04_privacy_risk.ipynb -p store=bb/store -p study=balabit -p split=sessions
      mouselab report run notebooks/03_workday_sessions.ipynb -p store=bb/store -p study=balabit
    """
    import polars as pl

    from mouselab.synth.balabit import BalabitQuirks, iter_balabit

    screen_px = _screen(screen)
    root = out / "training_files"
    existing = {p.relative_to(out).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    quirks = BalabitQuirks.none() if clean else BalabitQuirks()
    written, expected, rows = set(), [], 0
    kept = {"edge_rows": 0, "client_repeats": 0, "record_repeats": 0, "record_batched": 0}
    for s in iter_balabit(users=users, sessions=sessions, minutes=minutes, seed=seed, screen_px=screen_px,
                          quirks=quirks, schedule=schedule):
        if not written and existing and s.path not in existing:
            raise click.UsageError(f"{root} already holds sessions of another build; write into a new folder")
        path = out / s.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(s.text, encoding="utf-8")
        written.add(s.path)
        rows += s.rows
        for name in kept:
            kept[name] += int(s.counts.get(name, 0))
        expected.append(s.expected.select(pl.lit(f"{s.user}/{s.session}").alias("file"), "line", "column", "reason"))
    stale = sorted(existing - written)
    if stale:
        raise click.UsageError(f"{root} holds {len(stale)} file(s) not in this build (e.g. {stale[0]}); "
                               "write into a new folder")
    table = pl.concat(expected)
    table.write_csv(out / "expected_quarantine.csv")
    counts = dict(table.group_by("reason").len().iter_rows())
    click.echo(f"wrote {len(written)} session file(s): {users} users × {sessions} sessions of ~{minutes:g} min, "
               f"{rows:,} rows ({schedule} schedule), screen {screen_px[0]}x{screen_px[1]}, seed {seed} -> {root}")
    click.echo(f"  to be quarantined: {counts.get('duplicate_timestamp', 0):,} duplicate timestamps, "
               f"{counts.get('sentinel_coordinate', 0):,} sentinel coordinates "
               f"({table.height / max(rows, 1):.2%} of rows; listed in {out / 'expected_quarantine.csv'})")
    if schedule == "rdp":
        clocks = (f"{kept['client_repeats']:,} rows repeating the previous client timestamp (the data set's "
                  f"clock ties: counted above as duplicates), {kept['record_repeats']:,} repeating the previous "
                  "record timestamp (not used as sample time)")
    else:
        clocks = f"record timestamps jittered, {kept['record_batched']:,} rows batched"
    click.echo(f"  recording quirks in the files: {kept['edge_rows']:,} rows clamped at a screen edge (valid, "
               f"stored); {clocks}")
    click.echo(f"next: mouselab ingest balabit {root} --store STORE --study balabit --segment")
