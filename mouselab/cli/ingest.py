"""``mouselab ingest``: bring recordings into a store (validated, quarantined, logged)."""

from __future__ import annotations

from pathlib import Path

import click


class _FormatChoice(click.ParamType):
    """The formats registered in ``mouselab.ingest.FORMATS`` (looked up when used, so the CLI imports fast)."""

    name = "FORMAT"

    def convert(self, value, param, ctx):
        from mouselab.ingest import FORMATS

        if value not in FORMATS:
            self.fail(f"{value!r} is not a format; choose one of {', '.join(FORMATS)}", param, ctx)
        return value


def _screen(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        w, h = (int(v) for v in value.lower().replace(",", "x").split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT (e.g. 1920x1080)") from None
    return (w, h)


@click.command("ingest")
@click.argument("fmt", metavar="FORMAT", type=_FormatChoice())
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--store", "store_path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Store folder (created when missing).")
@click.option("--study", default="study", show_default=True, help="Study id written to every row.")
@click.option("--on-error", type=click.Choice(["quarantine", "fail"]), default="quarantine", show_default=True,
              help="Bad records: keep the good ones and quarantine the rest, or stop at the first (nothing written).")
@click.option("--duplicates", type=click.Choice(["error", "remove_first"]), default=None,
              help="Equal timestamps within a trial: quarantine all but the first (error), or all but the last as "
                   "mousetrap's import does (remove_first). Default: error; balabit: remove_first.")
@click.option("--map", "mapping", default=None, metavar="NAME=COLUMN,…",
              help="generic: mouselab name = file column, e.g. t=time,x=posX,y=posY,participant=user.")
@click.option("--time-unit", type=click.Choice(["auto", "s", "ms", "us", "ns"]), default=None,
              help="generic: unit of the time column (auto: detect from the sampling interval and warn).")
@click.option("--participant", default=None, help="Participant id when the files do not name one.")
@click.option("--session", default=None, help="Session id when the files do not name one (generic: default file name).")
@click.option("--table", "table_name", default=None, help="mouselab: table held by the files (default samples).")
@click.option("--encoding", default=None, help="Text encoding of the files when not UTF-8 (e.g. latin-1).")
@click.option("--max-speed", "max_speed_px_per_ms", type=float, default=None,
              help="Speed (px/ms) above which a position spike or teleport run is quarantined [30].")
@click.option("--clock-jump-ms", type=float, default=None,
              help="Time jump treated as a clock fault: a run that comes back is quarantined, a step that stays "
                   "splits the session [3600000].")
@click.option("--max-run", "max_run_samples", type=click.IntRange(1, 1000), default=None,
              help="Longest run of bad samples (clock or position) recognised as a run, not a step [10].")
@click.option("--min-step-ms", type=float, default=None,
              help="Shortest plausible step between samples, used to recognise stretches in s or µs [0.1].")
@click.option("--coordinate-limit", "coordinate_limit_px", type=float, default=None,
              help="|x| or |y| beyond this (px) is out of screen [16384].")
@click.option("--screen", default=None, metavar="WxH",
              help="Screen size: coordinates beyond one extra monitor on each side are out of screen.")
@click.option("--segment", is_flag=True,
              help="Afterwards, segment the ingested sessions into MM / PC / DD actions (the actions table).")
@click.option("--pseudonymise/--no-pseudonymise", "pseudonymise", default=None,
              help="Replace participant and session ids by HMAC pseudonyms under the key_file setting before "
                   "anything is written. Default: on when a key is configured or the store is pseudonymised.")
@click.option("--quiet", is_flag=True, help="No progress bar (shown on terminals) and no per-file lines.")
def command(fmt: str, paths: tuple[Path, ...], store_path: Path, study: str, on_error: str, duplicates: str | None,
            mapping: str | None, time_unit: str | None, participant: str | None, session: str | None,
            table_name: str | None, encoding: str | None, max_speed_px_per_ms: float | None,
            clock_jump_ms: float | None, max_run_samples: int | None, min_step_ms: float | None,
            coordinate_limit_px: float | None, screen: str | None, segment: bool,
            pseudonymise: bool | None, quiet: bool) -> None:
    """Read FORMAT files (or folders, searched recursively) at PATHS and write them to a store.

    \b
    Formats:
      mousetrap     mousetrap long CSV (mt_id, subject_nr, timestamps, xpos, ypos + trial columns) or
                    OpenSesame/mousetrap-os raw wide CSV (xpos_*/ypos_*/timestamps_* lists), plain or .gz
      jspsych       jsPsych .json / .csv with the mouse-tracking extension's mouse_tracking_data
      mousetracker  trial rows: subject, trial, X_1..X_n, Y_1..Y_n, T_1..T_n (+ trial columns)
      balabit       Balabit Mouse Dynamics Challenge sessions (userNN/session_*)
      generic       samples CSV / JSONL / Parquet with --map and --time-unit
      mouselab      mouselab's own tables (.parquet / .csv) and capture segments
      web           JSONL written by the browser snippet (mouselab capture web)

    Every record is validated: good ones are stored, bad ones go to the quarantine table with file,
    line, column and reason, and one line per file summarises what happened (also stored in the
    ingest_log table). Everything is written in one transaction: on an error the store is left as it
    was. Ingesting the same files again changes nothing. --on-error fail stops at the first bad record.

    \b
    Examples:
      mouselab ingest mousetrap KH2017_trajectories.csv.gz --store kh2017 --study kh2017
      mouselab ingest balabit Mouse-Dynamics-Challenge/training_files --store bb --study balabit
      mouselab ingest generic logs/ --map t=time,x=posX,y=posY,participant=user --time-unit s --store s
    """
    from mouselab.ingest import ingest_files
    from mouselab.store import Store

    options = {
        "duplicates": duplicates, "mapping": mapping, "time_unit": time_unit, "participant": participant,
        "session": session, "table_name": table_name, "encoding": encoding,
        "max_speed_px_per_ms": max_speed_px_per_ms, "clock_jump_ms": clock_jump_ms,
        "max_run_samples": max_run_samples, "min_step_ms": min_step_ms,
        "coordinate_limit_px": coordinate_limit_px, "screen_px": _screen(screen),
    }
    options = {k: v for k, v in options.items() if v is not None}
    store = Store.open(store_path, create=True)
    report = ingest_files(fmt, list(paths), store=store, study=study, on_error=on_error,
                          progress=False if quiet else None, pseudonymise=pseudonymise, **options)
    if not quiet:
        for log in report.logs:
            click.echo(log.summary())
            for warning in log.warnings:
                click.echo(f"  warning: {warning}")
    rows = ", ".join(f"{n:,} {t}" for t, n in report.rows.items()) or "no rows"
    state = "written" if report.write.changed else "already in the store (nothing changed)"
    quarantined = f", {report.quarantined:,} quarantined" if report.quarantined else ""
    rate = report.records_read / report.seconds if report.seconds else 0.0
    click.echo(f"ingested {len(report.files)} file(s): {rows}{quarantined} -> {store_path} [{state}] "
               f"({report.seconds:.1f} s, {rate:,.0f} records/s)")
    if segment:
        from mouselab.ingest.segment import segment_store

        people = sorted({p for log in report.logs for p in log.participants})
        if people:
            actions, _ = segment_store(store, study=study, participants=people)
            echo_actions(actions)


def echo_actions(actions) -> None:
    if actions.height == 0:
        click.echo("segmented: no actions (no sessions with movement)")
        return
    counts = actions.group_by("type").len().sort("type")
    text = ", ".join(f"{n:,} {t}" for t, n in counts.iter_rows())
    click.echo(f"segmented {actions.select('participant', 'session').n_unique():,} session(s): {text} actions")
