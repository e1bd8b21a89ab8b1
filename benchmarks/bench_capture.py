"""Benchmark: CPU and memory of the desktop capture agent at 60 Hz, under Xvfb, with the pointer moving.

usage: python benchmarks/bench_capture.py [--seconds 20] [--rate-hz 60] [--flush-s 5] [--commit-s 10]
                                          [--motion-hz 60] [--json]

1. Starts a private Xvfb (1280x800, -noreset), a temporary store with consent, and the agent as
   ``python -m mouselab capture start`` (a separate process, measured on its own).
2. Moves the pointer continuously with xdotool (a circle, ``--motion-hz`` moves per second) and clicks
   once per second, so the agent samples, records events and flushes as in real use (never idle).
3. After a 3 s warm-up, reads ``/proc/PID/stat`` (utime + stime of the agent; cutime + cstime of the
   commit children it waited for) at the start and end of a ``--seconds`` window, and ``/proc/PID/status``
   (VmRSS every 0.25 s, VmHWM, RssAnon, RssFile).
4. Stops the agent with ``mouselab capture stop`` and checks that the store holds what status reported.

Prints a Markdown table (or JSON with ``--json``). CPU is a percentage of one core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, waited-children CPU seconds) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def proc_mem(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-noreset", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + 15
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([read_fd], [], [], 0.5)[0]:
            chunk = os.read(read_fd, 32)
            if not chunk:
                break
            data += chunk
    os.close(read_fd)
    if not data.endswith(b"\n"):
        proc.kill()
        sys.exit("Xvfb did not start")
    display = f":{data.decode().strip()}"
    env = {**os.environ, "DISPLAY": display}
    for _ in range(100):
        if subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    return proc, display


def drive(display: str, stop: threading.Event, motion_hz: float) -> None:
    """Circle the pointer (one xdotool process per second of motion) and click once per second."""
    env = {**os.environ, "DISPLAY": display}
    k = 0
    while not stop.is_set():
        args = []
        for _ in range(int(motion_hz)):
            a = 2 * math.pi * k / 240
            args += ["mousemove", str(int(640 + 250 * math.cos(a))), str(int(400 + 250 * math.sin(a))),
                     "sleep", f"{1 / motion_hz:.4f}"]
            k += 1
        args += ["click", "1"]
        subprocess.run(["xdotool", *args], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--rate-hz", type=float, default=60.0)
    parser.add_argument("--flush-s", type=float, default=5.0)
    parser.add_argument("--commit-s", type=float, default=10.0,
                        help="commit period, short so that commits happen in the window (the CLI default is 300 s)")
    parser.add_argument("--motion-hz", type=float, default=60.0, help="pointer moves per second")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (apt-get install xvfb xdotool)")

    from mouselab.privacy import consent

    xvfb, display = start_xvfb()
    tmp = Path(tempfile.mkdtemp(prefix="mouselab-bench-capture-"))
    store = tmp / "store"
    consent.grant(store, "B01", "bench")
    env = {**os.environ, "DISPLAY": display}
    env.pop("MOUSELAB_DEBUG", None)
    agent = subprocess.Popen(
        [sys.executable, "-m", "mouselab", "capture", "start", "--store", str(store), "--study", "bench",
         "--participant", "B01", "--session", "bench", "--rate-hz", str(args.rate_hz), "--flush-s", str(args.flush_s),
         "--commit-s", str(args.commit_s)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    status_file = store / "capture" / "status.json"
    stop = threading.Event()
    driver = threading.Thread(target=drive, args=(display, stop, args.motion_hz), daemon=True)
    try:
        for _ in range(300):
            if status_file.exists() and json.loads(status_file.read_text()).get("state") == "recording":
                break
            if agent.poll() is not None:
                sys.exit(f"agent exited: {agent.communicate()[1]}")
            time.sleep(0.1)
        driver.start()
        time.sleep(3.0)  # warm-up: first flush, allocator settles
        cpu0, child0 = proc_cpu(agent.pid)
        commits0 = json.loads(status_file.read_text()).get("commits", 0)
        wall0 = time.monotonic()
        rss = []
        while time.monotonic() - wall0 < args.seconds:
            rss.append(proc_mem(agent.pid)["VmRSS"])
            time.sleep(0.25)
        cpu1, child1 = proc_cpu(agent.pid)
        wall = time.monotonic() - wall0
        mem = proc_mem(agent.pid)
        status = json.loads(status_file.read_text())
    finally:
        stop.set()
        driver.join(5) if driver.is_alive() else None
        subprocess.run([sys.executable, "-m", "mouselab", "capture", "stop", "--store", str(store)], capture_output=True)
        agent.wait(60)
        xvfb.terminate()

    from mouselab.store import Store

    stored = Store(store).read("samples").height
    commits = status.get("commits", 0) - commits0
    per_commit = (child1 - child0) / commits if commits else 0.0
    result = {
        "seconds": round(wall, 2),
        "rate_hz_target": args.rate_hz,
        "rate_hz_achieved": status.get("rate_hz_achieved"),
        "rate_hz_mean": status.get("rate_hz_mean"),
        "missed_ticks": status.get("missed_ticks"),
        "agent_cpu_percent": round(100 * (cpu1 - cpu0) / wall, 2),
        "commit_children_cpu_s": round(child1 - child0, 2),
        "commits_in_window": commits,
        "cpu_s_per_commit": round(per_commit, 3),
        "cpu_percent_at_default_commit_300s": round(100 * (cpu1 - cpu0) / wall + 100 * per_commit / 300, 2),
        "agent_plus_commits_cpu_percent": round(100 * ((cpu1 - cpu0) + (child1 - child0)) / wall, 2),
        "rss_mib_mean": round(sum(rss) / len(rss), 1),
        "rss_mib_max": round(max(rss), 1),
        "rss_mib_peak_hwm": round(mem["VmHWM"], 1),
        "rss_anon_mib": round(mem["RssAnon"], 1),
        "rss_file_mib": round(mem["RssFile"], 1),
        "samples_written": status.get("samples_written"),
        "samples_in_store": stored,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"capture agent at {args.rate_hz:g} Hz, flush {args.flush_s:g} s, commit {args.commit_s:g} s, "
          f"pointer moving at {args.motion_hz:g} Hz, {wall:.1f} s window ({result['machine']})\n")
    print("| measure | value |\n|---|---|")
    print(f"| sampling rate achieved (last flush window / mean) | {result['rate_hz_achieved']} / {result['rate_hz_mean']} Hz, {result['missed_ticks']} missed ticks |")
    print(f"| CPU, agent process | {result['agent_cpu_percent']} % of one core |")
    print(f"| CPU, store commits (child processes, {commits} in the window) | {result['cpu_s_per_commit']} s per commit "
          f"→ agent + commits {result['agent_plus_commits_cpu_percent']} % at one commit per {args.commit_s:g} s |")
    print(f"| CPU, agent + commits at the default commit period (300 s) | {result['cpu_percent_at_default_commit_300s']} % of one core |")
    print(f"| RSS, agent process (mean / max in window / peak incl. start-up) | {result['rss_mib_mean']} / "
          f"{result['rss_mib_max']} / {result['rss_mib_peak_hwm']} MiB |")
    print(f"| of which anonymous / file-backed (shared libraries) | {result['rss_anon_mib']} / {result['rss_file_mib']} MiB |")
    print(f"| samples written / in the store after stop | {result['samples_written']} / {stored} |")


if __name__ == "__main__":
    main()
