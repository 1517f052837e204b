"""The network between a broadcast and its Redis, which a test can hold or cut.

``Wire(port)`` is a TCP proxy to the Redis on ``port`` that reads the commands going
through it (RESP arrays, whose first word is the command). ``hold(b"SUBSCRIBE")`` holds the
first such command at the wire (Redis has not seen it; the connection's later commands wait
behind it), ``hold(b"SUBSCRIBE", replies=True)`` lets it through but holds Redis' replies on
that connection from then on (Redis did it; the client does not know yet). ``reached`` is
set when the hold takes effect, ``open()`` lets everything through; ``seen(command, n)`` is
an event set when the ``n``-th such command reaches the wire (``counts`` holds how many of
each did, ``connections`` how many connections were opened through it). ``cut()`` silently
drops every byte of the connections open now (an expired NAT entry, a partition); later
connections go through. The backend under test is driven only through what it sends and
receives.
"""

from __future__ import annotations

import asyncio
import re

from tests.serving import HOST

_COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class Hold:
    """One hold: the ``after + 1``-th ``command`` through the wire, or the replies after it."""

    def __init__(self, command: bytes, after: int, replies: bool) -> None:
        self.command = command.upper()
        self.after = after
        self.replies = replies
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    def open(self) -> None:
        self.opened.set()


class Wire:
    """A TCP proxy to the Redis on ``port``; see the module's docstring."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.generation = 0
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.holds: list[Hold] = []
        self.counts: dict[bytes, int] = {}
        self.events: dict[tuple[bytes, int], asyncio.Event] = {}
        self.tasks: set[asyncio.Future[object] | None] = set()  # the wire's own, to skip
        self.pipes: set[asyncio.Future[None]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        return f"redis://{HOST}:{self.server.sockets[0].getsockname()[1]}/0"

    def hold(self, command: bytes, *, after: int = 0, replies: bool = False) -> Hold:
        hold = Hold(command, after, replies)
        self.holds.append(hold)
        return hold

    def seen(self, command: bytes, nth: int = 1) -> asyncio.Event:
        return self.events.setdefault((command.upper(), nth), asyncio.Event())

    def cut(self) -> None:
        self.generation += 1

    def _holding(self, data: bytes) -> Hold | None:
        """Count the commands in ``data``; the hold they trigger, if any."""
        triggered = None
        for found in _COMMAND.finditer(data):
            command = found.group(1).upper()
            count = self.counts[command] = self.counts.get(command, 0) + 1
            self.seen(command, count).set()
            for hold in self.holds:
                if hold.command == command and count == hold.after + 1 and triggered is None:
                    hold.reached.set()
                    triggered = hold
        return triggered

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.port)
        self.writers += [writer, upstream_writer]
        generation = self.generation
        replies_held: list[Hold] = []

        async def requests() -> None:
            try:
                while data := await reader.read(65536):
                    hold = self._holding(data)
                    if hold is not None and hold.replies:
                        replies_held.append(hold)
                    elif hold is not None:
                        await hold.opened.wait()
                    if self.generation == generation:
                        upstream_writer.write(data)
            finally:
                upstream_writer.close()  # the client left: so does its connection to Redis

        async def replies() -> None:
            try:
                while data := await upstream_reader.read(65536):
                    for hold in replies_held:
                        await hold.opened.wait()
                    if self.generation == generation:
                        writer.write(data)
            finally:
                writer.close()

        pipes = {asyncio.ensure_future(requests()), asyncio.ensure_future(replies())}
        self.tasks |= pipes
        self.pipes |= pipes
        await asyncio.wait(pipes)
        for pipe in pipes:
            if not pipe.cancelled():
                pipe.exception()  # a reset connection: nothing to report

    async def aclose(self) -> None:
        for hold in self.holds:
            hold.open()
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        for pipe in self.pipes:
            pipe.cancel()  # the connections' tasks then end by themselves
        await asyncio.gather(*filter(None, self.tasks), return_exceptions=True)
