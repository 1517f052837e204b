"""The bearer-token guard: find a token in the handshake, verify it, put the identity into
the scope or refuse with HTTP 401.

Where a token may come from, tried in this order (each only when enabled):

* the ``Authorization: Bearer <token>`` header (``header=``, on by default): what non-browser
  clients use; browsers cannot set headers on a WebSocket;
* a cookie (``cookie=``): browsers send it by themselves, also for a page of another site,
  so use it only together with ``allow_origins``;
* an offered subprotocol starting with a prefix (``subprotocol_prefix=``, e.g.
  ``new WebSocket(url, ["chat.v1", "bearer." + token])``): never written to access logs,
  and taken out of ``scope["subprotocols"]`` once read; pair it with ``select_subprotocol``
  so that a real protocol is chosen (browsers fail a handshake that offered protocols and
  got none back);
* a query parameter (``query_param=``): the easiest from a browser, but URLs end up in
  access logs, proxy logs and browser history: use short-lived, single-use tokens there.

The first source that carries a token decides; later ones are not looked at. ``find_token``
and ``challenge`` are the pure parts.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, ConfigTypeError
from ..messages import ws_deny
from ..scope import cookies, headers, query_params
from ..signatures import callable_name
from ..types import Denial, Scope

__all__ = ["BearerAuth", "bearer_auth", "challenge", "find_token", "parse_bearer"]

logger = logging.getLogger("shallot_ws")

Verify = Callable[[str], Any]  # returns the identity, or None; may be a coroutine function

MISSING = "authentication required"
INVALID = "invalid token"

_QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # quoted-string text without \ and "


def parse_bearer(value: str) -> str | None:
    """The token of an ``Authorization`` value ``Bearer <token>`` (scheme in any case);
    ``None`` for another scheme. ``"Bearer"`` alone gives ``""``: a token presented empty."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip()


def find_token(
    scope: Scope,
    *,
    header: str | None = "authorization",
    cookie: str | None = None,
    subprotocol_prefix: str | None = None,
    query_param: str | None = None,
) -> tuple[str, str] | None:
    """The first token the handshake carries, as ``(source, token)``; ``None`` if none.

    ``source`` is ``"header"``, ``"cookie"``, ``"subprotocol"`` or ``"query"``. A source
    that is present but empty (``Bearer`` without a token, ``?token=``) gives ``""``.
    """
    if header is not None:
        for value in headers(scope).getall(header):
            token = parse_bearer(value)
            if token is not None:
                return ("header", token)
    if cookie is not None:
        token = cookies(scope).get(cookie)
        if token is not None:
            return ("cookie", token)
    if subprotocol_prefix is not None:
        for offered in scope.get("subprotocols") or ():
            if isinstance(offered, str) and offered.startswith(subprotocol_prefix):
                return ("subprotocol", offered[len(subprotocol_prefix) :])
    if query_param is not None:
        token = query_params(scope).get(query_param)
        if token is not None:
            return ("query", token)
    return None


