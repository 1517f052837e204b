"""The bearer-token guard: finding the token (pure), verifying it, the 401 refusals."""

from __future__ import annotations

import logging

import pytest

from shallot_ws import websocket, ws_deny, ws_send
from shallot_ws.errors import ConfigError, ConfigTypeError
from shallot_ws.guards import (
    allow_origins,
    bearer_auth,
    challenge,
    find_token,
    guarded,
    parse_bearer,
    select_subprotocol,
)
from shallot_ws.testing import HandshakeRefused, connect

USERS = {"t-ann": "ann", "t-bob": "bob"}


def verify(token):
    return USERS.get(token)


async def averify(token):
    return USERS.get(token)


# -- the pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Bearer", ""),
        ("Bearer ", ""),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearerabc", None),
        ("", None),
        ("Bearer a b", "a b"),  # not a token68: verify decides (and will refuse it)
    ],
)
def test_parse_bearer(value, token):
    assert parse_bearer(value) == token


def scope_of(headers=(), query=b"", subprotocols=()):
    return {"headers": list(headers), "query_string": query, "subprotocols": list(subprotocols)}


def test_find_token_in_each_source():
    everywhere = scope_of(
        headers=[(b"authorization", b"Bearer h"), (b"cookie", b"tok=c")],
        query=b"token=q",
        subprotocols=["chat", "bearer.s"],
    )
    options = {"cookie": "tok", "subprotocol_prefix": "bearer.", "query_param": "token"}
    assert find_token(everywhere, **options) == ("header", "h")
    assert find_token(everywhere, **{**options, "header": None}) == ("cookie", "c")
    assert find_token(
        everywhere, header=None, subprotocol_prefix="bearer.", query_param="token"
    ) == (
        "subprotocol",
        "s",
    )
    assert find_token(everywhere, header=None, query_param="token") == ("query", "q")
    assert find_token(everywhere, header=None) is None


def test_find_token_looks_only_where_it_is_told():
    scope = scope_of(query=b"token=q", subprotocols=["bearer.s"])
    assert find_token(scope) is None  # only the Authorization header by default


def test_find_token_skips_other_schemes_and_uses_a_later_bearer_header():
    scope = scope_of(headers=[(b"authorization", b"Basic eA=="), (b"authorization", b"Bearer x")])
    assert find_token(scope) == ("header", "x")
    assert find_token(scope_of(headers=[(b"authorization", b"Basic eA==")])) is None


def test_find_token_with_a_custom_header():
    scope = scope_of(headers=[(b"x-token", b"Bearer z")])
    assert find_token(scope, header="X-Token") == ("header", "z")


def test_an_empty_token_is_still_a_token_presented():
    assert find_token(scope_of(query=b"token="), query_param="token") == ("query", "")
    assert find_token(scope_of(headers=[(b"authorization", b"Bearer")])) == ("header", "")


def test_query_tokens_are_percent_decoded():
    scope = scope_of(query=b"token=a%2Bb+c")
    assert find_token(scope, query_param="token") == ("query", "a+b c")


def test_challenge():
    assert challenge("chat") == 'Bearer realm="chat"'
    assert challenge("chat", "invalid_token") == 'Bearer realm="chat", error="invalid_token"'
    assert challenge(None) == "Bearer"
    assert challenge(None, "invalid_token") == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        (
            {"header": None},
            ConfigError,
            "bearer_auth expected at least one of header, cookie, subprotocol_prefix or query_param, got none",
        ),
        (
            {"realm": 'a"b'},
            ConfigError,
            "bearer_auth expected a realm of printable ASCII without quotes or backslashes, got 'a\"b'",
        ),
        (
            {"realm": "a\nb"},
            ConfigError,
            "bearer_auth expected a realm of printable ASCII without quotes or backslashes, got 'a\\nb'",
        ),
        ({"scope_key": ""}, ConfigError, "bearer_auth expected a non-empty scope_key, got ''"),
        ({"query_param": 1}, ConfigTypeError, "bearer_auth expected a str query_param, got int"),
        ({"cookie": ""}, ConfigError, "bearer_auth expected a non-empty cookie, got ''"),
    ],
)
def test_options_are_checked_when_the_guard_is_built(options, error, text):
    with pytest.raises(error) as info:
        bearer_auth(verify, **options)
    assert type(info.value) is error
    assert str(info.value) == text


