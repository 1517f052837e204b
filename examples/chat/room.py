"""The room socket, ``/rooms/{room}?name=ada``: one connection of one user in one room.

Before the accept, ``check_user`` reads the name from the query string: missing, blank (once
stripped), longer than 32 characters or not printable, the handshake is refused with HTTP
400 and a body that says why ("name expected 1 to 32 characters, got 40"); a room name of
more than 64 characters likewise. The handler never runs for a refused connection.

Once in, the client gets the room's history, then its presence list, then the room's chat
messages and presence changes as they come (the frames are in ``protocol.py``, declared
once as its contract ``CHAT``). What it sends must be ``{"text": "..."}``: other JSON gets an
``{"type": "error", ...}`` frame naming what was wrong and the connection stays; a frame
that is not JSON closes it with 1007 ("invalid JSON", or "expected a text frame" for a
binary one) and a frame over 16 KiB with 1009 (``wrap_limits``). Either way only that
connection ends: the others see it leave.

**History.** Chat messages go on the room's messages channel, and nothing else does, so the
last 50 kept by the broadcast (``Broadcast(url, keep=50)``) are the last 50 chat messages,
however many people came and went. A newcomer subscribes with ``history=50``: the
subscription's ``history`` is what the room had when it joined (sent as one ``history``
frame, oldest first) and its iteration everything after: no gap, no repeat. ``redis://``
(pub/sub) keeps nothing: there, history is always empty.

**Presence** must span processes, and a broadcast has channels, not shared state, so each
connection keeps its own view (``presence.Members``), fed by events on the room's presence
channel: it announces ``join`` once subscribed; every other connection adds it and answers
``here``, which is how the newcomer learns who was there; ``leave`` when it ends. A client
first gets the members known at that moment (itself), then a new list whenever the set of
names changes. Events can be lost (a killed process never says ``leave``; Redis pub/sub is
at most once; a full presence buffer drops its oldest), so each connection also says
``here`` every ``heartbeat`` seconds (10 by default), and forgets a connection not heard of
for three heartbeats. The cost: every heartbeat of every member reaches every member of the
room, n² small events per heartbeat, which suits rooms of tens or hundreds, not thousands.

**Slow clients and a lost broker.** The messages subscription ends when a client falls 100
messages behind, and the connection closes with 1013 ("too slow: messages were dropped")
instead of skipping messages unseen. A broker unreachable when a client joins closes it
with 1013 ("chat unavailable, try again later"); a message that cannot be published gets an
error frame; a presence event that cannot be published is logged, and the heartbeats make
up for it. When the server shuts down, the app closes its connections first (1012, come
back: their ``leave`` goes out), then its lifespan closes the broadcast; a broadcast closed
under a connection closes it with 1001 ("the chat is closing").
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from shallot_ws import compose, wrap_errors, wrap_limits, ws_close, ws_deny
from shallot_ws.broadcast import Broadcast, Subscription
from shallot_ws.compose import HandlerFunction
from shallot_ws.errors import BroadcastError
from shallot_ws.merge import every, merge
from shallot_ws.types import Denial, Scope, WebSocketCloseEvent

from .presence import Members
from .protocol import (
    CHAT,
    HISTORY,
    channels,
    chat_message,
    check_room,
    error_frame,
    history_frame,
    name_from_query,
    parse_chat,
    presence_event,
    presence_frame,
)

__all__ = ["HEARTBEAT", "check_user", "chat_room"]

logger = logging.getLogger("examples.chat")

HEARTBEAT = 10.0  # seconds between a connection's "here" events
EXPIRY_BEATS = 3  # heartbeats without news before a connection is forgotten
CHAT_BUFFER = 100  # messages a client may fall behind before it is closed with 1013
PRESENCE_BUFFER = 1000  # presence events waiting for one connection (then the oldest go)
MAX_FRAME = 16 * 1024  # bytes: a message of MAX_TEXT characters, JSON-escaped, fits


async def check_user(scope: Scope) -> Denial | None:
    """The route's guard: the room's name and the user's, or HTTP 400 saying what is wrong."""
    try:
        check_room(scope["path_params"]["room"])
        scope["user"] = name_from_query(scope["query_string"])
    except ValueError as error:
        return ws_deny(400, str(error))
    return None


async def _publish(broadcast: Broadcast, channel: str, message: Any) -> bool:
    """Publish; whether it went out (a broker that cannot be reached is logged)."""
    try:
        await broadcast.publish(channel, message)
    except BroadcastError as error:
        logger.warning("chat: %s", error)
        return False
    return True


def _is_join(event: Any, me: str) -> bool:
    return isinstance(event, dict) and event.get("type") == "join" and event.get("id") != me


def _ended(chat: Subscription) -> WebSocketCloseEvent:
    """The close for a connection whose subscription ended: too slow, or the server closing."""
    if chat.overflowed:
        return ws_close(1013, "too slow: messages were dropped")
    return ws_close(1001, "the chat is closing")


def chat_room(broadcast: Broadcast, heartbeat: float = HEARTBEAT) -> HandlerFunction:
    """The room handler, over ``broadcast``, with its middlewares (limits, contract, errors)."""
    history = min(HISTORY, broadcast.keep)

    async def room(scope: Scope, receiver: Any) -> AsyncIterator[Any]:
        user: str = scope["user"]
        me = uuid.uuid4().hex
        messages_channel, presence_channel = channels(scope["path_params"]["room"])
        members = Members(me, user, expiry=EXPIRY_BEATS * heartbeat)
        clock = asyncio.get_running_loop().time
        here = presence_event("here", me, user)
        async with (
            broadcast.subscribe(
                messages_channel, buffer=CHAT_BUFFER, policy="end", history=history
            ) as chat,
            broadcast.subscribe(presence_channel, buffer=PRESENCE_BUFFER) as presence,
        ):
            yield history_frame(chat.history)
            yield presence_frame(members.names())
            await _publish(broadcast, presence_channel, presence_event("join", me, user))
            try:
                beat = every(heartbeat)
                async with merge(receiver, chat=chat, presence=presence, beat=beat) as events:
                    async for source, item in events:
                        if source == "chat":
                            yield item
                        elif source == "presence":
                            if members.apply(item, clock()):
                                yield presence_frame(members.names())
                            if _is_join(item, me):  # a newcomer: tell it who is here
                                await _publish(broadcast, presence_channel, here)
                        elif source == "beat":
                            await _publish(broadcast, presence_channel, here)
                            if members.expire(clock()):
                                yield presence_frame(members.names())
                        else:
                            try:
                                text = parse_chat(item)
                            except ValueError as error:
                                yield error_frame(str(error))
                                continue
                            sent = await _publish(
                                broadcast, messages_channel, chat_message(user, text)
                            )
                            if not sent:
                                yield error_frame("not sent: the chat is unavailable")
                    if events.ended != "client":
                        yield _ended(chat)
            finally:
                await _publish(broadcast, presence_channel, presence_event("leave", me))

    return compose(
        wrap_limits(max_frame_size=MAX_FRAME),
        CHAT,
        wrap_errors({BroadcastError: (1013, "chat unavailable, try again later")}),
    )(room)
