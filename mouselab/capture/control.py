"""Control a running capture agent from another process: pause, resume, stop — and stop it for a withdrawal.

The agent polls ``STORE/capture/control.json`` (see :mod:`mouselab.capture.files`); a command is confirmed
when the agent's status names its id (pause, resume) or when the agent's lock is released (stop: the agent
has flushed, committed its session into the store and exited).
"""

from __future__ import annotations

import time
from pathlib import Path

from mouselab.capture.files import agent_running, read_status, write_command


class AgentTimeout(RuntimeError):
    """The agent did not confirm a command in time; the message names the command and what to do."""


def running(store: Path) -> dict | None:
    """The status of the agent currently recording into ``store`` (None when no agent runs)."""
    if not agent_running(store):
        return None
    return read_status(store) or {}


def send(store: Path, action: str, *, wait_s: float) -> dict:
    """Send ``action`` (pause, resume, stop) to the running agent and wait up to ``wait_s`` for it to confirm.

    Returns the agent's status after the command (for ``stop``: its final status, the agent has exited).
    Raises RuntimeError when no agent runs and :class:`AgentTimeout` when it does not confirm in time.
    """
    if not agent_running(store):
        raise RuntimeError(f"no capture agent is running for {store}")
    command_id = write_command(store, action)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        status = read_status(store) or {}
        if action == "stop":
            if not agent_running(store):
                return read_status(store) or {}
        elif status.get("last_command_id") == command_id:
            return status
        time.sleep(0.05)
    raise AgentTimeout(
        f"the capture agent did not confirm '{action}' within {wait_s:g} s; see `mouselab capture status`")


def stop_capture_of(store: Path, *, study: str, participant: str, wait_s: float) -> dict | None:
    """Stop the agent when it is recording ``participant`` (as the store names them) in ``study``.

    Returns the agent's final status, or None when no agent records this participant (an agent recording
    someone else is left alone). The agent commits what it recorded before it exits; consent withdrawn
    before the stop makes it drop the rows recorded after the withdrawal.
    """
    status = running(store)
    if status is None or status.get("participant") != participant or status.get("study") != study:
        return None
    try:
        return send(store, "stop", wait_s=wait_s)
    except AgentTimeout:
        raise
    except RuntimeError:  # it stopped by itself in the meantime (it also checks consent at every flush)
        return read_status(store) or {}


__all__ = ["AgentTimeout", "running", "send", "stop_capture_of"]
