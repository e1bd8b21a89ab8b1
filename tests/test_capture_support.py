"""Helpers shared by the capture tests: an Xvfb display, xdotool, the agent as a subprocess, requirement checks.

Missing system tools skip with a reason on developer machines; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY = "st"
PARTICIPANT = "P01"


def require(ok: object, reason: str) -> None:
    """Skip with ``reason`` when ``ok`` is falsy, or fail when running under CI (CI=true never skips)."""
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this must be available)")
        pytest.skip(reason)


def mouselab(*args: object, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "MOUSELAB_DEBUG"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mouselab", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def grant(store: Path, participant: str = PARTICIPANT, study: str = STUDY) -> None:
    r = mouselab("capture", "consent", "grant", "--store", store, "--study", study, "--participant", participant)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def xdisplay():
    """A private Xvfb server (display number chosen by Xvfb itself via -displayfd), 1280x800, -noreset."""
    require(shutil.which("Xvfb"), "Xvfb is not installed (apt-get install xvfb)")
    require(shutil.which("xdotool"), "xdotool is not installed (apt-get install xdotool)")
    require(importlib.util.find_spec("pynput"), "pynput is not installed (pip install -e '.[capture]')")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-noreset", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + 15
    while not data.endswith(b"\n") and time.monotonic() < deadline:  # Xvfb writes the number, then "\n"
        ready, _, _ = select.select([read_fd], [], [], 0.5)
        if ready:
            chunk = os.read(read_fd, 32)
            if not chunk:
                break
            data += chunk
    os.close(read_fd)
    number = data.decode().strip() if data.endswith(b"\n") else ""
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not report a display number within 15 s")
    display = f":{number}"
    env = {**os.environ, "DISPLAY": display}

    def answers() -> bool:
        return subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True, timeout=5).returncode == 0

    try:
        wait_for(answers, 15, f"Xvfb {display} to accept connections", interval=0.1)
        yield display
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def xdo(display: str, *args: object, timeout: float = 30) -> None:
    subprocess.run(["xdotool", *map(str, args)], env={**os.environ, "DISPLAY": display}, check=True,
                   timeout=timeout, capture_output=True)


def status(store: Path) -> dict:
    try:
        return json.loads((store / "capture" / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def start_agent(store: Path, display: str, *extra: object, session: str = "s1") -> subprocess.Popen:
    """``python -m mouselab capture start …`` as a child process; returns once it is recording."""
    env = {k: v for k, v in os.environ.items() if k != "MOUSELAB_DEBUG"}
    env["DISPLAY"] = display
    proc = subprocess.Popen(
        [sys.executable, "-m", "mouselab", "capture", "start", "--store", str(store), "--study", STUDY,
         "--participant", PARTICIPANT, "--session", session, *map(str, extra)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )

    def recording():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the agent exited early with {proc.returncode}: {err.strip() or out.strip()}")
        s = status(store)
        return s.get("pid") == proc.pid and s.get("state") == "recording"

    wait_for(recording, 30, "the agent to start recording")
    return proc


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def decoded_text(folder: Path) -> str:
    """Every value of every Parquet file / segment under ``folder`` as text (compressed pages decoded)."""
    import polars as pl

    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and (path.suffix in (".parquet", ".seg")):
            frame = pl.read_parquet(path)
            parts.append(" ".join(str(v) for col in frame.columns for v in frame[col].to_list()))
            parts.append(" ".join(frame.columns))
        elif path.is_file() and path.suffix in (".json", ".jsonl", ".log"):
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)
