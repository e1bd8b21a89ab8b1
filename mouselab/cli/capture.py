"""``mouselab capture``: record desktop mouse input into a store, consent first; control a running agent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

_STORE = click.option(
    "--store", "store_path", required=True, type=click.Path(file_okay=False, path_type=Path), help="Store folder."
)


@click.group("capture")
def command() -> None:
    """Record mouse movement, clicks, scrolls, focus changes and idle periods (never keystrokes).

    \b
    Consent first, then record:
      mouselab capture consent grant --store S --study X --participant P01
      mouselab capture start --store S --study X --participant P01 --detach
      mouselab capture status --store S
      mouselab capture pause --store S      # ... resume, stop
    Browser tasks: `mouselab capture web --out DIR` copies the JavaScript snippet and a demo page;
    `mouselab ingest web FILE.jsonl --store S` reads what they record.
    """


# ------------------------------------------------------------------------------------------------- start
@command.command("start")
@_STORE
@click.option("--study", required=True, help="Study id.")
@click.option("--participant", required=True, help="Pseudonymous participant id (never a name).")
@click.option("--session", default=None, help="Session id [default: generated from the UTC time].")
@click.option("--purpose", default="research", show_default=True, help="Consent purpose that must be active.")
@click.option("--rate-hz", type=float, default=60.0, show_default=True, help="Cursor sampling rate.")
@click.option("--flush-s", type=float, default=5.0, show_default=True,
              help="Write a segment at least this often; a crash loses at most this window.")
@click.option("--commit-s", type=float, default=300.0, show_default=True,
              help="Also commit the segments into the store this often while recording (0: only when the "
                   "session ends). Each commit rewrites the participant's partition in a child process.")
@click.option("--idle-threshold-ms", type=float, default=5000.0, show_default=True,
              help="No pointer input for this long starts an idle period (no samples are written while idle).")
@click.option("--app", "app_mode", type=click.Choice(["pseudonym", "category", "off"]), default="pseudonym",
              show_default=True, help="How the focused application is recorded (never its window title).")
@click.option("--app-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HMAC key for application pseudonyms [default: STORE/capture/app.key].")
@click.option("--duration-s", type=float, default=None, help="Stop by itself after this many seconds.")
@click.option("--detach", is_flag=True, help="Run in the background (log in STORE/capture/agent.log).")
def start(store_path: Path, study: str, participant: str, session: str | None, purpose: str, rate_hz: float,
          flush_s: float, commit_s: float, idle_threshold_ms: float, app_mode: str, app_key_file: Path | None,
          duration_s: float | None, detach: bool) -> None:
    """Record until `mouselab capture stop` (or Ctrl-C, --duration-s, consent withdrawal).

    Refuses to start unless PARTICIPANT has active consent for STUDY and --purpose. Consent is checked
    again at every flush; after a withdrawal the agent drops what it recorded since and stops.
    Samples land in the store's `samples` table (trial = null, t_ms since the session start) and events
    in `events`; screen geometry, DPI scaling and clock anchors in STORE/capture/sessions/.
    """
    from mouselab.capture.agent import CaptureConfig
    from mouselab.privacy import consent

    config = CaptureConfig(
        store=store_path, study=study, participant=participant, session=session, purpose=purpose,
        rate_hz=rate_hz, flush_s=flush_s, commit_s=commit_s, idle_threshold_ms=idle_threshold_ms,
        app_mode=app_mode, app_key_file=app_key_file, duration_s=duration_s,
    ).validated()
    consent.require(store_path, participant, study, purpose)
    if detach:
        _start_detached(config)
        return
    from mouselab.capture.agent import run_capture

    status = run_capture(config, echo=lambda m: click.echo(m, err=True))
    click.echo(
        f"stopped ({status.get('stop_reason')}): {status.get('samples_written', 0):,} samples, "
        f"{status.get('events_written', 0):,} events; session {config.session} committed to {store_path}"
        if not status.get("commit_error") else f"stopped ({status.get('stop_reason')}); commit failed: {status['commit_error']}"
    )
    if status.get("exit_code"):
        raise SystemExit(status["exit_code"])


def _start_detached(config) -> None:
    from mouselab.capture.files import agent_running, log_path, read_status

    if agent_running(config.store):
        raise RuntimeError(f"a capture agent is already running for {config.store}; stop it first")
    args = [sys.executable, "-m", "mouselab", "capture", "start", "--store", str(config.store),
            "--study", config.study, "--participant", config.participant, "--session", config.session,
            "--purpose", config.purpose, "--rate-hz", repr(config.rate_hz), "--flush-s", repr(config.flush_s),
            "--commit-s", repr(config.commit_s), "--idle-threshold-ms", repr(config.idle_threshold_ms),
            "--app", config.app_mode]
    if config.app_key_file:
        args += ["--app-key-file", str(config.app_key_file)]
    if config.duration_s:
        args += ["--duration-s", repr(config.duration_s)]
    log = log_path(config.store)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = read_status(config.store) or {}
        # the pid identifies our agent (its status names the session by pseudonym in a pseudonymised store)
        if status.get("pid") == proc.pid and status.get("state") in ("recording", "paused"):
            click.echo(f"capture agent running in the background (pid {proc.pid}), session {config.session}")
            return
        if proc.poll() is not None:
            tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:] or ["(no output)"]
            raise RuntimeError(f"the capture agent exited with code {proc.returncode}: {tail[0]}")
        time.sleep(0.1)
    raise RuntimeError(f"the capture agent (pid {proc.pid}) did not start within 30 s; see {log}")


# ------------------------------------------------------------------------------------- pause/resume/stop
def _send(store_path: Path, action: str, wait_s: float) -> None:
    from mouselab.capture.files import agent_running, read_status, write_command

    if not agent_running(store_path):
        raise RuntimeError(f"no capture agent is running for {store_path}")
    command_id = write_command(store_path, action)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        status = read_status(store_path) or {}
        if action == "stop":
            if not agent_running(store_path):
                _print_status(read_status(store_path) or {}, running=False)
                return
        elif status.get("last_command_id") == command_id:
            _print_status(status, running=True)
            return
        time.sleep(0.05)
    raise RuntimeError(f"the capture agent did not confirm '{action}' within {wait_s:g} s; see `mouselab capture status`")


@command.command("pause")
@_STORE
@click.option("--wait-s", type=float, default=10.0, show_default=True, help="How long to wait for confirmation.")
def pause(store_path: Path, wait_s: float) -> None:
    """Pause recording (nothing is recorded until `resume`)."""
    _send(store_path, "pause", wait_s)


@command.command("resume")
@_STORE
@click.option("--wait-s", type=float, default=10.0, show_default=True, help="How long to wait for confirmation.")
def resume(store_path: Path, wait_s: float) -> None:
    """Resume a paused recording."""
    _send(store_path, "resume", wait_s)


@command.command("stop")
@_STORE
@click.option("--wait-s", type=float, default=120.0, show_default=True,
              help="How long to wait for the agent to write and commit its last segment.")
def stop(store_path: Path, wait_s: float) -> None:
    """Stop recording: the agent flushes, commits the session into the store and exits."""
    _send(store_path, "stop", wait_s)


# ------------------------------------------------------------------------------------------------ status
@command.command("status")
@_STORE
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(store_path: Path, as_json: bool) -> None:
    """State, achieved sampling rate, samples written, last flush and commit of the store's agent."""
    from mouselab.capture.files import agent_running, read_status

    info = read_status(store_path)
    running = agent_running(store_path)
    if info is None:
        raise RuntimeError(f"no capture has run in {store_path} (no {store_path}/capture/status.json)")
    if as_json:
        click.echo(json.dumps({**info, "running": running}, indent=2))
        return
    _print_status(info, running=running)


