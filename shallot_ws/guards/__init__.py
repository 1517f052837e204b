"""Handshake guards: decisions made before the accept, one module each.

``chain`` (``guarded``: guards in order as one ``on_connect``), ``origin``
(``allow_origins``), ``auth`` (``bearer_auth``), ``subprotocols`` (``select_subprotocol``).
"""

from __future__ import annotations

from .auth import BearerAuth, bearer_auth, challenge, find_token, parse_bearer
from .chain import guarded
from .origin import OriginGuard, OriginPattern, allow_origins, origin_allowed, parse_origin
from .subprotocols import SubprotocolSelector, choose_subprotocol, select_subprotocol

__all__ = [
    "BearerAuth",
    "OriginGuard",
    "OriginPattern",
    "SubprotocolSelector",
    "allow_origins",
    "bearer_auth",
    "challenge",
    "choose_subprotocol",
    "find_token",
    "guarded",
    "origin_allowed",
    "parse_bearer",
    "parse_origin",
    "select_subprotocol",
]
