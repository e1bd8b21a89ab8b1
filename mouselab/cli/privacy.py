"""``mouselab privacy``: keys, pseudonyms, consent, erasure, access, retention, audit and safe releases."""

from __future__ import annotations

import json
from pathlib import Path

import click

_STORE = click.option(
    "--store", "store_path", required=True, type=click.Path(file_okay=False, path_type=Path), help="Store folder."
)


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


@click.group("privacy")
def command() -> None:
    """Privacy by design: pseudonyms, consent, erasure, access, retention, audit, safe releases.

    \b
    Set up a governed, pseudonymised store:
      mouselab privacy keygen --out ~/.mouselab/pseudonym.key     (then MOUSELAB_KEY_FILE=that path)
      mouselab privacy init --store S --study X --purposes research --epsilon 2 --retention samples=90,actions=365
    Participants' rights:
      mouselab privacy consent grant --store S --study X --participant P017
      mouselab privacy consent withdraw --store S --study X --participant P017   (stops capture, erases)
      mouselab privacy export P017 --store S --out DIR
    Checks:
      mouselab privacy audit verify --store S --anchors reports/
      mouselab privacy retention sweep --store S --dry-run
      mouselab privacy check-release table.csv --qi age_band,handedness --k 5
    """


# ------------------------------------------------------------------------------------------------ keys
@command.command("keygen")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Key file to write.")
@click.option("--force", is_flag=True, help="Replace an existing file (the old key is lost).")
def keygen(out: Path, force: bool) -> None:
    """Write a new secret key file (mode 0600). Keep it outside every store."""
    from mouselab.privacy import keys

    chain = keys.keygen(out, force=force)
    click.echo(f"wrote {out} (key {chain.key_id}, mode 600); name it in MOUSELAB_KEY_FILE (pseudonyms, or key_file "
               "in mouselab.toml) or MOUSELAB_AUDIT_KEY_FILE (audit log), and back it up somewhere safe")


@command.command("rotate-key")
@_STORE
@click.option("--old-key", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--new-key", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A fresh key from `mouselab privacy keygen`; afterwards it holds the extended chain.")
@click.option("--ids", "ids_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Raw participant ids (one per line) of people with consent records but no data, to carry over.")
def rotate_key(store_path: Path, old_key: Path, new_key: Path, ids_file: Path | None) -> None:
    """Re-key every pseudonym of the store in one transaction (no raw id needed)."""
    from mouselab.privacy import rotation

    raw = [ln.strip() for ln in ids_file.read_text().splitlines() if ln.strip()] if ids_file else []
    report = rotation.rotate_key(store_path, old_key, new_key, raw_ids=raw)
    for line in report.summary():
        click.echo(line)
    click.echo(f"from now on use {new_key} as key_file; destroy {old_key} once backups are re-keyed")


@command.command("pseudonymise")
@_STORE
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Key file [default: the key_file setting].")
def pseudonymise(store_path: Path, key_file: Path | None) -> None:
    """Convert a store holding raw participant / session ids into a pseudonymised one (one transaction)."""
    from mouselab.privacy import keys, rotation

    path = key_file or keys.configured_key_path()
    if path is None:
        raise ValueError("no key: pass --key PATH or set MOUSELAB_KEY_FILE (make one with mouselab privacy keygen)")
    for line in rotation.pseudonymise_store(store_path, path).summary():
        click.echo(line)


