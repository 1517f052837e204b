"""The Origin guard: the pure match without an event loop, the refusals through the client."""

from __future__ import annotations

import logging

import pytest

from shallot_ws import websocket, ws_send
from shallot_ws.errors import ConfigError, ConfigTypeError
from shallot_ws.guards import OriginPattern, allow_origins, guarded, origin_allowed, parse_origin
from shallot_ws.testing import HandshakeRefused, connect

PATTERNS = ["https://example.com", "https://*.example.com", "http://localhost:8000"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",
        "HTTPS://EXAMPLE.COM",
        "https://example.com:443",  # the default port, written out
        "https://app.example.com",
        "https://a.b.example.com",  # the wildcard allows any depth
        "http://localhost:8000",
        " https://example.com ",
    ],
)
def test_allowed_origins(origin):
    assert origin_allowed(origin, PATTERNS)


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "null",  # sandboxed frames and file: pages
        "http://example.com",  # another scheme
        "https://example.com:8443",  # another port
        "wss://example.com",
        "https://evilexample.com",  # not a subdomain: the dot matters
        "https://example.com.evil.net",
        "https://.example.com",  # an empty label
        "https://*.example.com",  # a client cannot send a pattern
        "http://localhost",  # port 80, not 8000
        "http://localhost:8000/",  # origins have no path
        "https://example.com/path",
        "https://user@example.com",
        "https://example.com:99999",
        "https://example.com:",
        "example.com",
        "https://exa mple.com",
        "https://example.com\x00",
    ],
)
def test_refused_origins(origin):
    assert not origin_allowed(origin, PATTERNS)


def test_origin_allowed_refuses_a_single_string_of_patterns():
    with pytest.raises(
        ConfigTypeError,
        match="^origin_allowed expected a list of patterns, got str 'https://a.example'$",
    ):
        origin_allowed("https://a.example", "https://a.example")


def test_patterns_may_be_parsed_once():
    compiled = [parse_origin(p) for p in PATTERNS]
    assert compiled[1] == OriginPattern("https", "example.com", 443, wildcard=True)
    assert origin_allowed("https://x.example.com", compiled)


def test_unicode_hosts_in_patterns_match_what_browsers_send():
    assert origin_allowed("https://xn--bcher-kva.example", ["https://bücher.example"])


def test_schemes_without_a_default_port_match_exactly():
    assert origin_allowed("chrome-extension://abcdef", ["chrome-extension://abcdef"])
    assert not origin_allowed("chrome-extension://abcdef:1", ["chrome-extension://abcdef"])


def test_ipv6_origins():
    assert origin_allowed("http://[::1]:8000", ["http://[::1]:8000"])
    assert not origin_allowed("http://[::1]:8001", ["http://[::1]:8000"])


@pytest.mark.parametrize(
    "pattern",
    [
        "example.com",
        "https://example.com/",
        "null",
        "*",
        "https://*",
        "https://a.*.example.com",
        "https://example.com:70000",
        "",
    ],
)
def test_a_malformed_pattern_is_refused_when_the_guard_is_built(pattern):
    with pytest.raises(ConfigError) as info:
        allow_origins([pattern])
    assert str(info.value) == (
        "allow_origins expected an origin like 'https://example.com' or "
        f"'https://*.example.com', got {pattern!r}"
    )


def test_patterns_must_be_a_list_of_str():
    with pytest.raises(
        ConfigTypeError,
        match="^allow_origins expected a list of origins, got str 'https://a.example'$",
    ):
        allow_origins("https://a.example")
    with pytest.raises(ConfigTypeError, match="^allow_origins expected origins as str, got bytes$"):
        allow_origins([b"https://a.example"])  # type: ignore[list-item]
    with pytest.raises(
        ConfigTypeError, match="^allow_origins expected a bool allow_missing, got str$"
    ):
        allow_origins(["https://a.example"], allow_missing="yes")  # type: ignore[arg-type]


def test_the_guard_decides_without_an_event_loop():
    guard = allow_origins(PATTERNS)
    assert guard.check({"headers": [(b"origin", b"https://example.com")]}) is None
    start, body = guard.check({"headers": [(b"origin", b"https://evil.example")]})
    assert (start["status"], body["body"]) == (403, b"origin not allowed")


def test_the_guard_reads_as_it_was_written():
    assert repr(allow_origins(["https://a.example"])) == "allow_origins(['https://a.example'])"
    assert repr(allow_origins(("https://a.example",), allow_missing=True)) == (
        "allow_origins(['https://a.example'], allow_missing=True)"
    )
    assert allow_origins(iter(PATTERNS)).sources == tuple(PATTERNS)


# -- through the in-memory client ----------------------------------------------------------


async def hello(scope, receiver):
    yield ws_send("hello")


def app_with(guard):
    return websocket(on_connect=guard)(hello)


async def test_an_allowed_origin_is_accepted():
    async with connect(
        app_with(allow_origins(PATTERNS)), headers={"origin": "https://app.example.com"}
    ) as ws:
        assert await ws.receive() == "hello"


async def test_a_foreign_origin_is_refused_with_403_and_a_generic_body(caplog):
    caplog.set_level(logging.INFO, "shallot_ws")
    with pytest.raises(HandshakeRefused) as info:
        async with connect(
            app_with(allow_origins(PATTERNS)), "/chat", headers={"origin": "https://evil.example"}
        ):
            pass
    assert info.value.status == 403
    assert info.value.body == b"origin not allowed"
    assert info.value.headers == [(b"content-type", b"text/plain; charset=utf-8")]
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == "refused /chat: Origin ['https://evil.example'] not allowed"


async def test_a_missing_origin_is_refused_unless_allowed():
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(allow_origins(PATTERNS))):
            pass
    assert (info.value.status, info.value.body) == (403, b"origin required")
    async with connect(app_with(allow_origins(PATTERNS, allow_missing=True))) as ws:
        assert await ws.receive() == "hello"


async def test_allow_missing_does_not_let_a_foreign_origin_through():
    guard = allow_origins(PATTERNS, allow_missing=True)
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(guard), headers={"origin": "null"}):
            pass
    assert info.value.status == 403


async def test_several_origin_headers_are_refused():
    headers = [(b"origin", b"https://example.com"), (b"origin", b"https://evil.example")]
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(allow_origins(PATTERNS)), headers=headers):
            pass
    assert info.value.status == 403


async def test_without_the_denial_extension_the_refusal_is_a_plain_403():
    connection = connect(
        app_with(allow_origins(PATTERNS)),
        headers={"origin": "https://evil.example"},
        denial_response=False,
    )
    with pytest.raises(HandshakeRefused) as info:
        async with connection:
            pass
    assert info.value.status == 403 and info.value.body == b""
    assert connection.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


async def test_the_guard_runs_inside_guarded():
    hook = guarded(allow_origins(PATTERNS))
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app_with(hook), headers={"origin": "https://evil.example"}):
            pass
    assert info.value.status == 403
    assert hook.__qualname__ == (
        "guarded(allow_origins(['https://example.com', 'https://*.example.com', "
        "'http://localhost:8000']))"
    )
