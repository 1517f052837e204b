"""Path patterns: compiling, matching and building, pure (no event loop)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shallot_ws import ConfigError, RouteError
from shallot_ws.errors import ShallotWSError, UrlForError
from shallot_ws.patterns import CONVERTERS, build_path, compile_pattern

UID = "12345678-1234-5678-9abc-def012345678"


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/echo", "/echo", {}),
        ("/rooms/{room}", "/rooms/blue", {"room": "blue"}),
        ("/rooms/{room:str}", "/rooms/a b", {"room": "a b"}),
        ("/feeds/{feed_id:int}", "/feeds/42", {"feed_id": 42}),
        ("/at/{x:float}", "/at/1.5", {"x": 1.5}),
        ("/at/{x:float}", "/at/7", {"x": 7.0}),
        ("/u/{u:uuid}", f"/u/{UID}", {"u": uuid.UUID(UID)}),
        ("/u/{u:uuid}", f"/u/{UID.upper()}", {"u": uuid.UUID(UID)}),
        ("/files/{rest:path}", "/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("/files/{rest:path}", "/files/", {"rest": ""}),
        ("/a/{x}/b/{y:int}", "/a/1/b/2", {"x": "1", "y": 2}),
        ("/v{major:int}.{minor:int}", "/v2.10", {"major": 2, "minor": 10}),
        ("/a.b/{x}", "/a.b/c", {"x": "c"}),  # literal text is not a regex
    ],
)
def test_matches_and_converts(pattern, path, params):
    assert compile_pattern(pattern).match(path) == params


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/echo", "/echo/"),  # exact: no trailing-slash leniency
        ("/echo/", "/echo"),
        ("/echo", "/ECHO"),
        ("/rooms/{room}", "/rooms/"),
        ("/rooms/{room}", "/rooms/a/b"),
        ("/rooms/{room}", "/rooms/blue/"),
        ("/feeds/{feed_id:int}", "/feeds/-1"),
        ("/feeds/{feed_id:int}", "/feeds/1.5"),
        ("/feeds/{feed_id:int}", "/feeds/12x"),
        ("/at/{x:float}", "/at/1."),
        ("/at/{x:float}", "/at/1e5"),
        ("/u/{u:uuid}", "/u/not-a-uuid"),
        ("/u/{u:uuid}", f"/u/{UID}0"),
        ("/a.b/{x}", "/axb/c"),
        ("/files/{rest:path}", "/files"),
    ],
)
def test_does_not_match(pattern, path):
    assert compile_pattern(pattern).match(path) is None


def test_a_pattern_without_parameters_is_static():
    assert compile_pattern("/echo").static
    assert compile_pattern("/echo").params == ()
    assert not compile_pattern("/rooms/{room}").static
    assert compile_pattern("/a/{x}/{y:int}").params == ("x", "y")


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (
            "/a/{x:num}",
            "route '/a/{x:num}': unknown converter 'num' in '{x:num}' (expected one of str, int, float, uuid, path)",
        ),
        ("/a/{x}/{x:int}", "route '/a/{x}/{x:int}': parameter 'x' appears twice"),
        ("echo", "route 'echo' must start with '/'"),
        ("", "route '' must start with '/'"),
        ("/a/{x", "route '/a/{x': unbalanced brace in '/a/{x'"),
        ("/a/x}", "route '/a/x}': unbalanced brace in '/a/x}'"),
        ("/a/{}", "route '/a/{}': expected {name} or {name:converter}, got '{}'"),
        ("/a/{1x}", "route '/a/{1x}': expected {name} or {name:converter}, got '{1x}'"),
        ("/a/{x-y}", "route '/a/{x-y}': expected {name} or {name:converter}, got '{x-y}'"),
    ],
)
def test_malformed_patterns_are_errors_naming_them(pattern, text):
    with pytest.raises(RouteError) as info:
        compile_pattern(pattern)
    assert str(info.value) == text


def test_route_error_is_in_the_hierarchy_and_a_value_error():
    assert issubclass(RouteError, ShallotWSError) and issubclass(RouteError, ValueError)
    assert issubclass(RouteError, ConfigError)
    with pytest.raises(RouteError, match="^route pattern expected a str, got bytes$"):
        compile_pattern(b"/echo")  # type: ignore[arg-type]


# -- mount prefixes -------------------------------------------------------------------------


def test_a_prefix_matches_the_start_of_a_path_followed_by_a_slash():
    prefix = compile_pattern("/t/{tenant}", prefix=True, what="mount")
    assert prefix.match_prefix("/t/acme/echo") == ({"tenant": "acme"}, "/t/acme")
    assert prefix.match_prefix("/t/acme/") == ({"tenant": "acme"}, "/t/acme")
    assert prefix.match_prefix("/t/acme") is None  # the mount point itself is not under it
    assert compile_pattern("/api", prefix=True).match_prefix("/apix/echo") is None


def test_the_empty_prefix_mounts_at_the_root():
    assert compile_pattern("", prefix=True).match_prefix("/echo") == ({}, "")


@pytest.mark.parametrize(
    ("prefix", "text"),
    [
        ("/api/", "mount '/api/' must not end with '/': the mounted patterns start with one"),
        ("/", "mount '/' must not end with '/': the mounted patterns start with one"),
        ("api", "mount 'api' must start with '/' (or be '' for the root)"),
        ("/f/{rest:path}", "mount '/f/{rest:path}': a mount prefix cannot hold a path parameter"),
    ],
)
def test_malformed_prefixes(prefix, text):
    with pytest.raises(RouteError) as info:
        compile_pattern(prefix, prefix=True, what="mount")
    assert str(info.value) == text


# -- building -------------------------------------------------------------------------------


def build(pattern, **params):
    return build_path([compile_pattern(pattern)], params, "url_for('x')")


def test_builds_with_converters_formatting_values():
    assert build("/echo") == "/echo"
    assert build("/rooms/{room}", room="blue") == "/rooms/blue"
    assert build("/feeds/{feed_id:int}", feed_id=7) == "/feeds/7"
    assert build("/at/{x:float}", x=1.5) == "/at/1.5"
    assert build("/at/{x:float}", x=2) == "/at/2"
    assert build("/at/{x:float}", x=1e-7) == "/at/0.0000001"  # never an exponent
    assert build("/at/{x:float}", x=1e20) == "/at/100000000000000000000"
    assert build("/u/{u:uuid}", u=uuid.UUID(UID)) == f"/u/{UID}"
    assert build("/u/{u:uuid}", u=UID.upper()) == f"/u/{UID}"
    assert build("/files/{rest:path}", rest="a/b/c.txt") == "/files/a/b/c.txt"


def test_builds_a_percent_encoded_path():
    assert build("/rooms/{room}", room="a b?#") == "/rooms/a%20b%3F%23"
    assert build("/rooms/{room}", room="café") == "/rooms/caf%C3%A9"
    assert build("/files/{rest:path}", rest="my docs/x y") == "/files/my%20docs/x%20y"
    assert build("/rooms/{room}", room="a:b@c") == "/rooms/a:b@c"  # pchar stays as is


def test_a_chain_joins_mount_prefixes_and_the_route():
    chain = [compile_pattern("/t/{tenant}", prefix=True), compile_pattern("/feeds/{n:int}")]
    assert build_path(chain, {"tenant": "acme", "n": 3}, "w") == "/t/acme/feeds/3"


@pytest.mark.parametrize(
    ("pattern", "params", "text"),
    [
        (
            "/rooms/{room}",
            {"room": "a/b"},
            "url_for('x'): parameter 'room' expected a non-empty str without '/', got 'a/b'",
        ),
        (
            "/rooms/{room}",
            {"room": ""},
            "url_for('x'): parameter 'room' expected a non-empty str without '/', got ''",
        ),
        (
            "/rooms/{room}",
            {"room": 5},
            "url_for('x'): parameter 'room' expected a non-empty str without '/', got 5",
        ),
        (
            "/f/{n:int}",
            {"n": -1},
            "url_for('x'): parameter 'n' expected a non-negative int, got -1",
        ),
        (
            "/f/{n:int}",
            {"n": "7"},
            "url_for('x'): parameter 'n' expected a non-negative int, got '7'",
        ),
        (
            "/f/{n:int}",
            {"n": True},
            "url_for('x'): parameter 'n' expected a non-negative int, got True",
        ),
        (
            "/f/{x:float}",
            {"x": float("nan")},
            "url_for('x'): parameter 'x' expected a non-negative finite float, got nan",
        ),
        (
            "/f/{u:uuid}",
            {"u": "nope"},
            "url_for('x'): parameter 'u' expected a uuid.UUID or its text, got 'nope'",
        ),
        (
            "/f/{rest:path}",
            {"rest": None},
            "url_for('x'): parameter 'rest' expected a str, got None",
        ),
        ("/f/{a}/{b}", {}, "url_for('x'): missing 'a', 'b' ('/f/{a}/{b}' takes 'a', 'b')"),
        ("/f/{a}", {"a": "1", "b": "2"}, "url_for('x'): unexpected 'b' ('/f/{a}' takes 'a')"),
        ("/f", {"a": "1"}, "url_for('x'): unexpected 'a' ('/f' takes no parameters)"),
        ("/f/{a}", {"b": "2"}, "url_for('x'): missing 'a'; unexpected 'b' ('/f/{a}' takes 'a')"),
    ],
)
def test_bad_parameters_are_errors_naming_them(pattern, params, text):
    with pytest.raises(UrlForError) as info:
        build(pattern, **params)
    assert str(info.value) == text


def test_converters_are_the_documented_ones():
    assert list(CONVERTERS) == ["str", "int", "float", "uuid", "path"]


# -- properties -----------------------------------------------------------------------------

segments = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1
)


@given(room=segments, n=st.integers(min_value=0), rest=st.lists(segments).map("/".join))
def test_what_build_writes_matches_back_to_the_same_values(room, n, rest):
    """Building then matching the decoded path gives back the parameters (round trip)."""
    from urllib.parse import unquote

    pattern = compile_pattern("/r/{room}/{n:int}/{rest:path}")
    path = build_path([pattern], {"room": room, "n": n, "rest": rest}, "w")
    assert pattern.match(unquote(path)) == {"room": room, "n": n, "rest": rest}


@given(x=st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly(x):
    """Every finite non-negative float is written as digits that read back to it."""
    pattern = compile_pattern("/at/{x:float}")
    assert pattern.match(build_path([pattern], {"x": x}, "w")) == {"x": x}