# ------------------------------------------------------------------------------------------------ setup
@command.command("init")
@_STORE
@click.option("--study", default=None, help="Study whose budget / retention is set.")
@click.option("--purposes", default=None, help="Comma-separated purposes the store allows (e.g. research,ui-design).")
@click.option("--epsilon", type=float, default=None, help="Differential-privacy budget (total ε) of --study.")
@click.option("--retention", default=None, help="Days per table for --study, e.g. samples=90,events=90,actions=365.")
def init(store_path: Path, study: str | None, purposes: str | None, epsilon: float | None, retention: str | None) -> None:
    """Put a store under governance (or change its policy): purposes, budget, retention, recording dates."""
    from mouselab.privacy import governance, keys, retention as ret

    if not (store_path / "manifest.json").exists():
        raise FileNotFoundError(f"{store_path} is not a mouselab store")
    governance.ensure_dir(store_path)
    if purposes is not None:
        for p in _split(purposes):
            governance.check_purpose_name(p)
        governance.update_policy(store_path, purposes=_split(purposes))
    if (epsilon is not None or retention is not None) and not study:
        raise ValueError("--epsilon and --retention need --study")
    if epsilon is not None:
        if not epsilon > 0:
            raise ValueError("--epsilon must be > 0")
        governance.set_study_policy(store_path, study, epsilon_budget=epsilon)
    if retention is not None:
        governance.set_study_policy(store_path, study, retention_days=ret.parse_rules(retention))
    kid = keys.adopt(store_path)
    added = ret.backfill(store_path)
    _print_status(store_path)
    if added:
        click.echo(f"{added} stored sessions got today as their (estimated) recording date")
    if kid is None and keys.configured_key_path() is not None:
        click.echo("note: the store holds raw ids; convert it with: mouselab privacy pseudonymise --store "
                   f"{store_path}")


@command.command("status")
@_STORE
def status(store_path: Path) -> None:
    """Show the store's governance: key, purposes, budgets, retention, audit, consent, stale reports."""
    _print_status(store_path)


def _print_status(store_path: Path) -> None:
    from mouselab.privacy import audit, consent, dp, governance, reports

    if not governance.is_governed(store_path):
        click.echo(f"{store_path} is not governed (reads are neither purpose-checked nor audited); "
                   f"start with: mouselab privacy init --store {store_path}")
        return
    policy = governance.load_policy(store_path)
    click.echo(f"store       {store_path}")
    click.echo(f"pseudonyms  {'key ' + policy['pseudonym_key_id'] if policy.get('pseudonym_key_id') else 'NO (raw ids as given)'}")
    purposes = policy.get("purposes")
    click.echo(f"purposes    {', '.join(purposes) if purposes is not None else '(none declared: every purpose accepted, audited)'}")
    for study, entry in sorted(policy.get("studies", {}).items()):
        parts = []
        if "epsilon_budget" in entry:
            spent = sum(r["epsilon"] for r in dp.ledger(store_path, study))
            parts.append(f"ε budget {entry['epsilon_budget']:g} (spent {spent:g})")
        if entry.get("retention_days"):
            parts.append("retention " + ", ".join(f"{t} {d:g} d" for t, d in sorted(entry["retention_days"].items())))
        click.echo(f"study       {study}: {'; '.join(parts) or 'no budget, no retention'}")
    head = audit.head(store_path)
    click.echo(f"audit       {head['seq'] if head else 0} entries; "
               f"{'keyed (' + policy['audit_key_id'] + ')' if policy.get('audit_key_id') else 'unkeyed'}")
    click.echo(f"consent     {len(consent.state(store_path))} (participant, study, purpose) decisions")
    click.echo(f"stale       {len(reports.stale(store_path))} reports to re-render")


# ------------------------------------------------------------------------------------------------ consent
@command.group("consent")
def consent_group() -> None:
    """Grant, withdraw (which erases) and show consent — STORE/governance/consent.jsonl, append-only.

    \b
      mouselab privacy consent grant    --store S --study X --participant P017 [--purpose research,ui-design]
      mouselab privacy consent withdraw --store S --study X --participant P017 [--dry-run]
      mouselab privacy consent show     --store S [--participant P017] [--json]

    Withdrawing stops a capture agent recording the participant and, when no purpose remains active for
    the study, erases the participant's data from the store and verifies it (logged in the audit log).
    `mouselab capture consent` is an older alias of this group.
    """


def _consent_options(func):
    for option in reversed([
        _STORE,
        click.option("--study", required=True, help="Study id."),
        click.option("--participant", required=True,
                     help="Participant id as on the consent form, or their pseudonym (never a name)."),
        click.option("--purpose", "purposes", default=None, metavar="PURPOSE[,PURPOSE]",
                     help="Purpose(s), comma-separated [grant: research; withdraw: every active purpose]."),
        click.option("--note", default=None, help="Free text kept with the record (no personal data)."),
    ]):
        func = option(func)
    return func


