"""Where the capture agent keeps its files inside a store folder, and how it writes them safely.

Layout (all under ``STORE/capture/``)::

    agent.lock                     held (flock) by the running agent: the liveness test, immune to pid reuse
    status.json                    written by the agent at every flush and state change (atomic replace)
    control.json                   written by ``mouselab capture pause|resume|stop`` (atomic replace)
    agent.log                      stdout/stderr of a detached agent
    app.key                        HMAC key for application pseudonyms (mode 0600; do not share it)
    spool/STUDY/PARTICIPANT/SESSION/
        000001.samples.seg         Parquet segment (store schema), written atomically, listed in index.jsonl
        000001.events.seg
        index.jsonl                one line per segment: rows, bytes, SHA-256, clock anchor
    sessions/STUDY/PARTICIPANT/SESSION.json   session metadata: clock anchors, screen geometry, DPI, pauses

Spool segments are named ``*.seg`` (not ``*.parquet``) so the store's ``verify`` / ``gc`` never mistake them
for remains of an interrupted store write.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

from mouselab._fsync import fsync_dir

CAPTURE_DIR = "capture"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
COMMANDS = ("pause", "resume", "stop")


def check_id(kind: str, value: str) -> str:
    """Raise ValueError unless ``value`` can name a partition / folder."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid id; use letters, digits, '.', '_' or '-' "
            "(at most 128 characters, not starting with a symbol)"
        )
    return value


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def capture_dir(store: Path) -> Path:
    return Path(store) / CAPTURE_DIR


def status_path(store: Path) -> Path:
    return capture_dir(store) / "status.json"


def control_path(store: Path) -> Path:
    return capture_dir(store) / "control.json"


def lock_path(store: Path) -> Path:
    return capture_dir(store) / "agent.lock"


def log_path(store: Path) -> Path:
    return capture_dir(store) / "agent.log"


def spool_root(store: Path) -> Path:
    return capture_dir(store) / "spool"


def spool_dir(store: Path, study: str, participant: str, session: str) -> Path:
    return spool_root(store) / study / participant / session


def session_meta_path(store: Path, study: str, participant: str, session: str) -> Path:
    return capture_dir(store) / "sessions" / study / participant / f"{session}.json"


# ------------------------------------------------------------------------------------------ atomic files


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Readers see the old or the new content, never a mixture. With ``durable`` the data and the rename
    are fsynced, so the new content survives a power cut once this returns.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: dict, *, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), durable=durable)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def append_line(path: Path, obj: dict) -> None:
    """Append one JSON line and fsync it."""
    line = (json.dumps(obj, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------- agent liveness
class AgentLock:
    """The exclusive lock a running agent holds on ``agent.lock`` for its whole life."""

    def __init__(self, store: Path):
        self.path = lock_path(store)
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def agent_running(store: Path) -> bool:
    """True when some process holds the agent lock of ``store``."""
    path = lock_path(store)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_status(store: Path) -> dict | None:
    return read_json(status_path(store))


def write_command(store: Path, command: str) -> str:
    """Ask the running agent to ``pause``, ``resume`` or ``stop``; returns the command id to wait for."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    command_id = uuid.uuid4().hex
    atomic_write_json(control_path(store), {"command": command, "id": command_id, "at": now_iso()}, durable=False)
    return command_id
