"""``memory://``: channels within this process, with the last ``keep`` messages of each."""

from __future__ import annotations

from collections import deque
from typing import Any

from .subscription import Fanout, Subscription

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Delivers each published message (the object itself, not a copy) to this process's
    subscribers at once, and keeps the last ``keep`` messages of every channel for
    subscribers that ask for history. Kept channels stay until the broadcast is closed."""

    loop_bound = False

    def __init__(self, url: str, keep: int) -> None:
        self.url = url
        self.keep = keep
        self.fanout = Fanout()
        self._history: dict[str, deque[Any]] = {}

    async def publish(self, channel: str, message: Any) -> None:
        """Keep ``message`` if asked to, and offer it to every subscriber of ``channel``."""
        if self.keep:
            kept = self._history.get(channel)
            if kept is None:
                kept = self._history[channel] = deque(maxlen=self.keep)
            kept.append(message)
        self.fanout.deliver(channel, message)

    async def join(self, subscription: Subscription, history: int) -> list[Any]:
        """Register ``subscription``; the last ``history`` kept messages, oldest first."""
        self.fanout.add(subscription)
        if not history:
            return []
        kept = self._history.get(subscription.channel, ())
        return list(kept)[-history:]

    def leave(self, subscription: Subscription) -> None:
        """Unregister ``subscription``."""
        self.fanout.remove(subscription)

    async def aclose(self) -> None:
        """Forget the kept messages; the broadcast ends the subscriptions."""
        self._history.clear()