@consent_group.command("grant")
@_consent_options
def consent_grant(store_path: Path, study: str, participant: str, purposes: str | None, note: str | None) -> None:
    """Record consent (creates the store when missing; lifts an erasure's block on new data)."""
    from mouselab.privacy import consent

    for purpose in _split(purposes) or [consent.DEFAULT_PURPOSE]:
        rec = consent.grant(store_path, participant, study, purpose, note=note)
        click.echo(f"consent granted: study {study}, purpose {purpose} at {rec.at}")


@consent_group.command("withdraw")
@_consent_options
@click.option("--wait-s", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="How long to wait for a running capture of the participant to commit and stop.")
@click.option("--dry-run", is_flag=True, help="Only say what would be withdrawn, stopped and erased; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the erasure report as JSON.")
def consent_withdraw(store_path: Path, study: str, participant: str, purposes: str | None, note: str | None,
                     wait_s: float, dry_run: bool, as_json: bool) -> None:
    """Record a withdrawal, stop the participant's capture, and erase their data when no purpose is left.

    \b
    1. the withdrawal is recorded for --purpose (default: every active purpose), effective at once;
    2. a capture agent recording this participant stops (what it recorded before is committed first);
    3. if no purpose remains active for the study, the participant's rows in every table, their capture
       files, caches and recording dates are ERASED (irreversible, logged in the audit log) and the
       erasure is verified by query (0 rows) and by a byte scan of the store (0 hits).
    Withdrawing one purpose while others stay active keeps the data. Use --dry-run to see the plan first.
    """
    from mouselab.privacy import consent

    echo = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    result = consent.process_withdrawal(store_path, participant, study, purposes=_split(purposes) or None, note=note,
                                        wait_s=wait_s, dry_run=dry_run, echo=echo)
    if dry_run:
        click.echo(f"dry run, nothing changed: would withdraw study {study}, purpose {', '.join(result.purposes)}"
                   + (f"; still active: {', '.join(result.still_active)} (data kept)" if result.still_active else ""))
        if result.capture is not None:
            click.echo(f"would stop the capture agent recording this participant (pid {result.capture.get('pid')})")
        for line in result.plan.lines() if result.plan else []:
            click.echo(line.replace("erasing", "would erase", 1))
        return
    if result.erasure is None:
        click.echo(f"data kept: still consented for {', '.join(result.still_active)}")
        return
    _print_erasure(result.erasure, as_json)


@consent_group.command("show")
@_STORE
@click.option("--study", default=None, help="Only this study.")
@click.option("--participant", default=None, help="Only this participant (id or pseudonym).")
@click.option("--json", "as_json", is_flag=True, help="Print every decision as a JSON line instead.")
def consent_show(store_path: Path, study: str | None, participant: str | None, as_json: bool) -> None:
    """Latest decision per (registry id, study, purpose); --json prints the full history."""
    from dataclasses import asdict

    from mouselab.privacy import consent

    recs = consent.records(store_path, participant=participant, study=study)
    if as_json:
        for r in recs:
            click.echo(json.dumps(asdict(r), sort_keys=True))
        return
    state: dict = {}
    for r in recs:
        state[(r.participant, r.study, r.purpose)] = r
    if not state:
        click.echo("no consent records")
        return
    click.echo(f"{'registry id':<28}{'study':<14}{'purpose':<20}{'state':<10}since")
    for (p, s, purpose), r in sorted(state.items()):
        click.echo(f"{p:<28}{s:<14}{purpose:<20}{'active' if r.action == 'grant' else 'withdrawn':<10}{r.at}")


# ------------------------------------------------------------------------------------------------ erasure / access
@command.command("erase")
@_STORE
@click.option("--participant", default=None, help="Participant id or pseudonym to erase.")
@click.option("--study", default=None, help="Only this study [default: every study].")
@click.option("--pending", is_flag=True, help="Erase everyone whose consent has lapsed (no active purpose).")
@click.option("--json", "as_json", is_flag=True, help="Print the report(s) as JSON.")
def erase(store_path: Path, participant: str | None, study: str | None, pending: bool, as_json: bool) -> None:
    """Erase a participant's rows, capture files and caches; verify by query (0 rows) and bytes (0 hits)."""
    from mouselab.privacy import erasure

    if pending == (participant is not None):
        raise click.UsageError("give either --participant P or --pending")
    found = erasure.erase_pending(store_path, study=study) if pending else [
        erasure.erase_participant(store_path, participant, study=study)]
    if pending and not found:
        click.echo("no participant with lapsed consent holds data")
    for report in found:
        _print_erasure(report, as_json)


