"""Broadcast: publish a message on a channel, and every subscriber of that channel gets it.

::

    broadcast = Broadcast("memory://")
    await broadcast.publish("room:blue", {"text": "hi"})
    async with broadcast.subscribe("room:blue") as subscription:
        async for message in subscription:
            ...

The backend is chosen by URL:

- ``memory://`` (the default): within this process, nothing to install. ``keep=N`` keeps
  the last N messages of each channel, each for at most ``keep_for`` seconds (an hour by
  default), for subscribers that ask for ``history`` (``subscribe(channel, history=N)``;
  they are in ``subscription.history``).
- ``redis://host:port/db``: Redis pub/sub (``pip install 'shallot_ws[redis]'``), at most
  once: what is published while a process is cut off from Redis never reaches it.
- ``redis-stream://host:port/db``: Redis Streams, each channel trimmed to exactly ``keep``
  messages (default 1000): ``history`` on join, and after a broken connection the backend
  reconnects with backoff and reads on from the last message it delivered.
  (``rediss://`` and ``rediss-stream://`` for TLS.)

A ``redis://`` broadcast takes two durations, in seconds (5 by default):
``confirm_timeout``, how long ``subscribe`` waits for Redis to confirm the subscription
before it raises ``BroadcastError``, and ``heartbeat``, how long the listening connection
may be silent before it is pinged (and taken for dead, and reconnected, when the ping is
unanswered for as long again): ``Broadcast("redis://redis:6379/0", heartbeat=15.0)``.

Each subscriber has a bounded buffer and a declared policy for when it is full:
``"drop_oldest"`` (the default: keep the newest), ``"drop_newest"``, or ``"end"`` (the
subscription ends, ``overflowed`` is set, so the handler can close the socket with 1013).
Dropped messages are counted (``subscription.dropped``), never silently lost. Publishing
never waits for a subscriber: a slow one delays nobody else. A broker that cannot be reached
raises ``BroadcastError`` from ``publish`` and ``subscribe``.

``broadcast.observer`` (``None`` by default) is told of every publish and of every
subscription as it joins and leaves: how ``shallot_ws.observability`` counts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from ..cancelling import cancels_pending
from ..errors import BroadcastError, ConfigError, ConfigTypeError
from ..options import count, seconds
from ._redis import redacted
from .memory import MemoryBackend
from .subscription import POLICIES, Fanout, Policy, Subscription

__all__ = ["POLICIES", "Backend", "Broadcast", "Observer", "Policy", "Subscription"]


class Backend(Protocol):
    """What a broadcast backend does; each delivers into its ``fanout``."""

    url: str
    keep: int
    fanout: Fanout
    loop_bound: bool  # holds connections or tasks of the event loop it first ran in

    async def publish(self, channel: str, message: Any) -> None: ...
    async def join(self, subscription: Subscription, history: int) -> list[Any]: ...
    def leave(self, subscription: Subscription) -> None: ...
    async def aclose(self) -> None: ...


class Observer(Protocol):
    """What watches a broadcast (``broadcast.observer``): called at once, never awaited, in
    the publishing or subscribing task."""

    def published(self, channel: str) -> None:
        """A message was published on ``channel`` from this process."""

    def joined(self, subscription: Subscription) -> None:
        """``subscription`` is registered: its messages come from now on."""

    def left(self, subscription: Subscription) -> None:
        """``subscription``'s ``async with`` block is over: no more messages for it."""


def _memory(url: str, keep: int | None, scheme: str, **options: float) -> Backend:
    return MemoryBackend(url, 0 if keep is None else keep, **options)


def _redis_pubsub(url: str, keep: int | None, scheme: str, **pubsub: float) -> Backend:
    from .redis_pubsub import RedisPubSubBackend

    return RedisPubSubBackend(url, keep or 0, scheme, **pubsub)


def _redis_streams(url: str, keep: int | None, scheme: str, **pubsub: float) -> Backend:
    from .redis_streams import RedisStreamBackend

    return RedisStreamBackend(url, 1000 if keep is None else keep, scheme)


