"""``mouselab store``: inspect and check a trajectory store."""

from __future__ import annotations

import json

import click


@click.group("store")
def command() -> None:
    """Inspect, verify and tidy a Parquet trajectory store."""


@command.command("info")
@click.argument("store_path", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(store_path: str, as_json: bool) -> None:
    """Show tables, rows, files, sizes, studies and participants of STORE_PATH."""
    from mouselab.store import Store

    summary = Store(store_path).info()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"store   {summary['path']}  (schema v{summary['schema_version']}, updated {summary['updated']})")
    click.echo(f"content sha256 {summary['content_sha256']}")
    click.echo(f"{'table':<13}{'rows':>12}{'files':>8}{'MB':>9}{'particip.':>11}  studies")
    for name, t in summary["tables"].items():
        click.echo(
            f"{name:<13}{t['rows']:>12,}{t['files']:>8}{t['bytes'] / 1e6:>9.2f}{t['participants']:>11}  "
            f"{', '.join(t['studies']) or '-'}"
        )


@command.command("verify")
@click.argument("store_path", type=click.Path(file_okay=False))
def verify(store_path: str) -> None:
    """Check every file's SHA-256 and size against the manifest; exit 1 on any problem.

    Detects flipped bytes (which Parquet readers do not notice), missing files and files left by an
    interrupted write.
    """
    from mouselab.store import Store

    store = Store(store_path)
    problems = store.verify()
    n_files = sum(len(f) for f in store.manifest.tables.values())
    if problems:
        for p in problems:
            click.echo(f"PROBLEM {p}", err=True)
        click.echo(f"{len(problems)} problem(s) in {n_files} files", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {n_files} files match the manifest (SHA-256)")


@command.command("gc")
@click.argument("store_path", type=click.Path(file_okay=False))
def gc(store_path: str) -> None:
    """Remove files that are not in the manifest (remains of interrupted writes)."""
    from mouselab.store import Store

    removed = Store(store_path).gc()
    click.echo(f"removed {removed} stray file(s)")
