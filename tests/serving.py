"""Run a real ASGI server (hypercorn, uvicorn or granian) for the tests.

``Hypercorn`` starts ``hypercorn -w 0`` and ``Uvicorn`` starts ``uvicorn`` (one process each:
one PID to stop); ``Granian`` starts ``granian --interface asgi`` (a main process and the one
worker process it spawns: see ``Granian``). Each serves a ``module:app`` on 127.0.0.1 and a
free port, with the project root on ``PYTHONPATH``, and the test waits until it is ready.
All share ``Server``, which spawns the process, waits for it, stops it and keeps its log; a
subclass only says how its server is invoked (and granian's, when it is ready). The server's
stdout and stderr go to a log file; a logging configuration (``--log-config``) sends every
logger (``shallot_ws``, the examples', the server's) to stderr, each record on a line that
starts with its ``time.time()`` stamp, so a test can time what the server did against what
the client did. Apps report facts the client cannot see by appending lines to the file named
in the ``SHALLOT_WS_TEST_REPORT`` environment variable (see ``tests.server_apps.report``).

Use it as a context manager (``with running("examples.echo:echo", tmp_path) as server``) or
through a fixture made by ``server_fixture()``; both take ``server="hypercorn"`` (the
default), ``server="uvicorn"`` or ``server="granian"``. Every wait is bounded; the only
address ever used is 127.0.0.1.

uvicorn runs with its defaults besides host, port, graceful timeout and logging: with the
packages installed here that is ``--ws auto`` = websockets-sansio (websockets is installed),
``--http auto`` = h11 (httptools is not), ``--loop auto`` = uvloop. Pass ``args=("--ws",
"wsproto")`` and the like to choose another implementation.

granian runs with ``--interface asgi`` (its ASGI interface with lifespan) and its defaults
besides host, port, the kill timeout and logging: one worker, ``--loop auto`` = uvloop (it is
installed), HTTP ``auto``, WebSockets on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "installed_version",
    "HOST",
    "REPORT_ENV",
    "SERVERS",
    "Granian",
    "Hypercorn",
    "Server",
    "ServerError",
    "Uvicorn",
    "free_port",
    "make_server",
    "running",
    "server_fixture",
]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REPORT_ENV = "SHALLOT_WS_TEST_REPORT"

START_TIMEOUT = 15.0  # seconds for the server to accept connections
STOP_MARGIN = 5.0  # seconds after the graceful timeout before SIGKILL
KILL_TIMEOUT = 5.0  # seconds to reap the process after SIGKILL
PORT_ATTEMPTS = 3  # new ports to try when another process took ours
POLL = 0.02

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "stamped": {"format": "%(created).6f %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "stamped",
        },
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    # hypercorn gives its error logger a handler of its own; drop it so that each of its
    # records is written once, through the root handler, like everyone else's. (uvicorn's
    # loggers get handlers only from its default configuration, which this one replaces.)
    "loggers": {"hypercorn.error": {"handlers": [], "propagate": True}},
}


class ServerError(AssertionError):
    """The server did not start, or did not stop, as expected; the message shows its log."""


def installed_version(distribution: str) -> tuple[int, ...]:
    """The installed release of ``distribution`` as numbers, ``(0, 55, 0)`` for 0.55.0: for
    tests that assert another project's quirk up to the release that fixed it."""
    numbers = []
    for part in version(distribution).split("."):
        digits = "".join(char for char in part if char.isdigit())
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


