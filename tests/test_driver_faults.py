"""Lifecycle faults found under real servers, each pinned in memory against a fake server
(docs/design.md §2, the guarantees): what the server does is scripted exactly."""

from __future__ import annotations

import asyncio
import logging

from shallot_ws import WSDisconnect, websocket, ws_close, ws_send
from shallot_ws.errors import ReceiverBusy


class FakeServer:
    """A scripted ASGI server for one connection: ``events`` are what ``receive()`` returns
    in order (then it waits for ever, or for ``more``), ``send`` records and may raise."""

    def __init__(self, events, *, send_error=None, send_error_after=0):
        self.events = list(events)
        self.more: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.send_error = send_error
        self.send_error_after = send_error_after

    async def receive(self):
        if self.events:
            return self.events.pop(0)
        return await self.more.get()

    async def send(self, message):
        self.sent.append(message)
        if self.send_error is not None and len(self.sent) > self.send_error_after:
            raise self.send_error


SCOPE = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}


def hooks(calls):
    def hook(name):
        async def run(scope):
            calls.append(name)

        return run

    return {"on_disconnect": hook("on_disconnect"), "on_close": hook("on_close")}


async def test_a_failed_send_is_a_disconnect_with_1006():
    # uvicorn / ASGI 2.4: the server's send raises OSError once the client is gone, and its
    # disconnect event may never come (the scripted receive waits for ever after connect).
    calls: list[str] = []
    seen: list[object] = []

    @websocket(**hooks(calls))
    async def stream(scope, receiver):
        try:
            for n in range(1000):
                yield ws_send(str(n))
        finally:
            seen.append(receiver.disconnected)

    server = FakeServer(
        [{"type": "websocket.connect"}], send_error=OSError("gone"), send_error_after=2
    )
    await asyncio.wait_for(stream(dict(SCOPE), server.receive, server.send), 5)
    [disconnect] = seen
    assert isinstance(disconnect, WSDisconnect)
    assert (disconnect.code, disconnect.reason) == (1006, "")
    assert calls == ["on_disconnect", "on_close"]
    types = [m["type"] for m in server.sent]
    assert types == ["websocket.accept", "websocket.send", "websocket.send"]  # nothing after


async def test_a_refused_error_close_is_logged_at_warning_once(caplog):
    @websocket
    async def failing(scope, receiver):
        raise ValueError("boom")
        yield  # pragma: no cover

    class Refusing(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if message["type"] == "websocket.close":
                raise RuntimeError("the server refused the close")

    server = Refusing([{"type": "websocket.connect"}])
    with caplog.at_level(logging.DEBUG, logger="shallot_ws"):
        await asyncio.wait_for(failing(dict(SCOPE), server.receive, server.send), 5)
    refusals = [
        r
        for r in caplog.records
        if r.name == "shallot_ws" and "refused the close" in r.getMessage()
    ]
    assert len(refusals) == 1
    assert refusals[0].levelno == logging.WARNING
    assert refusals[0].getMessage() == (
        "the server refused the 1011 close of handler "
        "test_a_refused_error_close_is_logged_at_warning_once.<locals>.failing "
        "(RuntimeError: the server refused the close)"
    )


async def test_reading_after_the_handler_returned_is_a_disconnect_at_once():
    # A task the handler spawned reads on after the handler returned: one already waiting
    # when it returned, and one that starts reading afterwards. Both get WSDisconnect at once
    # (the close the driver sent), never a hang or a bare AssertionError.
    outcomes: dict[str, object] = {}
    spawned: list[asyncio.Task] = []
    returned = asyncio.Event()

    async def read(receiver, name):
        try:
            outcomes[name] = await receiver.receive()
        except Exception as error:
            outcomes[name] = error

    @websocket
    async def leaves_a_reader(scope, receiver):
        spawned.append(asyncio.create_task(read(receiver, "waiting")))
        await asyncio.sleep(0)  # the reader is now waiting for a frame
        spawned.append(asyncio.create_task(_later(receiver)))
        yield ws_send("bye")

    async def _later(receiver):
        await returned.wait()  # after the handler returned and its connection ended
        await read(receiver, "later")

    server = FakeServer([{"type": "websocket.connect"}])
    await asyncio.wait_for(leaves_a_reader(dict(SCOPE), server.receive, server.send), 5)
    returned.set()
    await asyncio.wait_for(asyncio.gather(*spawned), 1)
    for name in ("waiting", "later"):
        error = outcomes[name]
        assert type(error) is WSDisconnect, (name, error)
        assert (error.code, error.reason) == (1000, "the connection is closed"), name
    assert [m["type"] for m in server.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]


async def test_a_second_concurrent_reader_gets_a_clear_error_at_once():
    results: list[object] = []

    @websocket
    async def two_readers(scope, receiver):
        first = asyncio.create_task(receiver.receive())
        await asyncio.sleep(0)  # the first is waiting now
        try:
            await receiver.receive()
        except RuntimeError as error:
            results.append(error)
        results.append(await first)  # the first reader is still served
        yield ws_send("done")

    server = FakeServer(
        [{"type": "websocket.connect"}],
    )
    task = asyncio.create_task(two_readers(dict(SCOPE), server.receive, server.send))
    for _ in range(5):
        await asyncio.sleep(0)
    await server.more.put({"type": "websocket.receive", "text": "one"})
    await server.more.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 5)
    error, frame = results
    assert type(error) is ReceiverBusy
    assert str(error) == (
        "receive() expected one reader at a time, got a second task while another waits: "
        "read the receiver in one task and hand frames on (a queue), or use merge()"
    )
    assert frame == "one"


