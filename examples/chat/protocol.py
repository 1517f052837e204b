"""The chat's protocol as pure functions: names, channels, frames, events and their checks.

No I/O and no event loop here: ``room.py`` does the waiting, this module says what goes on
the wire (to the browser) and on the broadcast (between connections and processes).

To the client (JSON text frames)::

    {"type": "history", "messages": [{"type": "message", "user": ..., "text": ...}, ...]}
    {"type": "presence", "members": ["ada", "bob"]}        sorted, each name once
    {"type": "message", "user": "ada", "text": "hi"}
    {"type": "error", "error": "text expected at most 1000 characters, got 1001"}

From the client: ``{"text": "..."}`` and nothing else.

On the broadcast, two channels per room: ``chat:<room>:messages`` carries the chat
messages exactly as the client gets them (so the broadcast's kept messages are the room's
history), ``chat:<room>:presence`` carries presence events between connections::

    {"type": "join", "id": "<connection id>", "user": "ada"}   a connection arrived
    {"type": "here", "id": "<connection id>", "user": "bob"}   an answer to a join; a heartbeat
    {"type": "leave", "id": "<connection id>"}                 a connection left
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "HISTORY",
    "MAX_NAME",
    "MAX_ROOM",
    "MAX_TEXT",
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

_JSON_TYPES = {
    dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
    bool: "a boolean", type(None): "null",
}  # fmt: skip


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


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


def parse_chat(value: Any) -> str:
    """The text of a client's ``{"text": "..."}``; ``ValueError`` says what was wrong."""
    if not isinstance(value, dict) or set(value) != {"text"}:
        got = (
            f"an object with keys {', '.join(map(repr, sorted(value)))}"
            if isinstance(value, dict) and value
            else _json_type(value)
        )
        raise ValueError(f'expected {{"text": "..."}}, got {got}')
    text = value["text"]
    if not isinstance(text, str):
        raise ValueError(f"text expected a string, got {_json_type(text)}")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text expected at most {MAX_TEXT} characters, got {len(text)}")
    if not text.strip():
        raise ValueError("text expected something besides white space, got none")
    return text


def chat_message(user: str, text: str) -> dict[str, str]:
    """A chat message, as published and as the clients get it."""
    return {"type": "message", "user": user, "text": text}


def history_frame(messages: list[Any]) -> dict[str, Any]:
    return {"type": "history", "messages": messages}


def presence_frame(members: list[str]) -> dict[str, Any]:
    return {"type": "presence", "members": members}


def error_frame(error: str) -> dict[str, str]:
    return {"type": "error", "error": error}


def presence_event(kind: str, connection: str, user: str | None = None) -> dict[str, str]:
    """A ``join``, ``here`` (both with ``user``) or ``leave`` event of one connection."""
    event = {"type": kind, "id": connection}
    if user is not None:
        event["user"] = user
    return event
