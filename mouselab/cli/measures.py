"""``mouselab measures``: compute trial measures from a store, or list the measure registry."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("measures", invoke_without_command=True)
@click.option("--store", "store_path", type=click.Path(file_okay=False, path_type=Path), help="Store folder.")
@click.option("--preset", default="mousetrap", show_default=True, help="Measure preset: mousetrap, kinematic or all.")
@click.option("--study", default=None, help="Only this study (default: every study in the store).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file, .csv or .parquet: one row per trial.")
@click.pass_context
def command(ctx: click.Context, store_path: Path | None, preset: str, study: str | None, out_path: Path | None) -> None:
    """Compute one row of measures per trial for every trial in a store.

    The mousetrap preset uses mousetrap's column names and conventions (see `mouselab measures list`).
    Trial covariates (trial_index, condition, correct) are joined from the trials table.

    \b
    Example:
      mouselab measures --store kh2017 --preset mousetrap --out measures.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    if store_path is None or out_path is None:
        raise click.UsageError("give --store and --out (or use `mouselab measures list`)")
    if out_path.suffix.lower() not in (".csv", ".parquet"):
        raise click.UsageError(f"--out {out_path}: use a .csv or .parquet file name")
    from mouselab.study import trial_measures
    from mouselab.store import Store

    table = trial_measures(Store(store_path), preset=preset, study=study)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    if out_path.suffix.lower() == ".csv":
        table.write_csv(tmp)
    else:
        table.write_parquet(tmp)
    tmp.replace(out_path)
    click.echo(f"{table.height:,} trials x {table.width} columns -> {out_path}")


@command.command("list")
@click.option("--preset", default=None, help="Only the measures of this preset.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table.")
def list_cmd(preset: str | None, markdown: bool) -> None:
    """Print the measure registry: name, unit, level, mousetrap name, definition."""
    from mouselab.measures.registry import list_measures

    table = list_measures(preset=preset) if preset else list_measures()
    cols = [c for c in ("name", "unit", "level", "mousetrap_name", "definition") if c in table.columns]
    if markdown:
        click.echo("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for row in table.select(cols).iter_rows():
            click.echo("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
        return
    for row in table.select(cols).iter_rows(named=True):
        mt = f"  [mousetrap: {row['mousetrap_name']}]" if row.get("mousetrap_name") else ""
        click.echo(f"{row['name']:<26} {row['unit']:<10} {row['level']:<8}{mt}")
        if row.get("definition"):
            click.echo(f"    {row['definition'][:160]}")