async def test_a_reader_left_waiting_inline_gets_the_disconnect_when_the_handler_returns():
    # The spawned task's second read finds no watcher and reads the server itself (inline);
    # the handler returns meanwhile: the read ends in WSDisconnect instead of waiting on a
    # server that has nothing more to say.
    outcomes: list[object] = []
    got_first = asyncio.Event()

    async def reader(receiver):
        outcomes.append(await receiver.receive())
        got_first.set()
        try:
            outcomes.append(await receiver.receive())
        except WSDisconnect as error:
            outcomes.append(error)

    @websocket
    async def returns_early(scope, receiver):
        task = asyncio.create_task(reader(receiver))
        await got_first.wait()
        await asyncio.sleep(0)  # the reader is in its second, inline read now
        yield ws_send("bye")
        spawned.append(task)

    spawned: list[asyncio.Task] = []
    server = FakeServer([{"type": "websocket.connect"}])
    app = asyncio.create_task(returns_early(dict(SCOPE), server.receive, server.send))
    for _ in range(5):
        await asyncio.sleep(0)
    await server.more.put({"type": "websocket.receive", "text": "a"})
    await asyncio.wait_for(app, 5)
    await asyncio.wait_for(asyncio.gather(*spawned), 1)
    first, second = outcomes
    assert first == "a"
    assert type(second) is WSDisconnect
    assert (second.code, second.reason) == (1000, "the connection is closed")
    assert not spawned[0].cancelled()


