"""Metrics as plain numbers: what ``instrument`` counts per route and a watched ``Broadcast``
per channel label, read by an exporter (prometheus.py, otel.py) when it is collected.

Pure: no event loop, no dependency. Counting a frame is an integer addition on its
connection's ``Tally``: no lock, no label lookup, no exporter call per frame. A route sums
the tallies of its open connections and what its ended ones left when it is read, so an
exporter, which reads the numbers when it is scraped, shows them exact at that moment, open
connections included. The one value pushed as it comes is a connection's duration, to the
listeners of ``on_duration`` (OpenTelemetry has no histogram it could read later).

Labels are bounded by construction: a route is a router's pattern (``"/rooms/{room}"``),
never a raw path; a channel is counted under the label a function of the channel's name
gives (``"*"`` for all of them by default), never under the name itself.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..errors import ConfigError, ConfigTypeError
from ..lifecycle import Outcome

if TYPE_CHECKING:
    from ..broadcast import Broadcast, Subscription

__all__ = [
    "ALL_CHANNELS",
    "DEFAULT_BUCKETS",
    "ChannelStats",
    "Histogram",
    "Metrics",
    "RouteStats",
    "Tally",
]

#: Connection durations, in seconds: from a quick refusal by the handler to an hour-long
#: session (the histogram's buckets; ``Metrics(buckets=...)`` sets others).
DEFAULT_BUCKETS = (0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0)
#: The channel label of every channel when ``watch`` is given no ``channel`` function.
ALL_CHANNELS = "*"


class Histogram:
    """Counts of observed values per bucket (a value ``v`` falls into the first bucket whose
    upper bound is ``>= v``; above the last bound, into ``+Inf``), their sum and count."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count ``value``."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, values <= it)`` for every bucket, ending with ``(inf, count)``."""
        total = 0
        buckets = []
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += count
            buckets.append((bound, total))
        return buckets


class Tally:
    """One connection's traffic: frames and payload bytes each way. The wrapper adds to its
    connection's tally at each frame; a route sums the tallies of its open connections when
    it is read."""

    __slots__ = ("bytes_received", "bytes_sent", "frames_received", "frames_sent")

    def __init__(self) -> None:
        self.frames_received = 0
        self.frames_sent = 0
        self.bytes_received = 0
        self.bytes_sent = 0


class RouteStats:
    """What the connections of one route did: ``open`` (a gauge), frames and bytes each way
    (the connections that ended and those still open), ``frames_dropped``, ``ended`` (by
    ``(outcome, close code)``), ``denied`` (refused handshakes by HTTP status), and
    ``duration``, the histogram of connection durations."""

    __slots__ = ("denied", "done", "duration", "ended", "frames_dropped", "live", "route")

    def __init__(self, route: str, buckets: tuple[float, ...]) -> None:
        self.route = route
        self.live: set[Tally] = set()  # the open connections' tallies
        self.done = Tally()  # the ended connections' traffic, added up
        self.frames_dropped = 0
        self.ended: dict[tuple[Outcome, int], int] = {}
        self.denied: dict[int, int] = {}
        self.duration = Histogram(buckets)

    def opened(self, tally: Tally) -> None:
        """A connection was accepted: read its ``tally`` from now on."""
        self.live.add(tally)

    def closed(self, tally: Tally) -> None:
        """A connection ended: keep its traffic, stop reading its ``tally``."""
        if tally in self.live:
            self.live.discard(tally)
            done = self.done
            done.frames_received += tally.frames_received
            done.frames_sent += tally.frames_sent
            done.bytes_received += tally.bytes_received
            done.bytes_sent += tally.bytes_sent

    @property
    def open(self) -> int:
        """Accepted connections that have not ended."""
        return len(self.live)

    def _total(self, name: str) -> int:
        live = tuple(self.live)  # one step under the GIL: a scrape from another thread is safe
        total: int = getattr(self.done, name)
        for tally in live:
            total += getattr(tally, name)
        return total

    @property
    def frames_received(self) -> int:
        """Frames the clients sent."""
        return self._total("frames_received")

    @property
    def frames_sent(self) -> int:
        """Frames sent to the clients."""
        return self._total("frames_sent")

    @property
    def bytes_received(self) -> int:
        """Payload bytes the clients sent (text in UTF-8)."""
        return self._total("bytes_received")

    @property
    def bytes_sent(self) -> int:
        """Payload bytes sent to the clients (text in UTF-8)."""
        return self._total("bytes_sent")

    def __repr__(self) -> str:
        return (
            f"<RouteStats {self.route!r} open={self.open} "
            f"frames={self.frames_received}/{self.frames_sent}>"
        )


class ChannelStats:
    """A channel label's numbers: ``published`` is counted as it happens; ``delivered``,
    ``dropped`` and ``overflowed`` add up the subscriptions that left and those still there;
    ``subscribers`` and ``lag`` are read from the live subscriptions when asked."""

    __slots__ = ("_left", "label", "live", "published")

    def __init__(self, label: str) -> None:
        self.label = label
        self.published = 0
        self.live: set[Subscription] = set()
        self._left = [0, 0, 0]  # delivered, dropped, overflowed of the subscriptions gone

    def joined(self, subscription: Subscription) -> None:
        """Count ``subscription`` from now on."""
        self.live.add(subscription)

    def left(self, subscription: Subscription) -> None:
        """Keep what ``subscription`` did, and stop reading it."""
        if subscription in self.live:
            self.live.discard(subscription)
            left = self._left
            left[0] += subscription.delivered
            left[1] += subscription.dropped
            left[2] += subscription.overflowed

    @property
    def delivered(self) -> int:
        """Messages delivered to this process's subscribers (each subscriber counts once)."""
        return self._left[0] + sum(s.delivered for s in tuple(self.live))

    @property
    def dropped(self) -> int:
        """Messages the subscribers' policies dropped because their buffer was full."""
        return self._left[1] + sum(s.dropped for s in tuple(self.live))

    @property
    def overflowed(self) -> int:
        """Subscriptions the ``"end"`` policy ended because their buffer was full."""
        return self._left[2] + sum(s.overflowed for s in tuple(self.live))

    @property
    def subscribers(self) -> int:
        """Live subscriptions (one that ended, overflowed, no longer counts)."""
        return sum(not s.ended for s in tuple(self.live))

    @property
    def lag(self) -> int:
        """The most messages any live subscriber has waiting: how far behind its channel the
        slowest subscriber is (0 without subscribers)."""
        return max((s.buffered for s in tuple(self.live) if not s.ended), default=0)

    def __repr__(self) -> str:
        return f"<ChannelStats {self.label!r} published={self.published}>"


