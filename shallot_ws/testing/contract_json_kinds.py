"""What a field cannot take: the JSON types a value of an annotation may come as
(``accepts``), and values of the other JSON types to put in its place (``wrong_values``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import typing
import uuid
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st

from .contract_fields import WRAPPERS, array_like, is_model, is_struct, is_union, optional_msgspec
from .contract_leaves import CHARACTERS

__all__ = ["JSON_KINDS", "accepts", "wrong_values"]

# The JSON types of a value; a field's annotation takes some. The lists below over-count on
# purpose (pydantic's lax mode takes 1.0 for an int, "true" for a bool), so that a value of a
# type not listed is refused by msgspec and pydantic alike.
JSON_KINDS = frozenset({"string", "int", "float", "bool", "null", "array", "object"})
_NUMBERS = frozenset({"int", "float", "bool"})
_SCALARS: dict[Any, frozenset[str]] = {
    str: frozenset({"string"}),
    bytes: frozenset({"string"}),
    bytearray: frozenset({"string"}),
    bool: _NUMBERS,
    int: _NUMBERS,
    float: _NUMBERS,
    decimal.Decimal: _NUMBERS | {"string"},
    datetime.datetime: frozenset({"string", "int", "float"}),
    datetime.date: frozenset({"string", "int", "float"}),
    datetime.time: frozenset({"string", "int", "float"}),
    datetime.timedelta: frozenset({"string", "int", "float"}),
    uuid.UUID: frozenset({"string"}),
}


def accepts(kind: Any) -> frozenset[str]:
    """The JSON types a value of ``kind`` may come as (all of them when not known)."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is typing.Annotated or origin in WRAPPERS:
        return accepts(args[0])
    if kind is None or kind is type(None):
        return frozenset({"null"})
    if origin is Literal:
        return frozenset().union(*(accepts(type(arg)) for arg in args))
    if is_union(kind):
        return frozenset().union(*(accepts(arg) for arg in args))
    supertype = getattr(kind, "__supertype__", None)
    if supertype is not None:
        return accepts(supertype)
    if origin is not None:
        kind = origin
    msgspec = optional_msgspec()
    if msgspec is not None and kind is msgspec.UnsetType:
        return frozenset()
    if not isinstance(kind, type):
        return JSON_KINDS
    if issubclass(kind, enum.Enum):
        return frozenset().union(*(accepts(type(member.value)) for member in kind))
    for scalar, accepted in _SCALARS.items():
        if issubclass(kind, scalar):
            return accepted
    if array_like(kind):
        return frozenset({"array"})
    if is_struct(kind) or dataclasses.is_dataclass(kind) or is_model(kind):
        return frozenset({"object"})
    if typing.is_typeddict(kind) or issubclass(kind, Mapping):
        return frozenset({"object"})
    if issubclass(kind, (Sequence, AbstractSet)):  # str and bytes are scalars, above
        return frozenset({"array"})
    return JSON_KINDS


def wrong_values(json_kind: str) -> st.SearchStrategy[Any]:
    """Values of one JSON type, to put where that type is wrong."""
    if json_kind == "string":
        return st.text(CHARACTERS, max_size=8).map(lambda text: f"bad-value-{text}")
    if json_kind == "int":
        return st.integers(-1000, 1000)
    if json_kind == "float":
        return st.integers(-1000, 1000).map(lambda number: number + 0.5)
    if json_kind == "bool":
        return st.booleans()
    if json_kind == "null":
        return st.none()
    if json_kind == "array":
        return st.lists(st.integers(0, 9), max_size=3)
    return st.dictionaries(st.sampled_from(("bad", "key")), st.integers(0, 9), max_size=2)
