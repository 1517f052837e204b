"""``redis://``: Redis pub/sub between processes. At most once: a message published while a
process's connection to Redis is broken never reaches that process's subscribers, and
nothing tells them; use ``redis-stream://`` where that matters."""

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
    redis_url,
    unreachable,
)
from .codec import encode
from .subscription import Fanout, Subscription

__all__ = ["RedisPubSubBackend"]

_CONFIRM_TIMEOUT = 5.0  # seconds Redis has to confirm a SUBSCRIBE
# Seconds of silence on the listening connection before the reader pings the broker; as long
# again without an answer, the connection is taken for dead (a dropped NAT entry or a network
# partition breaks it silently) and the reader reconnects.
_HEARTBEAT = 5.0
_CLOSE_TIMEOUT = 1.0  # seconds the publishing under way has to finish when the broadcast closes


class RedisPubSubBackend:
    """One Redis connection publishes, one listens to every channel this process has
    subscribers for; what it hears is offered to them. Reconnects with backoff and
    subscribes again to its channels when the connection breaks."""

    loop_bound = True

    def __init__(self, url: str, keep: int, scheme: str = "redis") -> None:
        if keep:
            raise ConfigError(
                f"a redis:// broadcast (pub/sub) keeps no messages, got keep={keep}; "
                "use redis-stream:// for history"
            )
        self.url = url
        self.keep = 0
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
        return once Redis confirmed it: what is published from then on reaches it. No
        ``history``: ``Broadcast.subscribe`` refuses it, as this backend keeps nothing."""
        channel = subscription.channel
        self.fanout.add(subscription)
        try:
            async with self._commands:
                if self._closed:
                    return []  # closed meanwhile: the broadcast refuses the subscription
                if channel not in self._subscribed:
                    self._confirmations[channel] = asyncio.get_running_loop().create_future()
                    self._expected[channel] = self._expected.get(channel, 0) + 1
                    try:
                        await self._pubsub.subscribe(channel)
                    except BaseException:  # perhaps never sent: wait for no reply to it
                        if self._expected.get(channel, 0) > 1:
                            self._expected[channel] -= 1
                        else:
                            self._expected.pop(channel, None)
                        raise
                    self._subscribed.add(channel)
            if self._reader is None and not self._closed:
                self._reader = background(self._read(), "shallot_ws broadcast: redis pub/sub")
            confirmation = self._confirmations.get(channel)
            if confirmation is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(confirmation), _CONFIRM_TIMEOUT)
                except asyncio.TimeoutError:
                    raise TimeoutError(
                        f"no confirmation of SUBSCRIBE within {_CONFIRM_TIMEOUT} s"
                    ) from None
        except self._errors as error:
            self.leave(subscription)
            raise unreachable(self.url, f"subscribe to {channel!r}", error) from error
        return []

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
        backoff = Backoff(self.url)
        while True:
            try:
                message = await self._pubsub.get_message(timeout=_HEARTBEAT)
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
        """Nothing heard for ``_HEARTBEAT`` seconds: ping the broker. Nothing heard for as long
        again: the connection died without a word; close it, and the reader reconnects."""
        if self._pinged:
            self._pinged = False
            if self._pubsub.connection is not None:
                await self._pubsub.connection.disconnect(nowait=True)
            raise TimeoutError(f"no answer to PING within {_HEARTBEAT} s")
        self._pinged = True
        async with self._commands:
            await self._pubsub.ping()

    def _forget_stale(self) -> None:
        """After a broken connection: forget channels nobody here wants any more."""
        stale = [name for name in self._pubsub.channels if name.decode() not in self._subscribed]
        for name in stale:
            self._pubsub.channels.pop(name, None)

    async def aclose(self) -> None:
        """Stop listening and close both connections."""
        self._closed = True
        for confirmation in self._confirmations.values():  # a join waiting returns, refused
            if not confirmation.done():
                confirmation.set_result(None)
        self._confirmations.clear()
        tasks = [*self._tasks, *([self._reader] if self._reader is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._reader = None
        async with self._commands:  # after a SUBSCRIBE under way, before any other
            await self._pubsub.aclose()
        await self._publishing.settle(_CLOSE_TIMEOUT)
        await self._redis.aclose()
