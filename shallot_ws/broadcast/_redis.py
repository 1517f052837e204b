"""What both Redis backends share: importing redis-py, clients, errors, backoff, tasks."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import re
from collections.abc import Coroutine
from typing import Any

from ..errors import BroadcastError, ConfigError, InvalidMessage
from .codec import decode
from .subscription import Fanout

__all__ = [
    "SKIPPED",
    "Backoff",
    "Pending",
    "background",
    "broker_errors",
    "client",
    "decoded",
    "is_refusal",
    "reader_failed",
    "redacted",
    "redis_url",
    "unreachable",
]

logger = logging.getLogger("shallot_ws")


def _redis() -> Any:
    try:
        import redis.asyncio
    except ImportError:  # pragma: no cover - the test extra installs redis
        raise ConfigError(
            "a redis:// broadcast needs redis-py: pip install 'shallot_ws[redis]'"
        ) from None
    return redis.asyncio


def broker_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the broker is unreachable (redis-py's and the OS's) or
    refused a command (``ResponseError``: a key of another type, a missing permission)."""
    import redis.exceptions

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.ResponseError,
        OSError,
    )


def is_refusal(error: BaseException) -> bool:
    """Whether Redis answered ``error`` (it refused the command) rather than failed to."""
    import redis.exceptions

    return isinstance(error, redis.exceptions.ResponseError)


def redis_url(url: str, scheme: str) -> str:
    """``url`` with shallot_ws's scheme (``redis-stream``) turned into redis-py's."""
    tls = scheme.startswith("rediss")
    return ("rediss" if tls else "redis") + url[len(scheme) :]


def client(url: str, **options: Any) -> Any:
    """A redis-py asyncio client for ``url`` that fails fast when the broker is down."""
    options.setdefault("socket_connect_timeout", 2.0)
    try:
        return _redis().Redis.from_url(url, **options)
    except ValueError:  # redis-py's message may quote the password: not shown
        raise ConfigError(
            f"Broadcast expected a Redis URL like redis://[[user]:password@]host[:port][/db] "
            f"(with '/', '?' and '@' in a password percent-encoded), got {redacted(url)!r}"
        ) from None


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*")


def redacted(url: str) -> str:
    """``url`` without its password (``user:password@`` or redis-py's ``?password=``), fit
    for logs and error messages."""
    scheme, separator, rest = url.partition("://")
    userinfo, at, address = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:***@{address}"
    return scheme + separator + _QUERY_PASSWORD.sub(r"\1***", rest)


def unreachable(url: str, what: str, error: BaseException) -> BroadcastError:
    """The error a handler sees when ``what`` could not reach the broker at ``url``, or the
    broker refused it."""
    if is_refusal(error):
        return BroadcastError(f"{what}: the broker at {redacted(url)} refused it ({error})")
    return BroadcastError(f"{what}: the broker at {redacted(url)} is unreachable ({error})")


SKIPPED: Any = object()  # ``decoded``: not a message shallot_ws published


def decoded(payload: Any, channel: str, url: str, warned: set[str]) -> Any:
    """The message in ``payload``, or ``SKIPPED`` when something other than shallot_ws wrote
    it (a ``redis-cli`` PUBLISH, another app's stream entry): one foreign message must not
    stop the reader that every subscription of the process depends on. The first skipped on
    a channel is logged (a warning); ``warned`` holds the channels already logged, so that a
    foreign producer cannot flood the log."""
    try:
        return decode(payload)
    except (InvalidMessage, ValueError) as error:
        if channel not in warned:
            warned.add(channel)
            logger.warning(
                "broadcast skipped a message on %r at %s that shallot_ws did not publish "
                "(%s); later ones on this channel are skipped without a warning",
                channel,
                redacted(url),
                error,
            )
        return SKIPPED


def reader_failed(url: str, fanout: Fanout, error: BaseException) -> None:
    """A backend's reader died on an error that is not the broker's (a bug, a client
    library's surprise): log it once with its traceback, and end every subscription it
    served, ``ended_by`` saying why, so no handler waits for ever on a reader that is gone.
    The subscriptions stay registered until their ``async with`` leaves them; the next
    subscribe starts a new reader."""
    why = f"the broadcast's reader failed ({type(error).__name__}: {error})"
    logger.error("broadcast at %s: %s; its subscriptions end", redacted(url), why, exc_info=error)
    for subscribers in list(fanout.channels.values()):
        for subscription in tuple(subscribers):
            subscription.end(why)


def background(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Run ``coroutine`` as the broadcast's own task, in an empty context: it belongs to the
    broadcast, shared by every connection, not to the connection that happened to start it."""
    loop = asyncio.get_running_loop()
    return contextvars.Context().run(loop.create_task, coroutine, name=name)


class Backoff:
    """Exponential backoff with jitter between reconnection attempts: 50 ms doubling up to
    ``cap`` seconds; ``reset`` after a success. Logs once per outage and once on recovery."""

    def __init__(self, url: str, first: float = 0.05, cap: float = 2.0) -> None:
        self.url = redacted(url)
        self.first = first
        self.cap = cap
        self.attempts = 0

    async def wait(self, error: BaseException) -> None:
        """Sleep before the next attempt after ``error``."""
        if self.attempts == 0:
            what = "refused a read" if is_refusal(error) else "is lost"
            logger.warning("broadcast's broker at %s %s (%s); retrying", self.url, what, error)
        delay = min(self.cap, self.first * 2**self.attempts)
        self.attempts += 1
        await asyncio.sleep(delay * (0.5 + random.random() / 2))

    def reset(self) -> None:
        """The broker answered: the next outage starts from the first delay again."""
        if self.attempts:
            logger.warning("broadcast reconnected to %s after %d attempts", self.url, self.attempts)
        self.attempts = 0


class Pending:
    """Counts the commands under way (``with pending:``), so that ``aclose`` closes the
    connections after them: redis-py retries a command whose connection was closed under it
    on a new connection, which nobody would close then."""

    def __init__(self) -> None:
        self._count = 0
        self._settled: asyncio.Future[None] | None = None

    def __enter__(self) -> None:
        self._count += 1

    def __exit__(self, *exc_info: object) -> None:
        self._count -= 1
        settled = self._settled
        if not self._count and settled is not None and not settled.done():
            settled.set_result(None)

    async def settle(self, timeout: float) -> None:
        """Return once no command is under way, or after ``timeout`` seconds."""
        if self._count:
            self._settled = asyncio.get_running_loop().create_future()
            await asyncio.wait({self._settled}, timeout=timeout)
