"""``mouselab report``: run one parametrized notebook into an offline HTML report."""

from __future__ import annotations

import os
from pathlib import Path

import click

PARAM_HELP = "Notebook parameter as name=value (repeatable); see `mouselab report params NOTEBOOK`."


def resolve_store_parameter(values: dict[str, str]) -> dict[str, str]:
    """A relative ``store`` given on the command line means relative to the current directory; the
    notebook runs in its own folder, so pass it on as an absolute path."""
    store = values.get("store")
    if store and not os.path.isabs(store):
        values = dict(values, store=str(Path(store).resolve()))
    return values


@click.group("report")
def command() -> None:
    """Run parametrized notebooks into self-contained HTML reports (work offline, carry provenance)."""


@command.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help=PARAM_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder for the executed .ipynb and the .html report.")
@click.option("--kernel", default="python3", show_default=True, help="Jupyter kernel to run the notebook with.")
def run(notebook: Path, params: tuple[str, ...], out_dir: Path, kernel: str) -> None:
    """Execute NOTEBOOK with papermill and write NOTEBOOK.ipynb + NOTEBOOK.html into --out.

    Parameters are checked against the notebook's `parameters` cell before anything runs: an unknown
    name or a value of the wrong type stops with a one-line error listing the valid parameters. The
    notebook runs in its own folder; a relative `-p store=…` is taken relative to the current directory.

    \b
    Examples:
      mouselab report run notebooks/02_cognitive_load.ipynb
      mouselab report run notebooks/02_cognitive_load.ipynb -p alpha=0.01 -p participants=P01,P02 --out reports/try
      mouselab report run notebooks/01_data_quality.ipynb -p store=my_store -p study=pilot
    """
    from mouselab.report import parse_assignments, run_notebook

    values = resolve_store_parameter(parse_assignments(params))
    result = run_notebook(notebook, parameters=values, out_dir=out_dir, kernel_name=kernel)
    click.echo(result.summary())
    if not result.ok:
        raise click.ClickException(f"{notebook.name} failed; the report shows where: {result.html}")


@command.command("params")
@click.argument("notebook", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def params_cmd(notebook: Path) -> None:
    """List the parameters NOTEBOOK declares: name, type, default and help.

    \b
    Example:
      mouselab report params notebooks/02_cognitive_load.ipynb
    """
    from mouselab.report import notebook_parameters

    declared = notebook_parameters(notebook)
    if not declared:
        click.echo(f"{notebook.name} declares no parameters (no cell tagged 'parameters')")
        return
    width = max(len(n) for n in declared)
    for p in declared.values():
        click.echo(f"{p.name:<{width}}  {p.type_name:<5}  default {p.default!r:<24}  {p.help}")
