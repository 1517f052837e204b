"""examples/auth.py in memory: tokens by header and query, 401 and 403 refusals."""

from __future__ import annotations

import pytest

from examples.auth import app, greeter
from shallot_ws.testing import HandshakeRefused, connect

CHALLENGE = b'Bearer realm="examples.auth"'


async def test_a_valid_header_token_is_greeted_by_name():
    async with connect(greeter, headers={"authorization": "Bearer bob-token"}) as ws:
        assert await ws.receive() == "Hello, bob!"
        await ws.send("hi")
        assert await ws.receive() == "bob: hi"
    assert ws.scope["user"] == "bob"


async def test_a_valid_query_token_is_greeted_by_name_from_the_allowed_page():
    async with connect(app, "/?token=ann-token", headers={"origin": "http://127.0.0.1:8000"}) as ws:
        assert await ws.receive() == "Hello, ann!"


@pytest.mark.parametrize(
    ("path", "headers", "challenge", "body"),
    [
        ("/", {}, CHALLENGE, b"authentication required"),
        ("/?token=eve-token", {}, CHALLENGE + b', error="invalid_token"', b"invalid token"),
        (
            "/",
            {"authorization": "Bearer ann-tokenX"},
            CHALLENGE + b', error="invalid_token"',
            b"invalid token",
        ),
        ("/", {"authorization": "Basic YW5uOnB3"}, CHALLENGE, b"authentication required"),
    ],
)
async def test_a_missing_or_invalid_token_is_refused_with_401(path, headers, challenge, body):
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, path, headers=headers):
            pass
    assert info.value.status == 401
    assert info.value.body == body
    assert (b"www-authenticate", challenge) in info.value.headers


async def test_a_foreign_page_is_refused_with_403_even_with_a_valid_token():
    headers = {"origin": "https://evil.example", "authorization": "Bearer ann-token"}
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, headers=headers):
            pass
    assert (info.value.status, info.value.body) == (403, b"origin not allowed")
