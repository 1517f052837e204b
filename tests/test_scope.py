"""Scope helpers: pure functions over plain scope dicts, no event loop."""

from __future__ import annotations

import pytest

from shallot_ws.scope import MultiDict, client, cookies, headers, query_params, url


def scope_with(**items):
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }
    scope.update(items)
    return scope


# -- MultiDict ------------------------------------------------------------------------------


def test_multidict_keeps_every_pair_in_order_and_gives_the_first_value():
    md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert md["a"] == "1" and md.get("a") == "1"
    assert md.getall("a") == ["1", "3"] and md.getlist("a") == ["1", "3"]
    assert len(md) == 3
    assert list(md) == ["a", "b", "a"] and list(md.keys()) == ["a", "b", "a"]
    assert list(md.values()) == ["1", "2", "3"]
    assert list(md.items()) == [("a", "1"), ("b", "2"), ("a", "3")]
    assert ("a", "3") in md.items() and ("a", "2") not in md.items()
    assert "3" in md.values()
    assert dict(md) == {"a": "1", "b": "2"}


def test_multidict_missing_names():
    md = MultiDict([("a", "1")])
    assert "b" not in md and 1 not in md
    assert md.get("b") is None and md.get("b", "x") == "x"
    assert md.getall("b") == [] and md.getall("b", None) is None
    with pytest.raises(KeyError):
        md["b"]
    with pytest.raises(KeyError):
        md[1]  # type: ignore[index]


def test_multidict_case_insensitive_stores_lowercase_and_finds_any_case():
    md = MultiDict([("Content-Type", "a"), ("content-type", "b")], case_insensitive=True)
    assert md["CONTENT-TYPE"] == "a" and md.getall("Content-type") == ["a", "b"]
    assert "content-TYPE" in md
    assert list(md.items()) == [("content-type", "a"), ("content-type", "b")]
    assert ("Content-Type", "b") in md.items()
    case_sensitive = MultiDict([("Content-Type", "a")])
    assert "content-type" not in case_sensitive


def test_multidict_is_immutable_comparable_and_hashable():
    md = MultiDict([("a", "1")])
    with pytest.raises(TypeError):
        md["a"] = "2"  # type: ignore[index]
    assert md == MultiDict({"a": "1"}) and md != MultiDict([("a", "2")])
    assert md != MultiDict([("a", "1")], case_insensitive=True)
    assert md != {"a": "1"}  # a plain dict forgets repeated names: never equal
    assert hash(md) == hash(MultiDict([("a", "1")]))
    assert repr(md) == "MultiDict([('a', '1')])"
    assert MultiDict() == MultiDict([]) and len(MultiDict()) == 0


def test_multidict_copies_another_multidict_with_its_repeats():
    md = MultiDict([("a", "1"), ("a", "2")])
    assert MultiDict(md) == md


def test_multidict_refuses_values_that_are_not_str():
    with pytest.raises(
        TypeError, match=r"^MultiDict expected \(str, str\) pairs, got \(bytes, str\)$"
    ):
        MultiDict([(b"a", "1")])  # type: ignore[list-item]


# -- headers ----------------------------------------------------------------------------------


def test_headers_are_case_insensitive_with_repeated_names():
    scope = scope_with(headers=[(b"host", b"example.com"), (b"x-tag", b"a"), (b"x-tag", b"b")])
    h = headers(scope)
    assert h["Host"] == "example.com" and h.get("X-Tag") == "a"
    assert h.getall("x-tag") == ["a", "b"]
    assert len(h) == 3 and "HOST" in h and "cookie" not in h


def test_header_values_are_latin1_so_any_byte_decodes():
    utf8 = "Zoë".encode()
    h = headers(
        scope_with(headers=[(b"x-name", utf8), (b"x-latin", b"caf\xe9"), (b"x-raw", b"\xff\x00")])
    )
    assert h["x-latin"] == "café"
    assert h["x-name"] == "ZoÃ«" and h["x-name"].encode("latin-1").decode() == "Zoë"
    assert h["x-raw"] == "\xff\x00"


def test_header_empty_values_are_kept():
    h = headers(scope_with(headers=[(b"x-empty", b"")]))
    assert "x-empty" in h and h["x-empty"] == ""


@pytest.mark.parametrize(
    "raw",
    [None, [], [(b"a",)], [("str", "pairs")], [None], [(b"a", b"1", b"extra")]],
)
def test_malformed_header_lists_never_raise(raw):
    h = headers(scope_with(headers=raw))
    assert list(h.items()) == []


def test_headers_of_a_scope_without_headers():
    assert len(headers({"type": "websocket"})) == 0


# -- query parameters --------------------------------------------------------------------------


def test_query_params_are_multi_valued_and_ordered():
    q = query_params(scope_with(query_string=b"a=1&b=2&a=3"))
    assert q["a"] == "1" and q.getall("a") == ["1", "3"]
    assert list(q.items()) == [("a", "1"), ("b", "2"), ("a", "3")]


def test_query_params_percent_decode_utf8_and_plus_is_a_space():
    q = query_params(scope_with(query_string=b"name=Zo%C3%AB+K&sum=1%2B1&sp=%20"))
    assert q["name"] == "Zoë K" and q["sum"] == "1+1" and q["sp"] == " "


def test_query_params_keep_empty_values_and_skip_empty_parts():
    q = query_params(scope_with(query_string=b"a=&b&&c=1&=x"))
    assert list(q.items()) == [("a", ""), ("b", ""), ("c", "1"), ("", "x")]


