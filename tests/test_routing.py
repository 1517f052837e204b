"""The router: paths to websocket apps, refusals before the accept, fallback, mounts, names,
per-route hooks and guards; through the in-memory client, and plain ASGI for http/lifespan."""

from __future__ import annotations

import logging
import uuid

import pytest

from shallot_ws import (
    ConfigError,
    ConfigTypeError,
    InvalidHandler,
    ProtocolError,
    RouteError,
    WebSocketApp,
    compose,
    websocket,
    ws_accept,
    ws_close,
    ws_deny,
    ws_send,
)
from shallot_ws.errors import UrlForError
from shallot_ws.routing import Mount, Route, Router, mount, route, router
from shallot_ws.testing import HandshakeRefused, connect


async def params(scope, receiver):
    """Sends what the router put into the scope, then echoes."""
    yield ws_send(f"{scope['path_params']!r} root={scope['root_path']!r}")
    async for message in receiver:
        yield ws_send(message)


@websocket
async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(f"echo {message}")


def recorder(trail: list[str]):
    """A hook factory: each hook appends its name, and returns ``result``."""

    def hook(name, result=None):
        async def run(scope):
            trail.append(name)
            return result

        run.__qualname__ = name
        return run

    return hook


async def http_call(app, path="/", scope_extra=None):
    """Call ``app`` with an http scope; return (status, headers, body)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
        **(scope_extra or {}),
    }
    await app(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


async def lifespan_call(app):
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return events.pop(0)

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


# -- matching -------------------------------------------------------------------------------


async def test_parameters_are_converted_into_path_params(no_leaked_tasks):
    app = router(
        [
            ("/rooms/{room}", params),
            ("/feeds/{feed_id:int}", params),
            ("/at/{x:float}/{u:uuid}", params),
            ("/files/{rest:path}", params),
        ]
    )
    cases = {
        "/rooms/blue": {"room": "blue"},
        "/feeds/42?since=1": {"feed_id": 42},
        "/at/1.5/12345678-1234-5678-9abc-def012345678": {
            "x": 1.5,
            "u": uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        },
        "/files/a/b.txt": {"rest": "a/b.txt"},
    }
    for path, expected in cases.items():
        async with connect(app, path) as ws:
            assert await ws.receive() == f"{expected!r} root=''"
            await ws.send("hi")
            assert await ws.receive() == "hi"
    no_leaked_tasks()


async def test_the_table_reads_like_design_section_4():
    def upper(handler):
        async def wrapped(scope, receiver):
            async for message in handler(scope, receiver):
                yield ws_send(message["text"].upper())

        return wrapped

    app = router(
        [
            ("/echo", echo),
            ("/rooms/{room}", compose(upper)(params)),
            ("/feeds/{feed_id:int}", params),
        ]
    )
    async with connect(app, "/rooms/blue") as ws:
        assert await ws.receive() == "{'ROOM': 'BLUE'} ROOT=''"
    async with connect(app, "/echo") as ws:
        await ws.send("x")
        assert await ws.receive() == "echo x"


async def test_outer_path_params_are_merged_not_replaced():
    app = router([("/rooms/{room}", params)])
    async with connect(app, "/rooms/blue", scope={"path_params": {"tenant": "acme"}}) as ws:
        assert await ws.receive() == "{'tenant': 'acme', 'room': 'blue'} root=''"


async def test_an_exact_pattern_wins_over_parameters_whatever_the_order():
    trail: list[str] = []

    def tagged(name):
        async def handler(scope, receiver):
            trail.append(name)
            yield ws_close()

        return handler

    app = router(
        [
            ("/rooms/{room}", tagged("param")),
            ("/rooms/{other}", tagged("second")),
            ("/rooms/new", tagged("exact")),
        ]
    )
    for path in ("/rooms/new", "/rooms/blue"):
        async with connect(app, path) as ws:
            await ws.wait_closed()
    assert trail == ["exact", "param"]  # then the first pattern in table order


@pytest.mark.parametrize("path", ["/nowhere", "/echo/", "/feeds/abc", "/feeds/", "/"])
async def test_an_unmatched_path_is_refused_with_404_before_the_accept(path):
    ran: list[str] = []

    async def handler(scope, receiver):
        ran.append(scope["path"])
        yield ws_send("no")

    app = router([("/echo", handler), ("/feeds/{n:int}", handler)])
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, path):
            pass
    assert info.value.status == 404
    assert info.value.body == b"404 Not Found\n"
    assert info.value.headers == [(b"content-type", b"text/plain; charset=utf-8")]
    assert ran == []


async def test_without_the_denial_extension_an_unmatched_path_is_a_plain_refusal():
    conn = connect(router([("/echo", echo)]), "/nope", denial_response=False)
    with pytest.raises(HandshakeRefused) as info:
        async with conn:
            pass
    assert info.value.status == 403
    assert conn.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


async def test_a_plain_handler_is_wrapped_and_a_coroutine_function_too():
    async def once(scope, receiver):
        return ws_send("once")

    app = router([("/gen", params), route("/once", once)])
    assert isinstance(app.resolve("/gen")[0], WebSocketApp)
    async with connect(app, "/once") as ws:
        assert await ws.receive() == "once"
        assert await ws.wait_closed() == 1000


# -- http, lifespan and other scopes ------------------------------------------------------


async def test_http_and_lifespan_go_to_the_fallback():
    seen: list[str] = []

    async def fallback(scope, receive, send):
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page " + scope["path"].encode()})

    app = router([("/echo", echo)], fallback=fallback)
    assert await http_call(app, "/echo") == (200, {}, b"page /echo")
    assert await lifespan_call(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == ["http", "lifespan"]


async def test_without_fallback_http_gets_404_or_426_and_lifespan_completes():
    app = router([("/echo", echo), ("/rooms/{room}", params)])
    status, headers, body = await http_call(app, "/nope")
    assert (status, body) == (404, b"404 Not Found\n")
    assert headers == {b"content-type": b"text/plain; charset=utf-8", b"content-length": b"14"}
    status, headers, _ = await http_call(app, "/rooms/blue")
    assert status == 426 and headers[b"upgrade"] == b"websocket"
    assert await lifespan_call(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_another_scope_type_is_a_protocol_error():
    with pytest.raises(
        ProtocolError,
        match="^expected a 'websocket', 'http' or 'lifespan' scope, got 'webtransport'$",
    ):
        await router([])({"type": "webtransport"}, None, None)


async def test_a_first_event_other_than_connect_on_an_unmatched_path_is_a_protocol_error():
    async def receive():
        return {"type": "websocket.receive", "text": "x"}

    with pytest.raises(
        ProtocolError, match="^expected a 'websocket.connect' event first, got 'websocket.receive'$"
    ):
        await router([])({"type": "websocket", "path": "/x"}, receive, None)


# -- mounts and root_path -----------------------------------------------------------------


async def test_a_mounted_router_sees_its_prefix_in_root_path():
    api = router([("/echo", params), ("/feeds/{n:int}", params)])
    app = router([("/api", api), mount("/t/{tenant}", api), ("/echo", echo)])
    async with connect(app, "/api/feeds/3") as ws:
        assert await ws.receive() == "{'n': 3} root='/api'"
    async with connect(app, "/t/acme/echo") as ws:
        assert await ws.receive() == "{'tenant': 'acme'} root='/t/acme'"
    for path in ("/api", "/api/", "/api/nope", "/t/acme"):
        with pytest.raises(HandshakeRefused):
            async with connect(app, path):
                pass


async def test_nested_mounts_extend_root_path_and_merge_params():
    inner = router([("/feeds/{n:int}", params)])
    middle = router([mount("/v{version:int}", inner)])
    app = router([mount("/t/{tenant}", middle)])
    async with connect(app, "/t/acme/v2/feeds/7") as ws:
        assert await ws.receive() == "{'tenant': 'acme', 'version': 2, 'n': 7} root='/t/acme/v2'"


async def test_a_later_route_still_matches_when_a_mount_has_no_route_for_the_rest():
    app = router([("/api", router([("/echo", echo)])), ("/api/{anything:path}", params)])
    async with connect(app, "/api/other") as ws:
        assert await ws.receive() == "{'anything': 'other'} root=''"


@pytest.mark.parametrize(
    ("path", "root_path"),
    [("/svc/api/feeds/5", "/svc"), ("/api/feeds/5", "/svc")],  # path with and without root_path
)
async def test_the_server_root_path_is_respected(path, root_path):
    app = router([("/api", router([("/feeds/{n:int}", params)]))])
    async with connect(app, path, scope={"root_path": root_path}) as ws:
        assert await ws.receive() == "{'n': 5} root='/svc/api'"


async def test_root_path_is_removed_only_at_a_segment_boundary():
    app = router([("/svcx/echo", echo)])
    async with connect(app, "/svcx/echo", scope={"root_path": "/svc"}) as ws:
        await ws.send("a")
        assert await ws.receive() == "echo a"


async def test_the_empty_prefix_groups_routes_under_shared_guards():
    trail: list[str] = []
    hook = recorder(trail)
    app = router([mount("", router([("/a", echo)]), guards=[hook("group")]), ("/b", echo)])
    for path in ("/a", "/b"):
        async with connect(app, path) as ws:
            await ws.send(path)
            assert await ws.receive() == f"echo {path}"
    assert trail == ["group"]


# -- the matched route in the scope --------------------------------------------------------


async def route_seen(scope, receiver):
    yield ws_send(scope["route"])


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/echo", "/echo"),  # exact
        ("/rooms/blue", "/rooms/{room}"),  # with a parameter
        ("/api/feeds/3", "/api/feeds/{n:int}"),  # through a mount
        ("/t/acme/v2/feeds/7", "/t/{tenant}/v{version:int}/feeds/{n:int}"),  # nested mounts
        ("/svc/echo", "/echo"),  # under the root path, which is no pattern
    ],
)
async def test_the_app_gets_the_matched_pattern_as_route_and_route_of_says_it(path, route):
    feeds = router([("/feeds/{n:int}", route_seen)])
    app = router(
        [
            ("/echo", route_seen),
            ("/rooms/{room}", route_seen),
            ("/api", feeds),
            mount("/t/{tenant}", router([mount("/v{version:int}", feeds)])),
        ]
    )
    scope = {"root_path": "/svc"} if path.startswith("/svc") else {}
    async with connect(app, path, scope=scope) as ws:
        assert await ws.receive() == route
    assert app.route_of({"type": "websocket", "path": path, **scope}) == route


async def test_route_of_an_unmatched_path_is_none_and_an_outer_route_key_is_replaced():
    app = router([("/rooms/{room}", route_seen)])
    assert app.route_of({"type": "websocket", "path": "/nowhere"}) is None
    assert app.route_of({"type": "websocket", "path": "/rooms/"}) is None
    scope = {"type": "websocket", "path": "/rooms/a", "route": "/outer"}
    assert app.route_of(scope) == "/rooms/{room}"
    async with connect(app, "/rooms/a", scope={"route": "/outer"}) as ws:
        assert await ws.receive() == "/rooms/{room}"  # the router's own, in its new scope


# -- url_for --------------------------------------------------------------------------------


def test_url_for_builds_paths_of_named_routes_with_converters():
    api = router(
        [
            route("/feeds/{feed_id:int}", params, name="feed"),
            route("/files/{rest:path}", params, name="file"),
        ]
    )
    app = router(
        [
            route("/echo", echo, name="echo"),
            route("/rooms/{room}", params, name="room"),
            mount("/api", api, name="api"),
            mount("/t/{tenant}", router([route("/inbox", params, name="inbox")])),
        ]
    )
    assert app.url_for("echo") == "/echo"
    assert app.url_for("room", room="blue sky") == "/rooms/blue%20sky"
    assert app.url_for("api:feed", feed_id=7) == "/api/feeds/7"
    assert app.url_for("api:file", rest="a/b c") == "/api/files/a/b%20c"
    assert app.url_for("inbox", tenant="acme") == "/t/acme/inbox"  # unnamed mount: plain name
    assert api.url_for("feed", feed_id=7) == "/feeds/7"  # relative to the router asked


def test_a_parameter_may_be_called_name():
    app = router([route("/users/{name}", params, name="user")])
    assert app.url_for("user", name="ann") == "/users/ann"


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (
            lambda app: app.url_for("nope"),
            "url_for('nope'): no route named 'nope' (known: 'api:feed', 'room')",
        ),
        (
            lambda app: app.url_for("feed", feed_id=1),
            "url_for('feed'): no route named 'feed' (known: 'api:feed', 'room')",
        ),
        (
            lambda app: app.url_for("room"),
            "url_for('room'): missing 'room' ('/rooms/{room}' takes 'room')",
        ),
        (
            lambda app: app.url_for("room", room="a", x=1),
            "url_for('room'): unexpected 'x' ('/rooms/{room}' takes 'room')",
        ),
        (
            lambda app: app.url_for("api:feed", feed_id="x"),
            "url_for('api:feed'): parameter 'feed_id' expected a non-negative int, got 'x'",
        ),
    ],
)
def test_url_for_errors_are_clear(call, text):
    app = router(
        [
            route("/rooms/{room}", params, name="room"),
            mount("/api", router([route("/feeds/{feed_id:int}", params, name="feed")]), name="api"),
        ]
    )
    with pytest.raises(UrlForError) as info:
        call(app)
    assert type(info.value) is UrlForError and not isinstance(info.value, ConfigError)
    assert str(info.value) == text


async def test_what_url_for_builds_is_routed_back_to_the_same_params():
    app = router([mount("/t/{tenant}", router([route("/feeds/{n:int}", params, name="feed")]))])
    async with connect(app, app.url_for("feed", tenant="acme", n=12)) as ws:
        assert await ws.receive() == "{'tenant': 'acme', 'n': 12} root='/t/acme'"


# -- per-route hooks and guards -------------------------------------------------------------


async def test_route_hooks_run_around_the_apps_own_in_order():
    trail: list[str] = []
    hook = recorder(trail)

    async def handler(scope, receiver):
        trail.append("handler")
        async for _ in receiver:
            pass

    app = websocket(
        on_connect=hook("app on_connect"),
        on_disconnect=hook("app on_disconnect"),
        on_close=hook("app on_close"),
    )(handler)
    table = router(
        [
            mount(
                "/api",
                router(
                    [
                        route(
                            "/x",
                            app,
                            guards=[hook("route guard 1"), hook("route guard 2")],
                            on_connect=hook("route on_connect"),
                            on_disconnect=hook("route on_disconnect"),
                            on_close=hook("route on_close"),
                        ),
                    ]
                ),
                guards=[hook("mount guard")],
                on_close=hook("mount on_close"),
            ),
        ]
    )
    async with connect(table, "/api/x"):
        pass
    assert trail == [
        "mount guard",
        "route guard 1",
        "route guard 2",
        "route on_connect",
        "app on_connect",
        "handler",
        "app on_disconnect",
        "route on_disconnect",
        "app on_close",
        "route on_close",
        "mount on_close",
    ]


@pytest.mark.parametrize(("refusal", "status"), [(ws_close(), 403), (ws_deny(401, "who?"), 401)])
async def test_a_refusing_guard_stops_later_guards_and_the_target(refusal, status):
    trail: list[str] = []
    hook = recorder(trail)

    async def handler(scope, receiver):
        trail.append("handler")
        yield ws_send("no")

    target = websocket(on_connect=hook("app on_connect"), on_close=hook("app on_close"))(handler)
    app = router(
        [
            route(
                "/x",
                target,
                guards=[hook("one"), hook("two", refusal), hook("three")],
                on_close=hook("route on_close"),
            )
        ]
    )
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, "/x"):
            pass
    assert info.value.status == status
    assert trail == ["one", "two"]  # never accepted: no handler, no on_close


async def test_guards_contribute_a_subprotocol_and_headers_to_the_targets_accept():
    async def app_hook(scope):
        return ws_accept(headers={"x-app": "1"})

    async def who(scope, receiver):
        yield ws_send(scope["user"])

    async def identify(scope):
        scope["user"] = "ann"

    app = router(
        [
            route(
                "/x",
                websocket(on_connect=app_hook)(who),
                guards=[identify, recorder([])("proto", ws_accept("chat"))],
            )
        ]
    )
    async with connect(app, "/x", subprotocols=["chat"]) as ws:
        assert await ws.receive() == "ann"
    assert ws.accepted_subprotocol == "chat" and ws.accept_headers == [(b"x-app", b"1")]


async def test_guards_may_be_any_iterable():
    trail: list[str] = []
    hook = recorder(trail)
    app = router([route("/x", echo, guards=(hook(name) for name in ("a", "b")))])
    async with connect(app, "/x"):
        pass
    assert trail == ["a", "b"]


async def test_a_guard_that_raises_refuses_with_500_logged_once(caplog):
    ran: list[str] = []

    async def broken(scope):
        raise LookupError("user store down")

    async def handler(scope, receiver):
        ran.append("handler")
        yield ws_send("no")

    conn = connect(
        router([route("/x", handler, guards=[broken])]), "/x", raise_app_exceptions=False
    )
    with pytest.raises(HandshakeRefused) as info:
        async with conn:
            pass
    assert info.value.status == 500
    assert [type(e) for e in conn.app_exceptions] == [LookupError]
    records = [r for r in caplog.records if r.name == "shallot_ws"]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].getMessage() == (
        "on_connect hook guarded(test_a_guard_that_raises_refuses_with_500_logged_once.<locals>"
        ".broken) raised; refusing the connection"
    )
    assert ran == []


async def test_a_closing_hook_that_raises_does_not_stop_the_other(caplog):
    trail: list[str] = []

    async def app_close(scope):
        raise RuntimeError("boom")

    async def route_close(scope):
        trail.append("route on_close")

    app = router([route("/x", websocket(on_close=app_close)(echo.handler), on_close=route_close)])
    conn = connect(app, "/x", raise_app_exceptions=False)
    async with conn:
        pass
    assert trail == ["route on_close"]
    assert [type(e) for e in conn.app_exceptions] == [RuntimeError]
    assert caplog.records[0].getMessage().startswith("on_close hook ")


async def test_hooks_on_a_route_do_not_change_the_app_given():
    async def guard(scope):
        return ws_close()

    route("/x", echo, guards=[guard])
    async with connect(echo) as ws:  # the original app still accepts
        await ws.send("a")
        assert await ws.receive() == "echo a"


# -- building the table ---------------------------------------------------------------------


def test_entries_are_routes_and_mounts():
    api = router([])
    table = router([("/echo", echo), ("/api", api), route("/r/{x}", params, name="r")])
    kinds = [type(entry) for entry in table.routes]
    assert kinds == [Route, Mount, Route]
    assert table.routes[0].app is echo  # a websocket app is used as given
    assert table.routes[1].router is api
    assert table.routes[2].name == "r"
    assert isinstance(table, Router)


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (
            lambda: router([("/x", 42)]),
            InvalidHandler,
            "route '/x' expected a websocket app, a router, or a handler (async generator or coroutine function), got 42",
        ),
        (
            lambda: router([("/x", lambda scope, receiver: None)]),
            InvalidHandler,
            "route '/x' expected a websocket app, a router, or a handler (async generator or coroutine function), got a plain (sync) function",
        ),
        (
            lambda: router([("/x", echo_one_arg)]),
            InvalidHandler,
            "route '/x': handler echo_one_arg must take (scope, receiver), its signature is (scope)",
        ),
        (
            lambda: router([route("/x", echo, guards=[sync_guard])]),
            InvalidHandler,
            "route '/x': guard hook sync_guard must be an async function taking scope, got a plain (sync) function",
        ),
        (
            lambda: router([route("/x", echo, guards=sync_guard)]),
            ConfigTypeError,
            "route '/x' expected guards as a list of hooks, got sync_guard",
        ),
        (
            lambda: router([("/x/{id}/{id:int}", echo)]),
            RouteError,
            "route '/x/{id}/{id:int}': parameter 'id' appears twice",
        ),
        (
            lambda: router([("/x/{id:hex}", echo)]),
            RouteError,
            "route '/x/{id:hex}': unknown converter 'hex' in '{id:hex}' (expected one of str, int, float, uuid, path)",
        ),
        (
            lambda: router([("/x", echo), ("/x", echo)]),
            RouteError,
            "router: pattern '/x' appears twice",
        ),
        (
            lambda: router([route("/a", echo, name="n"), route("/b", echo, name="n")]),
            RouteError,
            "router: route name 'n' is used twice, '/a' and '/b'",
        ),
        (
            lambda: router(
                [route("/a", echo, name="n"), ("/api", router([route("/b", echo, name="n")]))]
            ),
            RouteError,
            "router: route name 'n' is used twice, '/a' and '/api/b'",
        ),
        (
            lambda: router([route("/a", echo, name="a:b")]),
            RouteError,
            "route '/a': expected a name as a non-empty str without ':', got 'a:b'",
        ),
        (
            lambda: router([mount("/t/{id}", router([("/x/{id}", echo)]))]),
            RouteError,
            "mount '/t/{id}': parameter 'id' is also in '/x/{id}'",
        ),
        (
            lambda: router([("/api/", router([]))]),
            RouteError,
            "mount '/api/' must not end with '/': the mounted patterns start with one",
        ),
        (
            lambda: router([("/api", router([], fallback=echo))]),
            RouteError,
            "mount '/api': a mounted router's fallback is never called (http and lifespan go to the outermost router's fallback)",
        ),
        (
            lambda: mount("/api", echo),
            ConfigTypeError,
            "mount '/api' expected a router, got a WebSocketApp object",
        ),
        (
            lambda: router(["/echo"]),
            RouteError,
            "router expected (pattern, target) pairs, route() or mount(), got '/echo'",
        ),
        (
            lambda: router([("/x", echo, "extra")]),
            RouteError,
            "router expected (pattern, target) pairs, route() or mount(), got ('/x', <WebSocketApp echo>, 'extra')",
        ),
    ],
)
def test_a_wrong_table_is_an_error_at_construction_naming_the_pattern(make, error, text):
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == text


async def echo_one_arg(scope):
    yield ws_send("x")


def sync_guard(scope):
    return None
