"""A load client fast enough that the server is what a benchmark measures: picows connections
driven from one or more client processes.

picows (a WebSocket client written in Cython) parses and builds frames in C and hands each
frame to a plain callback, without a task or a future per frame; its process runs uvloop
when it is installed. Each of the ``Clients``' processes holds its share of the
connections. A connection keeps ``depth`` text frames in flight: it sends ``depth`` frames,
then one more each time an echo comes back (``depth=1`` is ping-pong). Every echo is checked
against the frame sent in that place (20 bytes: the frame's number, zero-padded), so a lost,
reordered or altered frame fails the run.

``Clients.run`` connects (not timed), echoes for a warm-up (not timed), then echoes for the
timed window: the processes start together, each stops sending when its window ends, and
the echoes counted are those that came back within it. Each process also reports the CPU it
used in the window, so a benchmark can show that the client was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

__all__ = ["Clients", "Window", "clients"]

CONNECT_TIMEOUT = 30.0  # granian's main process accepts before its worker runs
DRAIN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0


def frame(number: int) -> bytes:
    """The ``number``-th frame a connection sends: 20 bytes."""
    return b"%020d" % number


class Echoes(WSListener):
    """One connection's side: keeps ``depth`` frames in flight while ``running``."""

    def __init__(self) -> None:
        super().__init__()
        self.transport: WSTransport | None = None
        self.running = False
        self.sent = 0
        self.echoed = 0
        self.failed: BaseException | None = None
        self.drained: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self, depth: int) -> None:
        """Send ``depth`` frames; from now on, answer each echo with the next frame."""
        assert self.transport is not None
        self.drained = asyncio.get_running_loop().create_future()
        self.running = True
        for _ in range(depth):
            self.transport.send(WSMsgType.TEXT, frame(self.sent))
            self.sent += 1

    def halt(self) -> int:
        """Stop sending; return how many echoes came back so far."""
        self.running = False
        self._check_drained()
        return self.echoed

    def on_ws_frame(self, transport: WSTransport, frame_: WSFrame) -> None:
        if frame_.msg_type is WSMsgType.CLOSE:
            if self.closed is not None and not self.closed.done():
                self.closed.set_result(None)
            else:
                code = frame_.get_close_code()
                self._fail(ConnectionError(f"the server closed the connection with {code}"))
            transport.disconnect()
            return
        echoed = frame_.get_payload_as_bytes()
        if frame_.msg_type is not WSMsgType.TEXT or echoed != frame(self.echoed):
            self._fail(AssertionError(f"expected {frame(self.echoed)!r}, got {echoed!r}"))
            return
        self.echoed += 1
        if self.running:
            transport.send(WSMsgType.TEXT, frame(self.sent))
            self.sent += 1
        else:
            self._check_drained()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.closed is None or not self.closed.done():
            self._fail(ConnectionError("the server dropped the connection"))

    def _check_drained(self) -> None:
        if self.drained is not None and not self.drained.done() and self.echoed == self.sent:
            self.drained.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self.failed = self.failed or error
        if self.drained is not None and not self.drained.done():
            self.drained.set_exception(error)

    async def close(self) -> None:
        """Send a close frame, wait for the server's, and let the TCP connection go."""
        assert self.transport is not None
        self.closed = asyncio.get_running_loop().create_future()
        self.transport.send_close(WSCloseCode.OK)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT)
        self.transport.disconnect()
        await asyncio.wait_for(self.transport.wait_disconnected(), CLOSE_TIMEOUT)


async def connect(uri: str, count: int) -> list[Echoes]:
    """``count`` connections to ``uri``, each with its ``Echoes``."""
    pairs = await asyncio.gather(
        *(
            ws_connect(Echoes, uri, websocket_handshake_timeout=CONNECT_TIMEOUT)
            for _ in range(count)
        )
    )
    return [listener for _, listener in pairs]