def test_verify_must_be_callable():
    with pytest.raises(ConfigTypeError, match="^bearer_auth expected a callable verify, got str$"):
        bearer_auth("secret")  # type: ignore[arg-type]


def test_the_guard_reads_as_it_was_written():
    assert repr(bearer_auth(verify)) == "bearer_auth(verify)"
    assert repr(bearer_auth(averify, query_param="token", scope_key="who")) == (
        "bearer_auth(averify, scope_key='who', query_param='token')"
    )


# -- through the in-memory client ----------------------------------------------------------


async def whoami(scope, receiver):
    yield ws_send(f"hello {scope['user']}")


def app_with(guard):
    return websocket(on_connect=guard)(whoami)


@pytest.mark.parametrize("check", [verify, averify], ids=["sync", "async"])
async def test_a_valid_header_token_puts_the_identity_into_the_scope(check):
    app = app_with(bearer_auth(check))
    async with connect(app, headers={"authorization": "Bearer t-ann"}) as ws:
        assert await ws.receive() == "hello ann"
    assert ws.scope["user"] == "ann"


async def test_the_identity_goes_under_scope_key():
    async def handler(scope, receiver):
        yield ws_send(f"{scope['account']} {'user' in scope}")

    app = websocket(on_connect=bearer_auth(verify, scope_key="account"))(handler)
    async with connect(app, headers={"authorization": "Bearer t-bob"}) as ws:
        assert await ws.receive() == "bob False"


async def test_any_identity_but_none_is_accepted():
    app = app_with(bearer_auth(lambda token: 0))
    async with connect(app, headers={"authorization": "Bearer x"}) as ws:
        assert await ws.receive() == "hello 0"


async def test_a_query_token_is_accepted_when_enabled():
    app = app_with(bearer_auth(verify, query_param="token"))
    async with connect(app, "/chat?token=t-bob") as ws:
        assert await ws.receive() == "hello bob"


async def test_a_cookie_token_is_accepted_when_enabled():
    app = app_with(bearer_auth(verify, cookie="session"))
    async with connect(app, headers={"cookie": "theme=dark; session=t-ann"}) as ws:
        assert await ws.receive() == "hello ann"


async def test_a_subprotocol_token_with_select_subprotocol_choosing_the_real_protocol():
    hook = guarded(bearer_auth(verify, subprotocol_prefix="bearer."), select_subprotocol("chat.v1"))
    async with connect(app_with(hook), subprotocols=["chat.v1", "bearer.t-ann"]) as ws:
        assert await ws.receive() == "hello ann"
    assert ws.accepted_subprotocol == "chat.v1"  # never the token
    assert ws.scope["subprotocols"] == ["chat.v1"]  # the token is out of the scope


async def test_a_subprotocol_token_is_taken_out_of_the_scope_even_when_refused():
    guard = bearer_auth(verify, header=None, subprotocol_prefix="bearer.")
    scope = {"headers": [], "subprotocols": ["bearer.forged", "chat", "bearer.other"]}
    start, _ = await guard(scope)
    assert start["status"] == 401 and scope["subprotocols"] == ["chat"]


