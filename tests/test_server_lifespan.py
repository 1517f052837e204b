"""``lifespan=`` under real servers (hypercorn, uvicorn and granian): it starts before the
first connection is served, ends at SIGTERM, and a startup that raises keeps the server from
starting, its log saying why. granian runs it once in each worker process. (In memory:
tests/test_lifespan.py.)"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests import server_apps
from tests.serving import SERVERS, ServerError, make_server, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0  # any single network wait
APPS = "tests.server_apps"


def marks(server) -> list[str]:
    """The report lines without their time stamps."""
    return [line.split(" ", 1)[1] for line in server.report()]


@pytest.mark.parametrize("server_name", list(SERVERS))
@pytest.mark.parametrize(
    ("app", "path", "kind"),
    [("lifespan_app", "/?a", "WebSocketApp"), ("lifespan_router", "/greet?a", "Router")],
)
async def test_lifespan_starts_before_the_first_connection_and_ends_at_sigterm(
    serve, server_name, app, path, kind
):
    server = serve(f"{APPS}:{app}", server_name)
    async with connect(server.ws_url(path), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "hello"
    assert marks(server) == [f"lifespan startup {kind}", "connection a"]
    server.terminate()
    assert await server.wait_exit() == server.sigterm_exit
    shutdown = [f"lifespan shutdown {kind}"]
    if server_name == "granian" and server.panicked():  # granian's bug: its worker died
        shutdown = []  # of a Rust panic at SIGTERM (seen once in about 40 runs)
    assert marks(server) == [f"lifespan startup {kind}", "connection a", *shutdown]
    log = server.log()
    assert " ERROR " not in log and "Traceback" not in log, log


MESSAGE = f"lifespan _failing_lifespan failed at startup: ConnectionError('{server_apps.LIFESPAN_FAILURE}')"


@pytest.mark.parametrize(
    ("server_name", "code", "says"),
    [
        # hypercorn raises our message out of the failed startup; it applies its
        # --log-config only later, so our record reaches stderr through Python's last resort
        ("hypercorn", 1, f"LifespanFailureError: Lifespan failure in startup. '{MESSAGE}'"),
        ("uvicorn", 3, f"ERROR uvicorn.error: {MESSAGE}\n"),
        # granian's worker logs our message and its own, and exits; the main process, which
        # does not restart a failed worker by default, then shuts down with 1
        ("granian", 1, "ERROR _granian: ASGI lifespan startup failed\n"),
    ],
)
async def test_a_lifespan_that_raises_at_startup_keeps_the_server_from_starting(
    tmp_path, server_name, code, says
):
    server = make_server(f"{APPS}:failing_lifespan_app", tmp_path, server_name)
    with pytest.raises(ServerError, match="exited with"):
        server.start()
    assert server.process is not None and server.process.returncode == code
    log = server.log()
    assert f"{MESSAGE}\nTraceback (most recent call last):" in log, log  # ours, logged
    assert log.index(says) > log.index(MESSAGE), log  # the server's word on it
    assert server.report() == []


async def test_granian_runs_the_lifespan_in_each_worker(serve):
    # Each granian worker is a process of its own that imports the app and runs its lifespan
    # on its own event loop: with --workers 2, startup and shutdown run twice, once per
    # worker. (Like hypercorn --workers N; a Broadcast("memory://") is one per worker too.)
    # --loop asyncio: under uvloop a SIGTERM that reaches a worker just before its loop runs
    # is lost (tests.serving.Granian), and this test stops both workers right after their start
    server = serve(f"{APPS}:lifespan_app", "granian", args=("--workers", "2", "--loop", "asyncio"))
    assert marks(server) == ["lifespan startup WebSocketApp"] * 2
    workers = server.worker_pids()
    assert len(workers) == 2, workers
    server.terminate()
    assert await server.wait_exit() == server.sigterm_exit
    assert (
        marks(server)
        == ["lifespan startup WebSocketApp"] * 2 + ["lifespan shutdown WebSocketApp"] * 2
    )
