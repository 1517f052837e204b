"""Security schemes of the AsyncAPI document, from the guards of an app's ``on_connect``: a
``bearer_auth`` guard gives one scheme per place it reads a token from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..app import WebSocketApp
from ..guards.auth import BearerAuth
from ..types import Hook
from .asyncapi_schemas import identifier

__all__ = ["guards_of", "security_of", "security_schemes"]


def guards_of(hook: Hook | None) -> Iterator[Any]:
    """The guards inside an ``on_connect`` hook (``guarded`` chains opened, in order)."""
    if hook is None:
        return
    inner = getattr(hook, "guards", None)
    if isinstance(inner, tuple):
        for guard in inner:
            yield from guards_of(guard)
    else:
        yield hook


def security_schemes(guard: BearerAuth) -> Iterator[tuple[str, dict[str, Any]]]:
    """The AsyncAPI security schemes of a ``bearer_auth`` guard: one per token source."""
    if guard.header == "authorization":
        yield (
            "bearer",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A bearer token: `Authorization: Bearer <token>`.",
            },
        )
    elif guard.header is not None:
        yield (
            f"header-{guard.header}",
            {
                "type": "httpApiKey",
                "in": "header",
                "name": guard.header,
                "description": f"A bearer token: `{guard.header}: Bearer <token>`.",
            },
        )
    if guard.cookie is not None:
        yield (
            f"cookie-{guard.cookie}",
            {
                "type": "httpApiKey",
                "in": "cookie",
                "name": guard.cookie,
                "description": f"A bearer token in the cookie `{guard.cookie}`.",
            },
        )
    if guard.subprotocol_prefix is not None:
        yield (
            f"subprotocol-{guard.subprotocol_prefix}",
            {
                "type": "httpApiKey",
                "in": "header",
                "name": "sec-websocket-protocol",
                "description": "A bearer token offered as a subprotocol: "
                f"`{guard.subprotocol_prefix}<token>`.",
            },
        )
    if guard.query_param is not None:
        yield (
            f"query-{guard.query_param}",
            {
                "type": "httpApiKey",
                "in": "query",
                "name": guard.query_param,
                "description": f"A bearer token in the query parameter `{guard.query_param}`.",
            },
        )


def security_of(app: WebSocketApp, schemes: dict[str, Any]) -> list[dict[str, str]]:
    """The security requirements of an app's operations: a ``$ref`` to each scheme of its
    ``bearer_auth`` guards (any one of them is enough). The schemes are added to
    ``schemes`` (``components.securitySchemes``), each key once."""
    refs: list[dict[str, str]] = []
    for guard in guards_of(app.on_connect):
        if not isinstance(guard, BearerAuth):
            continue
        for name, scheme in security_schemes(guard):
            key = identifier(name)
            schemes.setdefault(key, scheme)
            ref = {"$ref": f"#/components/securitySchemes/{key}"}
            if ref not in refs:
                refs.append(ref)
    return refs