def _print_erasure(report, as_json: bool) -> None:
    from mouselab.privacy import erasure

    if as_json:
        click.echo(erasure.dumps(report))
    else:
        for line in report.summary():
            click.echo(line)
    if not report.verified:
        raise SystemExit(1)


@command.command("export")
@click.argument("participant")
@_STORE
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def export(participant: str, store_path: Path, out_dir: Path) -> None:
    """Give PARTICIPANT their data: CSV per table, consent history, README explaining every column."""
    from mouselab.privacy import export as exp

    files = exp.export_participant(store_path, participant, out_dir)
    for path in files:
        click.echo(f"wrote {path}")


# ------------------------------------------------------------------------------------------------ retention
@command.group("retention")
def retention_group() -> None:
    """Storage limitation: delete sessions older than the study's retention policy."""


@retention_group.command("sweep")
@_STORE
@click.option("--dry-run", is_flag=True, help="List exactly what would be deleted; delete nothing.")
@click.option("--now", default=None, help="Pretend it is this ISO time (for checks) [default: now].")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON lines.")
def retention_sweep(store_path: Path, dry_run: bool, now: str | None, as_json: bool) -> None:
    """Delete (or with --dry-run list) every session row past its table's retention limit."""
    from dataclasses import asdict

    from mouselab.privacy import retention

    items = retention.sweep(store_path, now=now, dry_run=dry_run)
    _, undated = retention.plan(store_path, now=now) if dry_run else ([], [])
    if as_json:
        for it in items:
            click.echo(json.dumps(asdict(it), sort_keys=True))
        return
    verb = "would delete" if dry_run else "deleted"
    for it in items:
        click.echo(f"{verb} {it.rows:>9,} rows  {it.table:<8} {it.study}/{it.participant}/{it.session}  "
                   f"recorded {it.recorded_at[:10]} ({it.age_days:.0f} d > {it.limit_days:g} d)")
    click.echo(f"{len(items)} (table, session) units {verb}, {sum(i.rows for i in items):,} rows")
    if undated:
        click.echo(f"{len(undated)} sessions have no recording date and are kept; date them with `mouselab privacy init`")