class _Watch:
    """A broadcast's observer: counts under the label ``channel`` gives each channel."""

    __slots__ = ("_channel", "_metrics")

    def __init__(self, metrics: Metrics, channel: Callable[[str], str]) -> None:
        self._metrics = metrics
        self._channel = channel

    def _stats(self, name: str) -> ChannelStats:
        label = self._channel(name)
        if not isinstance(label, str):
            raise ConfigTypeError(
                f"watch expected the channel function to return a str label, got {label!r}"
            )
        return self._metrics.channel(label)

    def published(self, channel: str) -> None:
        self._stats(channel).published += 1

    def joined(self, subscription: Subscription) -> None:
        self._stats(subscription.channel).joined(subscription)

    def left(self, subscription: Subscription) -> None:
        self._stats(subscription.channel).left(subscription)


def _all_channels(channel: str) -> str:
    return ALL_CHANNELS


def _checked_buckets(buckets: Iterable[float]) -> tuple[float, ...]:
    try:
        bounds = tuple(buckets)
    except TypeError:
        raise ConfigTypeError(f"Metrics expected buckets as numbers, got {buckets!r}") from None
    if not bounds or any(
        type(b) not in (int, float) or not math.isfinite(b) or b <= 0 for b in bounds
    ):
        raise ConfigError(
            f"Metrics expected buckets as positive finite numbers of seconds, got {bounds!r}"
        )
    if list(bounds) != sorted(set(bounds)):
        raise ConfigError(f"Metrics expected buckets in increasing order, got {bounds!r}")
    return tuple(float(b) for b in bounds)


class Metrics:
    """The numbers of an instrumented app (``routes``, by route pattern) and of the
    broadcasts it watches (``channels``, by channel label). Give it to ``instrument`` and to
    an exporter; ``buckets`` are the upper bounds, in seconds, of the connection-duration
    histogram."""

    def __init__(self, *, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self.buckets = _checked_buckets(buckets)
        self.routes: dict[str, RouteStats] = {}
        self.channels: dict[str, ChannelStats] = {}
        self._listeners: list[Callable[[str, float], None]] = []

    def route(self, route: str) -> RouteStats:
        """The stats of ``route``, made at its first connection."""
        stats = self.routes.get(route)
        if stats is None:
            stats = self.routes[route] = RouteStats(route, self.buckets)
        return stats

    def channel(self, label: str) -> ChannelStats:
        """The stats of the channel label ``label``, made when first needed."""
        stats = self.channels.get(label)
        if stats is None:
            stats = self.channels[label] = ChannelStats(label)
        return stats

    def on_duration(self, listener: Callable[[str, float], None]) -> None:
        """Call ``listener(route, seconds)`` as each connection ends, after it is counted."""
        self._listeners.append(listener)

    def ended(
        self, stats: RouteStats, tally: Tally, outcome: Outcome, code: int, seconds: float
    ) -> None:
        """Count the end of an accepted connection of ``stats``'s route (``tally``: its
        traffic, read while it was open)."""
        stats.closed(tally)
        key = (outcome, code)
        ended = stats.ended
        ended[key] = ended.get(key, 0) + 1
        stats.duration.observe(seconds)
        for listener in self._listeners:
            listener(stats.route, seconds)

    def watch(self, broadcast: Broadcast, *, channel: Callable[[str], str] | None = None) -> None:
        """Count what ``broadcast`` publishes and delivers in this process, under the label
        ``channel(name)`` gives each channel (bounded: ``lambda name: name.split(":")[0]``
        counts ``room:blue`` and ``room:red`` as ``room``); all under ``"*"`` by default."""
        if channel is not None and not callable(channel):
            raise ConfigTypeError(f"watch expected a function as channel, got {channel!r}")
        if broadcast.observer is not None:
            raise ConfigError(f"{broadcast!r} is watched already")
        broadcast.observer = _Watch(self, channel or _all_channels)

    def __repr__(self) -> str:
        return f"<Metrics of {len(self.routes)} routes, {len(self.channels)} channel labels>"
