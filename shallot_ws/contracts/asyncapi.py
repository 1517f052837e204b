"""``asyncapi``: the AsyncAPI 3.0.0 document of a router or a websocket app, from its contracts.

Theory of operation. The router's table is walked (mounts included): every route becomes a
channel whose ``address`` is its full pattern in AsyncAPI's ``{param}`` syntax, with a
``parameters`` entry for each path parameter. A route with a ``contract`` gets two
operations, from the app's side: ``<channel>.receive`` (``action: receive``, what clients
send) and ``<channel>.send`` (``action: send``, what the app sends). Each member of a union
is one message of the channel, named after its type, whose payload is a ``$ref`` into
``components.schemas`` (JSON Schema made by the contract's codec, msgspec or pydantic).
Under ``on_invalid="reply"`` the app may also send ``ErrorReply`` (``{"type": "error",
"error": reason}``). A contract's ``query`` and ``headers`` types become the WebSocket
channel binding (``bindings.ws``). A ``bearer_auth`` guard (on the route, a mount or the
app) becomes security schemes, one per place it reads a token from, listed on both
operations (any one of them is enough).

A route without a contract is still a channel (its address and parameters), without
messages or operations: the document says it exists, not what it speaks. A single app
(no router) is one channel at ``/``.

Two types with the same name but different schemas (two ``Join`` classes on two routes) are
a ``ConfigError`` naming both routes and the type: the document has one namespace of
schema names.

``main(argv)`` is the command line (``python -m shallot_ws.asyncapi module:app``).

This module is the one place to import these from; each part has a module of its own:

- ``asyncapi_document``: ``asyncapi``, the document put together around its channels;
- ``asyncapi_channels``: the routes walked, each a channel, with its operations;
- ``asyncapi_schemas``: the messages and ``components.schemas`` (``asyncapi_schema``);
- ``asyncapi_security``: the security schemes of the ``bearer_auth`` guards;
- ``asyncapi_cli``: the command line, ``main``.
"""

from __future__ import annotations

from .asyncapi_cli import main
from .asyncapi_document import ASYNCAPI_VERSION, asyncapi
from .asyncapi_schemas import ERROR_REPLY, REF_TEMPLATE, asyncapi_schema

__all__ = ["ASYNCAPI_VERSION", "ERROR_REPLY", "REF_TEMPLATE", "asyncapi", "asyncapi_schema", "main"]