def _print_status(info: dict, *, running: bool) -> None:
    state = info.get("state", "?")
    if not running and state != "stopped":
        state = f"not running (last state {state}; the agent ended without stopping — run `mouselab capture recover --store {info.get('store')}`)"
    elif state == "recording" and info.get("idle"):
        state = "recording (idle)"
    elif state == "stopped":
        state = f"stopped ({info.get('stop_reason')})"
    click.echo(f"state      {state}   pid {info.get('pid')}")
    click.echo(f"session    study {info.get('study')} / participant {info.get('participant')} / session {info.get('session')}")
    achieved = info.get("rate_hz_achieved")
    mean = info.get("rate_hz_mean")
    click.echo(
        f"rate       {achieved if achieved is not None else '-'} Hz achieved over the last flush window "
        f"(target {info.get('rate_hz_target'):g} Hz, mean {mean if mean is not None else '-'} Hz, "
        f"{info.get('missed_ticks', 0)} missed ticks)"
    )
    click.echo(
        f"written    {info.get('samples_written', 0):,} samples, {info.get('events_written', 0):,} events in "
        f"{info.get('segments', 0)} segment(s); last flush {_ago(info.get('last_flush'))}"
    )
    committed = f"{info.get('samples_committed', 0):,} samples, {info.get('events_committed', 0):,} events; last commit {_ago(info.get('last_commit'))}"
    if info.get("commit_error"):
        committed += f"; LAST COMMIT FAILED: {info['commit_error']}"
    click.echo(f"committed  {committed}")