# Each makes a backend from the URL, ``keep`` and the options given (``redis://`` and
# ``rediss://`` their pub/sub ones, ``memory://`` keep_for: ``Broadcast`` refuses the rest).
BACKENDS: dict[str, Callable[..., Backend]] = {
    "memory": _memory,
    "redis": _redis_pubsub,
    "rediss": _redis_pubsub,
    "redis-stream": _redis_streams,
    "rediss-stream": _redis_streams,
}
PUBSUB_SCHEMES = ("redis", "rediss")  # the backends that take heartbeat and confirm_timeout


def _check_channel(what: str, channel: object) -> None:
    if not isinstance(channel, str):
        raise ConfigTypeError(f"{what} expected a non-empty str channel, got {channel!r}")
    if not channel:
        raise ConfigError(f"{what} expected a non-empty str channel, got ''")


_USE_ASYNC_WITH = "use `async with broadcast.subscribe(...) as sub`: subscribe({!r}) was {}"


class _Subscribing:
    """``async with broadcast.subscribe(...) as subscription``: registered for the block."""

    def __init__(self, broadcast: Broadcast, subscription: Subscription, history: int) -> None:
        self._broadcast = broadcast
        self._subscription = subscription
        self._history = history

    def __aiter__(self) -> Any:
        raise TypeError(self._misused("iterated with `async for`"))

    def __await__(self) -> Any:
        raise TypeError(self._misused("awaited"))

    def __enter__(self) -> Any:
        raise TypeError(self._misused("used with a plain `with`"))

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ raised
        pass

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(self._misused(f"asked for {name!r}"))

    def _misused(self, how: str) -> str:
        return _USE_ASYNC_WITH.format(self._subscription.channel, how)

    async def __aenter__(self) -> Subscription:
        broadcast, subscription = self._broadcast, self._subscription
        backend = broadcast._open()
        task = asyncio.current_task()
        pending = cancels_pending(task)
        try:
            subscription.history = await backend.join(subscription, self._history)
            if cancels_pending(task) > pending:
                # cancelled while joining, and the client library swallowed it (redis-py
                # can, asyncio.wait_for on 3.11 can): the cancellation holds all the same
                raise asyncio.CancelledError()
        except BaseException as error:  # failed or cancelled midway: nothing stays registered
            backend.leave(subscription)
            subscription.end("left")
            if broadcast.closed and isinstance(error, BroadcastError):
                raise broadcast._closed_error() from error  # its connections were closed
            raise
        if broadcast.closed:  # closed while joining: the close did not end this one
            backend.leave(subscription)
            subscription.end("broadcast closed")
            raise broadcast._closed_error()
        if broadcast.observer is not None:
            broadcast.observer.joined(subscription)
        return subscription

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broadcast = self._broadcast
        broadcast._backend.leave(self._subscription)
        self._subscription.end("left")
        if broadcast.observer is not None:
            broadcast.observer.left(self._subscription)


