"""Reading the declared message types: the typing forms around an annotation, the fields of
a message class (msgspec Struct, dataclass, ``TypedDict``, pydantic model), the bounds set on
a field, and the tag that tells the kinds of a union apart.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args, get_origin

__all__ = [
    "WRAPPERS",
    "Field",
    "array_like",
    "bounds_of",
    "fields_of",
    "is_model",
    "is_struct",
    "is_union",
    "optional_msgspec",
    "special_forms",
    "tag_of",
]

_SIZE_BOUNDS = ("min_length", "max_length")
_BOUNDS = ("gt", "ge", "lt", "le", "multiple_of", "pattern", *_SIZE_BOUNDS)


def special_forms(name: str) -> tuple[Any, ...]:
    """A special form of ``typing`` (and of ``typing_extensions``, if there), by name."""
    found = [getattr(typing, name, None)]
    try:
        import typing_extensions
    except ImportError:  # pragma: no cover - pydantic and mypy bring it
        pass
    else:
        found.append(getattr(typing_extensions, name, None))
    return tuple(form for form in found if form is not None)


WRAPPERS = special_forms("Required") + special_forms("NotRequired") + special_forms("ReadOnly")


def is_union(kind: Any) -> bool:
    """Whether ``kind`` is a union (``A | B`` or ``Union[A, B]``)."""
    import types

    return get_origin(kind) in (typing.Union, types.UnionType)


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a message class, as the strategies need it."""

    argument: str  # the name the constructor takes
    wire: str  # the key on the wire
    annotation: Any
    required: bool
    bounds: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # pydantic's Field()


def optional_msgspec() -> Any:
    """The ``msgspec`` module, or ``None`` when it is not installed."""
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec


def is_struct(kind: Any) -> bool:
    """Whether ``kind`` is a msgspec ``Struct`` class."""
    msgspec = optional_msgspec()
    return msgspec is not None and isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def is_model(kind: Any) -> bool:
    """Whether ``kind`` is a pydantic model class."""
    try:
        import pydantic
    except ImportError:
        return False
    return isinstance(kind, type) and issubclass(kind, pydantic.BaseModel)


def fields_of(kind: type) -> list[Field]:
    """The fields of a message class, in order; none for other kinds."""
    if is_struct(kind):
        return [
            Field(info.name, info.encode_name, info.type, info.required)
            for info in optional_msgspec().structs.fields(kind)
        ]
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        return [
            Field(
                item.name,
                item.name,
                hints[item.name],
                item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING,
            )
            for item in dataclasses.fields(kind)
            if item.init
        ]
    if typing.is_typeddict(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        required = getattr(kind, "__required_keys__", frozenset(hints))
        return [
            Field(name, name, hint, _required_key(name in required, hint))
            for name, hint in hints.items()
        ]
    if is_model(kind):
        found = []
        for name, info in kind.model_fields.items():  # type: ignore[attr-defined]
            key = info.alias or name
            bounds = bounds_of(info.metadata)
            found.append(Field(key, key, info.annotation, info.is_required(), bounds))
        return found
    return []


def _required_key(required: bool, hint: Any) -> bool:
    """Whether a ``TypedDict`` key is required: ``Required[...]`` and ``NotRequired[...]``
    decide (string annotations hide them from ``__required_keys__``), else the class."""
    while get_origin(hint) is typing.Annotated:
        hint = get_args(hint)[0]
    origin = get_origin(hint)
    if origin is not None and origin in special_forms("Required"):
        return True
    if origin is not None and origin in special_forms("NotRequired"):
        return False
    return required


def array_like(kind: Any) -> bool:
    """Whether ``kind`` is a Struct sent as an array (``array_like=True``), not an object."""
    return is_struct(kind) and bool(kind.__struct_config__.array_like)


def bounds_of(metadata: Iterable[Any]) -> dict[str, Any]:
    """Bounds from ``msgspec.Meta``, annotated-types (``Ge``, ``MaxLen``, ``Interval``...)
    and pydantic's ``Field(...)``: whichever of gt, ge, lt, le, multiple_of, min_length,
    max_length and pattern they set."""
    found: dict[str, Any] = {}
    for item in metadata:
        nested = getattr(item, "metadata", None)  # a pydantic FieldInfo
        if isinstance(nested, list):
            found.update(bounds_of(nested))
        for name in _BOUNDS:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                found[name] = value
    return found


def tag_of(kind: Any, kinds: tuple[Any, ...]) -> tuple[str, dict[Any, Any]] | None:
    """The tag of the declared kinds, if they have one: its key on the wire and each kind's
    value (msgspec Struct tags, or a pydantic union's ``discriminator``)."""
    structs = [k for k in kinds if is_struct(k) and k.__struct_config__.tag is not None]
    if structs:
        return structs[0].__struct_config__.tag_field, {k: k.__struct_config__.tag for k in structs}
    if get_origin(kind) is typing.Annotated:
        for meta in kind.__metadata__:
            key = getattr(meta, "discriminator", None)
            if isinstance(key, str):
                tags = {}
                for model in kinds:
                    field = getattr(model, "model_fields", {}).get(key)
                    if field is not None and get_origin(field.annotation) is Literal:
                        tags[model] = get_args(field.annotation)[0]
                return (key, tags) if tags else None
    return None
