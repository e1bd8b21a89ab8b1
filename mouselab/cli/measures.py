"""``mouselab measures``: compute trial or session measures from a store, list the registry, write its docs."""

from __future__ import annotations

from pathlib import Path

import click


def _write(table, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    if out_path.suffix.lower() == ".csv":
        table.write_csv(tmp)
    else:
        table.write_parquet(tmp)
    tmp.replace(out_path)


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--param {pair!r}: use NAME=VALUE, e.g. --param hover_threshold_ms=500")
        out[name.strip()] = value.strip()
    return out


def _check_out(out_path: Path | None) -> None:
    if out_path is not None and out_path.suffix.lower() not in (".csv", ".parquet"):
        raise click.UsageError(f"--out {out_path}: use a .csv or .parquet file name")


def _release_options(func):
    """--release, --k, --qi, --no-release-check, --reason: how a table written with --out leaves the store."""
    for option in reversed([
        click.option("--release", "force_check", is_flag=True,
                     help="Release-check the file even when the store is not governed (the default for "
                          "governed stores): release codes, no trial ids, small cells suppressed."),
        click.option("--k", "k", type=click.IntRange(min=2), default=None,
                     help="Release check: suppress rows of classes with fewer than K participants [default: 5]."),
        click.option("--qi", default=None, metavar="COL[,COL]",
                     help="Release check: quasi-identifier columns [default: those of study, condition, cohort, "
                          "handedness, age_band, device in the table]."),
        click.option("--no-release-check", "unchecked", is_flag=True,
                     help="Governed store: write identified rows (ids as stored, no suppression) for internal "
                          "use; needs --reason and is recorded in the store's audit log."),
        click.option("--reason", default=None,
                     help="Why identified rows must leave a governed store (with --no-release-check)."),
    ]):
        func = option(func)
    return func


def _check_release_options(unchecked: bool, reason: str | None, k: int | None, qi: str | None,
                           force_check: bool) -> None:
    if unchecked and force_check:
        raise click.UsageError("--release and --no-release-check contradict each other; give one")
    if unchecked and not (reason and reason.strip()):
        raise click.UsageError("--no-release-check writes identified rows: say why with --reason TEXT "
                               "(recorded in the store's audit log)")
    if unchecked and (k is not None or qi is not None):
        raise click.UsageError("--k and --qi configure the release check; they do not go with --no-release-check")
    if reason is not None and not unchecked:
        raise click.UsageError("--reason goes with --no-release-check (the default, release-checked export needs none)")


def _export(table, out_path: Path, store_path: Path, *, tables: list[str], what: str, unchecked: bool,
            reason: str | None, k: int | None, qi: str | None, force_check: bool) -> None:
    """Write ``table`` to ``out_path``: through the release gate when the store is governed (or with
    ``--release``), identified and audited with ``--no-release-check``, as stored for an ungoverned store."""
    from mouselab.privacy import governance, release

    ids = release.id_tokens(table)
    governed = governance.is_governed(store_path)
    if unchecked or not (governed or force_check):
        people = table["participant"].n_unique() if "participant" in table.columns else 0
        entry = release.record_export(store_path, out=out_path, tables=tables, rows=table.height, participants=people,
                                      columns=table.columns, checked=False, ids=ids, reason=reason)
        _write(table, out_path)
        click.echo(f"{table.height:,} {what} x {table.width} columns -> {out_path}"
                   + (" (IDENTIFIED, not release-checked)" if unchecked else ""))
        if entry is not None:
            click.echo(f"recorded in the audit log of {store_path} (entry {entry['seq']}, reason given)", err=True)
        elif "participant" in table.columns:
            click.echo(f"note: {store_path} is not under governance, so the file carries the participant ids as "
                       "stored and is for the study team only; before sharing it, export with --release "
                       f"(release codes, small cells suppressed) or govern the store: mouselab privacy init "
                       f"--store {store_path}", err=True)
        return
    names = [c.strip() for c in qi.split(",") if c.strip()] if qi is not None else None
    released, report = release.prepare_release(table, k=k or release.DEFAULT_K, quasi_identifiers=names)
    release.record_export(store_path, out=out_path, tables=tables, rows=released.height,
                          participants=report.participants_out, columns=released.columns, checked=True, ids=ids,
                          report=report)
    for line in report.lines():
        click.echo(line, err=True)
    _write(released, out_path)
    click.echo(f"{released.height:,} {what} x {released.width} columns -> {out_path} (release-checked)")


@click.group("measures", invoke_without_command=True)
@click.option("--store", "store_path", type=click.Path(file_okay=False, path_type=Path), help="Store folder.")
@click.option("--preset", default="mousetrap", show_default=True,
              help="Measure preset: mousetrap, kinematic, hci or all.")
@click.option("--measures", "measure_names", default=None,
              help="Comma-separated measure names instead of a preset (see `mouselab measures list`).")
@click.option("--param", "param_pairs", multiple=True, metavar="NAME=VALUE",
              help="Set a measure parameter (repeatable), e.g. --param hover_threshold_ms=500.")
@click.option("--study", default=None, help="Only this study (default: every study in the store).")
@click.option("--participants", default=None, help="Comma-separated participant ids (default: all).")
@click.option("--scheduler", default="threads", show_default=True,
              help="Where to compute: threads (this machine), local-cluster (a Dask LocalCluster) or "
                   "dask://host:port (a running Dask scheduler whose workers can read the store).")
@click.option("--threads", "n_threads", type=int, default=None, help="Partitions computed at once (threads).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file, .csv or .parquet: one row per trial (see the release check below).")
@_release_options
@click.pass_context
def command(ctx: click.Context, store_path: Path | None, preset: str, measure_names: str | None,
            param_pairs: tuple[str, ...], study: str | None, participants: str | None, scheduler: str,
            n_threads: int | None, out_path: Path | None, force_check: bool, k: int | None, qi: str | None,
            unchecked: bool, reason: str | None) -> None:
    """Compute one row of measures per trial for every trial in a store.

    The mousetrap preset uses mousetrap's column names, conventions and quirks (see `mouselab measures list`
    and docs/measures.md). Trial covariates (trial_index, condition, correct, ...) are joined from the trials
    table, and target geometry (target_x/y/w/h) is passed to the measures that need it. Partitions are read
    one at a time, so memory holds results, not the store.

    From a governed store (`mouselab privacy init`) the file is release-checked (docs/privacy.md):
    participants become release codes (r01, ...; random per export), sessions become session_index, trial
    ids are dropped (trial_index stays), and rows of classes with fewer than --k participants over the
    quasi-identifiers are suppressed (reported on stderr). An internal file with the ids as stored needs
    --no-release-check --reason TEXT, recorded in the store's audit log. From an ungoverned store the file
    keeps the ids as stored (say, to compare with mousetrap by trial) and a note says so; --release applies
    the check there too. In-store analysis (study.trial_measures, notebooks) is not affected.

    \b
    Examples:
      mouselab measures --store kh2017 --preset mousetrap --out measures.csv
      mouselab measures --store st --preset hci --param curvature_step_px=5 --out hci.parquet
      mouselab measures --store st --scheduler dask://10.0.0.5:8786 --out m.parquet
      mouselab measures --store st --out shared.csv --release --k 10
      mouselab measures --store st --out ids.csv --no-release-check --reason "merge with questionnaires"
    """
    if ctx.invoked_subcommand is not None:
        return
    if store_path is None or out_path is None:
        raise click.UsageError("give --store and --out (or use `mouselab measures list | docs | session`)")
    _check_out(out_path)
    _check_release_options(unchecked, reason, k, qi, force_check)
    from mouselab.store import Store
    from mouselab.study import parse_participants, trial_measures

    names = [n.strip() for n in measure_names.split(",") if n.strip()] if measure_names else None
    table = trial_measures(Store(store_path), preset=preset, measures=names, params=_params(param_pairs),
                           study=study, participants=parse_participants(participants), scheduler=scheduler,
                           n_threads=n_threads)
    _export(table, out_path, store_path, tables=["samples", "trials"], what="trials", unchecked=unchecked,
            reason=reason, k=k, qi=qi, force_check=force_check)


@command.command("session")
@click.option("--store", "store_path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Store folder.")
@click.option("--study", default=None, help="Only this study.")
@click.option("--participants", default=None, help="Comma-separated participant ids (default: all).")
@click.option("--param", "param_pairs", multiple=True, metavar="NAME=VALUE",
              help="Set a session threshold, e.g. --param idle_gap_ms=60000.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file, .csv or .parquet: one row per free-use session (release check as for measures --out).")
@_release_options
def session_cmd(store_path: Path, study: str | None, participants: str | None, param_pairs: tuple[str, ...],
                out_path: Path, force_check: bool, k: int | None, qi: str | None, unchecked: bool,
                reason: str | None) -> None:
    """Session measures of free-use recordings (samples without a trial + events): active and idle time,
    click and scroll rates, movement per active minute, repetitive movement and time-on-task drift.

    The file leaves the store as `mouselab measures --out` does: release-checked from a governed store or
    with --release (release codes, session_index, small cells suppressed); --no-release-check --reason TEXT
    writes the ids as stored and is audited."""
    _check_out(out_path)
    _check_release_options(unchecked, reason, k, qi, force_check)
    from mouselab.measures.registry import PARAMETERS
    from mouselab.store import Store
    from mouselab.study import parse_participants, session_measures

    raw = _params(param_pairs)
    unknown = [k for k in raw if k not in PARAMETERS]
    if unknown:
        raise click.UsageError(f"unknown parameter(s) {', '.join(unknown)}; see `mouselab measures list`")
    params = {k: PARAMETERS[k].cast(v) for k, v in raw.items()}
    table = session_measures(Store(store_path), study=study, participants=parse_participants(participants),
                             params=params)
    _export(table, out_path, store_path, tables=["samples", "events"], what="sessions", unchecked=unchecked,
            reason=reason, k=k, qi=qi, force_check=force_check)


@command.command("list")
@click.option("--preset", default=None, help="Only the measures of this preset.")
@click.option("--level", type=click.Choice(["trial", "session", "sample"]), default=None, help="Only this level.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table.")
def list_cmd(preset: str | None, level: str | None, markdown: bool) -> None:
    """Print the measure registry: name, unit, level, parameters, mousetrap name, definition, reference."""
    import polars as pl

    from mouselab.measures.registry import list_measures

    table = list_measures(preset=preset) if preset else list_measures()
    if level:
        table = table.filter(pl.col("level") == level)
    cols = ["name", "unit", "level", "parameters", "mousetrap_name", "definition", "reference"]
    if markdown:
        click.echo("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for row in table.select(cols).iter_rows():
            click.echo("| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in row) + " |")
        return
    for row in table.select(cols).iter_rows(named=True):
        mt = f"  [mousetrap: {row['mousetrap_name']}]" if row.get("mousetrap_name") else ""
        click.echo(f"{row['name']:<28} {row['unit']:<10} {row['level']:<8}{mt}")
        if row.get("parameters"):
            click.echo(f"    parameters: {row['parameters']}")
        if row.get("definition"):
            click.echo(f"    {row['definition']}")
        if row.get("reference"):
            click.echo(f"    ref: {row['reference'][:200]}")


@command.command("docs")
@click.option("--out", "out_path", default="docs/measures.md", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Where to write the reference.")
@click.option("--check", is_flag=True, help="Only check that the file is up to date (exit 1 when stale).")
def docs_cmd(out_path: Path, check: bool) -> None:
    """Write (or check) the generated measure reference docs/measures.md."""
    from mouselab.measures.docs import render_reference, write_reference

    if check:
        current = out_path.read_text(encoding="utf-8") if out_path.exists() else ""
        if current != render_reference():
            raise click.ClickException(f"{out_path} is stale; run `mouselab measures docs --out {out_path}`")
        click.echo(f"ok: {out_path} is up to date")
        return
    click.echo(f"wrote {write_reference(out_path)}")
