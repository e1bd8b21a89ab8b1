"""``mouselab study``: run every notebook of a study into HTML reports with an index page."""

from __future__ import annotations

from pathlib import Path

import click

from mouselab.cli.report import PARAM_HELP, resolve_store_parameter


@click.group("study")
def command() -> None:
    """Run a study's notebooks (NN_*.ipynb, in order) into offline HTML reports with an index."""


@command.command("run")
@click.argument("notebooks_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
                default=Path("notebooks"), required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/sample"),
              show_default=True, help="Folder for the reports and index.html.")
@click.option("--store", "store_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Store folder (shortcut for -p store=…); default: each notebook's own default.")
@click.option("--study", default=None, help="Study identifier (shortcut for -p study=…).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help=PARAM_HELP)
@click.option("--kernel", default="python3", show_default=True, help="Jupyter kernel to run the notebooks with.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(notebooks_dir: Path, out_dir: Path, store_path: Path | None, study: str | None, params: tuple[str, ...],
        kernel: str, quiet: bool) -> None:
    """Run every NN_*.ipynb in NOTEBOOKS_DIR (default: notebooks) and write the reports to --out.

    Each notebook gets only the parameters it declares; a name no notebook declares stops everything
    before it starts, with a one-line error naming the valid parameters. Open OUT/index.html in any
    browser: reports need no network. Exits with 1 if a notebook failed (the others still run).

    \b
    Examples:
      mouselab study run                                   # the sample study -> reports/sample
      mouselab study run notebooks --store my_store --study pilot --out reports/pilot
      mouselab study run notebooks -p alpha=0.01 -p participants=P01,P02,P03 --out reports/subset
    """
    from mouselab.report import parse_assignments, run_study

    values = parse_assignments(params)
    for name, given in (("store", store_path), ("study", study)):
        if given is not None:
            if name in values:
                raise click.UsageError(f"give {name} either as --{name} or as -p {name}=…, not both")
            values[name] = str(given)
    values = resolve_store_parameter(values)
    results = run_study(notebooks_dir, out_dir=out_dir, parameters=values, kernel_name=kernel, progress=not quiet)
    for result in results:
        click.echo(result.summary())
    click.echo(f"index: {out_dir / 'index.html'}")
    failed = [r.notebook.name for r in results if not r.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} notebooks failed: {', '.join(failed)}")
