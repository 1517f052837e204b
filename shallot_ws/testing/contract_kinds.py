"""A strategy for each kind of a declared type, built from its annotations.

A declared type is split into its kinds (the members of a union); each kind gets a strategy
built from its fields' annotations: msgspec Structs (their tags come with the class),
dataclasses, ``TypedDict`` and pydantic models, nested at will; fields with a default are
sometimes left out. The leaves come from ``contract_leaves``; anything else goes to
``st.from_type``: register a strategy for a type of your own there.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import typing
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st

from ..contracts.codecs import Codec, kinds_of
from .contract_fields import WRAPPERS, bounds_of, fields_of, is_model, is_struct, is_union
from .contract_leaves import (
    ITEMS,
    TEXT_SIZE,
    bounded_floats,
    bounded_integers,
    bounded_sizes,
    bounded_texts,
    json_values,
)

__all__ = ["kind_strategies"]


def kind_strategies(codec: Codec) -> dict[Any, st.SearchStrategy[Any]]:
    """A strategy for each kind of the codec's type (each member of a union)."""
    builder = _Builder(pydantic=codec.backend == "pydantic")
    return {kind: builder.strategy(kind) for kind in kinds_of(codec.type)}


class _Builder:
    """Strategies for annotations; classes built once (recursive ones deferred)."""

    def __init__(self, *, pydantic: bool) -> None:
        self.pydantic = pydantic
        self.classes: dict[type, st.SearchStrategy[Any] | None] = {}

    def strategy(self, kind: Any, bounds: Mapping[str, Any] | None = None) -> Any:
        bounds = bounds or {}
        origin, args = get_origin(kind), get_args(kind)
        if origin is typing.Annotated:
            return self.strategy(args[0], {**bounds, **bounds_of(kind.__metadata__)})
        if origin in WRAPPERS:  # Required[...], NotRequired[...], ReadOnly[...]
            return self.strategy(args[0], bounds)
        if kind is Any or kind is object:
            return json_values()
        if kind is None or kind is type(None):
            return st.none()
        if origin is Literal:
            return st.sampled_from(args)
        if is_union(kind):
            return st.one_of(*(self.strategy(arg, bounds) for arg in args))
        supertype = getattr(kind, "__supertype__", None)  # a NewType
        if supertype is not None:
            return self.strategy(supertype, bounds)
        if origin is not None:
            return self.generic(origin, args, bounds)
        if isinstance(kind, type):
            return self.class_strategy(kind, bounds)
        return st.from_type(kind)

    def generic(self, origin: Any, args: tuple[Any, ...], bounds: Mapping[str, Any]) -> Any:
        least, most = bounded_sizes(bounds, ITEMS)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return st.lists(self.strategy(args[0]), min_size=least, max_size=most).map(tuple)
            if args == ((),):
                return st.just(())
            return st.tuples(*(self.strategy(arg) for arg in args))
        if _subclass(origin, Mapping):
            key, value = args or (str, Any)
            keys, values = self.strategy(key), self.strategy(value)
            return st.dictionaries(keys, values, min_size=least, max_size=most)
        item = self.strategy(args[0]) if args else json_values()
        if origin is frozenset:
            return st.frozensets(item, min_size=least, max_size=most)
        if _subclass(origin, AbstractSet):
            return st.sets(item, min_size=least, max_size=most)
        if _subclass(origin, Sequence):
            return st.lists(item, min_size=least, max_size=most)
        return st.from_type(origin[args] if args else origin)

    def class_strategy(self, kind: type, bounds: Mapping[str, Any]) -> Any:
        if issubclass(kind, enum.Enum):
            return st.sampled_from(list(kind))
        if kind is bool:
            return st.booleans()
        if kind is int:
            return bounded_integers(bounds)
        if kind is float:
            return bounded_floats(bounds)
        if kind is str:
            return bounded_texts(bounds)
        if kind in (bytes, bytearray):
            least, most = bounded_sizes(bounds, TEXT_SIZE)
            if self.pydantic:  # pydantic writes bytes as UTF-8 text: ASCII, one byte each
                ascii_text = st.text(st.characters(codec="ascii"), min_size=least, max_size=most)
                return ascii_text.map(str.encode)
            return st.binary(min_size=least, max_size=most).map(kind)
        if kind is decimal.Decimal:
            return st.decimals(allow_nan=False, allow_infinity=False, places=6)
        if kind in (list, set, frozenset, tuple, dict):
            return self.generic(kind, (), bounds)
        if is_struct(kind) or dataclasses.is_dataclass(kind) or typing.is_typeddict(kind):
            return self.built(kind)
        if is_model(kind):
            return self.built(kind)
        return st.from_type(kind)

    def built(self, kind: type) -> st.SearchStrategy[Any]:
        """The strategy of a class with fields; a class inside itself is deferred."""
        if kind not in self.classes:
            self.classes[kind] = None  # being built: a field refers back to it
            self.classes[kind] = self.fields(kind)
        known = self.classes[kind]
        if known is None:
            return st.deferred(lambda: typing.cast(st.SearchStrategy[Any], self.classes[kind]))
        return known

    def fields(self, kind: type) -> st.SearchStrategy[Any]:
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for field in fields_of(kind):
            into = required if field.required else optional
            into[field.argument] = self.strategy(field.annotation, field.bounds)
        drawn = st.fixed_dictionaries(required, optional=optional)
        if typing.is_typeddict(kind):
            return drawn
        return drawn.map(lambda arguments: kind(**arguments))


def _subclass(origin: Any, base: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, base)
