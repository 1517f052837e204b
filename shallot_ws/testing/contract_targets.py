"""What the contract strategies are drawn for: the contract of a target (a ``Contract``, an
app or handler that has one, or a type), the codec of one of its sides, and the names of the
kinds it declares.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

from ..contracts import Contract, contract, contract_of
from ..contracts.codecs import Codec, type_name

__all__ = ["Side", "codec_for", "contract_for", "declared", "kind_name", "kind_of"]

Side = Literal["receives", "sends"]


def codec_for(target: Any, side: Side = "receives") -> Codec:
    """The codec of one side of a contract: ``target`` is a ``Contract``, an app or handler
    that has one (``contract_of``), or a type (the codec of ``contract(receives=target)``).
    Raises ``ValueError`` when that side is not declared."""
    return declared(target, side)[0]


def declared(target: Any, side: Side) -> tuple[Codec, bool]:
    """The codec of one side of a contract, and whether it speaks text frames."""
    if side not in ("receives", "sends"):
        raise ValueError(f"expected side 'receives' or 'sends', got {side!r}")
    found = contract_for(target)
    codec = found.receive_codec if side == "receives" else found.send_codec
    if codec is None:
        raise ValueError(f"{found!r} declares no {side} type: nothing to draw")
    return codec, found.mode == "text"


def contract_for(target: Any) -> Contract:
    """``target`` if it is a ``Contract``, the contract of an app or handler
    (``contract_of``), or ``contract(receives=target)`` for a type."""
    if isinstance(target, Contract):
        return target
    found = contract_of(target)
    if found is not None:
        return found
    return contract(receives=target)  # a type: a ConfigError names it if it is none


def kind_name(kind: Any) -> str:
    """A short name of a declared kind: the class's name (``Rename``), or the type as
    written (``list[int]``)."""
    if isinstance(kind, type):
        return kind.__name__
    return type_name(kind)


def kind_of(value: Any, kinds: Iterable[Any]) -> Any:
    """The declared kind ``value`` is an object of (the first that fits), or ``None``."""
    for kind in kinds:
        if isinstance(kind, type) and typing.is_typeddict(kind):
            if isinstance(value, dict):
                return kind
        elif isinstance(kind, type):
            if isinstance(value, kind):
                return kind
        elif get_origin(kind) is Literal and value in get_args(kind):
            return kind
    return None
