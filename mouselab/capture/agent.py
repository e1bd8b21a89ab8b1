"""The desktop recording agent: steady-rate cursor sampling, clicks, scrolls, focus changes and idle periods,
written as rolling Parquet segments and committed into the store.

Threads
-------
* **sampler** (the calling thread): wakes at ``t0 + k / rate_hz`` on the monotonic clock (deadlines are
  computed from the start, so sleep overshoot never accumulates; ticks missed by a stall are skipped and
  counted), reads the pointer, stamps it with ``time.monotonic_ns()``, detects idle periods, polls the
  focused window class and the control file, and hands a buffer to the writer every ``flush_s``.
* **listener** (pynput): clicks and scrolls, stamped with the same monotonic clock when they arrive.
* **writer**: checks consent, writes each buffer as an atomic segment (see :mod:`mouselab.capture.spool`),
  updates ``status.json`` and every ``commit_s`` commits the session into the store in a child process.

Times are ``t_ms`` = monotonic milliseconds since the session start (the contract's free-use convention);
wall-clock time is kept as anchors (monotonic ↔ UTC pairs) in the session metadata and the spool index,
so wall time of any sample is ``anchor.wall + (t_ms - anchor.t_ms)``.

Idle: no pointer input (movement, click, scroll) for ``idle_threshold_ms`` emits ``idle_start`` dated at the
last input and stops writing samples; the next input emits ``idle_end`` with ``duration_ms`` (time since the
last input). Keyboard activity is never observed, so it does not count as input.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from mouselab.capture import spool
from mouselab.capture.apps import AppLabeler, load_key
from mouselab.capture.commit import run_child, run_prepare
from mouselab.capture.desktop import BUTTON_BITS
from mouselab.capture.files import (
    AgentLock,
    atomic_write_json,
    capture_dir,
    check_id,
    control_path,
    now_iso,
    read_json,
    read_status,
    session_meta_path,
    spool_dir,
    status_path,
)
from mouselab.privacy import consent

# event tuple: (t_ns, kind, button, x, y, dx, dy, duration_ms, app)
_EVENT_ORDER = {"idle_end": 0, "focus": 1, "click_down": 2, "click_up": 3, "scroll": 4, "marker": 5, "idle_start": 6}


@dataclass(frozen=True)
class CaptureConfig:
    """Settings of one capture session (all validated by :meth:`validated`)."""

    store: Path
    study: str
    participant: str
    session: str | None = None
    purpose: str = consent.DEFAULT_PURPOSE
    rate_hz: float = 60.0
    flush_s: float = 5.0
    commit_s: float = 300.0  # 0: commit only when the session ends
    idle_threshold_ms: float = 5000.0
    app_mode: str = "pseudonym"
    app_key_file: Path | None = None
    #: Pseudonymise participant and session ids with the configured key (setting ``key_file``): None = when
    #: a key is configured and the store is (or can become) pseudonymised; True = required; False = never.
    pseudonymise: bool | None = None
    duration_s: float | None = None
    focus_poll_s: float = 0.5
    control_poll_s: float = 0.25

    def validated(self) -> "CaptureConfig":
        check_id("study", self.study)
        check_id("participant", self.participant)
        session = self.session or new_session_id()
        check_id("session", session)
        if not 1 <= self.rate_hz <= 1000:
            raise ValueError(f"rate_hz {self.rate_hz} is outside 1..1000 Hz")
        if not 0.05 <= self.flush_s <= 3600:
            raise ValueError(f"flush_s {self.flush_s} is outside 0.05..3600 s")
        if self.commit_s < 0:
            raise ValueError("commit_s must be >= 0 (0 = commit only at the end)")
        if self.idle_threshold_ms <= 0:
            raise ValueError("idle_threshold_ms must be > 0")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        return replace(self, store=Path(self.store), session=session)


def new_session_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxx`` in UTC with 4 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + os.urandom(2).hex()


@dataclass
class _Batch:
    samples: tuple[list, list, list, list, list]  # t_ns, x, y, event, buttons
    events: list
    start_ns: int
    anchor_ns: int
    anchor_wall_ns: int
    final: bool = False


@dataclass
class _Counters:
    ticks: int = 0
    missed_ticks: int = 0
    samples_written: int = 0
    events_written: int = 0
    segments: int = 0
    samples_committed: int = 0
    commits: int = 0
    events_committed: int = 0
    last_flush: str | None = None
    last_commit: str | None = None
    commit_error: str | None = None
    window_rate_hz: float | None = None
    active_ns: int = 0
    pauses: list = field(default_factory=list)


class CaptureAgent:
    """Run one capture session. ``backend`` defaults to :class:`mouselab.capture.desktop.DesktopBackend`."""

    def __init__(self, config: CaptureConfig, *, backend=None, echo=None):
        self.cfg = config.validated()
        self._backend = backend
        self._echo = echo or (lambda message: None)
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._samples: tuple[list, list, list, list, list] = ([], [], [], [], [])
        self._events: list = []
        self._buttons = 0
        self._input_ns = 0
        self._paused = False
        self._running = False
        self._idle = False
        self._idle_start_ns = 0
        self._stop_reason: str | None = None
        self._exit_code = 0
        self._n = _Counters()
        self._segment_no = 0
        self._last_commit_ns = 0
        self._last_command_id: str | None = None
        self._state = "starting"
        self.t0_ns = 0
        self.wall0_ns = 0
        self._end_ns = 0
        self._pause_start = 0
        self._chain = _key_chain(self.cfg)
        if self._chain is not None:  # ids as stored: keyed pseudonyms; the raw ids stay in memory (consent lookups)
            from mouselab.privacy import pseudonym

            self.participant_id = pseudonym.participant(self.cfg.participant, self._chain)
            self.session_id = pseudonym.session(self.cfg.participant, self.cfg.session, self._chain)
        else:
            self.participant_id, self.session_id = self.cfg.participant, self.cfg.session
        self.folder = spool_dir(self.cfg.store, self.cfg.study, self.participant_id, self.session_id)
        self.meta_path = session_meta_path(self.cfg.store, self.cfg.study, self.participant_id, self.session_id)
        self._meta: dict = {}

    # ------------------------------------------------------------------------------------------- public
    @property
    def session(self) -> str:
        return self.cfg.session

    def request_stop(self, reason: str, *, exit_code: int = 0) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            self._exit_code = exit_code

    def run(self) -> dict:
        """Record until stopped (control file, signal, duration, consent withdrawal). Returns the final status."""
        cfg = self.cfg
        store = cfg.store
        consent.require(store, cfg.participant, cfg.study, cfg.purpose)  # before anything else
        if not (store / "manifest.json").exists():
            raise FileNotFoundError(f"{store} is not a mouselab store (no manifest.json)")
        lock = AgentLock(store)
        if not lock.acquire():
            status = read_status(store) or {}
            raise RuntimeError(
                f"a capture agent is already running for {store} (pid {status.get('pid', '?')}, participant "
                f"{status.get('participant', '?')}); stop it first: mouselab capture stop --store {store}"
            )
        try:
            return self._run_locked()
        finally:
            lock.release()

    # ------------------------------------------------------------------------------------------ session
    def _run_locked(self) -> dict:
        cfg = self.cfg
        store = cfg.store
        prepared = run_prepare(store, cfg.study, self.participant_id, self.session_id)
        if prepared["recovered"]:
            self._echo(f"recovered {len(prepared['recovered'])} session(s) left by an interrupted capture")
        if self.meta_path.exists() or self.folder.exists() or prepared["session_exists"]:
            raise ValueError(
                f"session {cfg.session!r} of participant {cfg.participant!r} already exists in {store}; "
                "choose another --session (or omit it to generate one)"
            )
        if self._backend is None:
            from mouselab.capture.desktop import DesktopBackend

            self._backend = DesktopBackend()
        backend = self._backend
        key = None
        if cfg.app_mode == "pseudonym" and self._chain is not None and not cfg.app_key_file:
            self._label = AppLabeler(cfg.app_mode, chain=self._chain)  # key outside the store (key_file)
        else:
            if cfg.app_mode == "pseudonym":
                key = load_key(Path(cfg.app_key_file) if cfg.app_key_file else capture_dir(store) / "app.key")
            self._label = AppLabeler(cfg.app_mode, key)
        self._ignore_stale_command()
        try:
            screen = backend.screen()
        except Exception as exc:  # noqa: BLE001 — optional detail
            screen = {"error": " ".join(str(exc).split())}
        try:
            backend.start(self._on_click, self._on_scroll)  # callbacks are ignored until _running is set
        except BaseException:
            backend.stop()
            raise
        self.folder.mkdir(parents=True, exist_ok=True)
        self.t0_ns = time.monotonic_ns()
        self.wall0_ns = time.time_ns()
        self._input_ns = self.t0_ns
        self._meta = self._initial_meta(backend, screen)
        atomic_write_json(self.meta_path, self._meta)
        writer = threading.Thread(target=self._writer, name="mouselab-capture-writer", daemon=True)
        writer.start()
        restore = self._install_signal_handlers()
        self._running = True
        try:
            self._state = "recording"
            self._write_status()
            self._echo(
                f"recording participant {self.participant_id} of study {cfg.study}, session {self.session_id} at "
                f"{cfg.rate_hz:g} Hz (flush every {cfg.flush_s:g} s); stop with: mouselab capture stop --store {store}"
            )
            self._sample_loop()
        except Exception as exc:  # noqa: BLE001 — display lost, backend failure: stop cleanly, keep data
            self.request_stop(f"error: {' '.join(str(exc).split())}", exit_code=1)
        finally:
            self._running = False  # listener callbacks from now on are ignored
            restore()
            self._state = "stopping"
            now = self._end_ns = time.monotonic_ns()
            if self._paused:
                self._n.pauses.append({"start_t_ms": (self._pause_start - self.t0_ns) / 1e6, "end_t_ms": (now - self.t0_ns) / 1e6})
            with self._lock:
                if self._idle:
                    self._end_idle(now)
            self._flush(now, final=True)
            try:
                backend.stop()
            except Exception:  # noqa: BLE001
                pass
            self._queue.put(None)
            writer.join()
            self._finish()
        return read_status(store) or {}

    def _initial_meta(self, backend, screen: dict) -> dict:
        cfg = self.cfg
        import mouselab

        return {
            "format": "mouselab-capture-session",
            "version": 1,
            "study": cfg.study,
            "participant": self.participant_id,
            "session": self.session_id,
            "pseudonymised": self._chain is not None,
            "purpose": cfg.purpose,
            "started_utc": _iso(self.wall0_ns),
            "clock": "t_ms = CLOCK_MONOTONIC milliseconds since started; wall = anchor.wall_ns + (t_ms - anchor.t_ms) * 1e6",
            "anchors": [{"t_ms": 0.0, "wall_ns": self.wall0_ns, "wall_utc": _iso(self.wall0_ns)}],
            "rate_hz": cfg.rate_hz,
            "flush_s": cfg.flush_s,
            "commit_s": cfg.commit_s,
            "idle_threshold_ms": cfg.idle_threshold_ms,
            "app_mode": cfg.app_mode,
            "backend": getattr(backend, "name", type(backend).__name__),
            "platform": sys.platform,
            "screen": screen,
            "coordinates": "px, origin top-left of the (virtual) screen, y down",
            "mouselab_version": mouselab.__version__,
            "ended_utc": None,
            "stop_reason": None,
            "pauses": [],
        }

    # ------------------------------------------------------------------------------------------ sampler
    def _sample_loop(self) -> None:
        cfg = self.cfg
        backend = self._backend
        period = 1e9 / cfg.rate_hz
        flush_ns = int(cfg.flush_s * 1e9)
        idle_ns = int(cfg.idle_threshold_ms * 1e6)
        focus_ns = int(cfg.focus_poll_s * 1e9)
        control_ns = int(cfg.control_poll_s * 1e9)
        end_ns = self.t0_ns + int(cfg.duration_s * 1e9) if cfg.duration_s else None
        t0 = self.t0_ns
        k = 0
        next_flush = t0 + flush_ns
        next_focus = t0
        next_control = t0 + control_ns
        self._window_start = t0
        self._window_ticks = 0
        self._active_since = t0
        last_pos: tuple[float, float] | None = None
        last_app: str | None = None
        self._control_mtime = _mtime(control_path(cfg.store))
        while self._stop_reason is None:
            if self._paused:
                time.sleep(0.05)
                now = time.monotonic_ns()
            else:
                deadline = t0 + int(k * period)
                now = time.monotonic_ns()
                if now < deadline:
                    time.sleep((deadline - now) / 1e9)
                    now = time.monotonic_ns()
                k += 1
                behind = now - (t0 + int(k * period))
                if behind >= 0:  # a stall made us miss ticks: skip them (counted), never burst
                    skipped = int(behind // period) + 1
                    k += skipped
                    self._n.missed_ticks += skipped
            if now >= next_control:
                next_control = now + control_ns
                if self._poll_control(now):  # state changed
                    if not self._paused:
                        k = int((now - t0) // period) + 1
                        last_pos = None
                    continue
            if end_ns is not None and now >= end_ns:
                self.request_stop("duration reached")
                break
            if now >= next_flush:
                next_flush = now + flush_ns
                self._flush(now)
            if self._paused:
                continue
            polled = backend.position()
            x, y = polled[0], polled[1]
            self._n.ticks += 1
            self._window_ticks += 1
            pos = (x, y)
            with self._lock:
                last_input = self._input_ns
                if pos != last_pos and last_pos is not None:
                    last_input = self._input_ns = now
                if self._idle:
                    if last_input > self._idle_start_ns:
                        self._end_idle(last_input)
                elif now - last_input >= idle_ns:
                    self._idle = True
                    self._idle_start_ns = last_input
                    self._events.append((last_input, "idle_start", None, x, y, None, None, None, None))
                if not self._idle:
                    buttons = polled[2] if len(polled) > 2 else self._buttons
                    t, xs, ys, ev, bt = self._samples
                    t.append(now)
                    xs.append(x)
                    ys.append(y)
                    ev.append("drag" if buttons else "move")
                    bt.append(buttons)
            last_pos = pos
            if focus_ns and now >= next_focus:
                next_focus = now + focus_ns
                app_class = backend.focused_class()
                if app_class is not None and app_class != last_app:
                    last_app = app_class
                    label = self._label(app_class)
                    if label is not None:
                        with self._lock:
                            self._events.append((now, "focus", None, x, y, None, None, None, label))

    def _end_idle(self, at_ns: int) -> None:
        """Close an idle period (caller holds ``self._lock``)."""
        duration = (at_ns - self._idle_start_ns) / 1e6
        self._events.append((at_ns, "idle_end", None, None, None, None, None, duration, None))
        self._idle = False

    def _on_click(self, x: float, y: float, button: str, pressed: bool) -> None:
        t = time.monotonic_ns()
        if self._paused or not self._running:
            return
        bit = BUTTON_BITS.get(button, 0)
        with self._lock:
            self._buttons = (self._buttons | bit) if pressed else (self._buttons & ~bit)
            self._events.append((t, "click_down" if pressed else "click_up", button, x, y, None, None, None, None))
            self._input_ns = max(self._input_ns, t)

    def _on_scroll(self, x: float, y: float, dx: float, dy: float) -> None:
        t = time.monotonic_ns()
        if self._paused or not self._running:
            return
        with self._lock:
            self._events.append((t, "scroll", None, x, y, dx, dy, None, None))
            self._input_ns = max(self._input_ns, t)

    def _flush(self, now: int, *, final: bool = False) -> None:
        with self._lock:
            samples, self._samples = self._samples, ([], [], [], [], [])
            events, self._events = self._events, []
        if not self._paused:
            span = now - self._window_start
            self._n.window_rate_hz = self._window_ticks / (span / 1e9) if span > 0 else None
            self._n.active_ns += now - self._active_since
            self._active_since = now
        self._window_start = now
        self._window_ticks = 0
        self._queue.put(_Batch(samples, events, now, now, time.time_ns(), final))

    # ------------------------------------------------------------------------------------------ control
    def _ignore_stale_command(self) -> None:
        try:
            old = read_json(control_path(self.cfg.store))
        except ValueError:
            old = None
        self._last_command_id = (old or {}).get("id")

    def _poll_control(self, now: int) -> bool:
        path = control_path(self.cfg.store)
        mtime = _mtime(path)
        if mtime == self._control_mtime:
            return False
        self._control_mtime = mtime
        try:
            command = read_json(path) or {}
        except ValueError:
            return False
        if command.get("id") == self._last_command_id:
            return False
        self._last_command_id = command.get("id")
        action = command.get("command")
        changed = False
        if action == "stop":
            self.request_stop("stopped by user")
        elif action == "pause" and not self._paused:
            self._flush(now)
            with self._lock:
                if self._idle:
                    self._end_idle(now)
                self._paused = True
            self._pause_start = now
            self._state = "paused"
            changed = True
        elif action == "resume" and self._paused:
            self._n.pauses.append({"start_t_ms": (self._pause_start - self.t0_ns) / 1e6, "end_t_ms": (now - self.t0_ns) / 1e6})
            with self._lock:
                self._input_ns = now
                self._paused = False
            self._window_start = self._active_since = now
            self._window_ticks = 0
            self._state = "recording"
            changed = True
        self._write_status()
        return changed

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {}

        def handler(signum, _frame):
            self.request_stop(f"signal {signal.Signals(signum).name}")

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, handler)

        def restore():
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    # ------------------------------------------------------------------------------------------- writer
    def _writer(self) -> None:
        cfg = self.cfg
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                cutoff_ns = self._consent_cutoff(batch)
                samples, events = self._columns(batch, cutoff_ns)
                anchor = {"t_ms": (batch.anchor_ns - self.t0_ns) / 1e6, "wall_ns": batch.anchor_wall_ns}
                n_samples, n_events = len(samples["t_ms"]), len(events["t_ms"])
                if n_samples or n_events:
                    self._segment_no += 1
                    for table, data, rows in (("samples", samples, n_samples), ("events", events, n_events)):
                        if rows:
                            spool.write_segment(self.folder, self._segment_no, table, data, anchor=anchor)
                    self._n.segments = self._segment_no
                    self._n.samples_written += n_samples
                    self._n.events_written += n_events
                self._n.last_flush = now_iso()
                self._meta["anchors"] = self._meta["anchors"][:1] + [{**anchor, "wall_utc": _iso(batch.anchor_wall_ns)}]
                if cutoff_ns is not None:
                    self.request_stop("consent withdrawn")
                elif (
                    not batch.final and cfg.commit_s > 0
                    and batch.anchor_ns - max(self._last_commit_ns, self.t0_ns) >= cfg.commit_s * 1e9
                ):
                    self._commit(final=False)
                    self._last_commit_ns = batch.anchor_ns
            except Exception as exc:  # noqa: BLE001 — cannot persist: stop rather than record into the void
                self.request_stop(f"error: cannot write segment: {' '.join(str(exc).split())}", exit_code=1)
            self._write_status()

    def _consent_cutoff(self, batch: _Batch) -> int | None:
        """None while consent is active; else the monotonic time from which rows must be dropped."""
        cfg = self.cfg
        try:
            last = consent.latest(cfg.store, cfg.participant, cfg.study, cfg.purpose)
        except Exception:  # noqa: BLE001 — unreadable registry: fail safe, keep nothing of this window
            return 0
        if last is not None and last.action == "grant":
            return None
        if last is None:
            return 0
        wall_ns = int(last.at_datetime.timestamp() * 1e6) * 1000
        return batch.anchor_ns + (wall_ns - batch.anchor_wall_ns)

    def _columns(self, batch: _Batch, cutoff_ns: int | None) -> tuple[dict[str, list], dict[str, list]]:
        """The batch as column lists in the contract's layout (rows from ``cutoff_ns`` on dropped)."""
        cfg = self.cfg
        t0 = self.t0_ns
        limit = cutoff_ns if cutoff_ns is not None else None
        t, xs, ys, ev, bt = batch.samples
        keep = range(len(t)) if limit is None else [i for i, v in enumerate(t) if v < limit]
        n = len(keep)
        samples = {
            "study": [cfg.study] * n, "participant": [self.participant_id] * n, "session": [self.session_id] * n,
            "trial": [None] * n, "t_ms": [(t[i] - t0) / 1e6 for i in keep], "x": [xs[i] for i in keep],
            "y": [ys[i] for i in keep], "event": [ev[i] for i in keep], "buttons": [bt[i] for i in keep],
        }
        ordered = sorted(batch.events, key=lambda e: (e[0], _EVENT_ORDER.get(e[1], 9)))
        if limit is not None:
            ordered = [e for e in ordered if e[0] < limit]
        m = len(ordered)
        events = {
            "study": [cfg.study] * m, "participant": [self.participant_id] * m, "session": [self.session_id] * m,
            "trial": [None] * m, "t_ms": [(e[0] - t0) / 1e6 for e in ordered], "kind": [e[1] for e in ordered],
            "button": [e[2] for e in ordered], "x": [e[3] for e in ordered], "y": [e[4] for e in ordered],
            "dx": [e[5] for e in ordered], "dy": [e[6] for e in ordered], "duration_ms": [e[7] for e in ordered],
            "app": [e[8] for e in ordered],
        }
        return samples, events

    def _commit(self, *, final: bool) -> None:
        if not spool.segments(self.folder):
            if final:
                from mouselab.capture.commit import finalize

                finalize(self.cfg.store, self.folder)
            return
        try:
            rows = run_child(self.cfg.store, self.folder, final=final)["rows"]
        except Exception as exc:  # noqa: BLE001 — segments stay in the spool; `capture recover` retries
            self._n.commit_error = " ".join(str(exc).split())
            return
        self._n.commit_error = None
        self._n.commits += 1
        self._n.samples_committed = rows.get("samples", 0)
        self._n.events_committed = rows.get("events", 0)
        self._n.last_commit = now_iso()

    def _finish(self) -> None:
        cfg = self.cfg
        end_wall = time.time_ns()
        self._meta.update(
            ended_utc=_iso(end_wall),
            stop_reason=self._stop_reason,
            pauses=self._n.pauses,
            samples=self._n.samples_written,
            events=self._n.events_written,
            missed_ticks=self._n.missed_ticks,
            duration_ms=(self._end_ns - self.t0_ns) / 1e6,
        )
        atomic_write_json(self.meta_path, self._meta)
        self._state = "committing"
        self._write_status()
        self._commit(final=True)
        self._record_date()
        if self._n.commit_error:
            self._exit_code = self._exit_code or 1
            self._echo(
                f"the final commit failed ({self._n.commit_error}); the segments are kept in {self.folder}: "
                f"run `mouselab capture recover --store {cfg.store}`"
            )
        self._state = "stopped"
        self._write_status()

    # ------------------------------------------------------------------------------------------- status
    def _write_status(self) -> None:
        cfg, n = self.cfg, self._n
        active_ns = n.active_ns + ((time.monotonic_ns() - self._active_since) if self._state == "recording" and hasattr(self, "_active_since") else 0)
        status = {
            "state": self._state,
            "idle": self._idle,
            "pid": os.getpid(),
            "store": str(cfg.store),
            "study": cfg.study,
            "participant": self.participant_id,
            "session": self.session_id,
            "purpose": cfg.purpose,
            "started": _iso(self.wall0_ns) if self.wall0_ns else None,
            "rate_hz_target": cfg.rate_hz,
            "rate_hz_achieved": round(n.window_rate_hz, 3) if n.window_rate_hz else None,
            "rate_hz_mean": round(n.ticks / (active_ns / 1e9), 3) if active_ns > 0 else None,
            "ticks": n.ticks,
            "missed_ticks": n.missed_ticks,
            "samples_written": n.samples_written,
            "events_written": n.events_written,
            "segments": n.segments,
            "flush_s": cfg.flush_s,
            "last_flush": n.last_flush,
            "commit_s": cfg.commit_s,
            "last_commit": n.last_commit,
            "commits": n.commits,
            "samples_committed": n.samples_committed,
            "events_committed": n.events_committed,
            "commit_error": n.commit_error,
            "spool": str(self.folder),
            "stop_reason": self._stop_reason if self._state in ("stopping", "committing", "stopped") else None,
            "exit_code": self._exit_code if self._state == "stopped" else None,
            "last_command_id": self._last_command_id,
            "updated": now_iso(),
        }
        with self._status_lock:
            atomic_write_json(status_path(cfg.store), status, durable=False)


    def _record_date(self) -> None:
        """The retention clock of a governed store starts at the session's start (not at its commit)."""
        from mouselab.privacy import governance

        if self._n.samples_committed and governance.is_governed(self.cfg.store):
            try:
                governance.set_recorded(self.cfg.store, self.cfg.study, self.participant_id, self.session_id,
                                        _iso(self.wall0_ns), source="capture session start")
            except OSError as exc:  # the data is committed; the first-commit date stays as the estimate
                self._echo(f"could not record the session's start date for retention: {exc}")


