"""Chat: rooms with history and presence, one process or many behind Redis.

Run: ``python3 -m hypercorn examples.chat:app`` and open http://127.0.0.1:8000/ in two
browser windows: pick a name and a room, join, talk. The app is one router: the room socket
``/rooms/{room}?name=ada`` (``room.py``: the protocol, history, presence) and, through its
fallback, the page at ``/`` (``page.py``, ``page.html``) and 404 elsewhere; its ``lifespan``
closes the broadcast at the server's shutdown.

The broadcast between connections comes from one environment variable,
``SHALLOT_WS_CHAT_BROADCAST`` (default ``memory://``: this process only). Point it at Redis
and several server processes share their rooms::

    export SHALLOT_WS_CHAT_BROADCAST=redis-stream://127.0.0.1:6379/0
    python3 -m hypercorn examples.chat:app --bind 127.0.0.1:8000 &
    python3 -m hypercorn examples.chat:app --bind 127.0.0.1:8001

``redis-stream://`` keeps each room's last 50 messages for newcomers; ``redis://`` (pub/sub)
works too, without history. Tests build the app over a broadcast of their own with
``make_app(broadcast)``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from shallot_ws.broadcast import Broadcast
from shallot_ws.routing import Router, route, router

from .page import page
from .protocol import HISTORY
from .room import HEARTBEAT, chat_room, check_user

__all__ = ["ENV", "app", "broadcast_from_env", "make_app"]

ENV = "SHALLOT_WS_CHAT_BROADCAST"


def broadcast_from_env(environ: Mapping[str, str] = os.environ) -> Broadcast:
    """The broadcast ``SHALLOT_WS_CHAT_BROADCAST`` names, keeping the history it can."""
    url = environ.get(ENV) or "memory://"
    pubsub = url.startswith(("redis://", "rediss://"))  # pub/sub keeps nothing
    return Broadcast(url, keep=None if pubsub else HISTORY)


def make_app(broadcast: Broadcast, *, heartbeat: float = HEARTBEAT) -> Router:
    """The chat over ``broadcast``, closed at the server's shutdown."""

    @asynccontextmanager
    async def close_broadcast(app: Router) -> AsyncIterator[None]:
        yield  # serving: the rooms open their subscriptions as clients join
        await broadcast.aclose()  # the rooms' connections close 1001, Redis is let go

    return router(
        [route("/rooms/{room}", chat_room(broadcast, heartbeat), name="room", guards=[check_user])],
        fallback=page,
        lifespan=close_broadcast,
    )


app = make_app(broadcast_from_env())