async def test_a_stream_gives_the_loop_a_turn_when_sends_never_suspend():
    # hypercorn: a send after the client left returns without suspending. A stream that only
    # yields must still let the loop run (here: the task that delivers the disconnect).
    calls: list[str] = []
    turns = 0

    @websocket(**hooks(calls))
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")

    class NeverSuspends(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if len(self.sent) > 100_000:
                raise AssertionError(f"the loop got no turn in 100,000 sends ({turns} turns)")

    server = NeverSuspends([{"type": "websocket.connect"}])

    async def client_leaves():
        nonlocal turns
        while len(server.sent) < 10:
            turns += 1
            await asyncio.sleep(0)
        await server.more.put({"type": "websocket.disconnect", "code": 1001})

    leaving = asyncio.create_task(client_leaves())
    await asyncio.wait_for(stream(dict(SCOPE), server.receive, server.send), 5)
    await leaving
    assert calls == ["on_disconnect", "on_close"]
    assert len(server.sent) < 1_000  # stopped soon after the disconnect, not at the guard


async def test_shutdown_runs_the_hooks_when_the_1001_close_cannot_be_sent():
    # The server cancels the connection's task (its shutdown) while the client has stopped
    # reading: the 1001 close blocks like every send. Clean-up is bounded: the generator is
    # closed and on_close runs within the drain time, and the cancellation still propagates.
    calls: list[str] = []
    finished = asyncio.Event()

    @websocket(drain_timeout=0.2, **hooks(calls))
    async def stream(scope, receiver):
        try:
            while True:
                yield ws_send("x")
        finally:
            calls.append("finally")

    class StopsReading(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if len(self.sent) > 3:  # the client's window is full: every send blocks
                finished.set()
                await asyncio.Event().wait()

    server = StopsReading([{"type": "websocket.connect"}])
    task = asyncio.create_task(stream(dict(SCOPE), server.receive, server.send))
    await finished.wait()
    task.cancel()  # the server shuts down
    done, _ = await asyncio.wait((task,), timeout=2)
    assert done, "clean-up waited on a close that cannot be sent"
    assert task.cancelled()
    assert calls == ["finally", "on_close"]
    assert server.sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}


async def test_a_cancellation_while_the_accept_is_sent_still_runs_on_close():
    calls: list[str] = []
    accepting = asyncio.Event()

    @websocket(**hooks(calls))
    async def echo(scope, receiver):
        calls.append("handler")
        async for message in receiver:
            yield ws_send(message)

    class SlowAccept(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if message["type"] == "websocket.accept":
                accepting.set()
                await asyncio.Event().wait()  # the server is still completing the handshake

    server = SlowAccept([{"type": "websocket.connect"}])
    task = asyncio.create_task(echo(dict(SCOPE), server.receive, server.send))
    await accepting.wait()
    task.cancel()
    await asyncio.wait((task,), timeout=2)
    assert task.cancelled()
    assert calls == ["on_close"]  # the handler never ran; on_close did, once


async def test_an_echo_behind_a_server_whose_send_suspends_starts_no_watcher():
    # A ping-pong echo: each frame comes only after the previous answer was sent, and the
    # server's send suspends (a real transport). The handler reads every frame inline: no
    # watcher task (no task switch) for a frame it was waiting for.
    @websocket
    async def echo(scope, receiver):
        async for frame in receiver:
            yield ws_send(frame)

    class PingPong(FakeServer):
        async def send(self, message):
            await asyncio.sleep(0)  # the write suspends, as a transport's drain does
            self.sent.append(message)
            if message["type"] == "websocket.send":
                count = len(self.sent) - 1
                event = {"type": "websocket.receive", "text": str(count)}
                if count == 100:
                    event = {"type": "websocket.disconnect", "code": 1000}
                await self.more.put(event)

    loop = asyncio.get_running_loop()
    created: list[str] = []
    default = loop.get_task_factory()

    def counting(loop, coro, **kwargs):
        created.append(getattr(coro, "__qualname__", repr(coro)))
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    server = PingPong([{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "0"}])
    loop.set_task_factory(counting)
    try:
        await echo(dict(SCOPE), server.receive, server.send)
    finally:
        loop.set_task_factory(default)
    assert [m.get("text") for m in server.sent[1:]] == [str(n) for n in range(100)]
    assert created == []


async def test_a_stream_that_only_yields_still_gets_a_watcher_that_sees_the_client_leave():
    calls: list[str] = []

    @websocket(**hooks(calls))
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")

    class Suspends(FakeServer):
        async def send(self, message):
            await asyncio.sleep(0)
            self.sent.append(message)
            if len(self.sent) == 50:
                await self.more.put({"type": "websocket.disconnect", "code": 1001})

    server = Suspends([{"type": "websocket.connect"}])
    await asyncio.wait_for(stream(dict(SCOPE), server.receive, server.send), 5)
    assert calls == ["on_disconnect", "on_close"]
    assert 50 <= len(server.sent) < 60  # stopped within a few sends of the disconnect


async def test_the_shutdown_close_is_the_apps_own():
    started = asyncio.Event()

    @websocket(shutdown_code=4001, shutdown_reason="moving house")
    async def waiting(scope, receiver):
        started.set()
        await asyncio.Event().wait()
        yield ws_send("never")

    server = FakeServer([{"type": "websocket.connect"}])
    task = asyncio.ensure_future(waiting(dict(SCOPE), server.receive, server.send))
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the server's cancellation was swallowed")
    assert server.sent[-1] == {"type": "websocket.close", "code": 4001, "reason": "moving house"}


async def test_the_clients_answer_to_our_close_read_while_it_is_sent_is_no_error(caplog):
    # Found under granian: its send of the close returns only after the client's answering
    # close was read, here by the watcher of a handler that is not reading. That is the
    # closing handshake: the app closed first (outcome CLOSED: no on_disconnect), nothing
    # is logged as an error (it was a LifecycleError: SENT in phase DONE).
    calls: list[str] = []
    paused = asyncio.Event()

    @websocket(**hooks(calls))
    async def ticker(scope, receiver):
        yield ws_send("tick")
        paused.set()
        await asyncio.sleep(0)  # not reading: the watcher reads for it
        await asyncio.sleep(0)
        yield ws_close(4008, "say something")

    class AnswersTheClose(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if message["type"] == "websocket.close":
                await self.more.put({"type": "websocket.disconnect", "code": message["code"]})
                for _ in range(5):  # the send returns after the answer was read
                    await asyncio.sleep(0)

    server = AnswersTheClose([{"type": "websocket.connect"}])
    with caplog.at_level(logging.WARNING, logger="shallot_ws"):
        await asyncio.wait_for(ticker(dict(SCOPE), server.receive, server.send), 5)
    assert server.sent[-1] == {"type": "websocket.close", "code": 4008, "reason": "say something"}
    assert calls == ["on_close"]
    assert [r.getMessage() for r in caplog.records if r.name == "shallot_ws"] == []
