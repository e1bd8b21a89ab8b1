"""``mouselab ingest``: bring recordings into a store."""

from __future__ import annotations

from pathlib import Path

import click

_FORMAT_HELP = {
    "mousetrap": "mousetrap long CSV: mt_id, subject_nr, timestamps, xpos, ypos + trial columns (.csv or .csv.gz)",
    "mouselab": "mouselab's own table as .parquet / .csv (see --table)",
}


@click.command("ingest")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(_FORMAT_HELP)))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--store", "store_path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Store folder (created when missing).")
@click.option("--study", default="study", show_default=True, help="Study id for rows without one.")
@click.option("--duplicates", type=click.Choice(["error", "remove_first"]), default="error", show_default=True,
              help="Repeated timestamps within a trial: stop with an error, or keep the last as mousetrap does.")
@click.option("--table", "table_name", default="samples", show_default=True,
              help="Table held by the files (format 'mouselab' only).")
def command(fmt: str, paths: tuple[Path, ...], store_path: Path, study: str, duplicates: str, table_name: str) -> None:
    """Read FORMAT files at PATHS and write them to a store, all or nothing.

    \b
    Formats:
      mousetrap  mousetrap long CSV: mt_id, subject_nr, timestamps, xpos, ypos
                 + trial columns (Condition, correct, …), plain or .gz
      mouselab   mouselab's own table as .parquet or .csv (see --table)

    All files are validated before anything is written; on any error the store is left as it was and
    the message names the file, line and column. Ingesting the same files again changes nothing.

    \b
    Example:
      mouselab ingest mousetrap KH2017_trajectories.csv.gz --store kh2017 --study kh2017
    """
    from mouselab.ingest import ingest_files
    from mouselab.store import Store

    options = {"study": study, "duplicates": duplicates}
    if fmt == "mouselab":
        options["table_name"] = table_name
    store = Store.open(store_path, create=True)
    report = ingest_files(fmt, list(paths), store=store, **options)
    rows = ", ".join(f"{n:,} {t}" for t, n in report.rows.items())
    state = "written" if report.write.changed else "already in the store (nothing changed)"
    click.echo(f"ingested {len(report.files)} file(s): {rows} -> {store_path} [{state}]")
