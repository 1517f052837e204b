"""A real redis-server for the tests: started on a free port on 127.0.0.1, stopped after.

``redis_server`` (a fixture: import it into a test module or conftest) yields a
``RedisServer``; ``kill()`` and ``restart()`` let a test break the broker mid-stream.
The server appends every write to its log (``appendfsync always``) in its own directory,
so what was written before a kill is there after the restart. A missing ``redis-server``
fails the test: ``.ci/run`` installs it (``apt-get install redis-server``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import HOST, free_port

START_TIMEOUT = 10.0


def _pong(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on ``HOST:port``, its data in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail(
                "redis-server is not installed; .ci/run installs it (apt-get install redis-server)",
                pytrace=False,
            )
        self.executable = executable
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "redis.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        """Start on a free port (or on the same port again after ``kill``) and wait for PONG."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if not self.port:
            self.port = free_port()
        command = [
            self.executable, "--port", str(self.port), "--bind", HOST, "--dir", str(self.workdir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--daemonize", "no", "--protected-mode", "no", "--logfile", "",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _pong(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"redis-server did not start on {HOST}:{self.port}; its log:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL: the broker vanishes at once, connections and all."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(5)

    def restart(self) -> None:
        """Start again on the same port, with the data written before the kill."""
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server for one test."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
