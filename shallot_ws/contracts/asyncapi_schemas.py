"""``components.schemas`` of the AsyncAPI document: JSON Schema as AsyncAPI takes it
(``asyncapi_schema``), one namespace of schema names (``Schemas``), and the messages of a
contract's types with their payloads (``messages_of``, ``binding_schema``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .codecs import kinds_of, make_codec, type_name
from .contract import Contract

__all__ = [
    "ERROR_REPLY",
    "ERROR_REPLY_SCHEMA",
    "MSGPACK",
    "REF_TEMPLATE",
    "Schemas",
    "asyncapi_schema",
    "binding_schema",
    "identifier",
    "messages_of",
]

REF_TEMPLATE = "#/components/schemas/{name}"
MSGPACK = "application/msgpack"
ERROR_REPLY = "ErrorReply"  # the message (and schema) of on_invalid="reply"

ERROR_REPLY_SCHEMA: dict[str, Any] = {
    "title": ERROR_REPLY,
    "description": "The answer to a frame that is not one of the declared messages; "
    "the connection stays open.",
    "type": "object",
    "properties": {"type": {"enum": ["error"]}, "error": {"type": "string"}},
    "required": ["type", "error"],
}
_NAME = re.compile(r"[^\w.\-]+")


def identifier(text: str) -> str:
    """A channel or component key: letters, digits, ``_``, ``.`` and ``-``."""
    return _NAME.sub("-", text).strip("-") or "root"


class Schemas:
    """``components.schemas``, filled route by route; a name that comes twice with two
    different schemas is a ``ConfigError`` naming both owners."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}
        self._owners: dict[str, str] = {}

    def add(self, name: str, schema: Any, owner: str) -> None:
        schema = asyncapi_schema(schema)
        known = self.found.get(name)
        if known is None:
            self.found[name] = schema
            self._owners[name] = owner
        elif known != schema:
            raise ConfigError(
                f"asyncapi: {self._owners[name]} and {owner} declare two types named "
                f"{name!r} with different schemas: rename one of them"
            )

    def ref(self, name: str) -> dict[str, str]:
        """A reference to the schema ``name``."""
        return {"$ref": REF_TEMPLATE.format(name=name)}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_VALUES = ("enum", "const", "default", "examples", "required")


def asyncapi_schema(schema: Any) -> Any:
    """A JSON Schema as AsyncAPI's Schema Object takes it: its ``discriminator`` is the
    property's name, where msgspec and pydantic write OpenAPI's object
    (``{"propertyName": "type", "mapping": ...}``)."""
    if isinstance(schema, list):
        return [asyncapi_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "discriminator" and isinstance(value, dict) and "propertyName" in value:
            converted[key] = value["propertyName"]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            converted[key] = {name: asyncapi_schema(item) for name, item in value.items()}
        elif key in _VALUES:
            converted[key] = value
        else:
            converted[key] = asyncapi_schema(value)
    return converted


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    """The component a schema is only a reference to, if it is one."""
    ref = schema.get("$ref")
    prefix = REF_TEMPLATE.format(name="")
    if len(schema) == 1 and isinstance(ref, str) and ref.startswith(prefix):
        return ref[len(prefix) :]
    return None


def messages_of(
    kind: Any, contract: Contract, schemas: Schemas, owner: str
) -> dict[str, dict[str, Any]]:
    """One message per member of ``kind``, named after it, its payload a ``$ref``."""
    found: dict[str, dict[str, Any]] = {}
    for member in kinds_of(kind):
        codec = make_codec(member, contract.mode, owner)
        top, components = codec.schema(REF_TEMPLATE)
        for component, schema in components.items():
            schemas.add(component, schema, owner)
        name = _ref_name(top)
        if name is None:  # not a named type (str, list[int]): named after its type here
            name = identifier(member.__name__ if isinstance(member, type) else type_name(member))
            schemas.add(name, top, owner)
        message: dict[str, Any] = {"name": name, "payload": schemas.ref(name)}
        if contract.mode == "binary":
            message["contentType"] = MSGPACK
        found[name] = message
    return found


def binding_schema(kind: Any, contract: Contract, schemas: Schemas, owner: str) -> Any:
    """The inline object schema of a ``query`` or ``headers`` type (the binding asks for
    ``type: object`` with ``properties``); the types it refers to go to the components."""
    top, components = make_codec(kind, "text", owner).schema(REF_TEMPLATE)
    name = _ref_name(top)
    if name is not None:
        top = components.pop(name)
    if not isinstance(top, dict) or top.get("type") != "object" or "properties" not in top:
        raise ConfigError(
            f"asyncapi: {owner} expected an object type (a TypedDict, Struct, dataclass or "
            f"model), got {type_name(kind)}"
        )
    for other, schema in components.items():
        schemas.add(other, schema, owner)
    return asyncapi_schema(top)