class Broadcast:
    """Channels of messages, delivered by the backend ``url`` names; see the module's
    docstring. ``keep`` is how many messages each channel keeps for ``history``;
    ``heartbeat`` and ``confirm_timeout`` (seconds, 5 by default) are options of
    ``redis://`` and ``rediss://`` only; ``keep_for`` (seconds, an hour by default) of
    ``memory://`` only: how long a kept message stays (a channel with nothing kept left
    is forgotten)."""

    def __init__(
        self,
        url: str = "memory://",
        *,
        keep: int | None = None,
        heartbeat: float | None = None,
        confirm_timeout: float | None = None,
        keep_for: float | None = None,
    ) -> None:
        scheme, separator, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
        make = BACKENDS.get(scheme) if separator else None
        if make is None:
            schemes = ", ".join(f"'{name}://'" for name in BACKENDS)
            error = ConfigError if isinstance(url, str) else ConfigTypeError
            shown = redacted(url) if isinstance(url, str) else url
            raise error(f"Broadcast expected a URL starting with {schemes}, got {shown!r}")
        if keep is not None:
            count(keep, "Broadcast expected keep to be an int >= 0", minimum=0)
        pubsub: dict[str, float] = {}  # the pub/sub options given
        for name, value in (("heartbeat", heartbeat), ("confirm_timeout", confirm_timeout)):
            if value is not None:
                pubsub[name] = seconds(value, f"Broadcast {name}")
        if pubsub and scheme not in PUBSUB_SCHEMES:
            raise ConfigError(
                f"Broadcast expected a redis:// or rediss:// URL with {' and '.join(pubsub)} "
                f"(options of Redis pub/sub), got {redacted(url)!r}"
            )
        if keep_for is not None:
            if scheme != "memory":
                raise ConfigError(
                    f"Broadcast expected a memory:// URL with keep_for (Redis keeps by "
                    f"count: keep=), got {redacted(url)!r}"
                )
            pubsub["keep_for"] = seconds(keep_for, "Broadcast keep_for")
        self.url = url
        self._backend = make(url, keep, scheme, **pubsub)
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the first it ran in
        self.observer: Observer | None = None  # told of publishes, joins and leaves

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` was called: no more publishing or subscribing."""
        return self._closed

    @property
    def kept_channels(self) -> int | None:
        """``memory://``: how many channels have messages kept (a channel whose messages all
        outlived ``keep_for`` is forgotten); ``None`` for Redis, which holds them itself."""
        kept = getattr(self._backend, "kept_channels", None)
        return kept if isinstance(kept, int) else None

    @property
    def keep(self) -> int:
        """How many messages each channel keeps for subscribers asking for ``history``."""
        return self._backend.keep

    async def publish(self, channel: str, message: Any) -> None:
        """Deliver ``message`` to every subscriber of ``channel``, in every process the
        backend reaches. Never waits for a subscriber."""
        _check_channel("publish", channel)
        self._open()
        task = asyncio.current_task()
        pending = cancels_pending(task)
        await self._backend.publish(channel, message)
        if self.observer is not None:
            self.observer.published(channel)
        if cancels_pending(task) > pending:  # cancelled, and swallowed below: it holds
            raise asyncio.CancelledError()

    def subscribe(
        self,
        channel: str,
        *,
        buffer: int = 100,
        policy: Policy = "drop_oldest",
        history: int = 0,
    ) -> _Subscribing:
        """Subscribe to ``channel`` for an ``async with`` block. The subscription iterates
        the messages published from then on; ``subscription.history`` holds up to
        ``history`` of the messages before, oldest first. See ``Subscription``."""
        _check_channel("subscribe", channel)
        count(buffer, "subscribe expected a positive int buffer")
        if policy not in POLICIES:
            raise ConfigError(
                f"subscribe expected a policy in {', '.join(POLICIES)}, got {policy!r}"
            )
        count(history, "subscribe expected history to be an int >= 0", minimum=0)
        if history > self.keep:
            raise ConfigError(
                f"subscribe asked for history={history}, but this broadcast keeps "
                f"{self.keep} messages a channel: Broadcast({redacted(self.url)!r}, keep=...)"
            )
        return _Subscribing(self, Subscription(channel, buffer, policy), history)

    def subscribers(self, channel: str) -> int:
        """How many live subscriptions ``channel`` has in this process now (one that ended,
        e.g. overflowed, no longer counts, even before its handler leaves it)."""
        subscriptions = self._backend.fanout.channels.get(channel, ())
        return sum(not subscription.ended for subscription in subscriptions)

    def _open(self) -> Backend:
        if self._closed:
            raise self._closed_error()
        self._check_loop()
        return self._backend

    def _closed_error(self) -> BroadcastError:
        return BroadcastError(f"{self!r} is closed")

    def _check_loop(self) -> None:
        """A Redis backend's connections and reader belong to the event loop it first ran in:
        from another loop (a module-level broadcast reused by tests with a loop each) they
        would fail obscurely or stay silent, so that is a clear error instead."""
        loop = asyncio.get_running_loop()
        if self._loop is None or not self._backend.loop_bound:
            self._loop = loop
        elif self._loop is not loop:
            raise BroadcastError(
                f"{self!r} is used from another event loop than the one it first ran in; "
                "create a Broadcast in the event loop that uses it (at startup, in a fixture)"
            )

    async def aclose(self) -> None:
        """End every subscription and close the backend's connections; idempotent."""
        if self._closed:
            return
        self._check_loop()
        self._closed = True
        self._backend.fanout.end_all("broadcast closed")
        await self._backend.aclose()

    async def __aenter__(self) -> Broadcast:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Broadcast({redacted(self.url)!r}, keep={self.keep})"
