"""One subscriber's bounded buffer, and the local fan-out every backend delivers through.

A ``Subscription`` never makes a publisher wait: ``offer`` takes a message at once, and
when the buffer is full applies the subscriber's declared policy — ``"drop_oldest"`` (keep
the newest), ``"drop_newest"``, or ``"end"`` (the subscription ends and ``overflowed`` is
set, so the handler can close the socket with 1013). Every message a policy drops is
counted in ``dropped``.

Reading is synchronous at heart: ``take()`` hands out the next message at once, or ``EMPTY``
when none is buffered yet. A reader that must wait registers a future with ``notify``; the
next ``offer`` or ``end`` completes it. ``async for`` does exactly that, and so does
``merge`` (merge.py): ``take`` and ``notify`` make a subscription a ``merge.Pollable``, so
``merge`` waits on one future for all its sources at once instead of running a task per
subscription.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from ..merge import EMPTY

__all__ = ["EMPTY", "POLICIES", "Fanout", "Policy", "Subscription"]

Policy = Literal["drop_oldest", "drop_newest", "end"]
POLICIES: tuple[Policy, ...] = ("drop_oldest", "drop_newest", "end")


class Subscription:
    """One subscriber's view of a channel: an async iterator of its messages, with a bounded
    buffer. ``delivered`` counts the messages offered to it (kept or not), ``buffered`` those
    waiting to be taken (how far it is behind its channel); ``dropped`` counts messages lost
    to the policy; ``overflowed`` is set when the ``"end"`` policy ended it; ``ended_by``
    names why it ended when the backend ended it (``"broadcast closed"``); ``history``
    holds, oldest first, the messages published before it joined that it asked for
    (``subscribe(channel, history=N)``)."""

    def __init__(self, channel: str, buffer: int, policy: Policy) -> None:
        self.channel = channel
        self.buffer = buffer
        self.policy: Policy = policy
        self.delivered = 0
        self.dropped = 0
        self.overflowed = False
        self.ended_by: str | None = None
        self.history: list[Any] = []  # the earlier messages asked for with ``history=N``
        self._messages: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False

    def offer(self, message: Any) -> None:
        """Take a published message without ever waiting; apply the policy when full."""
        if self._ended:
            return
        self.delivered += 1
        if len(self._messages) >= self.buffer:
            self.dropped += 1
            if self.policy == "drop_newest":
                return
            if self.policy == "end":
                self.overflowed = True
                self.end("overflowed")
                return
            self._messages.popleft()
        self._messages.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def notify(self, waiter: asyncio.Future[None] | None) -> None:
        """Complete ``waiter`` (with ``None``) at the next ``offer`` or ``end``, unless it is
        done by then: how a reader waits for this subscription without a task of its own.
        One waiter at a time, the last one given; ``None`` forgets it. The same future may
        be given to other sources too, so that one ``await`` waits for whichever is first."""
        self._waiter = waiter

    def take(self) -> Any:
        """The next message without waiting, or ``EMPTY`` if none is buffered yet (wait with
        ``notify``, then take again). Raises ``StopAsyncIteration`` once the subscription is
        over: ended and every buffered message taken, or at once after an overflow (with the
        ``"end"`` policy what was buffered is stale, and the socket should close)."""
        messages = self._messages
        if self.overflowed:
            messages.clear()
            raise StopAsyncIteration
        if messages:
            return messages.popleft()
        if self._ended:
            raise StopAsyncIteration
        return EMPTY

    def end(self, why: str = "ended") -> None:
        """End the subscription: iteration stops once the buffered messages are taken."""
        if self._ended:
            return
        self._ended = True
        self.ended_by = why
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def buffered(self) -> int:
        """How many delivered messages wait to be taken: how far behind its channel it is."""
        return len(self._messages)

    @property
    def ended(self) -> bool:
        """Whether the subscription takes no more messages."""
        return self._ended

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        message = self.take()
        while message is EMPTY:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.notify(waiter)
            try:
                await waiter
            finally:
                self.notify(None)
            message = self.take()
        return message

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.channel!r} {len(self._messages)}/{self.buffer} "
            f"{self.policy} dropped={self.dropped}{' overflowed' if self.overflowed else ''}>"
        )


class Fanout:
    """This process's subscriptions by channel: what every backend delivers into."""

    def __init__(self) -> None:
        self.channels: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """Register ``subscription``; whether it is its channel's first."""
        subscribers = self.channels.get(subscription.channel)
        if subscribers is None:
            self.channels[subscription.channel] = {subscription}
            return True
        subscribers.add(subscription)
        return False

    def remove(self, subscription: Subscription) -> bool:
        """Unregister ``subscription``; whether its channel has no subscriber left."""
        subscribers = self.channels.get(subscription.channel)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.discard(subscription)
        if subscribers:
            return False
        del self.channels[subscription.channel]
        return True

    def deliver(self, channel: str, message: Any) -> None:
        """Offer ``message`` to every subscriber of ``channel``; never waits."""
        for subscription in tuple(self.channels.get(channel, ())):
            subscription.offer(message)

    def count(self, channel: str) -> int:
        """How many subscriptions ``channel`` has in this process."""
        return len(self.channels.get(channel, ()))

    def end_all(self, why: str) -> None:
        """End every subscription (the broadcast is closing)."""
        subscriptions: Iterable[Subscription] = [
            subscription for subscribers in self.channels.values() for subscription in subscribers
        ]
        self.channels.clear()
        for subscription in subscriptions:
            subscription.end(why)