class Server:
    """One server process serving ``app`` (``"module:attribute"``) on 127.0.0.1.

    The process handling (spawn, wait until ready, log, stop) lives here; a subclass names
    its server and builds its command line (``_command``).
    """

    name = "server"  # the server's name, in messages
    sigterm_exit = 0  # its exit code after a graceful shutdown on SIGTERM

    def __init__(
        self,
        app: str,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        graceful_timeout: int = 1,  # whole seconds: both CLIs take an int
        log_config: bool = True,  # False: the server's own logging defaults, as a user runs it
    ) -> None:
        self.app = app
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.report_path = self.workdir / "report.txt"
        self.log_config_path = self.workdir / "logging.json"
        self.extra_env = dict(env or {})
        self.extra_args = tuple(args)
        self.graceful_timeout = graceful_timeout
        self.log_config = log_config
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.terminated = False  # SIGTERM sent: another one could kill it mid-shutdown

    # -- addresses ------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def ws_url(self, path: str = "/") -> str:
        return f"ws://{HOST}:{self.port}{path}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server was not started"
        return self.process.pid

    # -- starting -------------------------------------------------------------------------

    def start(self) -> Server:
        """Start the server and wait until its port accepts connections."""
        assert self.process is None, "the server was already started"
        self.log_config_path.write_text(json.dumps(LOG_CONFIG))
        self.report_path.write_text("")
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._spawn(free_port())
            try:
                self._wait_ready()
                return self
            except ServerError:
                if attempt < PORT_ATTEMPTS and "already in use" in self.log():
                    self.process = None  # the port was taken meanwhile: try another one
                    continue
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _command(self) -> list[str]:
        """The command line that serves ``self.app`` on ``HOST:self.port``."""
        raise NotImplementedError

    def _spawn(self, port: int) -> None:
        self.port = port
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(ROOT) if not path else f"{ROOT}{os.pathsep}{path}"
        env["PYTHONUNBUFFERED"] = "1"
        env[REPORT_ENV] = str(self.report_path)
        env.update(self.extra_env)
        with open(self.log_path, "ab") as log:
            log.write(f"--- {' '.join(self._command())}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self._command(),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerError(
                    f"{self.name} {self.app} exited with {code} before accepting connections; "
                    f"its log:\n{_tail(self.log())}"
                )
            if _accepts(self.port):
                return
            time.sleep(0.05)
        raise ServerError(
            f"{self.name} {self.app} did not accept connections on {HOST}:{self.port} "
            f"within {START_TIMEOUT} s; its log:\n{_tail(self.log())}"
        )

    def peak_rss_kib(self) -> int | None:
        """The server process's peak resident memory (``VmHWM``, KiB); ``None`` without /proc."""
        return _peak_rss_kib(self.pid)

    # -- what the server said -------------------------------------------------------------

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def report(self) -> list[str]:
        """The lines the app wrote to its report file so far."""
        try:
            return self.report_path.read_text().splitlines()
        except FileNotFoundError:
            return []

    async def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        """The first log line containing ``needle``, waiting for it at most ``timeout`` s."""
        return await self._wait_for(lambda: self.log().splitlines(), needle, timeout, "log")

    async def wait_for_report(self, needle: str, timeout: float = 5.0) -> str:
        """The first report line containing ``needle``, waiting at most ``timeout`` s."""
        return await self._wait_for(self.report, needle, timeout, "report")

    async def _wait_for(
        self, lines: Callable[[], list[str]], needle: str, timeout: float, what: str
    ) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in lines():
                if needle in line:
                    return line
            if time.monotonic() >= deadline:
                raise ServerError(
                    f"{needle!r} not in the server's {what} after {timeout} s; report:\n"
                    + "\n".join(self.report())
                    + f"\nlog:\n{_tail(self.log())}"
                )
            await asyncio.sleep(POLL)

    # -- stopping -------------------------------------------------------------------------

    def terminate(self) -> None:
        """Send SIGTERM (the server's graceful shutdown) and return at once."""
        if self.process is not None and self.process.poll() is None and not self.terminated:
            self.process.send_signal(signal.SIGTERM)
            self.terminated = True

    async def wait_exit(self, timeout: float | None = None) -> int:
        """Wait, without blocking the event loop, until the server exits; its exit code."""
        assert self.process is not None, "the server was not started"
        if timeout is None:
            timeout = self.graceful_timeout + STOP_MARGIN
        deadline = time.monotonic() + timeout
        while (code := self.process.poll()) is None:
            if time.monotonic() >= deadline:
                raise ServerError(
                    f"{self.name} {self.app} still running {timeout} s after SIGTERM; "
                    f"its log:\n{_tail(self.log())}"
                )
            await asyncio.sleep(POLL)
        return code

    def stop(self) -> int | None:
        """SIGTERM (once), then SIGKILL if it outlives its graceful timeout by ``STOP_MARGIN`` s.

        Returns the exit code (negative for a signal), or ``None`` if it was never started.
        A second SIGTERM is never sent: once hypercorn's event loop is closed, the default
        action applies and the process dies of it (-15) instead of exiting with 0 (and a
        second signal makes uvicorn skip its graceful shutdown).
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            self.terminate()
            try:
                process.wait(self.graceful_timeout + STOP_MARGIN)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(KILL_TIMEOUT)
        return process.returncode

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.app} on {HOST}:{self.port}>"


class Hypercorn(Server):
    """``hypercorn -w 0``: its asyncio worker unless ``args`` pick another ``--worker-class``.

    On SIGTERM it exits with 0.
    """

    name = "hypercorn"
    sigterm_exit = 0

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "hypercorn",
            "--workers",
            "0",  # serve in this process: no supervisor, one PID to signal
            "--bind",
            f"{HOST}:{self.port}",
            "--graceful-timeout",
            str(self.graceful_timeout),
            *(("--log-config", f"json:{self.log_config_path}") if self.log_config else ()),
            *self.extra_args,
            self.app,
        ]


class Uvicorn(Server):
    """``uvicorn`` with one worker, which is served in this process (no supervisor).

    On SIGTERM it shuts down gracefully, then raises the signal again on itself, so its exit
    code is -15 (``signal.SIGTERM``), not 0.
    """

    name = "uvicorn"
    sigterm_exit = -signal.SIGTERM

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--timeout-graceful-shutdown",
            str(self.graceful_timeout),
            # uvicorn reads it as JSON by its .json suffix
            *(("--log-config", str(self.log_config_path)) if self.log_config else ()),
            *self.extra_args,
            self.app,
        ]


class Granian(Server):
    """``granian --interface asgi``: a main process that binds the port and spawns the workers
    (one by default; ``args=("--workers", "2")`` for more), each running the app and its
    lifespan on its own event loop.

    The main process listens before any worker runs, so the port accepts connections (into
    the backlog) before the app can answer, or even when its lifespan is failing: it is ready
    once its log says ``Started worker-N`` for every worker and a plain HTTP request got an
    answer. That answer came from a worker's event loop, so that worker's loop is running: a
    worker logs ``Started`` just before it runs its loop, and a SIGTERM that comes in between
    is lost under uvloop (which keeps no signal that arrives while its loop is stopped), so
    that worker never stops. (With several workers the request reaches one of them: a test
    that stops them at once runs ``--loop asyncio``, which keeps the signal.)

    ``graceful_timeout`` becomes ``--workers-kill-timeout``: on SIGTERM the main process sends
    SIGTERM to each worker and SIGKILLs one still running that long after. On SIGTERM it
    exits with 0.
    """

    name = "granian"
    sigterm_exit = 0

    @property
    def workers(self) -> int:
        """How many worker processes the command line asks for."""
        args = list(self.extra_args)
        if "--workers" in args:
            return int(args[args.index("--workers") + 1])
        return 1

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers-kill-timeout",
            str(self.graceful_timeout),
            # granian merges the file's keys into its own dictConfig: ours replace its handlers
            # and loggers, and its own records (logger "_granian") go through the root handler
            *(("--log-config", str(self.log_config_path)) if self.log_config else ()),
            *self.extra_args,
            self.app,
        ]

    def _wait_ready(self) -> None:
        super()._wait_ready()  # the main process listens
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerError(
                    f"{self.name} {self.app} exited with {code} before its workers started; "
                    f"its log:\n{_tail(self.log())}"
                )
            if self.log().count("Started worker-") >= self.workers and _answers_http(self.port):
                return
            time.sleep(0.05)
        raise ServerError(
            f"{self.name} {self.app} did not start {self.workers} worker(s) within "
            f"{START_TIMEOUT} s; its log:\n{_tail(self.log())}"
        )

    def panicked(self) -> bool:
        """Whether a worker died of a Rust panic. granian 2.8.9 sometimes panics at SIGTERM
        when a connection has just ended (pyo3: ``Cannot drop pointer into Python heap
        without the thread being attached``); that worker then runs no lifespan shutdown."""
        return PANIC in self.log()

    def worker_pids(self) -> list[int]:
        """The PIDs of the main process's children (its workers); empty without /proc."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in children.split()]

    def peak_rss_kib(self) -> int | None:
        """The worker's peak resident memory (KiB): the app runs there, not in the main process."""
        pids = self.worker_pids()
        return _peak_rss_kib(pids[0]) if pids else None

    def stop(self) -> int | None:
        """As ``Server.stop``; when the main process must be killed, its workers are too (a
        worker outlives a killed main process, holding the port)."""
        workers = self.worker_pids() if self.process is not None else []
        code = super().stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                if _is_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        return code


