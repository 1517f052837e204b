"""``memory://``: channels within this process, with the last ``keep`` messages of each,
each kept at most ``keep_for`` seconds.

Retention is bounded both ways: by count (a deque of ``keep`` per channel) and by age. The
channels with kept messages are ordered by their last publish, so each publish forgets, from
the front, the channels whose newest message is older than ``keep_for``: a channel never used
again is forgotten within ``keep_for`` of its last message, at the cost of looking at one
channel per publish (amortised).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import Any

from .subscription import Fanout, Subscription

__all__ = ["KEEP_FOR", "MemoryBackend"]

KEEP_FOR = 3600.0  # seconds a kept message stays, by default


class MemoryBackend:
    """Delivers each published message (the object itself, not a copy) to this process's
    subscribers at once, and keeps the last ``keep`` messages of every channel, each for at
    most ``keep_for`` seconds, for subscribers that ask for history."""

    loop_bound = False

    def __init__(self, url: str, keep: int, keep_for: float = KEEP_FOR) -> None:
        self.url = url
        self.keep = keep
        self.keep_for = keep_for
        self.fanout = Fanout()
        # channel -> (published at, message), oldest first; channels by their last publish
        self._history: OrderedDict[str, deque[tuple[float, Any]]] = OrderedDict()

    @property
    def kept_channels(self) -> int:
        """How many channels have messages kept."""
        return len(self._history)

    async def publish(self, channel: str, message: Any) -> None:
        """Keep ``message`` if asked to, and offer it to every subscriber of ``channel``."""
        if self.keep:
            now = asyncio.get_running_loop().time()
            history = self._history
            kept = history.get(channel)
            if kept is None:
                kept = history[channel] = deque(maxlen=self.keep)
            else:
                history.move_to_end(channel)
            kept.append((now, message))
            self._forget(now)
        self.fanout.deliver(channel, message)

    def _forget(self, now: float) -> None:
        """Forget the channels whose newest kept message is older than ``keep_for``."""
        oldest = now - self.keep_for
        history = self._history
        while history:
            channel, kept = next(iter(history.items()))
            if kept[-1][0] >= oldest:
                return
            del history[channel]

    async def join(self, subscription: Subscription, history: int) -> list[Any]:
        """Register ``subscription``; the last ``history`` kept messages (younger than
        ``keep_for``), oldest first."""
        self.fanout.add(subscription)
        if not history:
            return []
        kept = self._history.get(subscription.channel)
        if not kept:
            return []
        oldest = asyncio.get_running_loop().time() - self.keep_for
        while kept and kept[0][0] < oldest:
            kept.popleft()
        if not kept:
            del self._history[subscription.channel]
            return []
        return [message for _, message in list(kept)[-history:]]

    def leave(self, subscription: Subscription) -> None:
        """Unregister ``subscription``."""
        self.fanout.remove(subscription)

    async def aclose(self) -> None:
        """Forget the kept messages; the broadcast ends the subscriptions."""
        self._history.clear()
