"""Auth: a bearer token in the ``Authorization`` header or the ``token`` query parameter.

A valid token is accepted and the handler greets the identity that ``bearer_auth`` put into
``scope["user"]``, then echoes each frame under that name; a missing or invalid token is
refused before the accept with HTTP 401 and a ``WWW-Authenticate`` header, and a page of
another origin with HTTP 403.

Run: ``hypercorn examples.auth:app`` and open http://127.0.0.1:8000/?token=ann-token (the
page connects to its own URL, token included; without one the handshake fails). From a
script, send ``Authorization: Bearer bob-token`` instead. The demo tokens below stand in for
a real store or a signed token (a JWT, say) checked in ``verify``.
"""

from __future__ import annotations

import hmac

from examples.page import with_page
from shallot_ws import websocket, ws_send
from shallot_ws.guards import allow_origins, bearer_auth, guarded

TOKENS = {"ann-token": "ann", "bob-token": "bob"}

# The pages allowed to open the socket: this example's own page. Browsers always send
# Origin; clients that are not browsers may leave it out (and could forge it anyway).
ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


async def verify(token: str) -> str | None:
    """The user a token belongs to, or None. Compares in constant time."""
    user = None
    for known, name in TOKENS.items():
        if hmac.compare_digest(token.encode(), known.encode()):
            user = name
    return user


@websocket(
    on_connect=guarded(
        allow_origins(ORIGINS, allow_missing=True),
        bearer_auth(verify, query_param="token", realm="examples.auth"),
    )
)
async def greeter(scope, receiver):
    user = scope["user"]
    yield ws_send(f"Hello, {user}!")
    async for message in receiver:
        yield ws_send(f"{user}: {message}")


app = with_page("auth", greeter)
