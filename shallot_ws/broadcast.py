"""Broadcast: publish a message on a channel, and every subscriber of that channel gets it.

::

    broadcast = Broadcast("memory://")
    await broadcast.publish("room:blue", {"text": "hi"})
    async with broadcast.subscribe("room:blue") as subscription:
        async for message in subscription:
            ...

Backends are chosen by URL. ``memory://`` (the default) delivers within this process and
needs nothing installed. Each subscriber has a bounded buffer and a declared policy for when
it is full: ``"drop_oldest"`` (the default: keep the newest), ``"drop_newest"``, or ``"end"``
(the subscription ends, ``overflowed`` is set, so the handler can close the socket with 1013).
Dropped messages are counted (``subscription.dropped``), never silently lost. Publishing never
waits for a subscriber: a slow one delays nobody else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Literal

from .errors import InvalidHandler

__all__ = ["POLICIES", "Broadcast", "Subscription"]

Policy = Literal["drop_oldest", "drop_newest", "end"]
POLICIES: tuple[Policy, ...] = ("drop_oldest", "drop_newest", "end")


class Subscription:
    """One subscriber's view of a channel: an async iterator of its messages, with a bounded
    buffer. ``dropped`` counts messages lost to the policy; ``overflowed`` is set when the
    ``"end"`` policy ended it."""

    def __init__(self, channel: str, buffer: int, policy: Policy) -> None:
        self.channel = channel
        self.buffer = buffer
        self.policy: Policy = policy
        self.dropped = 0
        self.overflowed = False
        self._messages: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False

    def offer(self, message: Any) -> None:
        """Take a published message without ever waiting; apply the policy when full."""
        if self._ended:
            return
        if len(self._messages) >= self.buffer:
            self.dropped += 1
            if self.policy == "drop_newest":
                return
            if self.policy == "end":
                self.overflowed = True
                self.end()
                return
            self._messages.popleft()
        self._messages.append(message)
        self._wake()

    def end(self) -> None:
        """End the subscription: iteration stops once the buffered messages are taken."""
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        while not self._messages:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.overflowed:  # "end": what was buffered is stale, the socket should close
            self._messages.clear()
            raise StopAsyncIteration
        return self._messages.popleft()

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.channel!r} {len(self._messages)}/{self.buffer} "
            f"{self.policy} dropped={self.dropped}{' overflowed' if self.overflowed else ''}>"
        )


class _Subscribing:
    """``async with broadcast.subscribe(...) as subscription``: registered for the block."""

    def __init__(self, broadcast: Broadcast, subscription: Subscription) -> None:
        self._broadcast = broadcast
        self._subscription = subscription

    async def __aenter__(self) -> Subscription:
        self._broadcast._add(self._subscription)
        return self._subscription

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._broadcast._remove(self._subscription)
        self._subscription.end()


class Broadcast:
    """Channels of messages; ``Broadcast("memory://")`` delivers within this process."""

    def __init__(self, url: str = "memory://") -> None:
        if not isinstance(url, str) or not url.startswith("memory://"):
            raise InvalidHandler(
                f"Broadcast expected a backend URL starting with 'memory://', got {url!r}"
            )
        self.url = url
        self._channels: dict[str, set[Subscription]] = {}

    async def publish(self, channel: str, message: Any) -> int:
        """Deliver ``message`` to every subscriber of ``channel``; how many there were."""
        subscribers = self._channels.get(channel, ())
        for subscription in tuple(subscribers):
            subscription.offer(message)
        return len(subscribers)

    def subscribe(
        self, channel: str, *, buffer: int = 100, policy: Policy = "drop_oldest"
    ) -> _Subscribing:
        """Subscribe to ``channel`` for an ``async with`` block; see ``Subscription``."""
        if not isinstance(channel, str) or not channel:
            raise InvalidHandler(f"subscribe expected a non-empty str channel, got {channel!r}")
        if type(buffer) is not int or buffer < 1:
            raise InvalidHandler(f"subscribe expected a positive int buffer, got {buffer!r}")
        if policy not in POLICIES:
            raise InvalidHandler(
                f"subscribe expected a policy in {', '.join(POLICIES)}, got {policy!r}"
            )
        return _Subscribing(self, Subscription(channel, buffer, policy))

    def subscribers(self, channel: str) -> int:
        """How many subscriptions ``channel`` has now."""
        return len(self._channels.get(channel, ()))

    def _add(self, subscription: Subscription) -> None:
        self._channels.setdefault(subscription.channel, set()).add(subscription)

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._channels.get(subscription.channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._channels[subscription.channel]