def test_query_params_names_are_case_sensitive():
    q = query_params(scope_with(query_string=b"Token=a&token=b"))
    assert q["Token"] == "a" and q["token"] == "b"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a=%zz&b=%", [("a", "%zz"), ("b", "%")]),  # invalid escapes stay as sent
        (b"a=%ff%fe", [("a", "\ufffd\ufffd")]),  # not UTF-8: replaced, not raised
        (b"a=\xc3\xa9", [("a", "é")]),  # raw UTF-8 bytes (not escaped) still decode
        (b"a=\xff", [("a", "\ufffd")]),
        (b"a=1;b=2", [("a", "1;b=2")]),  # ';' is not a separator
        (b"a==b", [("a", "=b")]),
        (b"&&&", []),
        (b"", []),
    ],
)
def test_malformed_query_strings_never_raise(raw, expected):
    assert list(query_params(scope_with(query_string=raw)).items()) == expected


def test_query_params_of_a_scope_without_query_string_or_with_str():
    assert len(query_params({"type": "websocket"})) == 0
    assert query_params({"query_string": "a=é"})["a"] == "é"


# -- cookies ----------------------------------------------------------------------------------


def cookie_scope(*values: bytes):
    return scope_with(headers=[(b"cookie", value) for value in values])


def test_cookies_are_read_from_the_cookie_header():
    assert cookies(cookie_scope(b"session=abc; theme=dark")) == {"session": "abc", "theme": "dark"}


def test_cookies_from_several_cookie_headers_are_merged():
    # HTTP/2 may split the cookie header into several fields
    assert cookies(cookie_scope(b"a=1", b"b=2")) == {"a": "1", "b": "2"}


def test_a_repeated_cookie_keeps_its_first_value():
    assert cookies(cookie_scope(b"id=specific; id=general")) == {"id": "specific"}


def test_cookie_values_lose_one_pair_of_quotes_and_nothing_else():
    parsed = cookies(cookie_scope(b'q="a b"; e=%41; j=x=y; eq=""; lone="'))
    assert parsed == {"q": "a b", "e": "%41", "j": "x=y", "eq": "", "lone": '"'}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'a=1; b="unterminated; c=3', {"a": "1", "b": '"unterminated', "c": "3"}),
        (b"novalue; a=1", {"a": "1"}),
        (b"=nameless; a=1", {"a": "1"}),
        (b";;; a=1 ;", {"a": "1"}),
        (b"  a  =  1  ", {"a": "1"}),
        (b"a=", {"a": ""}),
        (b"", {}),
        (b"a=\xff", {"a": "\ufffd"}),
        ("n=Zoë".encode(), {"n": "Zoë"}),
        (b"a=1, b=2", {"a": "1, b=2"}),
        (b"\x00=\x01", {"\x00": "\x01"}),
    ],
)
def test_malformed_cookies_never_raise(raw, expected):
    assert cookies(cookie_scope(raw)) == expected


def test_no_cookie_header_is_no_cookies():
    assert cookies(scope_with()) == {}
    assert cookies({}) == {}


# -- url --------------------------------------------------------------------------------------


def test_url_uses_the_host_header_and_the_query_string():
    scope = scope_with(headers=[(b"host", b"example.com:8443")], path="/chat", query_string=b"a=1")
    assert url(scope) == "ws://example.com:8443/chat?a=1"


def test_url_falls_back_to_the_server_and_drops_default_ports():
    assert url(scope_with(path="/x")) == "ws://testserver/x"
    assert url(scope_with(server=("10.0.0.1", 8000))) == "ws://10.0.0.1:8000/"
    assert url(scope_with(scheme="wss", server=("a.example", 443))) == "wss://a.example/"
    assert url(scope_with(scheme="wss", server=("a.example", 80))) == "wss://a.example:80/"
    assert url(scope_with(server=("::1", 8000))) == "ws://[::1]:8000/"
    assert url(scope_with(server=("/tmp/sock", None))) == "ws:///tmp/sock/"


def test_url_maps_http_schemes_and_defaults_to_ws():
    assert url(scope_with(scheme="https", server=("h", 443))) == "wss://h/"
    assert url(scope_with(scheme="http")) == "ws://testserver/"
    scope = scope_with()
    del scope["scheme"]
    assert url(scope) == "ws://testserver/"


def test_url_puts_root_path_before_path_unless_path_has_it():
    assert url(scope_with(root_path="/api", path="/chat")) == "ws://testserver/api/chat"
    assert url(scope_with(root_path="/api", path="/api/chat")) == "ws://testserver/api/chat"
    assert url(scope_with(root_path="/api/", path="/chat")) == "ws://testserver/api/chat"
    assert url(scope_with(root_path="/api", path="/apichat")) == "ws://testserver/api/apichat"


def test_url_percent_encodes_the_decoded_path():
    scope = scope_with(path="/rooms/café au lait/100%?#", query_string=b"q=%C3%A9")
    assert url(scope) == "ws://testserver/rooms/caf%C3%A9%20au%20lait/100%25%3F%23?q=%C3%A9"


def test_url_without_a_host_is_relative():
    assert url({"path": "/x", "query_string": b"a=1"}) == "/x?a=1"
    assert url({}) == "/"
    assert url(scope_with(server=None, headers=[(b"host", b"")])) == "/"


# -- client -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (("127.0.0.1", 50000), ("127.0.0.1", 50000)),
        (["::1", 1], ("::1", 1)),
        (None, None),
        ((), None),
        (("h",), None),
        (("h", "80"), None),
        ((None, 80), None),
        ("127.0.0.1:80", None),
    ],
)
def test_client_is_a_host_and_port_or_none(value, expected):
    assert client(scope_with(client=value)) == expected


def test_client_missing_from_the_scope():
    assert client({}) is None
