"""``redis://``: Redis pub/sub between processes. At most once: a message published while a
process's connection to Redis is broken never reaches that process's subscribers, and
nothing tells them; use ``redis-stream://`` where that matters.

Two durations bound what a broker can make this backend wait for (``Broadcast(url,
heartbeat=..., confirm_timeout=...)``, 5 s each by default): ``confirm_timeout`` is how long
a ``subscribe`` waits for Redis to confirm its SUBSCRIBE (connecting included), and
``heartbeat`` how long the listening connection may be silent before the reader pings the
broker; as long again without an answer, the connection is taken for dead (a dropped NAT
entry or a network partition breaks it silently) and the reader reconnects. ``aclose``
returns within a bounded time whatever the broker does: what it cannot stop politely, it
disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    logger,
    reader_failed,
    redis_url,
    unreachable,
)
from .codec import encode
from .subscription import Fanout, Subscription

__all__ = ["CONFIRM_TIMEOUT", "HEARTBEAT", "RedisPubSubBackend"]

CONFIRM_TIMEOUT = 5.0  # default: seconds Redis has to confirm a SUBSCRIBE
HEARTBEAT = 5.0  # default: seconds of silence before a PING, and as long for its answer
# Seconds each step of ``aclose`` waits (the tasks to stop, the publishing under way to
# finish, a connection to close) before it goes on without them.
_CLOSE_TIMEOUT = 1.0


class RedisPubSubBackend:
    """One Redis connection publishes, one listens to every channel this process has
    subscribers for; what it hears is offered to them. Reconnects with backoff and
    subscribes again to its channels when the connection breaks."""

    loop_bound = True

    def __init__(
        self,
        url: str,
        keep: int,
        scheme: str = "redis",
        *,
        heartbeat: float = HEARTBEAT,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ) -> None:
        if keep:
            raise ConfigError(
                f"a redis:// broadcast (pub/sub) keeps no messages, got keep={keep}; "
                "use redis-stream:// for history"
            )
        self.url = url
        self.keep = 0
        self.heartbeat = heartbeat
        self.confirm_timeout = confirm_timeout
        self.fanout = Fanout()
        self._foreign: set[str] = set()  # channels where a foreign message was logged
        self._redis = client(redis_url(url, scheme))
        self._pubsub = self._redis.pubsub()
        self._errors = broker_errors()
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._commands = asyncio.Lock()  # SUBSCRIBE and UNSUBSCRIBE, in the order decided
        self._subscribed: set[str] = set()  # channels SUBSCRIBEd and not UNSUBSCRIBEd
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        # SUBSCRIBE replies still to come, per channel: a join is confirmed by the reply to
        # its own SUBSCRIBE, not by a late reply to an earlier one for the same channel.
        self._expected: dict[str, int] = {}
        self._pinged = False  # the reader pinged and has heard nothing since
        self._closed = False
        self._publishing = Pending()

    async def publish(self, channel: str, message: Any) -> None:
        """PUBLISH ``message`` on ``channel``."""
        payload = encode(message)
        try:
            with self._publishing:
                await self._redis.publish(channel, payload)
        except self._errors as error:
            raise unreachable(self.url, f"publish to {channel!r}", error) from error

    async def join(self, subscription: Subscription, history: int) -> list[Any]:
        """Register ``subscription``; SUBSCRIBE its channel if it is the first here, and
        return once Redis confirmed it: what is published from then on reaches it. Fails
        when Redis has not confirmed it within ``confirm_timeout`` seconds (connecting
        included). No ``history``: ``Broadcast.subscribe`` refuses it, as this backend
        keeps nothing."""
        channel = subscription.channel
        self.fanout.add(subscription)
        try:
            try:
                await asyncio.wait_for(self._subscribe(channel), self.confirm_timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"no confirmation of SUBSCRIBE within {self.confirm_timeout} s"
                ) from None
        except self._errors as error:
            self.leave(subscription)
            raise unreachable(self.url, f"subscribe to {channel!r}", error) from error
        return []

    async def _subscribe(self, channel: str) -> None:
        """SUBSCRIBE ``channel`` unless this process is already subscribed to it (or its
        SUBSCRIBE is under way), and wait for Redis to confirm it."""
        async with self._commands:
            if self._closed:
                return  # closed meanwhile: the broadcast refuses the subscription
            if channel not in self._subscribed:
                self._confirmations[channel] = asyncio.get_running_loop().create_future()
                self._expected[channel] = self._expected.get(channel, 0) + 1
                try:
                    await self._pubsub.subscribe(channel)
                except BaseException as error:  # perhaps never sent: wait for no reply to it
                    if self._expected.get(channel, 0) > 1:
                        self._expected[channel] -= 1
                    else:
                        self._expected.pop(channel, None)
                    if not isinstance(error, self._errors):
                        # Cut short (cancelled, or out of time), perhaps while connecting: the
                        # replies to the connection's handshake would come to the reader as
                        # messages. A new connection starts clean.
                        await self._cut()
                    raise
                self._subscribed.add(channel)
        if self._reader is None and not self._closed:
            self._reader = background(self._read(), "shallot_ws broadcast: redis pub/sub")
        confirmation = self._confirmations.get(channel)
        if confirmation is not None:
            await asyncio.shield(confirmation)

    def leave(self, subscription: Subscription) -> None:
        """Unregister ``subscription``; UNSUBSCRIBE its channel (in the background) if it
        was the last here, so leaving never waits on the broker."""
        if self.fanout.remove(subscription) and not self._closed:
            task = background(self._unsubscribe(subscription.channel), "shallot_ws unsubscribe")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _unsubscribe(self, channel: str) -> None:
        async with self._commands:
            if self.fanout.count(channel):
                return  # someone here joined again meanwhile
            self._confirmations.pop(channel, None)
            if channel not in self._subscribed:
                return  # its SUBSCRIBE failed
            self._subscribed.discard(channel)
            # A broken connection: the reconnection subscribes only to channels still wanted.
            with contextlib.suppress(*self._errors):
                await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        try:
            await self._read_on()
        except Exception as error:  # not the broker's: logged, subscribers told; not silent
            self._reader = None
            reader_failed(self.url, self.fanout, error)

    async def _read_on(self) -> None:
        backoff = Backoff(self.url)
        while not self._closed:  # closed: a cancellation lost in redis-py stops here
            try:
                message = await self._pubsub.get_message(timeout=self.heartbeat)
                if message is None:
                    await self._heartbeat()
                    continue
            except self._errors as error:
                self._pinged = False  # a new connection gets a ping of its own
                self._expected.clear()  # no reply comes on a broken connection
                await backoff.wait(error)
                self._forget_stale()
                continue
            self._pinged = False
            backoff.reset()
            if message["type"] == "message":
                channel = message["channel"].decode()
                item = decoded(message["data"], channel, self.url, self._foreign)
                if item is not SKIPPED:
                    self.fanout.deliver(channel, item)
            elif message["type"] == "subscribe":
                self._confirmed(message["channel"].decode())

    def _confirmed(self, channel: str) -> None:
        """A SUBSCRIBE reply: once the last one sent for ``channel`` is in, joins may go on.
        (After a reconnection redis-py subscribes again, with replies nobody counted.)"""
        waiting = self._expected.get(channel, 0) - 1
        if waiting > 0:
            self._expected[channel] = waiting
            return
        self._expected.pop(channel, None)
        confirmation = self._confirmations.pop(channel, None)
        if confirmation is not None and not confirmation.done():
            confirmation.set_result(None)

    async def _heartbeat(self) -> None:
        """Nothing heard for ``heartbeat`` seconds: ping the broker. Nothing heard for as long
        again: the connection died without a word; close it, and the reader reconnects."""
        if self._pinged:
            self._pinged = False
            await self._cut()
            raise TimeoutError(f"no answer to PING within {self.heartbeat} s")
        self._pinged = True
        async with self._commands:
            await self._pubsub.ping()

    async def _cut(self) -> None:
        """Close the listening connection under whatever awaits it (a read, a handshake the
        broker never answers): it fails at once, and the next command connects anew."""
        connection = self._pubsub.connection
        if connection is not None:
            await connection.disconnect(nowait=True)

    def _forget_stale(self) -> None:
        """After a broken connection: forget channels nobody here wants any more."""
        stale = [name for name in self._pubsub.channels if name.decode() not in self._subscribed]
        for name in stale:
            self._pubsub.channels.pop(name, None)

    async def aclose(self) -> None:
        """Stop listening and close both connections, within a bounded time whatever the
        broker does (about ``confirm_timeout`` plus a few seconds at worst): a task that
        does not stop when cancelled has its connection closed under it."""
        self._closed = True
        for confirmation in self._confirmations.values():  # a join waiting returns, refused
            if not confirmation.done():
                confirmation.set_result(None)
        self._confirmations.clear()
        tasks = {*self._tasks, *([self._reader] if self._reader is not None else [])}
        self._reader = None
        for task in tasks:
            task.cancel()
        if not await _stopped(tasks, _CLOSE_TIMEOUT):
            # The cancellation was lost inside redis-py and its read goes on: close the
            # connection under it, so that the read fails and the reader sees it is closed.
            await self._cut()
            await _stopped(tasks, _CLOSE_TIMEOUT)
        # After a SUBSCRIBE under way (its join gives up within confirm_timeout), before any
        # other: closed under it, redis-py would retry it on a new connection.
        locked = await _acquire(self._commands, self.confirm_timeout + _CLOSE_TIMEOUT)
        try:
            try:
                await asyncio.wait_for(self._pubsub.aclose(), _CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                await self._cut()
        finally:
            if locked:
                self._commands.release()
        await self._publishing.settle(_CLOSE_TIMEOUT)
        await self._redis.aclose()


async def _stopped(tasks: set[asyncio.Task[None]], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``tasks`` to end; whether they all did."""
    if not tasks:
        return True
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, asyncio.CancelledError):
            # retrieved (not reported again at exit), but never swallowed silently
            logger.warning("broadcast: %s ended with %r while closing", task.get_name(), error)
    return not pending


async def _acquire(lock: asyncio.Lock, timeout: float) -> bool:
    """Take ``lock`` within ``timeout`` seconds; whether it was taken."""
    try:
        await asyncio.wait_for(lock.acquire(), timeout)
    except asyncio.TimeoutError:
        return False
    return True