async def test_no_token_is_refused_with_401_and_a_challenge_without_error(caplog):
    caplog.set_level(logging.INFO, "shallot_ws")
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(bearer_auth(verify, realm="chat")), "/rooms"):
            pass
    assert info.value.status == 401
    assert info.value.body == b"authentication required"
    assert info.value.headers == [
        (b"www-authenticate", b'Bearer realm="chat"'),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert [r.getMessage() for r in caplog.records] == ["refused /rooms: no bearer token"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", {"authorization": "Bearer wrong"}),
        ("/", {"authorization": "Bearer"}),
        ("/?token=wrong", {}),
        ("/?token=", {}),
        ("/?token=t-ann", {"authorization": "Bearer wrong"}),  # the header decides
    ],
)
async def test_an_invalid_token_is_refused_with_401_invalid_token(path, headers):
    app = app_with(bearer_auth(verify, query_param="token"))
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, path, headers=headers):
            pass
    assert info.value.status == 401
    assert info.value.body == b"invalid token"
    assert info.value.headers == [
        (b"www-authenticate", b'Bearer realm="shallot_ws", error="invalid_token"'),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]


async def test_the_token_is_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HandshakeRefused):
        async with connect(
            app_with(bearer_auth(verify)), headers={"authorization": "Bearer s3cr3t"}
        ):
            pass
    assert [r.getMessage() for r in caplog.records] == [
        "refused /: invalid bearer token (from the header)"
    ]


async def test_verify_is_not_called_for_an_empty_token():
    calls = []

    def spy(token):
        calls.append(token)

    with pytest.raises(HandshakeRefused):
        async with connect(app_with(bearer_auth(spy)), headers={"authorization": "Bearer "}):
            pass
    assert calls == []


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_verify_that_raises_refuses_with_500_and_is_logged_once(caplog, kind):
    def broken(token):
        raise ConnectionError("token store down")

    async def abroken(token):
        raise ConnectionError("token store down")

    guard = bearer_auth(broken if kind == "sync" else abroken)
    ran = []

    async def handler(scope, receiver):
        ran.append(True)
        yield ws_send("never")

    connection = connect(
        websocket(on_connect=guarded(guard))(handler),
        headers={"authorization": "Bearer t-ann"},
        raise_app_exceptions=False,
    )
    with pytest.raises(HandshakeRefused) as info:
        async with connection:
            pass
    assert info.value.status == 500 and info.value.body == b""
    assert [type(e) for e in connection.app_exceptions] == [ConnectionError]
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info[0] is ConnectionError
    verify_name = (broken if kind == "sync" else abroken).__qualname__
    assert record.getMessage() == (
        f"on_connect hook guarded(bearer_auth({verify_name})) raised; refusing the connection"
    )
    assert "user" not in connection.scope and ran == []


async def test_without_the_denial_extension_the_refusal_is_a_plain_403():
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(bearer_auth(verify)), denial_response=False):
            pass
    assert info.value.status == 403


# -- order with guarded ----------------------------------------------------------------------


async def test_the_origin_check_runs_first_so_a_foreign_page_never_reaches_verify():
    calls = []

    def spy(token):
        calls.append(token)
        return "ann"

    hook = guarded(allow_origins(["https://chat.example"]), bearer_auth(spy))
    with pytest.raises(HandshakeRefused) as info:
        async with connect(
            app_with(hook),
            headers={"origin": "https://evil.example", "authorization": "Bearer t-ann"},
        ):
            pass
    assert info.value.status == 403 and calls == []
    async with connect(
        app_with(hook), headers={"origin": "https://chat.example", "authorization": "Bearer t-ann"}
    ) as ws:
        assert await ws.receive() == "hello ann"
    assert calls == ["t-ann"]


async def test_a_later_guard_sees_the_identity():
    async def admins_only(scope):
        if scope["user"] != "ann":
            return ws_deny(403, "admins only")
        return None

    hook = guarded(bearer_auth(verify), admins_only)
    async with connect(app_with(hook), headers={"authorization": "Bearer t-ann"}) as ws:
        assert await ws.receive() == "hello ann"
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(hook), headers={"authorization": "Bearer t-bob"}):
            pass
    assert (info.value.status, info.value.body) == (403, b"admins only")
