"""Scope helpers: pure functions that read the ASGI connection scope, no I/O.

``headers(scope)`` and ``query_params(scope)`` return an immutable ``MultiDict``: a name may
come several times, ``get`` and ``[]`` give its first value, ``getall`` every value, and
``items()`` every ``(name, value)`` pair in the order received (like aiohttp's multidict).
``cookies(scope)``, ``url(scope)`` and ``client(scope)`` return plain values. None of them
raises on what a client can send: what cannot be read is skipped or replaced.

Header values are decoded as latin-1, which maps every byte to one character and never
fails; a value a client sent in UTF-8 comes back with ``value.encode("latin-1").decode()``.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Any, TypeVar, overload
from urllib.parse import quote, unquote_to_bytes

from .types import Scope

__all__ = ["MultiDict", "client", "cookies", "headers", "query_params", "url"]

_MISSING: Any = object()
_T = TypeVar("_T")


class MultiDict(Mapping[str, str]):
    """An immutable mapping of ``str`` names to ``str`` values where a name may repeat.

    ``md[name]`` and ``md.get(name)`` give the first value; ``md.getall(name)`` (alias
    ``getlist``) every value in order. ``len``, iteration, ``keys()``, ``values()`` and
    ``items()`` count every pair, repeated names included. With ``case_insensitive=True``
    (headers) names are stored lowercased and looked up in any case.
    """

    __slots__ = ("_case_insensitive", "_index", "_pairs")

    def __init__(
        self, pairs: Iterable[tuple[str, str]] = (), *, case_insensitive: bool = False
    ) -> None:
        if isinstance(pairs, Mapping):
            pairs = pairs.items()
        stored: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(
                    f"MultiDict expected (str, str) pairs, got "
                    f"({type(name).__name__}, {type(value).__name__})"
                )
            if case_insensitive:
                name = name.lower()
            stored.append((name, value))
            index.setdefault(name, []).append(value)
        self._pairs = tuple(stored)
        self._index = {name: tuple(values) for name, values in index.items()}
        self._case_insensitive = case_insensitive

    def _key(self, name: str) -> str:
        return name.lower() if self._case_insensitive else name

    def __getitem__(self, name: str) -> str:
        values = self._index.get(self._key(name)) if isinstance(name, str) else None
        if values is None:
            raise KeyError(name)
        return values[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def values(self) -> ValuesView[str]:
        """Every value, in the order received."""
        return _Values(self)

    def items(self) -> ItemsView[str, str]:
        """Every ``(name, value)`` pair, in the order received."""
        return _Items(self)

    @overload
    def getall(self, name: str) -> list[str]: ...

    @overload
    def getall(self, name: str, default: _T) -> list[str] | _T: ...

    def getall(self, name: str, default: Any = _MISSING) -> Any:
        """Every value of ``name`` in order; ``default`` (or ``[]``) when it is absent."""
        values = self._index.get(self._key(name)) if isinstance(name, str) else None
        if values is None:
            return [] if default is _MISSING else default
        return list(values)

    getlist = getall

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._case_insensitive == other._case_insensitive and self._pairs == other._pairs
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._case_insensitive, self._pairs))

    def __repr__(self) -> str:
        flag = ", case_insensitive=True" if self._case_insensitive else ""
        return f"MultiDict({list(self._pairs)!r}{flag})"


# ``keys()`` is Mapping's own view: it iterates the names one per pair, like ``iter``. The
# values and items views must walk the pairs, or a repeated name would give its first
# value every time.


class _Values(ValuesView[str]):
    _mapping: MultiDict

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping._pairs)

    def __contains__(self, value: object) -> bool:
        return any(value == v for _, v in self._mapping._pairs)


class _Items(ItemsView[str, str]):
    _mapping: MultiDict

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._pairs)

    def __contains__(self, pair: object) -> bool:
        if self._mapping._case_insensitive and isinstance(pair, tuple) and len(pair) == 2:
            name, value = pair
            if isinstance(name, str):
                pair = (name.lower(), value)
        return pair in self._mapping._pairs


def _raw_headers(scope: Scope) -> Iterator[tuple[bytes, bytes]]:
    # The list is the server's (trusted to be iterable); the pairs in it are checked.
    for pair in scope.get("headers") or ():
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        if isinstance(name, (bytes, bytearray)) and isinstance(value, (bytes, bytearray)):
            yield bytes(name), bytes(value)


def headers(scope: Scope) -> MultiDict:
    """The request headers: a case-insensitive ``MultiDict``, values decoded as latin-1."""
    return MultiDict(
        ((name.decode("latin-1"), value.decode("latin-1")) for name, value in _raw_headers(scope)),
        case_insensitive=True,
    )


def _decode_component(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "replace")


def query_params(scope: Scope) -> MultiDict:
    """The query string's parameters, in order: ``&``-separated, ``+`` as a space,
    percent-decoded as UTF-8 (undecodable bytes become U+FFFD). A parameter without ``=``
    has the value ``""``; empty parts (``a=1&&b=2``) are skipped."""
    raw = scope.get("query_string") or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    pairs = []
    for part in bytes(raw).split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append((_decode_component(name), _decode_component(value)))
    return MultiDict(pairs)


def _cookie_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def cookies(scope: Scope) -> dict[str, str]:
    """The cookies of the ``Cookie`` header(s), name to value.

    A tolerant parser, like browsers and Go's ``net/http`` (not ``http.cookies``, which drops
    every cookie after a malformed one): ``;``-separated ``name=value`` pairs, whitespace
    stripped, one pair of surrounding double quotes removed, no other decoding. A part without
    ``=`` or with an empty name is skipped. A repeated name keeps its first value: browsers
    send the cookie with the most specific path first (RFC 6265, 5.4). Header values are
    decoded as UTF-8 (what browsers send), undecodable bytes as U+FFFD.
    """
    found: dict[str, str] = {}
    for name, value in _raw_headers(scope):
        if name.lower() != b"cookie":
            continue
        for part in value.decode("utf-8", "replace").split(";"):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if sep and key and key not in found:
                found[key] = _cookie_value(raw.strip())
    return found


_DEFAULT_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}
_SCHEMES = {"http": "ws", "https": "wss"}


def _host(scope: Scope, scheme: str) -> str | None:
    for name, value in _raw_headers(scope):
        if name.lower() == b"host":
            host = value.decode("latin-1").strip()
            if host:
                return host
            break
    server = scope.get("server")
    if not isinstance(server, (tuple, list)) or len(server) != 2:
        return None
    address, port = server
    if not isinstance(address, str) or not address:
        return None
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # an IPv6 address
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return address
    return f"{address}:{port}"


def _full_path(scope: Scope) -> str:
    path = scope.get("path") or "/"
    root = (scope.get("root_path") or "").rstrip("/")
    if root and not (path == root or path.startswith(root + "/")):
        path = root + path  # the server kept the mount point out of ``path``
    return path


def url(scope: Scope) -> str:
    """The URL the client connected to: ``ws://host/root_path/path?query``.

    The scheme is ``scope["scheme"]`` (``ws`` or ``wss``; ``http``/``https`` are mapped to
    them), the host the ``Host`` header, else ``scope["server"]`` (its port left out when it is
    the scheme's default). ``root_path`` is put before ``path`` unless ``path`` already starts
    with it (servers and frameworks differ on this). The path is percent-encoded again; the
    query string is kept as sent. Without a host the URL is relative: ``/path?query``.
    Both the ``Host`` header and the path come from the client: never trust them for security.
    """
    scheme = str(scope.get("scheme") or "ws").lower()
    scheme = _SCHEMES.get(scheme, scheme)
    path = quote(_full_path(scope), safe="/:@!$&'()*+,;=~")
    query = scope.get("query_string") or b""
    if isinstance(query, (bytes, bytearray)):
        query = bytes(query).decode("latin-1")
    if query:
        path = f"{path}?{query}"
    host = _host(scope, scheme)
    if host is None:
        return path
    return f"{scheme}://{host}{path}"


def client(scope: Scope) -> tuple[str, int] | None:
    """The client's ``(host, port)``, or ``None`` when the server does not know it (a Unix
    socket, a test). Behind a proxy this is the proxy's address unless the server was told
    to trust its forwarding headers."""
    value = scope.get("client")
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None
    host, port = value
    if not isinstance(host, str) or type(port) is not int:
        return None
    return (host, port)