# ------------------------------------------------------------------------------------------------ audit
@command.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log of reads and governance actions."""


@audit_group.command("verify")
@_STORE
@click.option("--anchors", "anchors_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="A reports folder: check the audit heads anchored in its notebooks' provenance.")
@click.option("--head", "heads", multiple=True, help="An anchor copied earlier, as SEQ:HASH (repeatable).")
def audit_verify(store_path: Path, anchors_dir: Path | None, heads: tuple[str, ...]) -> None:
    """Detect edited, deleted, reordered or truncated entries and chains rebuilt without the key."""
    from mouselab.privacy import audit, keys

    anchors = audit.anchors_from_reports(anchors_dir) if anchors_dir else []
    for h in heads:
        seq, _, digest = h.partition(":")
        anchors.append({"seq": int(seq), "hash": digest, "source": f"--head {seq}"})
    report = audit.verify(store_path, key=keys.audit_key(store_path), anchors=anchors)
    click.echo(f"{report.entries} entries checked ({'with' if report.keyed else 'without'} the audit key), "
               f"{len(anchors)} external anchors")
    for note in report.notes:
        click.echo(f"note: {note}")
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo("intact" if report.ok else f"{len(report.problems)} problem(s): the log was tampered with or damaged")
    if not report.ok:
        raise SystemExit(1)


@audit_group.command("head")
@_STORE
def audit_head(store_path: Path) -> None:
    """Print the last entry's SEQ:HASH — copy it somewhere the store's users cannot write (an anchor)."""
    from mouselab.privacy import audit

    head = audit.head(store_path)
    click.echo(f"{head['seq']}:{head['hash']}" if head else "empty log")


@audit_group.command("show")
@_STORE
@click.option("--tail", type=int, default=20, show_default=True)
def audit_show(store_path: Path, tail: int) -> None:
    """The last entries: when, who, purpose, operation, tables."""
    from mouselab.privacy import audit

    for e in audit.entries(store_path)[-tail:]:
        click.echo(f"{e['seq']:>6} {e['at'][:19]} {e['operator']:<12} {e['purpose']:<16} {e['op']:<10} {','.join(e['tables'])}")


# ------------------------------------------------------------------------------------------------ releases
@command.command("check-release")
@click.argument("table_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--qi", required=True, help="Quasi-identifier columns, comma-separated.")
@click.option("--k", "k", type=int, default=5, show_default=True)
@click.option("--sensitive", default=None, help="Sensitive columns for l-diversity, comma-separated.")
@click.option("--l", "l_div", type=int, default=None, help="Required distinct sensitive values per class.")
@click.option("--unit", default=None, help="Column counting people (e.g. participant) instead of rows.")
@click.option("--suppress", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the table with failing classes suppressed and identifiers dropped to this file.")
def check_release(table_file: Path, qi: str, k: int, sensitive: str | None, l_div: int | None, unit: str | None,
                  out: Path | None) -> None:
    """Check a CSV / Parquet table for k-anonymity and l-diversity before it leaves the store."""
    import polars as pl

    from mouselab.privacy import anonymity

    frame = pl.read_parquet(table_file) if table_file.suffix == ".parquet" else pl.read_csv(table_file)
    if out is not None:
        released, report = anonymity.k_anonymise(frame, quasi_identifiers=_split(qi), k=k, unit=unit,
                                                 sensitive=_split(sensitive), l=l_div)
        (released.write_parquet if out.suffix == ".parquet" else released.write_csv)(out)
        click.echo(f"{report.summary()}; wrote {released.height} rows to {out}")
        if report.suppressed.height:
            click.echo("suppressed classes:\n" + str(report.suppressed))
        return
    report = anonymity.check_k_anonymity(frame, _split(qi), k=k, unit=unit, sensitive=_split(sensitive), l=l_div)
    click.echo(report.summary())
    ids = [c for c in anonymity.DIRECT_IDENTIFIERS if c in frame.columns and c != unit]
    if ids:
        click.echo(f"direct identifiers present: {', '.join(ids)}")
    if not report.passed or ids:
        click.echo("NOT releasable (use --suppress OUT)")
        raise SystemExit(1)
    click.echo("releasable")


@command.command("budget")
@_STORE
@click.option("--study", required=True)
def budget(store_path: Path, study: str) -> None:
    """Show a study's privacy budget and every release charged to it."""
    from mouselab.privacy import dp

    b = dp.Budget(store_path, study)
    for r in b.ledger():
        click.echo(f"{r['at'][:19]}  ε {r['epsilon']:<8g} {r['label']}: {', '.join(r.get('statistics', []))}")
    click.echo(f"study {study}: ε budget {b.total:g}, spent {b.spent:g}, remaining {b.remaining:g}")


@command.command("reports")
@_STORE
@click.option("--rerender", is_flag=True, help="Run the stale reports again with their recorded parameters.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for re-rendered reports (required with --rerender).")
def stale_reports(store_path: Path, rerender: bool, out_dir: Path | None) -> None:
    """List reports that included erased participants; re-render them on request."""
    from mouselab.privacy import reports

    stale = reports.stale(store_path)
    if not stale:
        click.echo("no stale reports")
        return
    for s in stale:
        click.echo(f"stale: {s['notebook']} (rendered {s['rendered'][:19]}; {s['reason']})")
    if not rerender:
        click.echo(f"re-render them with: mouselab privacy reports --store {store_path} --rerender --out DIR")
        return
    if out_dir is None:
        raise click.UsageError("--rerender needs --out DIR")
    from mouselab.report import run_notebook

    done = []
    seen = set()
    for s in stale:
        key = (s["notebook"], json.dumps(s.get("parameters", {}), sort_keys=True))
        if key in seen:
            done.append(s)
            continue
        seen.add(key)
        if not s.get("source") or not Path(s["source"]).exists():
            click.echo(f"cannot re-render {s['notebook']}: its notebook file is not known or gone")
            continue
        params = {k: v for k, v in s.get("parameters", {}).items() if "[erased]" not in str(v)}
        result = run_notebook(s["source"], parameters=params, out_dir=out_dir)
        click.echo(result.summary())
        if result.ok:
            done.append(s)
    reports.clear_stale(store_path, done)
