"""The subprotocol guard: choose the subprotocol, in the server's order of preference.

The client offers subprotocols in ``Sec-WebSocket-Protocol`` (``scope["subprotocols"]``);
the server may choose one of them, and only one it was offered. ``select_subprotocol``
chooses the first of its own list that the client offered, so the server decides which
version wins, not the order the client wrote. ``choose_subprotocol`` is the pure decision.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError, ConfigTypeError
from ..messages import ws_accept, ws_deny
from ..types import Denial, Scope, WebSocketAcceptEvent

__all__ = ["SubprotocolSelector", "choose_subprotocol", "select_subprotocol"]

logger = logging.getLogger("shallot_ws")

# RFC 6455, 4.1: each subprotocol is a token (RFC 7230, 3.2.6).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def choose_subprotocol(offered: Iterable[str], supported: Iterable[str]) -> str | None:
    """The first of ``supported`` (the server's order) that is in ``offered``; ``None`` if
    none is. Names are compared exactly, case included."""
    offered = set(offered)
    for name in supported:
        if name in offered:
            return name
    return None


class SubprotocolSelector:
    """The guard ``select_subprotocol`` builds; ``supported`` and ``required`` stay readable."""

    def __init__(
        self, supported: tuple[str, ...], required: bool = False, scope_key: str = "subprotocol"
    ) -> None:
        if not supported:
            raise ConfigError("select_subprotocol expected at least one subprotocol, got none")
        for name in supported:
            if not isinstance(name, str):
                raise ConfigTypeError(
                    f"select_subprotocol expected subprotocols as str, got {type(name).__name__}"
                )
            if not _TOKEN.fullmatch(name):
                raise ConfigError(
                    f"select_subprotocol expected a subprotocol token (no spaces, commas or "
                    f"quotes), got {name!r}"
                )
        if not isinstance(required, bool):
            raise ConfigTypeError(
                f"select_subprotocol expected a bool required, got {type(required).__name__}"
            )
        if not isinstance(scope_key, str) or not scope_key:
            raise ConfigError(
                f"select_subprotocol expected a non-empty str scope_key, got {scope_key!r}"
            )
        self.supported = supported
        self.required = required
        self.scope_key = scope_key

    async def __call__(self, scope: Scope) -> WebSocketAcceptEvent | Denial | None:
        return self.check(scope)

    def check(self, scope: Scope) -> WebSocketAcceptEvent | Denial | None:
        """The decision, without awaiting: the accept with the chosen subprotocol, ``None``
        when none matched and none is required, else the 400 denial."""
        offered = [name for name in scope.get("subprotocols") or () if isinstance(name, str)]
        chosen = choose_subprotocol(offered, self.supported)
        scope[self.scope_key] = chosen
        if chosen is not None:
            return ws_accept(subprotocol=chosen)
        if not self.required:
            return None
        logger.info("refused %s: no supported subprotocol offered", scope.get("path", "?"))
        return ws_deny(
            400, f"unsupported subprotocol, expected one of: {', '.join(self.supported)}"
        )

    def __repr__(self) -> str:
        options: list[Any] = [repr(name) for name in self.supported]
        if self.required:
            options.append("required=True")
        if self.scope_key != "subprotocol":
            options.append(f"scope_key={self.scope_key!r}")
        return f"select_subprotocol({', '.join(options)})"


def select_subprotocol(
    *supported: str, required: bool = False, scope_key: str = "subprotocol"
) -> SubprotocolSelector:
    """A guard that accepts with the first of ``supported`` the client offered.

    The choice is also put into ``scope[scope_key]`` (``None`` when nothing was chosen), so the
    handler knows which protocol it speaks. When the client offered none of them:

    * ``required=False`` (the default) lets the connection through without a subprotocol, as
      RFC 6455 allows: a client that insists on one fails the connection itself (browsers do,
      when they offered any);
    * ``required=True`` refuses with ``ws_deny(400, "unsupported subprotocol, expected one of:
      ...")``, which names the server's protocols and never echoes the client's.
    """
    return SubprotocolSelector(supported, required, scope_key)
