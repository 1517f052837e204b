"""The exception hierarchy: one base, the builtin families callers expect, short texts."""

from __future__ import annotations

import pytest

from shallot_ws import (
    InvalidHandler,
    InvalidMessage,
    InvalidMessageType,
    ProtocolError,
    ShallotWSError,
    SubprotocolError,
    WSDisconnect,
)
from shallot_ws.testing import AppClosed, ASGIViolation, HandshakeRefused, TestingError, WSTimeout


@pytest.mark.parametrize(
    ("error", "families"),
    [
        (InvalidHandler, (TypeError,)),
        (InvalidMessage, (ValueError,)),
        (InvalidMessageType, (TypeError, ValueError, InvalidMessage)),
        (SubprotocolError, (ValueError,)),
        (ProtocolError, (RuntimeError,)),
        (WSDisconnect, ()),
        (WSTimeout, (AssertionError, TestingError)),
        (AppClosed, (AssertionError, TestingError)),
        (HandshakeRefused, (AssertionError, TestingError)),
        (ASGIViolation, (AssertionError, TestingError)),
    ],
)
def test_every_error_is_a_shallot_error_of_its_family(error, families):
    assert issubclass(error, ShallotWSError)
    for family in families:
        assert issubclass(error, family)


def test_texts():
    assert str(WSDisconnect(1001)) == "client disconnected with code 1001"
    assert str(WSDisconnect(4000, "bye")) == "client disconnected with code 4000 (bye)"
    assert (WSDisconnect(4000, "bye").code, WSDisconnect(4000, "bye").reason) == (4000, "bye")
    assert str(AppClosed(1011)) == "the app closed the connection with code 1011"
    assert str(AppClosed(1001, "bye")) == "the app closed the connection with code 1001 (bye)"
    refused = HandshakeRefused(401, [(b"x", b"y")], b"no")
    assert str(refused) == "the app refused the handshake with HTTP 401"
    assert (refused.status, refused.headers, refused.body) == (401, [(b"x", b"y")], b"no")


def _drawn(text: str) -> list[tuple[int, str]]:
    """The tree drawn in ``text`` (the first one): (depth, class name) for each line."""
    lines = text[text.index("ShallotWSError") :].splitlines()
    tree = []
    for line in lines:
        if not line.strip() or line.startswith("```") or line.startswith("``"):
            break
        name = line.lstrip(" │├└─").split()[0]
        tree.append(((len(line) - len(line.lstrip(" │├└─"))) // 5, name))
    return tree


def test_the_drawn_trees_match_the_classes():
    import pathlib

    import shallot_ws
    import shallot_ws.errors as errors

    drawn = _drawn(errors.__doc__)
    docs = pathlib.Path(shallot_ws.__file__).parent.parent / "docs" / "handlers.md"
    assert _drawn(docs.read_text()) == drawn
    assert {name for _, name in drawn} == {
        name for name in errors.__all__ if issubclass(getattr(errors, name), ShallotWSError)
    }
    parents: list[str] = []
    for depth, name in drawn:
        del parents[depth:]
        if parents:
            assert getattr(errors, name).__bases__[0] is getattr(errors, parents[-1]), name
        parents.append(name)
