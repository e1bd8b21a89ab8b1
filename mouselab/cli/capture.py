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
      mouselab privacy consent grant --store S --study X --participant P01
      mouselab capture start --store S --study X --participant P01 --detach
      mouselab capture status --store S
      mouselab capture pause --store S      # ... resume, stop
    Withdrawal stops the recording and erases the participant's data:
      mouselab privacy consent withdraw --store S --study X --participant P01
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
    """Record until `mouselab capture stop` (or Ctrl-C, --duration-s, `mouselab privacy consent withdraw`).

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
    from mouselab.capture.control import send

    _print_status(send(store_path, action, wait_s=wait_s), running=action != "stop")


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
def _consent_alias() -> click.Group:
    """`mouselab capture consent …`: the very commands of `mouselab privacy consent` under their old name."""
    from mouselab.cli.privacy import consent_group

    @click.group("consent", commands=consent_group.commands)
    def alias() -> None:
        """Alias of `mouselab privacy consent` (deprecated name; same commands, options and code).

        \b
        grant     record consent (capture refuses to start without it)
        withdraw  record the withdrawal, stop the participant's capture, and ERASE their data
                  when no purpose remains active (see `mouselab privacy consent withdraw --help`)
        show      list consent decisions
        """
        click.echo("note: `mouselab capture consent` is an alias of `mouselab privacy consent`; use that name",
                   err=True)

    return alias


command.add_command(_consent_alias())


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
