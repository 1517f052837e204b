"""Path patterns: compiling ``/rooms/{room}``, matching paths, building them back. Pure.

Syntax. A pattern is literal text with parameters in braces; it starts with ``/``:

=================  ==================================  ====================================
parameter          matches                             value in ``path_params``
=================  ==================================  ====================================
``{name}``         one segment: ``[^/]+``              ``str``
``{name:str}``     the same                            ``str``
``{name:int}``     digits: ``[0-9]+``                  ``int``
``{name:float}``   ``digits`` or ``digits.digits``     ``float``
``{name:uuid}``    ``8-4-4-4-12`` hex digits           ``uuid.UUID``
``{name:path}``    the rest, ``/`` included, maybe ""  ``str``
=================  ==================================  ====================================

Matching is exact: ``/echo`` matches ``/echo`` only, never ``/echo/``. A pattern matches the
*decoded* path the server puts into ``scope["path"]``; ``build`` goes the other way and returns
a percent-encoded URL path, so that a client sending it arrives at the same parameters.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .errors import RouteError, UrlForError

__all__ = ["CONVERTERS", "Converter", "Pattern", "build_path", "compile_pattern"]


class Converter:
    """How a typed parameter matches (``regex``), reads (``to_value``) and writes (``to_text``).

    ``to_text`` raises ``TypeError`` or ``ValueError`` whose text says what it expected.
    """

    __slots__ = ("name", "regex", "to_text", "to_value")

    def __init__(
        self,
        name: str,
        regex: str,
        to_value: Callable[[str], Any],
        to_text: Callable[[Any], str],
    ) -> None:
        self.name = name
        self.regex = regex
        self.to_value = to_value
        self.to_text = to_text


def _str_text(value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise ValueError("expected a non-empty str without '/'")
    return value


def _path_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a str")
    return value


def _int_text(value: Any) -> str:
    if type(value) is not int or value < 0:
        raise ValueError("expected a non-negative int")
    return str(value)


def _float_text(value: Any) -> str:
    if type(value) not in (int, float) or value < 0 or not math.isfinite(value):
        raise ValueError("expected a non-negative finite float")
    return format(Decimal(repr(value)), "f")  # never an exponent: 1e-07 -> 0.0000001


def _uuid_text(value: Any) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise ValueError("expected a uuid.UUID or its text") from None


_HEX = "[0-9a-fA-F]"
_UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
CONVERTERS: dict[str, Converter] = {
    "str": Converter("str", "[^/]+", str, _str_text),
    "int": Converter("int", "[0-9]+", int, _int_text),
    "float": Converter("float", r"[0-9]+(?:\.[0-9]+)?", float, _float_text),
    "uuid": Converter("uuid", _UUID, uuid.UUID, _uuid_text),
    "path": Converter("path", ".*", str, _path_text),
}

_PARAMETER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE = "!$&'()*+,;=:@-._~"  # RFC 3986 pchar, besides letters, digits and percent-escapes


class Pattern:
    """A compiled pattern: ``match`` a path, ``match_prefix`` for a mount, ``build`` a path.

    ``params`` lists the parameter names in order; ``static`` is true for a pattern without
    parameters, which matches by string equality alone.
    """

    __slots__ = ("_converters", "_parts", "_regex", "params", "source", "static")

    def __init__(
        self,
        source: str,
        regex: str,
        parts: list[tuple[str, Converter | None]],
        prefix: bool,
    ) -> None:
        self.source = source
        self._parts = parts  # literal text (converter None) and parameters, in order
        self.params = tuple(text for text, converter in parts if converter is not None)
        self.static = not self.params
        # Only the converted parameters need work after a match: str values are used as is.
        self._converters = [
            (text, converter.to_value)
            for text, converter in parts
            if converter is not None and converter.name not in ("str", "path")
        ]
        self._regex = re.compile(f"{regex}(?=/)" if prefix else f"{regex}\\Z", re.DOTALL)

    def match(self, path: str) -> dict[str, Any] | None:
        """The parameters, converted, if ``path`` matches the whole pattern; else ``None``."""
        if self.static:
            return {} if path == self.source else None
        found = self._regex.match(path)
        if found is None:
            return None
        params = found.groupdict()
        for name, to_value in self._converters:
            params[name] = to_value(params[name])
        return params

    def match_prefix(self, path: str) -> tuple[dict[str, Any], str] | None:
        """For a mount: the parameters and the text matched, if ``path`` starts with the
        pattern followed by ``/``; else ``None``."""
        found = self._regex.match(path)
        if found is None:
            return None
        params = found.groupdict()
        for name, to_value in self._converters:
            params[name] = to_value(params[name])
        return params, found.group()

    def build(self, params: Mapping[str, Any], where: str) -> str:
        """The percent-encoded path for ``params`` (every one of ``self.params``, checked by
        the caller); a value its converter cannot write raises ``UrlForError`` naming ``where``."""
        pieces = []
        for text, converter in self._parts:
            if converter is None:
                pieces.append(quote(text, safe=_SAFE + "/"))
                continue
            value = params[text]
            try:
                written = converter.to_text(value)
            except (TypeError, ValueError) as exc:
                raise UrlForError(f"{where}: parameter {text!r} {exc}, got {value!r}") from None
            pieces.append(quote(written, safe=_SAFE + "/" if converter.name == "path" else _SAFE))
        return "".join(pieces)

    def __repr__(self) -> str:
        return f"<Pattern {self.source!r}>"


def compile_pattern(source: str, *, prefix: bool = False, what: str = "route") -> Pattern:
    """Compile ``source``; raise ``RouteError`` naming it when it is malformed.

    With ``prefix`` the pattern is a mount's prefix: it may be empty, must not end with ``/``
    nor hold a ``path`` parameter, and matches the start of a path followed by ``/``.
    """
    if not isinstance(source, str):
        raise RouteError(f"{what} pattern expected a str, got {type(source).__name__}")
    if prefix:
        if source.endswith("/"):
            raise RouteError(
                f"{what} {source!r} must not end with '/': the mounted patterns start with one"
            )
        if source and not source.startswith("/"):
            raise RouteError(f"{what} {source!r} must start with '/' (or be '' for the root)")
    elif not source.startswith("/"):
        raise RouteError(f"{what} {source!r} must start with '/'")
    parts: list[tuple[str, Converter | None]] = []
    regex: list[str] = []
    seen: set[str] = set()
    position = 0
    for found in _PARAMETER.finditer(source):
        _literal(source, source[position : found.start()], parts, regex, what)
        name, _, kind = found.group(1).partition(":")
        if not _NAME.match(name):
            raise RouteError(
                f"{what} {source!r}: expected {{name}} or {{name:converter}}, got {found.group()!r}"
            )
        converter = CONVERTERS.get(kind or "str")
        if converter is None:
            raise RouteError(
                f"{what} {source!r}: unknown converter {kind!r} in {found.group()!r} "
                f"(expected one of {', '.join(CONVERTERS)})"
            )
        if name in seen:
            raise RouteError(f"{what} {source!r}: parameter {name!r} appears twice")
        if prefix and converter.name == "path":
            raise RouteError(f"{what} {source!r}: a mount prefix cannot hold a path parameter")
        seen.add(name)
        parts.append((name, converter))
        regex.append(f"(?P<{name}>{converter.regex})")
        position = found.end()
    _literal(source, source[position:], parts, regex, what)
    return Pattern(source, "".join(regex), parts, prefix)


def build_path(chain: Sequence[Pattern], params: Mapping[str, Any], where: str) -> str:
    """The percent-encoded path through ``chain`` (mount prefixes, then the route's pattern)
    for exactly the parameters the chain names; ``UrlForError`` naming ``where`` otherwise."""
    expected = [param for pattern in chain for param in pattern.params]
    missing = [param for param in expected if param not in params]
    extra = [param for param in params if param not in expected]
    if missing or extra:
        problems = [
            f"{label} {', '.join(map(repr, names))}"
            for label, names in (("missing", missing), ("unexpected", extra))
            if names
        ]
        source = "".join(pattern.source for pattern in chain)
        takes = ", ".join(map(repr, expected)) or "no parameters"
        raise UrlForError(f"{where}: {'; '.join(problems)} ({source!r} takes {takes})")
    return "".join(pattern.build(params, where) for pattern in chain)


def _literal(
    source: str,
    text: str,
    parts: list[tuple[str, Converter | None]],
    regex: list[str],
    what: str,
) -> None:
    if "{" in text or "}" in text:
        raise RouteError(f"{what} {source!r}: unbalanced brace in {text!r}")
    if text:
        parts.append((text, None))
        regex.append(re.escape(text))
