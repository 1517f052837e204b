"""Routing: one ASGI app that sends each WebSocket connection to the app its path names.

Theory of operation. ``router(table)`` compiles the table once. A ``websocket`` scope is
resolved before anything is read: the path under ``scope["root_path"]`` is looked up among
the exact patterns (a dict), then tried against the patterns with parameters and the mounts,
in table order. A mount resolves the rest of the path in its sub-router at once, so the
outermost router finds the leaf app and calls it with one new scope: ``path_params`` merged,
``root_path`` extended by the mount prefixes, and ``route`` set to the pattern matched (mount
prefixes included), a bounded name for logs and metrics. An unmatched path is refused before the
accept (HTTP 404 where the server offers the denial extension, 403 otherwise).

Per-route hooks and guards are folded into the leaf ``WebSocketApp`` when the table is built
(``WebSocketApp.replace``): the route's guards and ``on_connect`` run as one ``guarded`` chain
before the app's own ``on_connect``, so the driver's handshake carries them out, and the
app's ``on_disconnect``/``on_close`` run before the route's. Nothing here is on the per-frame
path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .app import WebSocketApp
from .asgi import upgrade_required
from .errors import ConfigTypeError, InvalidHandler, ProtocolError, RouteError, UrlForError
from .handshake import decide
from .lifespan import Lifespan, check_lifespan, serve_lifespan
from .messages import ws_deny
from .patterns import Pattern, build_path, compile_pattern
from .route_hooks import hooks_around
from .signatures import describe
from .types import ASGIApp, Hook, Receive, Scope, Send

__all__ = ["Mount", "Route", "Router", "mount", "route", "router"]

NOT_FOUND_BODY = b"404 Not Found\n"
_NOT_FOUND = ws_deny(404, NOT_FOUND_BODY, {"content-type": "text/plain; charset=utf-8"})
_TARGETS = "a websocket app, a router, or a handler (async generator or coroutine function)"


@dataclass(frozen=True)
class Route:
    """A table entry: ``pattern`` and the websocket ``app`` it serves, with an optional name."""

    pattern: Pattern
    app: WebSocketApp
    name: str | None = None


@dataclass(frozen=True)
class Mount:
    """A table entry: a sub-router whose patterns are relative to ``prefix``."""

    prefix: Pattern
    router: Router
    name: str | None = None


Entry = Route | Mount


def route(
    pattern: str,
    target: Any,
    *,
    name: str | None = None,
    on_connect: Hook | None = None,
    on_disconnect: Hook | None = None,
    on_close: Hook | None = None,
    guards: Iterable[Hook] = (),
) -> Entry:
    """A table entry with a name for ``url_for``, and hooks and guards of its own.

    ``target`` is a websocket app, a handler (wrapped with ``websocket``) or a router (then
    this is ``mount``). ``guards`` then ``on_connect`` run in order before the app's own
    ``on_connect``; ``on_disconnect`` and ``on_close`` run after the app's own.
    """
    if isinstance(target, Router):
        return mount(
            pattern,
            target,
            name=name,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            on_close=on_close,
            guards=guards,
        )
    where = f"route {pattern!r}"
    compiled = compile_pattern(pattern)
    around = hooks_around(where, guards, on_connect, on_disconnect, on_close)
    app = _as_app(where, target)
    if app.lifespan is not None:
        raise RouteError(
            f"{where}: the app's lifespan never runs under a router (give lifespan= to the router)"
        )
    return Route(compiled, around(app) if around else app, _check_name(name, where))


def mount(
    prefix: str,
    sub: Router,
    *,
    name: str | None = None,
    on_connect: Hook | None = None,
    on_disconnect: Hook | None = None,
    on_close: Hook | None = None,
    guards: Iterable[Hook] = (),
) -> Mount:
    """Mount the router ``sub`` under ``prefix`` (``"/api"``; ``""`` mounts at the root).

    With a ``name`` its route names are reachable as ``"<name>:<route name>"`` in
    ``url_for``, without one as they are. Hooks and guards apply to every route of ``sub``,
    around the routes' own.
    """
    where = f"mount {prefix!r}"
    compiled = compile_pattern(prefix, prefix=True, what="mount")
    if not isinstance(sub, Router):
        raise ConfigTypeError(f"{where} expected a router, got {describe(sub)}")
    if sub.fallback is not None:
        raise RouteError(
            f"{where}: a mounted router's fallback is never called "
            "(http and lifespan go to the outermost router's fallback)"
        )
    if sub.lifespan is not None:
        raise RouteError(
            f"{where}: a mounted router's lifespan never runs (give it to the outermost router)"
        )
    for leaf in sub._leaf_patterns():
        clash = sorted(set(leaf.params) & set(compiled.params))
        if clash:
            raise RouteError(f"{where}: parameter {clash[0]!r} is also in {leaf.source!r}")
    around = hooks_around(where, guards, on_connect, on_disconnect, on_close)
    if around is not None:
        sub = sub._map_apps(around)
    return Mount(compiled, sub, _check_name(name, where))


def _check_name(name: object, where: str) -> str | None:
    if name is not None and (not isinstance(name, str) or not name or ":" in name):
        raise RouteError(f"{where}: expected a name as a non-empty str without ':', got {name!r}")
    return name


def _as_app(where: str, target: Any) -> WebSocketApp:
    if isinstance(target, WebSocketApp):
        return target
    if inspect.isasyncgenfunction(target) or inspect.iscoroutinefunction(target):
        try:
            return WebSocketApp(target)
        except InvalidHandler as exc:
            raise InvalidHandler(f"{where}: {exc}") from None
    raise InvalidHandler(f"{where} expected {_TARGETS}, got {describe(target)}")


def _entry(item: object) -> Entry:
    if isinstance(item, (Route, Mount)):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return route(item[0], item[1])
    raise RouteError(f"router expected (pattern, target) pairs, route() or mount(), got {item!r}")


class Router:
    """An ASGI app routing WebSocket connections by path; http goes to ``fallback``, and so
    does lifespan unless the router has a ``lifespan`` of its own.

    Exact patterns win over patterns with parameters; those and mounts are tried in table
    order. ``url_for(name, **params)`` builds the path of a named route under this router.
    """

    def __init__(
        self,
        routes: Iterable[Any],
        *,
        fallback: ASGIApp | None = None,
        lifespan: Lifespan | None = None,
    ) -> None:
        if fallback is not None and not callable(fallback):
            raise ConfigTypeError(f"router expected an ASGI app as fallback, got {fallback!r}")
        if lifespan is not None:
            check_lifespan(lifespan, "router")
        self.lifespan = lifespan
        self.routes: tuple[Entry, ...] = tuple(_entry(item) for item in routes)
        self.fallback = fallback
        self._exact: dict[str, WebSocketApp] = {}
        self._dynamic: list[Entry] = []
        self._names: dict[str, tuple[Pattern, ...]] = {}
        for entry in self.routes:
            if isinstance(entry, Mount):
                self._dynamic.append(entry)
                for inner, chain in entry.router._names.items():
                    full = inner if entry.name is None else f"{entry.name}:{inner}"
                    self._add_name(full, (entry.prefix, *chain))
                continue
            if not entry.pattern.static:
                self._dynamic.append(entry)
            elif entry.pattern.source in self._exact:
                raise RouteError(f"router: pattern {entry.pattern.source!r} appears twice")
            else:
                self._exact[entry.pattern.source] = entry.app
            if entry.name is not None:
                self._add_name(entry.name, (entry.pattern,))

    def _add_name(self, name: str, chain: tuple[Pattern, ...]) -> None:
        earlier = self._names.setdefault(name, chain)
        if earlier is not chain:
            first, second = ("".join(p.source for p in c) for c in (earlier, chain))
            raise RouteError(f"router: route name {name!r} is used twice, {first!r} and {second!r}")

    def _leaf_patterns(self) -> Iterator[Pattern]:
        for entry in self.routes:
            if isinstance(entry, Route):
                yield entry.pattern
            else:
                yield from entry.router._leaf_patterns()

    def _map_apps(self, change: Callable[[WebSocketApp], WebSocketApp]) -> Router:
        """A copy whose every leaf app is ``change(app)`` (how a mount's hooks apply)."""
        return Router(
            Route(e.pattern, change(e.app), e.name)
            if isinstance(e, Route)
            else Mount(e.prefix, e.router._map_apps(change), e.name)
            for e in self.routes
        )

    def resolve(self, path: str) -> tuple[WebSocketApp, dict[str, Any], str] | None:
        """The app serving ``path`` (relative to this router), its parameters and the mount
        prefixes matched on the way; ``None`` when no route matches."""
        found = self._find(path)
        return None if found is None else found[:3]

    def route_of(self, scope: Scope) -> str | None:
        """The pattern of the route that serves this ``websocket`` scope, mount prefixes
        included (``"/v{version:int}/feeds/{feed_id:int}"``), as the router puts it in
        ``scope["route"]``; ``None`` when no route matches. For code outside the router
        (a metrics wrapper) that must label a connection before the router runs."""
        found = self._find(_under(scope["path"], scope.get("root_path", "")))
        return None if found is None else found[3]

    def _find(self, path: str) -> tuple[WebSocketApp, dict[str, Any], str, str] | None:
        """``resolve``, and the matched pattern with the mount prefixes before it."""
        app = self._exact.get(path)
        if app is not None:
            return app, {}, "", path
        for entry in self._dynamic:
            if isinstance(entry, Route):
                params = entry.pattern.match(path)
                if params is not None:
                    return entry.app, params, "", entry.pattern.source
                continue
            found = entry.prefix.match_prefix(path)
            if found is not None:
                inner = entry.router._find(path[len(found[1]) :])
                if inner is not None:
                    app, params, consumed, pattern = inner
                    merged = {**found[0], **params}
                    return app, merged, found[1] + consumed, entry.prefix.source + pattern
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ASGI scope: ``websocket`` by path, ``lifespan`` by the router's ``lifespan``
        if any, ``http`` (and else ``lifespan``) by the fallback."""
        kind = scope["type"]
        if kind == "websocket":
            root_path: str = scope.get("root_path", "")
            found = self._find(_under(scope["path"], root_path))
            if found is None:
                await _refuse(scope, receive, send)
                return
            app, params, consumed, pattern = found
            child = dict(scope)
            outer = scope.get("path_params")
            child["path_params"] = {**outer, **params} if outer else params
            child["route"] = pattern
            if consumed:
                child["root_path"] = root_path + consumed
            await app(child, receive, send)
        elif kind == "lifespan" and self.lifespan is not None:
            await serve_lifespan(receive, send, self, self.lifespan)
        elif kind in ("http", "lifespan"):
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            elif kind == "lifespan":
                await serve_lifespan(receive, send)
            elif self.resolve(_under(scope["path"], scope.get("root_path", ""))) is not None:
                await upgrade_required(receive, send)
            else:
                await _not_found(send)
        else:
            raise ProtocolError(f"expected a 'websocket', 'http' or 'lifespan' scope, got {kind!r}")

    def url_for(self, name: str, /, **params: Any) -> str:
        """The percent-encoded path of the route ``name`` with ``params``, under this router.

        Routes of a named mount are ``"<mount name>:<route name>"``. Behind a ``root_path``
        (a server option, or a framework mounting this router), prefix it to the result.
        """
        chain = self._names.get(name)
        if chain is None:
            known = ", ".join(map(repr, sorted(self._names))) or "none"
            raise UrlForError(f"url_for({name!r}): no route named {name!r} (known: {known})")
        return build_path(chain, params, f"url_for({name!r})")

    def __repr__(self) -> str:
        return f"<Router of {len(self.routes)} entries>"


def router(
    routes: Iterable[Any],
    *,
    fallback: ASGIApp | None = None,
    lifespan: Lifespan | None = None,
) -> Router:
    """A ``Router`` for a table of ``(pattern, target)`` pairs and ``route``/``mount`` entries.

    ``fallback`` is the ASGI app for ``http`` scopes. Without one, an http request gets 404
    (426 on a websocket route's path). ``lifespan(router)``, an async context manager, is
    entered at the server's startup and exited at its shutdown; with a ``lifespan`` the
    fallback never sees the lifespan scope (it serves http only), without one the fallback
    gets it, and without either lifespan completes with nothing to run.
    """
    return Router(routes, fallback=fallback, lifespan=lifespan)


def _under(path: str, root_path: str) -> str:
    """``path`` without ``root_path``, when it starts with it (at a segment boundary)."""
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest
    return path


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse a connection no route matches: 404 by denial where possible, else 403."""
    event = await receive()
    if event["type"] != "websocket.connect":
        raise ProtocolError(f"expected a 'websocket.connect' event first, got {event['type']!r}")
    for message in decide(_NOT_FOUND, scope, "router"):
        await send(dict(message))  # a copy: the server may keep what it is sent


async def _not_found(send: Send) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"14")]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": NOT_FOUND_BODY, "more_body": False})
