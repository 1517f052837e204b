"""``asyncapi``: the AsyncAPI 3.0.0 document of a router or a websocket app, put together:
its arguments checked, its routes made channels and operations (``asyncapi_channels``), and
``info``, ``servers`` and ``components`` around them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..app import WebSocketApp
from ..errors import ConfigTypeError
from ..routing import Router
from ..signatures import describe
from .asyncapi_channels import Document, Endpoint, endpoints_of

__all__ = ["ASYNCAPI_VERSION", "JSON", "asyncapi"]

ASYNCAPI_VERSION = "3.0.0"
JSON = "application/json"


def asyncapi(
    app: Any,
    *,
    title: str,
    version: str,
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``app`` (a router or a ``websocket`` app) as a dict,
    ready for ``json.dumps``.

    ``title`` and ``version`` are the document's ``info``; ``servers`` maps names to Server
    Objects as AsyncAPI writes them (``{"production": {"host": "chat.example.com",
    "protocol": "wss"}}``). Each route is a channel; the routes with a ``contract`` get a
    ``receive`` and a ``send`` operation, their messages and schemas, the WebSocket binding
    for the contract's ``query`` and ``headers`` types, and the security schemes of their
    ``bearer_auth`` guards. Two types of one name with different schemas are a
    ``ConfigError`` naming both routes.
    """
    for name, value in (("title", title), ("version", version)):
        if not isinstance(value, str) or not value:
            raise ConfigTypeError(f"asyncapi expected {name} as a non-empty str, got {value!r}")
    if description is not None and not isinstance(description, str):
        raise ConfigTypeError(f"asyncapi expected description as a str, got {description!r}")
    if servers is not None and not (
        isinstance(servers, Mapping) and all(isinstance(s, Mapping) for s in servers.values())
    ):
        raise ConfigTypeError(
            f"asyncapi expected servers as a dict of Server Objects, got {servers!r}"
        )
    if isinstance(app, Router):
        endpoints = list(endpoints_of(app))
    elif isinstance(app, WebSocketApp):
        endpoints = [Endpoint("", None, app)]
    else:
        raise ConfigTypeError(f"asyncapi expected a router or a websocket app, got {describe(app)}")
    built = Document()
    for endpoint in endpoints:
        built.add(endpoint)
    info: dict[str, Any] = {"title": title, "version": version}
    if description is not None:
        info["description"] = description
    document: dict[str, Any] = {"asyncapi": ASYNCAPI_VERSION, "info": info}
    if servers:
        document["servers"] = copy.deepcopy({name: dict(s) for name, s in servers.items()})
    document["defaultContentType"] = JSON
    document["channels"] = built.channels
    document["operations"] = built.operations
    components: dict[str, Any] = {}
    if built.schemas.found:
        components["schemas"] = dict(sorted(built.schemas.found.items()))
    if built.security:
        components["securitySchemes"] = built.security
    if components:
        document["components"] = components
    return document
