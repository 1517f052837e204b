"""Codecs for declared message types: msgspec (the fast path) or pydantic v2, chosen per type.

A ``Codec`` decodes a client frame into the declared type (or raises ``InvalidFrame`` with a
short reason that names the field and what was expected, never the client's value), encodes
what a handler yields, checks an object against the type, and gives its JSON Schema. msgspec
handles ``msgspec.Struct``, dataclasses, ``TypedDict``, builtins and tagged unions of them;
pydantic handles ``BaseModel`` subclasses and unions of them with a discriminator. Both are
optional: the first use names the extra to install.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from ..errors import ConfigError, InvalidMessage
from ..types import Frame

__all__ = [
    "Codec",
    "ContractViolation",
    "InvalidFrame",
    "Mode",
    "REASON_LIMIT",
    "kinds_of",
    "make_codec",
    "type_name",
]

Mode = Literal["text", "binary"]
REASON_LIMIT = 123  # a close reason's bytes (RFC 6455)
_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")  # fields and indexes only


class InvalidFrame(InvalidMessage):
    """A client frame that is not one of the declared messages; ``reason`` is short, names
    the field and what was expected, and never holds the client's value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContractViolation(InvalidMessage):
    """A handler yielded an object that does not match its contract's ``sends`` type."""


class Codec(Protocol):
    """How one declared type crosses the wire."""

    backend: str  # "msgspec" or "pydantic"
    type: Any

    def decode(self, frame: Frame) -> Any:
        """The declared object a frame holds; raises ``InvalidFrame``."""
        ...

    def encode(self, value: Any) -> Frame:
        """The frame for ``value`` (``str`` in text mode, ``bytes`` in binary)."""
        ...

    def check(self, value: Any) -> str | None:
        """Why ``value`` does not match the declared type, or ``None`` if it does."""
        ...

    def schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON Schema of the type and the named schemas it refers to."""
        ...


def type_name(kind: Any) -> str:
    """A readable name of a declared type (``Join | Say``)."""
    if isinstance(kind, type):
        return kind.__qualname__
    return re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(kind).replace("typing.", ""))


def kinds_of(kind: Any) -> tuple[Any, ...]:
    """The members of a union (``Annotated`` unwrapped), or the type alone."""
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return tuple(typing.get_args(kind))
    return (kind,)


def _is_pydantic(kind: Any) -> bool:
    try:
        import pydantic
    except ImportError:
        return False
    return any(isinstance(k, type) and issubclass(k, pydantic.BaseModel) for k in kinds_of(kind))


def make_codec(kind: Any, mode: Mode, where: str) -> Codec:
    """The codec for ``kind``: pydantic for models, msgspec for everything else. Raises
    ``ConfigError`` naming ``where`` and the type when the type cannot be a message."""
    if _is_pydantic(kind):
        if mode != "text":
            raise ConfigError(
                f"{where} expected msgspec types for binary (MessagePack) frames, got the "
                f"pydantic type {type_name(kind)}: use mode='text'"
            )
        return _PydanticCodec(kind, where)
    try:
        import msgspec  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{where} needs msgspec for {type_name(kind)}: pip install 'shallot_ws[typed]'"
        ) from None
    return _MsgspecCodec(kind, mode, where)


def _limit(reason: str) -> str:
    data = reason.encode()
    if len(data) <= REASON_LIMIT:
        return reason
    return data[: REASON_LIMIT - 3].decode("utf-8", "ignore") + "..."


def _at(path: str) -> str:
    return path if _PATH.match(path) else "$"


def msgspec_reason(text: str) -> str:
    """A safe reason from a msgspec validation message: types, field names and paths from
    the declaration are kept; values the client sent are not."""
    message, _, where = text.partition(" - at `")
    path = _at(where.rstrip("`")) if where else "$"
    if message.startswith("Expected `"):  # types and constraints of the declaration only
        return _limit(f"{path}: e{message[1:].replace('`', '')}")
    missing = re.match(r"^Object missing required field `([A-Za-z_][A-Za-z0-9_]*)`$", message)
    if missing:
        return _limit(f"{path}: missing field {missing[1]}")
    if message.startswith("Invalid enum value") or message.startswith("Invalid value"):
        return _limit(f"{path}: not one of the declared values")
    if message.startswith("Object contains unknown field"):
        return _limit(f"{path}: unknown field")
    return _limit(f"{path}: invalid value")


class _MsgspecCodec:
    """msgspec: JSON text frames, or MessagePack binary frames."""

    backend = "msgspec"

    def __init__(self, kind: Any, mode: Mode, where: str) -> None:
        import msgspec

        self.type = kind
        self._text = mode == "text"
        module = msgspec.json if self._text else msgspec.msgpack
        try:
            self._decoder: Any = module.Decoder(kind)
            self._encoder: Any = module.Encoder()
            if self._text:
                msgspec.json.schema_components([kind])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} cannot use {type_name(kind)}: {exc}") from None
        self._validation = msgspec.ValidationError
        self._decode_error = msgspec.DecodeError
        self._frame = str if self._text else bytes

    def decode(self, frame: Frame) -> Any:
        if type(frame) is not self._frame:
            raise InvalidFrame("expected a text frame" if self._text else "expected a binary frame")
        try:
            return self._decoder.decode(frame)
        except self._validation as exc:
            raise InvalidFrame(msgspec_reason(str(exc))) from None
        except self._decode_error:
            raise InvalidFrame("invalid JSON" if self._text else "invalid MessagePack") from None

    def encode(self, value: Any) -> Frame:
        data: bytes = self._encoder.encode(value)
        return data.decode() if self._text else data

    def check(self, value: Any) -> str | None:
        try:
            self._decoder.decode(self._encoder.encode(value))
        except self._validation as exc:
            return str(exc)
        except (TypeError, self._decode_error) as exc:
            return str(exc)
        return None

    def schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        import msgspec

        (top,), components = msgspec.json.schema_components([self.type], ref_template=ref_template)
        return top, components


def _pydantic_reason(errors: Sequence[Mapping[str, Any]]) -> str:
    """A safe reason from pydantic's first error: its location and a message that holds no
    input (pydantic's "Input should be ..." and "Field required" do not)."""
    first = errors[0]
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    path = _at(path)
    kind, message = first["type"], first["msg"]
    if kind == "missing":
        return _limit(f"{path}: missing field")
    if kind in ("json_invalid", "json_type"):
        return "invalid JSON"
    if kind.startswith("union_tag"):
        return _limit(f"{path}: not one of the declared kinds")
    if message.startswith("Input should be"):
        return _limit(f"{path}: {message[0].lower()}{message[1:]}")
    return _limit(f"{path}: {kind}")


class _PydanticCodec:
    """pydantic v2: JSON text frames through a ``TypeAdapter``."""

    backend = "pydantic"

    def __init__(self, kind: Any, where: str) -> None:
        import pydantic

        self.type = kind
        members = [k for k in kinds_of(kind) if isinstance(k, type)]
        models = [k for k in members if issubclass(k, pydantic.BaseModel)]
        if len(models) > 1 and not _has_discriminator(kind):
            raise ConfigError(
                f"{where} cannot use {type_name(kind)}: a union of models needs a tag, "
                "Annotated[A | B, pydantic.Field(discriminator='type')]"
            )
        try:
            self._adapter: Any = pydantic.TypeAdapter(kind)
            self._adapter.json_schema()
        except (
            TypeError,
            pydantic.PydanticUserError,
            pydantic.PydanticSchemaGenerationError,
        ) as exc:
            raise ConfigError(f"{where} cannot use {type_name(kind)}: {exc}") from None
        self._error = pydantic.ValidationError

    def decode(self, frame: Frame) -> Any:
        if type(frame) is not str:
            raise InvalidFrame("expected a text frame")
        try:
            return self._adapter.validate_json(frame)
        except self._error as exc:
            raise InvalidFrame(_pydantic_reason(exc.errors(include_input=False))) from None

    def encode(self, value: Any) -> Frame:
        data: bytes = self._adapter.dump_json(value, by_alias=True, warnings=False)
        return data.decode()

    def check(self, value: Any) -> str | None:
        try:
            self._adapter.validate_json(
                self._adapter.dump_json(value, by_alias=True, warnings=False)
            )
        except self._error as exc:
            return _pydantic_reason(exc.errors(include_input=False))
        except Exception as exc:  # not serialisable as the type at all
            return str(exc)
        return None

    def schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        template = ref_template.replace("{name}", "{model}")
        top = dict(self._adapter.json_schema(ref_template=template))
        components = top.pop("$defs", {})
        if "title" in top and "properties" in top:  # one model: named, by reference
            name = top["title"]
            components[name] = top
            top = {"$ref": ref_template.format(name=name)}
        return top, components


def _has_discriminator(kind: Any) -> bool:
    if typing.get_origin(kind) is not typing.Annotated:
        return False
    return any(getattr(meta, "discriminator", None) for meta in typing.get_args(kind)[1:])


def is_declarable(kind: Any) -> bool:
    """Whether ``kind`` looks like a message type (a class, a union, an annotated type)."""
    return (
        isinstance(kind, type)
        or dataclasses.is_dataclass(kind)
        or typing.get_origin(kind) is not None
    )