def challenge(realm: str | None, error: str | None = None) -> str:
    """The ``WWW-Authenticate`` value of a Bearer refusal (RFC 6750, 3)."""
    params = []
    if realm is not None:
        params.append(f'realm="{realm}"')
    if error is not None:
        params.append(f'error="{error}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def _check_name(value: object, name: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ConfigTypeError(f"bearer_auth expected a str {name}, got {type(value).__name__}")
    if not value:
        raise ConfigError(f"bearer_auth expected a non-empty {name}, got ''")


class BearerAuth:
    """The guard ``bearer_auth`` builds; its options stay readable as attributes."""

    def __init__(
        self,
        verify: Verify,
        *,
        scope_key: str = "user",
        header: str | None = "authorization",
        cookie: str | None = None,
        subprotocol_prefix: str | None = None,
        query_param: str | None = None,
        realm: str | None = "shallot_ws",
    ) -> None:
        if not callable(verify):
            raise ConfigTypeError(
                f"bearer_auth expected a callable verify, got {type(verify).__name__}"
            )
        _check_name(scope_key, "scope_key", optional=False)
        for name, value in (
            ("header", header),
            ("cookie", cookie),
            ("subprotocol_prefix", subprotocol_prefix),
            ("query_param", query_param),
        ):
            _check_name(value, name)
        if header is None and cookie is None and subprotocol_prefix is None and query_param is None:
            raise ConfigError(
                "bearer_auth expected at least one of header, cookie, subprotocol_prefix or "
                "query_param, got none"
            )
        if realm is not None and (not isinstance(realm, str) or not _QUOTABLE.fullmatch(realm)):
            raise ConfigError(
                f"bearer_auth expected a realm of printable ASCII without quotes or "
                f"backslashes, got {realm!r}"
            )
        self.verify = verify
        self.scope_key = scope_key
        self.header = header.lower() if header is not None else None
        self.cookie = cookie
        self.subprotocol_prefix = subprotocol_prefix
        self.query_param = query_param
        self.realm = realm

    async def __call__(self, scope: Scope) -> Denial | None:
        found = find_token(
            scope,
            header=self.header,
            cookie=self.cookie,
            subprotocol_prefix=self.subprotocol_prefix,
            query_param=self.query_param,
        )
        path = scope.get("path", "?")
        if found is None:
            logger.info("refused %s: no bearer token", path)
            return ws_deny(401, MISSING, {"www-authenticate": challenge(self.realm)})
        source, token = found
        if source == "subprotocol":  # later code (a logger, a handler) never sees the token
            prefix = self.subprotocol_prefix or ""
            scope["subprotocols"] = [
                name
                for name in scope.get("subprotocols") or ()
                if not (isinstance(name, str) and name.startswith(prefix))
            ]
        identity = None
        if token:
            identity = self.verify(token)  # an exception refuses with 500 and is logged
            if inspect.isawaitable(identity):
                identity = await identity
        if identity is None:
            logger.info("refused %s: invalid bearer token (from the %s)", path, source)
            return ws_deny(
                401, INVALID, {"www-authenticate": challenge(self.realm, "invalid_token")}
            )
        scope[self.scope_key] = identity
        return None

    def __repr__(self) -> str:
        options = [callable_name(self.verify)]
        defaults: dict[str, Any] = {
            "scope_key": "user",
            "header": "authorization",
            "cookie": None,
            "subprotocol_prefix": None,
            "query_param": None,
            "realm": "shallot_ws",
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                options.append(f"{name}={value!r}")
        return f"bearer_auth({', '.join(options)})"


def bearer_auth(
    verify: Verify,
    *,
    scope_key: str = "user",
    header: str | None = "authorization",
    cookie: str | None = None,
    subprotocol_prefix: str | None = None,
    query_param: str | None = None,
    realm: str | None = "shallot_ws",
) -> BearerAuth:
    """A guard that verifies a bearer token and puts the identity into ``scope[scope_key]``.

    ``verify(token)``, a plain or a coroutine function, returns the identity (any object but
    ``None``) or ``None`` for a token it does not accept. It is not called for an empty token.
    No token refuses with ``ws_deny(401, "authentication required")``, a rejected one with
    ``ws_deny(401, "invalid token")``, both with a ``WWW-Authenticate: Bearer realm="..."``
    header (``error="invalid_token"`` for the second). If ``verify`` raises, the handshake
    logs the exception and refuses with 500. Refusals are logged at INFO on the ``shallot_ws``
    logger, never with the token. A plain ``verify`` runs in the event loop: keep it fast.
    """
    return BearerAuth(
        verify,
        scope_key=scope_key,
        header=header,
        cookie=cookie,
        subprotocol_prefix=subprotocol_prefix,
        query_param=query_param,
        realm=realm,
    )
