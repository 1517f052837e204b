"""Review of the broadcast backends: joins cancelled or overtaken by ``aclose`` midway,
messages that shallot_ws did not publish, a listening connection that dies silently, a
broadcast used from two event loops, passwords in URLs, what a broker can carry. Each test
names the defect it reproduces; ``Gate`` holds a backend's call so that a race is not left
to chance."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import pytest
import redis.asyncio

from shallot_ws import InvalidMessageType
from shallot_ws.broadcast import Broadcast
from shallot_ws.broadcast._redis import redacted
from shallot_ws.broadcast.codec import decode, encode
from shallot_ws.errors import BroadcastError, InvalidHandler
from tests.test_broadcast_redis import SCHEMES, take, tasks_left, url_of

server = pytest.mark.server


# Where a join awaits, by backend: (scheme, what to hold, how many calls pass first).


async def until(condition, timeout: float = 5.0) -> None:
    """Wait (polling the broker's view, which lags a closed socket a little) for ``condition``."""
    async def polling():
        while not await condition():  # noqa: ASYNC110 (no event to wait for: Redis's view)
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(polling(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{condition.__name__} still false after {timeout} s") from None


# -- messages shallot_ws did not publish --------------------------------------------------


@server
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_message_shallot_ws_did_not_publish_is_skipped_and_the_reader_goes_on(
    redis_server, scheme, caplog
):
    """Defect: one foreign message (a ``redis-cli`` PUBLISH, another app's XADD) killed the
    process's only reader: every subscription went silent, and streams' aclose raised."""
    url = url_of(redis_server, scheme)
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with Broadcast(url) as broadcast, broadcast.subscribe("room") as room:
            if scheme == "redis":
                await raw.publish("room", "hello from redis-cli")
            else:
                await raw.xadd("room", {"text": "hello from another app"})
                await raw.xadd("room", {"m": b"?not a tag"})
            await broadcast.publish("room", "mine")
            assert await take(room, 1) == ["mine"]
        skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        expected = f"broadcast skipped a message on 'room' at {url} that shallot_ws did not publish"
        assert skipped and all(message.startswith(expected) for message in skipped)
        assert len(skipped) == (1 if scheme == "redis" else 2)
    finally:
        await raw.aclose()


@server
async def test_history_skips_entries_shallot_ws_did_not_write(redis_server):
    """Defect: a foreign entry in a stream's history made ``subscribe`` raise ``KeyError``."""
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with Broadcast(url_of(redis_server, "redis-stream"), keep=10) as broadcast:
            await broadcast.publish("log", 1)
            await raw.xadd("log", {"text": "another app"})
            await broadcast.publish("log", 2)
            async with broadcast.subscribe("log", history=3) as late:
                assert late.history == [1, 2]
    finally:
        await raw.aclose()


# -- pub/sub: a confirmation that never comes, a connection that dies silently ------------


@server
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_closing_while_reconnecting_is_prompt_and_leaves_no_task(
    redis_server, scheme, caplog
):
    """``aclose`` while the reader waits out its backoff, the broker down."""
    broadcast = Broadcast(url_of(redis_server, scheme))
    async with broadcast.subscribe("room") as room:
        redis_server.kill()

        async def backing_off() -> bool:
            return any("lost its broker" in r.getMessage() for r in caplog.records)

        await until(backing_off)
        started = time.monotonic()
        await asyncio.wait_for(broadcast.aclose(), 5)
        assert time.monotonic() - started < 2.5
        assert room.ended_by == "broadcast closed"
    assert tasks_left() == set()


@server
async def test_closing_streams_while_the_broker_is_frozen_takes_bounded_time(redis_server):
    """Defect: the wake stream's DELETE at ``aclose`` waited for redis-py's socket timeout
    (5 s) on a broker that accepts but never answers, after the 2 s already spent."""
    broadcast = Broadcast(url_of(redis_server, "redis-stream"))
    async with broadcast.subscribe("room"):
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            await asyncio.wait_for(broadcast.aclose(), 10)
            assert time.monotonic() - started < 4.0
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
    assert tasks_left() == set()


# -- passwords in URLs --------------------------------------------------------------------


def test_a_bad_url_is_refused_without_showing_its_password():
    """Defect: a mistyped scheme showed the whole URL, password included."""
    with pytest.raises(InvalidHandler) as info:
        Broadcast("reddis://ada:hunter2@127.0.0.1:6379/0")
    assert str(info.value).endswith("got 'reddis://ada:***@127.0.0.1:6379/0'")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host", "redis://:***@host"),  # a password alone
        ("redis://ada:pw@host:1/0", "redis://ada:***@host:1/0"),
        ("redis://ada:p@ss@host/0", "redis://ada:***@host/0"),  # an unquoted @ in it
        ("redis://ada@host", "redis://ada@host"),  # a user name alone, as redis-py reads it
        ("redis://host:1/0?password=pw", "redis://host:1/0?password=***"),  # redis-py uses it
        ("redis://host/0?db=1&password=pw&x=1", "redis://host/0?db=1&password=***&x=1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_redacted_hides_every_password_redis_py_would_use(url, shown):
    assert redacted(url) == shown


async def test_an_unreachable_broker_named_with_a_query_password_does_not_show_it():
    """Defect: redis-py takes ``?password=`` from the URL, and errors showed it."""
    async with Broadcast("redis://127.0.0.1:1/0?password=hunter2") as broadcast:
        with pytest.raises(BroadcastError) as info:
            await broadcast.publish("room", "hi")
    assert "hunter2" not in str(info.value)
    assert "redis://127.0.0.1:1/0?password=***" in str(info.value)


# -- what a broker carries ----------------------------------------------------------------


@pytest.mark.parametrize("message", ["lone \ud800 surrogate", {"text": "\udfff"}, "plain é"])
def test_any_str_crosses_a_broker_intact(message):
    """Defect: a str with a lone surrogate (``json.loads('"\\\\ud800"')`` makes one) raised
    a bare ``UnicodeEncodeError`` from publish, though the same text inside a dict passed."""
    assert decode(encode(message)) == message


async def test_a_dict_with_keys_json_would_change_is_refused():
    """Defect: ``{1: "a"}`` reached subscribers as ``{"1": "a"}``, not the equal copy the
    docs promise, and ``memory://`` delivered it unchanged."""
    broadcast = Broadcast("redis://127.0.0.1:1/0")  # refused before any connection
    for message, kind, key in (([{1: "a"}], "list", "int"), ({"a": {None: 1}}, "dict", "NoneType")):
        with pytest.raises(InvalidMessageType) as info:
            await broadcast.publish("room", message)
        assert str(info.value) == (
            "publish expected a str, bytes or JSON-serializable message for a broker, "
            f"got {kind} (dict keys must be str, got {key})"
        )
    await broadcast.aclose()


@pytest.mark.parametrize("url", ["memory://", "redis://127.0.0.1:1/0"])
async def test_publish_names_a_bad_channel_as_subscribe_does(url):
    """Defect: ``publish(None, ...)`` raised redis-py's ``DataError``, and ``memory://``
    took any hashable, so ``publish(1, ...)`` never reached subscribers of ``"1"``."""
    async with Broadcast(url) as broadcast:
        for channel in (None, 1, ""):
            with pytest.raises(InvalidHandler) as info:
                await broadcast.publish(channel, "hi")  # type: ignore[arg-type]
            assert str(info.value) == f"publish expected a non-empty str channel, got {channel!r}"
