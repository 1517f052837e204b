"""Real servers for the benchmarks: start one as a subprocess on a free port, stop it, and
read how much CPU it used.

A server runs from the project root with the root on its ``PYTHONPATH`` (so it finds
``benchmarks._peers``), its output in a temporary file that ``wait_until_listening`` shows
if it dies before it listens. Some servers (granian) run the app in worker processes that
the started process spawns: ``cpu_seconds`` counts them too, and ``stop`` kills a worker
that outlived its parent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "HOST",
    "ROOT",
    "cpu_seconds",
    "free_port",
    "start",
    "stop",
    "wait_until_listening",
]

ROOT = Path(__file__).resolve().parents[1]  # on the servers' PYTHONPATH
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """A TCP port of ``HOST`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start(command: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``command`` started in the project root, its output into ``log``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        list(command), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )


def wait_until_listening(
    process: subprocess.Popen[bytes], port: int, log: IO[bytes], name: str = "hypercorn"
) -> None:
    """Return once ``port`` accepts a connection; raise if the server died or took too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{output}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on {HOST}:{port} within {START_TIMEOUT} s")


def descendants(pid: int) -> list[int]:
    """The PIDs of ``pid``'s children, theirs, and so on; empty without /proc."""
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` and its descendants, all their threads (0.0 for a
    process that is gone); at the kernel's clock tick, usually 10 ms."""
    ticks = 0
    for each in (pid, *descendants(pid)):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{each}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / CLOCK_TICKS


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; a descendant still running then (a
    granian worker outlives a killed main process, holding the port) is killed too."""
    if process.poll() is not None:
        return
    children = descendants(process.pid)
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            if not _gone(child):
                os.kill(child, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie has)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status
