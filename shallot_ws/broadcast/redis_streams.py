"""``redis-stream://``: Redis Streams between processes, with history and recovery.

Each channel is a stream (its key is the channel name), trimmed to exactly ``keep`` entries.
One connection per process reads every channel it has subscribers for with a blocking
XREAD, remembering the id of the last entry it delivered on each; when the connection
breaks it reconnects with backoff and reads on from those ids, so nothing that reached the
stream is lost to a broken connection or a restart of redis-server (as far as Redis itself
kept it: persistence is Redis's ``appendonly`` setting). A subscriber that asks for
``history`` gets the entries up to the reader's position, and its iteration everything
after it: no gap, no repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from ..errors import ConfigError
from ._redis import (
    SKIPPED,
    Backoff,
    Pending,
    background,
    broker_errors,
    client,
    decoded,
    is_refusal,
    logger,
    reader_failed,
    redacted,
    redis_url,
    unreachable,
)
from .codec import encode
from .subscription import Fanout, Subscription

__all__ = ["RedisStreamBackend"]

_BLOCK_MS = 5_000  # a blocked XREAD returns at least this often, so a silent broker is noticed
_COUNT = 512  # entries per stream per read
_FIELD = b"m"
_START = "0-0"
_CLOSE_TIMEOUT = 1.0  # seconds the reader has to stop by itself when the broadcast closes


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


class RedisStreamBackend:
    """Channels as Redis Streams; see the module's docstring."""

    loop_bound = True

    def __init__(self, url: str, keep: int, scheme: str = "redis-stream") -> None:
        if keep < 1:
            raise ConfigError(
                f"a redis-stream:// broadcast keeps at least 1 message a channel, got keep={keep}"
            )
        self.url = url
        self.keep = keep
        self.fanout = Fanout()
        self._foreign: set[str] = set()  # channels where a foreign message was logged
        address = redis_url(url, scheme)
        self._redis = client(address)
        self._reading = client(
            address, single_connection_client=True, socket_timeout=_BLOCK_MS / 1000 + 10
        )
        self._errors = broker_errors()
        self._cursors: dict[str, str] = {}  # channel -> id of the last entry delivered here
        self._starting: dict[str, asyncio.Future[None]] = {}
        # The reader also reads a stream of its own, which join() writes to when the set of
        # channels changes: a blocked XREAD wakes even if the write came before it blocked.
        self._wake_key = f"shallot_ws:wake:{uuid.uuid4().hex}"
        self._wake_cursor = _START
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._pending = Pending()  # joins and publishing under way

    async def publish(self, channel: str, message: Any) -> None:
        """XADD ``message`` to ``channel``'s stream, trimming it to about ``keep`` entries."""
        payload = encode(message)
        try:
            with self._pending:
                await self._redis.xadd(
                    channel, {_FIELD: payload}, maxlen=self.keep, approximate=False
                )
        except self._errors as error:
            raise unreachable(self.url, f"publish to {channel!r}", error) from error

    async def join(self, subscription: Subscription, history: int) -> list[Any]:
        """Register ``subscription`` at the reader's position on its channel; the (up to)
        ``history`` entries up to that position, oldest first. Whatever the reader delivers
        meanwhile is after that position: no gap, no repeat."""
        with self._pending:
            return await self._join(subscription, history)

    async def _join(self, subscription: Subscription, history: int) -> list[Any]:
        channel = subscription.channel
        while channel not in self._cursors and not self._closing:
            starting = self._starting.get(channel)
            if starting is not None:
                await asyncio.shield(starting)
                continue
            await self._start(channel)
        if self._closing:  # closed meanwhile: the broadcast refuses the subscription
            return []
        cursor = self._cursors[channel]
        first = self.fanout.add(subscription)
        try:
            if first:
                await self._wake()
            entries = []
            if history and not self._closing:
                entries = await self._redis.xrevrange(channel, max=cursor, min="-", count=history)
        except self._errors as error:
            self.leave(subscription)
            raise unreachable(self.url, f"subscribe to {channel!r}", error) from error
        if self._reader is None and not self._closing:
            self._reader = background(self._read(), "shallot_ws broadcast: redis streams")
        kept = (self._decoded(channel, fields) for _, fields in entries)
        return [message for message in kept if message is not SKIPPED][::-1]

    async def _start(self, channel: str) -> None:
        """The first subscriber here: read on from the stream's newest entry."""
        starting = self._starting[channel] = asyncio.get_running_loop().create_future()
        try:
            newest = await self._redis.xrevrange(channel, count=1)
        except self._errors as error:
            raise unreachable(self.url, f"subscribe to {channel!r}", error) from error
        else:
            self._cursors[channel] = newest[0][0].decode() if newest else _START
        finally:
            del self._starting[channel]
            starting.set_result(None)

    def leave(self, subscription: Subscription) -> None:
        """Unregister ``subscription``; the reader stops reading a channel nobody here wants."""
        if self.fanout.remove(subscription):
            del self._cursors[subscription.channel]

    async def _wake(self) -> None:
        await self._redis.xadd(self._wake_key, {b"w": b"1"}, maxlen=1, approximate=False)
        await self._redis.expire(self._wake_key, 3600)

    async def _read(self) -> None:
        try:
            await self._read_on()
        except Exception as error:  # not the broker's: logged, subscribers told; not silent
            self._reader = None
            reader_failed(self.url, self.fanout, error)

    async def _read_on(self) -> None:
        backoff = Backoff(self.url)
        while not self._closing:
            streams = {**self._cursors, self._wake_key: self._wake_cursor}
            try:
                result = await self._reading.xread(streams, count=_COUNT, block=_BLOCK_MS)
            except self._errors as error:
                if is_refusal(error) and await self._end_foreign_keys():
                    continue
                await backoff.wait(error)
                continue
            backoff.reset()
            for key, entries in result or ():
                self._deliver(key.decode(), entries)

    async def _end_foreign_keys(self) -> bool:
        """XREAD was refused: end the subscriptions of channels whose key holds something
        other than a stream (another app's data), so the others are read on; whether any."""
        found = False
        for channel in list(self._cursors):
            with contextlib.suppress(*self._errors):
                kind = await self._redis.type(channel)
                if kind not in (b"stream", b"none", "stream", "none"):
                    found = True
                    why = f"the key {channel!r} holds a Redis {kind.decode()}, not a stream"
                    logger.warning("broadcast at %s: %s", redacted(self.url), why)
                    self._cursors.pop(channel, None)
                    for subscription in self.fanout.channels.pop(channel, ()):
                        subscription.end(why)
        return found

    def _decoded(self, channel: str, fields: dict[bytes, bytes]) -> Any:
        return decoded(fields.get(_FIELD, b""), channel, self.url, self._foreign)

    def _deliver(self, channel: str, entries: list[Any]) -> None:
        if channel == self._wake_key:
            self._wake_cursor = entries[-1][0].decode()
            return
        cursor = self._cursors.get(channel)
        if cursor is None:  # everybody here left while the read was on its way
            return
        position = _id(cursor)
        subscribers = self.fanout.channels.get(channel, ())
        for entry_id, fields in entries:
            if _id(entry_id) <= position:  # the channel was left and joined again meanwhile
                continue
            position = _id(entry_id)
            self._cursors[channel] = entry_id.decode()
            message = self._decoded(channel, fields)
            if message is SKIPPED:  # another writer's entry: read on past it
                continue
            for subscription in tuple(subscribers):
                subscription.offer(message)

    async def aclose(self) -> None:
        """Stop reading, drop the wake stream, close both connections."""
        self._closing = True
        reader, self._reader = self._reader, None
        stopping = (*self._errors, asyncio.TimeoutError)  # a broker that is down or frozen
        try:
            await self._pending.settle(_CLOSE_TIMEOUT)  # joins stop at their next step
            if reader is not None:
                # Wake the reader rather than cancel it inside XREAD: redis-py can hang on a
                # command cancelled mid-read. A cancel is the fallback (a broker that is down).
                with contextlib.suppress(*stopping):
                    await asyncio.wait_for(self._wake(), _CLOSE_TIMEOUT)
                stopped, _ = await asyncio.wait({reader}, timeout=_CLOSE_TIMEOUT)
                if not stopped:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
            with contextlib.suppress(*stopping):  # the broker is gone: the key expires
                await asyncio.wait_for(self._redis.delete(self._wake_key), _CLOSE_TIMEOUT)
        finally:
            await self._reading.aclose()
            await self._redis.aclose()
        if reader is not None and not reader.cancelled():
            reader.result()  # a reader that died raises here, its connections closed