def _ago(iso: str | None) -> str:
    if not iso:
        return "never"
    seconds = (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()
    return f"{iso} ({seconds:.1f} s ago)"


# ----------------------------------------------------------------------------------------------- recover
@command.command("recover")
@_STORE
def recover(store_path: Path) -> None:
    """Commit sessions left in the spool by an interrupted agent (kill -9, power cut) into the store."""
    from mouselab.capture.commit import recover as do_recover
    from mouselab.capture.files import agent_running, read_status, spool_dir

    skip: tuple[Path, ...] = ()
    if agent_running(store_path):
        s = read_status(store_path) or {}
        skip = (spool_dir(store_path, s.get("study", ""), s.get("participant", ""), s.get("session", "")),)
    done = do_recover(store_path, skip=skip)
    for folder, rows in done:
        click.echo(f"recovered {folder.name}: {rows.get('samples', 0):,} samples, {rows.get('events', 0):,} events")
    click.echo(f"{len(done)} session(s) recovered into {store_path}")


# ----------------------------------------------------------------------------------------------- consent
@command.group("consent")
def consent_group() -> None:
    """Record, withdraw and list consent (STORE/governance/consent.jsonl, append-only)."""


def _consent_options(func):
    for option in reversed([
        _STORE,
        click.option("--study", required=True, help="Study id."),
        click.option("--participant", required=True, help="Pseudonymous participant id."),
        click.option("--purpose", default="research", show_default=True, help="What the consent covers."),
        click.option("--note", default=None, help="Free text kept with the record (no personal data)."),
    ]):
        func = option(func)
    return func


@consent_group.command("grant")
@_consent_options
def consent_grant(store_path: Path, study: str, participant: str, purpose: str, note: str | None) -> None:
    """Record that PARTICIPANT consents to PURPOSE in STUDY (creates the store when missing)."""
    from mouselab.privacy import consent

    rec = consent.grant(store_path, participant, study, purpose, note=note)
    click.echo(f"consent granted: participant {participant}, study {study}, purpose {purpose} at {rec.at}")


@consent_group.command("withdraw")
@_consent_options
def consent_withdraw(store_path: Path, study: str, participant: str, purpose: str, note: str | None) -> None:
    """Record a withdrawal; a running capture of this participant stops at its next flush."""
    from mouselab.privacy import consent

    rec = consent.withdraw(store_path, participant, study, purpose, note=note)
    click.echo(f"consent withdrawn: participant {participant}, study {study}, purpose {purpose} at {rec.at}")


@consent_group.command("show")
@_STORE
@click.option("--study", default=None, help="Only this study.")
@click.option("--participant", default=None, help="Only this participant.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
def consent_show(store_path: Path, study: str | None, participant: str | None, as_json: bool) -> None:
    """List consent decisions and the resulting state per (participant, study, purpose)."""
    from dataclasses import asdict

    from mouselab.privacy import consent

    recs = consent.records(store_path, participant=participant, study=study)
    if as_json:
        for r in recs:
            click.echo(json.dumps(asdict(r), sort_keys=True))
        return
    state: dict[tuple[str, str, str], object] = {}
    for r in recs:
        state[(r.participant, r.study, r.purpose)] = r
    if not state:
        click.echo("no consent records")
        return
    click.echo(f"{'participant':<16}{'study':<16}{'purpose':<12}{'state':<10}since")
    for (p, s, purpose), r in sorted(state.items()):
        click.echo(f"{p:<16}{s:<16}{purpose:<12}{'active' if r.action == 'grant' else 'withdrawn':<10}{r.at}")


# ------------------------------------------------------------------------------------------------- web
@command.command("web")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to copy mouselab-capture.js and demo.html into.")
def web(out_dir: Path) -> None:
    """Copy the browser snippet and the demo task page to OUT (serve them from any static web server)."""
    import shutil

    from mouselab.capture import DEMO, SNIPPET

    out_dir.mkdir(parents=True, exist_ok=True)
    for src in (SNIPPET, DEMO):
        shutil.copy2(src, out_dir / src.name)
        click.echo(f"wrote {out_dir / src.name}")
