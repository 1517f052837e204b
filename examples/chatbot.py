"""Chatbot: replies chosen from the client's text.

Run: ``hypercorn examples.chatbot:app`` and open http://127.0.0.1:8000/.
"""

from __future__ import annotations

from examples.page import with_page
from shallot_ws import websocket, ws_close, ws_send

REPLIES = {
    "hello": "Hello! Say 'help' to see what I understand, or 'bye' to leave.",
    "hi": "Hi there! Say 'help' to see what I understand.",
    "help": "I understand: hello, hi, help, how are you, bye.",
    "how are you": "Running at full speed, thank you.",
}


def reply_to(text: str) -> str:
    """Choose the bot's answer to one line of the client's text."""
    cleaned = text.strip().lower()
    key = cleaned.rstrip("?!.")
    if key in REPLIES:
        return REPLIES[key]
    if cleaned.endswith("?"):
        return "Good question. I only know a few words: say 'help'."
    return f"You said {text.strip()!r}. Say 'help' to see what I understand."


@websocket
async def chatbot(scope, receiver):
    yield ws_send("Chatbot ready. Say hello.")
    async for message in receiver:
        if not isinstance(message, str):
            yield ws_close(1003, "text only")
        if message.strip().lower() == "bye":
            yield ws_send("Goodbye!")
            return
        yield ws_send(reply_to(message))


app = with_page("chatbot", chatbot)
