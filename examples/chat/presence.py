"""Who is in a room, as one connection sees it: a pure bookkeeping of presence events.

Each connection keeps its own ``Members``. It starts knowing only itself; every ``join``
and ``here`` event of another connection adds that connection (or refreshes when it was
last heard of), every ``leave`` removes it, and ``expire`` forgets connections not heard of
for ``expiry`` seconds: the heartbeats (``here`` events every few seconds) keep the living
ones, so a connection whose ``leave`` never came (its process was killed, the broker lost
the event) is gone after ``expiry`` at most. Times are the caller's clock, so this runs and
is tested without an event loop.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Members"]


class Members:
    """The connections of a room one connection knows of, and their names."""

    def __init__(self, me: str, name: str, expiry: float) -> None:
        self.me = me
        self.name = name
        self.expiry = expiry
        self._others: dict[str, tuple[str, float]] = {}  # connection id -> (name, last heard)

    def names(self) -> list[str]:
        """The members' names, sorted, each once (a user may have several connections)."""
        return sorted({self.name, *(name for name, _ in self._others.values())})

    def apply(self, event: Any, now: float) -> bool:
        """Apply a presence event heard at ``now``; whether ``names()`` changed. Events of
        this connection itself, and anything that is not a presence event, change nothing."""
        if not isinstance(event, dict):
            return False
        kind, connection, user = event.get("type"), event.get("id"), event.get("user")
        if not isinstance(connection, str) or connection == self.me:
            return False
        before = self.names()
        if kind in ("join", "here") and isinstance(user, str):
            self._others[connection] = (user, now)
        elif kind == "leave":
            self._others.pop(connection, None)
        else:
            return False
        return self.names() != before

    def expire(self, now: float) -> bool:
        """Forget the connections not heard of since ``now - expiry``; whether ``names()``
        changed."""
        stale = [key for key, (_, heard) in self._others.items() if now - heard > self.expiry]
        if not stale:
            return False
        before = self.names()
        for key in stale:
            del self._others[key]
        return self.names() != before