PANIC = "Cannot drop pointer into Python heap without the thread being attached."


def _answers_http(port: int) -> bool:
    """Whether a plain ``GET /`` on ``port`` gets any answer (any status) within 2 s."""
    try:
        with socket.create_connection((HOST, port), timeout=2.0) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def _is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _peak_rss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


SERVERS: dict[str, type[Server]] = {"hypercorn": Hypercorn, "uvicorn": Uvicorn, "granian": Granian}


def make_server(app: str, workdir: Path, server: str = "hypercorn", **options: Any) -> Server:
    """A ``Server`` of the kind named by ``server`` (a key of ``SERVERS``), not started."""
    try:
        kind = SERVERS[server]
    except KeyError:
        raise ValueError(f"server expected one of {sorted(SERVERS)}, got {server!r}") from None
    return kind(app, workdir, **options)


@contextlib.contextmanager
def running(app: str, workdir: Path, server: str = "hypercorn", **options: Any) -> Iterator[Server]:
    """``with running("examples.echo:echo", tmp_path) as server:``; stopped on exit.

    ``server="uvicorn"`` or ``server="granian"`` serves it with that server instead.
    """
    process = make_server(app, workdir, server, **options)
    with process.start():
        yield process


def server_fixture(scope: str = "function") -> Any:
    """Make a fixture that gives a function ``start(app, server="hypercorn", **options)``.

    ``start`` returns the started ``Server`` (``server="uvicorn"`` or ``"granian"`` for those). Servers
    started through it are stopped at the fixture's teardown, and their logs printed (pytest
    shows them for failing tests). In a test module: ``serve = server_fixture()``.
    """

    @pytest.fixture(scope=scope)  # type: ignore[misc]
    def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
        servers: list[Server] = []

        def start(app: str, server: str = "hypercorn", **options: Any) -> Server:
            name = app.replace(":", "-").replace(".", "-")
            workdir = tmp_path_factory.mktemp(f"{server}-{name}")
            process = make_server(app, workdir, server, **options)
            servers.append(process)
            return process.start()

        try:
            yield start
        finally:
            for server in servers:
                code = server.stop()
                print(f"--- {server!r} exited with {code}; log:\n{_tail(server.log())}")
                report = server.report()
                if report:
                    print("--- report:\n" + "\n".join(report))

    return serve


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, headers, body = error.code, error.headers, error.read()
    return status, {name.lower(): value for name, value in headers.items()}, body