async def echo_for(connections: list[Echoes], depth: int, seconds: float) -> tuple[int, float, int]:
    """Every connection echoes ``depth`` deep for ``seconds``. Returns the echoes that came back
    within them (all connections together), the seconds actually taken, and every echo that
    came back, the frames still in flight when the window closed included."""
    loop = asyncio.get_running_loop()
    before = sum(connection.echoed for connection in connections)
    counted: list[int] = []
    window_over = loop.create_future()

    def halt() -> None:
        counted.extend(connection.halt() for connection in connections)
        window_over.set_result(time.perf_counter())

    start = time.perf_counter()
    for connection in connections:
        connection.start(depth)
    loop.call_later(seconds, halt)
    end = await window_over
    drained = [connection.drained for connection in connections if connection.drained]
    await asyncio.wait_for(asyncio.gather(*drained), DRAIN_TIMEOUT)
    after = sum(connection.echoed for connection in connections)
    return sum(counted) - before, end - start, after - before


# -- one client process ------------------------------------------------------------------------


def serve(commands: Connection) -> None:
    """A client process: runs what comes down ``commands`` until ``None`` does.

    ``("connect", uri, count)`` -> ``"ready"``; ``("echo", depth, seconds)`` -> ``(echoes,
    seconds taken, all echoes, CPU seconds used)`` (see ``echo_for``); ``("close",)`` ->
    ``"closed"``. An exception is sent back instead of the answer.
    """
    logging.getLogger("picows").setLevel(logging.WARNING)  # not a line a connection
    loop = new_loop()
    asyncio.set_event_loop(loop)
    connections: list[Echoes] = []
    try:
        while (command := commands.recv()) is not None:
            try:
                if command[0] == "connect":
                    connections = loop.run_until_complete(connect(command[1], command[2]))
                    commands.send("ready")
                elif command[0] == "echo":
                    cpu = time.process_time()
                    echoes, seconds, every = loop.run_until_complete(
                        echo_for(connections, command[1], command[2])
                    )
                    commands.send((echoes, seconds, every, time.process_time() - cpu))
                elif command[0] == "close":
                    loop.run_until_complete(asyncio.gather(*(c.close() for c in connections)))
                    connections = []
                    commands.send("closed")
            except Exception as error:
                commands.send(error)
    finally:
        loop.close()


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop if uvloop is installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- the processes, from the benchmark's side --------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What one timed window gave: echoes a second (all processes together), every echo that
    came back (the frames in flight when it closed included: what the server did), and the
    share of one core a client process used (the busiest one's)."""

    rate: float
    echoes: int
    client_busy: float


class Clients:
    """The client processes; ``run`` measures one server."""

    def __init__(self, pipes: list[Connection]) -> None:
        self.pipes = pipes

    def _all(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers = [pipe.recv() for pipe in self.pipes]
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return answers

    def run(
        self,
        uri: str,
        connections: int,
        depth: int,
        seconds: float,
        warmup: float,
        between: Callable[[], None] = lambda: None,
    ) -> Window:
        """Open ``connections`` to ``uri`` (spread over the processes), echo ``depth`` deep for
        ``warmup`` seconds, call ``between()``, echo for ``seconds`` (timed), close.

        ``between`` lets the benchmark read the server's CPU time right before the window.
        """
        shares = [connections // len(self.pipes)] * len(self.pipes)
        for index in range(connections % len(self.pipes)):
            shares[index] += 1
        self._all([("connect", uri, share) for share in shares])
        try:
            self._all([("echo", depth, warmup)] * len(self.pipes))
            between()
            results = self._all([("echo", depth, seconds)] * len(self.pipes))
        finally:
            self._all([("close",)] * len(self.pipes))
        return Window(
            rate=sum(echoes / taken for echoes, taken, _, _ in results),
            echoes=sum(every for _, _, every, _ in results),
            client_busy=max(cpu / taken for _, taken, _, cpu in results),
        )


@contextlib.contextmanager
def clients(processes: int) -> Iterator[Clients]:
    """``processes`` client processes (spawned, not forked), stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    pipes, children = [], []
    try:
        for _ in range(processes):
            mine, theirs = context.Pipe()
            child = context.Process(target=serve, args=(theirs,), daemon=True)
            child.start()
            theirs.close()
            pipes.append(mine)
            children.append(child)
        yield Clients(pipes)
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for child in children:
            child.join(CLOSE_TIMEOUT)
            if child.is_alive():
                child.kill()
                child.join()