def _key_chain(cfg: CaptureConfig):
    """The pseudonym key chain to use for this session (None: store ids as given)."""
    if cfg.pseudonymise is False:
        return None
    from mouselab.privacy import governance, keys

    store = Path(cfg.store)
    kid = governance.load_policy(store).get("pseudonym_key_id") if governance.is_governed(store) else None
    chain = keys.configured_chain(store)
    if chain is None:
        if kid:
            raise ValueError(
                f"the store {store} is pseudonymised (key {kid}); set the key_file setting (MOUSELAB_KEY_FILE) to its key"
            )
        if cfg.pseudonymise:
            raise ValueError("pseudonymising needs a key: mouselab privacy keygen --out PATH, then MOUSELAB_KEY_FILE=PATH")
        return None
    if kid:
        if kid != chain.key_id:
            raise ValueError(f"the configured key {chain.key_id} is not the store's pseudonym key {kid}")
        return chain
    if (store / "manifest.json").exists() and keys.adopt(store):
        return chain
    if cfg.pseudonymise:
        raise ValueError(
            f"the store {store} already holds data under raw ids; convert it first: mouselab privacy pseudonymise --store {store}"
        )
    return None


def run_capture(config: CaptureConfig, *, backend=None, echo=None) -> dict:
    """Run a capture session to its end; returns the final status (see ``mouselab capture status``)."""
    return CaptureAgent(config, backend=backend, echo=echo).run()


def _mtime(path: Path) -> int | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns ^ st.st_ino


def _iso(wall_ns: int) -> str:
    return datetime.fromtimestamp(wall_ns / 1e9, timezone.utc).isoformat(timespec="microseconds")

