"""The Origin guard: an allow-list against cross-site WebSocket hijacking (CSWSH).

Browsers send cookies and HTTP credentials with a WebSocket handshake to any site, whatever
page opened it, and the same-origin policy does not apply to WebSockets. The ``Origin`` header
is what tells the server which page asked; a browser always sends it and a page cannot forge
it. ``allow_origins`` refuses every origin that is not on its list with HTTP 403.

Patterns are ``scheme://host[:port]``; ``scheme://*.host[:port]`` also allows every subdomain
of ``host`` (at any depth, not ``host`` itself). Matching is exact on the scheme, the host
(case-insensitive) and the port (the scheme's default when none is written).
``origin_allowed`` is the pure decision.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import NamedTuple

from ..errors import ConfigError, ConfigTypeError
from ..messages import ws_deny
from ..scope import headers
from ..types import Denial, Scope

__all__ = ["OriginGuard", "OriginPattern", "allow_origins", "origin_allowed", "parse_origin"]

logger = logging.getLogger("shallot_ws")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# scheme "://" host [":" port], nothing else: no path, userinfo, query or fragment.
_ORIGIN = re.compile(
    r"([a-z][a-z0-9+.\-]*)://(\[[0-9a-f:.]+\]|[^\s/?#@\[\]:]+)(?::([0-9]{1,5}))?", re.IGNORECASE
)

FORBIDDEN = "origin not allowed"
MISSING = "origin required"


class OriginPattern(NamedTuple):
    """A parsed origin (``wildcard`` False) or allow-list pattern: lowercase scheme and host,
    explicit port (``None`` for a scheme without a default port when none is written)."""

    scheme: str
    host: str
    port: int | None
    wildcard: bool = False


def parse_origin(text: str) -> OriginPattern | None:
    """Parse ``scheme://host[:port]`` (as browsers send ``Origin``); ``None`` if malformed.

    A host starting with ``*.`` gives a wildcard pattern (the host stored without it).
    """
    if not isinstance(text, str):
        return None
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme, host, port_text = match.groups()
    scheme, host = scheme.lower(), host.lower()
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    if not host.isascii():  # a pattern written in Unicode: browsers send the IDNA form
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if "*" in host or "" in host.split("."):
        return None
    if port_text is None:
        port = _DEFAULT_PORTS.get(scheme)
    else:
        port = int(port_text)
        if port > 65535:
            return None
    return OriginPattern(scheme, host, port, wildcard)


def _compile(patterns: Iterable[str], where: str) -> tuple[OriginPattern, ...]:
    if isinstance(patterns, str):
        raise ConfigTypeError(f"{where} expected a list of origins, got str {patterns!r}")
    compiled = []
    for text in patterns:
        if not isinstance(text, str):
            raise ConfigTypeError(f"{where} expected origins as str, got {type(text).__name__}")
        pattern = parse_origin(text)
        if pattern is None:
            raise ConfigError(
                f"{where} expected an origin like 'https://example.com' or "
                f"'https://*.example.com', got {text!r}"
            )
        compiled.append(pattern)
    return tuple(compiled)


def _matches(origin: OriginPattern, pattern: OriginPattern) -> bool:
    if origin.scheme != pattern.scheme or origin.port != pattern.port:
        return False
    if not pattern.wildcard:
        return origin.host == pattern.host
    return origin.host.endswith("." + pattern.host)


def origin_allowed(origin: str | None, patterns: Iterable[str | OriginPattern]) -> bool:
    """Whether the ``Origin`` header value ``origin`` matches one of ``patterns``.

    A missing (``None``), malformed or ``null`` origin (sandboxed frames, ``file:`` pages)
    matches nothing. Patterns are strings as for ``allow_origins`` or parsed ``OriginPattern``.
    """
    if isinstance(patterns, str):
        raise ConfigTypeError(f"origin_allowed expected a list of patterns, got str {patterns!r}")
    if origin is None:
        return False
    parsed = parse_origin(origin.strip())
    if parsed is None or parsed.wildcard:
        return False
    for pattern in patterns:
        compiled = pattern if isinstance(pattern, OriginPattern) else parse_origin(pattern)
        if compiled is not None and _matches(parsed, compiled):
            return True
    return False


class OriginGuard:
    """The guard ``allow_origins`` builds; ``patterns`` and ``allow_missing`` stay readable."""

    def __init__(self, patterns: Iterable[str], allow_missing: bool = False) -> None:
        self.sources = tuple(patterns) if not isinstance(patterns, str) else patterns
        self.patterns = _compile(self.sources, "allow_origins")
        if not isinstance(allow_missing, bool):
            raise ConfigTypeError(
                f"allow_origins expected a bool allow_missing, got {type(allow_missing).__name__}"
            )
        self.allow_missing = allow_missing

    async def __call__(self, scope: Scope) -> Denial | None:
        return self.check(scope)

    def check(self, scope: Scope) -> Denial | None:
        """The decision, without awaiting: ``None`` to let through, else the 403 denial."""
        values = headers(scope).getall("origin")
        if not values:
            if self.allow_missing:
                return None
            logger.info("refused %s: no Origin header", scope.get("path", "?"))
            return ws_deny(403, MISSING)
        if len(values) == 1 and origin_allowed(values[0], self.patterns):
            return None
        logger.info("refused %s: Origin %r not allowed", scope.get("path", "?"), values)
        return ws_deny(403, FORBIDDEN)

    def __repr__(self) -> str:
        missing = ", allow_missing=True" if self.allow_missing else ""
        return f"allow_origins({list(self.sources)!r}{missing})"


def allow_origins(patterns: Iterable[str], *, allow_missing: bool = False) -> OriginGuard:
    """A guard that lets through only handshakes whose ``Origin`` is in ``patterns``.

    Any other origin is refused with ``ws_deny(403, "origin not allowed")``; a handshake
    without ``Origin`` with ``ws_deny(403, "origin required")`` unless ``allow_missing``.
    Browsers always send ``Origin``, so ``allow_missing=True`` lets non-browser clients (which
    can send any header they like anyway) connect without opening the door to CSWSH. Several
    ``Origin`` headers are refused. Refusals are logged at INFO on the ``shallot_ws`` logger.
    """
    return OriginGuard(patterns, allow_missing)
