"""The chat's protocol: its messages declared once (``CHAT``), and pure functions for names,
channels, frames and events.

No I/O and no event loop here: ``room.py`` does the waiting, this module says what goes on
the wire (to the browser) and on the broadcast (between connections and processes).

The messages are a contract (``shallot_ws.contracts``): the room's frames are decoded and
checked by it, its AsyncAPI document (docs/chat-asyncapi.json) is made from it, and the
tests draw messages from it. To the client (JSON text frames)::

    {"type": "history", "messages": [{"type": "message", "user": ..., "text": ...}, ...]}
    {"type": "presence", "members": ["ada", "bob"]}        sorted, each name once
    {"type": "message", "user": "ada", "text": "hi"}
    {"type": "error", "error": "$.text: expected str of length <= 1000"}

From the client: ``{"text": "..."}`` and nothing else (``Post``). Any other frame gets an
``error`` frame naming what was wrong, and the connection stays; a frame that is not JSON
(or not text) closes it with 1007.

On the broadcast, two channels per room: ``chat:<room>:messages`` carries the chat
messages exactly as the client gets them (so the broadcast's kept messages are the room's
history), ``chat:<room>:presence`` carries presence events between connections::

    {"type": "join", "id": "<connection id>", "user": "ada"}   a connection arrived
    {"type": "here", "id": "<connection id>", "user": "bob"}   an answer to a join; a heartbeat
    {"type": "leave", "id": "<connection id>"}                 a connection left
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict
from urllib.parse import parse_qs

import msgspec

from shallot_ws import ws_close
from shallot_ws.contracts import contract

__all__ = [
    "CHAT",
    "HISTORY",
    "MAX_NAME",
    "MAX_ROOM",
    "MAX_TEXT",
    "ChatMessage",
    "Error",
    "History",
    "Post",
    "Presence",
    "channels",
    "check_room",
    "chat_message",
    "error_frame",
    "history_frame",
    "name_from_query",
    "parse_chat",
    "presence_event",
    "presence_frame",
]

HISTORY = 50  # chat messages a newcomer gets
MAX_NAME = 32  # characters
MAX_ROOM = 64
MAX_TEXT = 1000

PRESENCE_EVENTS = ("join", "here", "leave")


class Post(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends: one chat message."""

    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]


class ChatMessage(msgspec.Struct, tag="message"):
    """A chat message, as the clients get it."""

    user: str
    text: str


class History(msgspec.Struct, tag="history"):
    """The room's last chat messages, oldest first: the first frame a client gets."""

    messages: list[ChatMessage]


class Presence(msgspec.Struct, tag="presence"):
    """Who is in the room, sorted, each name once."""

    members: list[str]


class Error(msgspec.Struct, tag="error"):
    """What was wrong with the client's last frame (the connection stays)."""

    error: str


class RoomQuery(TypedDict):
    """The room socket's query string."""

    name: str


def refuse(reason: str) -> Any:
    """The answer to a frame that is not a ``Post``: an error frame, or a 1007 close for a
    frame that is not JSON text at all."""
    if reason in ("invalid JSON", "expected a text frame"):
        return ws_close(1007, reason)
    return Error(reason)


CHAT = contract(
    receives=Post,
    sends=History | Presence | ChatMessage | Error,
    on_invalid=refuse,
    name="chat room",
    summary="One user in one chat room: history, presence, and the room's messages.",
    query=RoomQuery,
)


def _check_label(what: str, value: str, limit: int) -> str:
    if not 1 <= len(value) <= limit:
        raise ValueError(f"{what} expected 1 to {limit} characters, got {len(value)}")
    if not value.isprintable():
        raise ValueError(f"{what} expected printable characters, got {value!r}")
    return value


def name_from_query(query_string: bytes) -> str:
    """The user's name from ``?name=...``, stripped and checked; ``ValueError`` says why not."""
    names = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("name")
    if not names:
        raise ValueError("name expected in the query string (?name=...), got none")
    return _check_label("name", names[0].strip(), MAX_NAME)


def check_room(room: str) -> str:
    """``room`` if it is a valid room name; ``ValueError`` says why not."""
    return _check_label("room", room, MAX_ROOM)


def channels(room: str) -> tuple[str, str]:
    """The room's two broadcast channels: its chat messages, and its presence events."""
    return f"chat:{room}:messages", f"chat:{room}:presence"


def parse_chat(post: Post) -> str:
    """The text of a client's post; ``ValueError`` if it is only white space (the contract
    has checked its shape and length)."""
    if not post.text.strip():
        raise ValueError("text expected something besides white space, got none")
    return post.text


def chat_message(user: str, text: str) -> dict[str, str]:
    """A chat message, as published and as the clients get it."""
    return {"type": "message", "user": user, "text": text}


def history_frame(messages: list[Any]) -> History:
    """The history frame of chat messages kept by the broadcast (as published: dicts)."""
    return History(msgspec.convert(messages, list[ChatMessage]))


def presence_frame(members: list[str]) -> Presence:
    return Presence(members)


def error_frame(error: str) -> Error:
    return Error(error)


def presence_event(kind: str, connection: str, user: str | None = None) -> dict[str, str]:
    """A ``join``, ``here`` (both with ``user``) or ``leave`` event of one connection."""
    event = {"type": kind, "id": connection}
    if user is not None:
        event["user"] = user
    return event
