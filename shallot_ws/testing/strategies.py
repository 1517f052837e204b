"""Hypothesis strategies for WebSocket traffic: frames, close codes, whole client flows and
the server quirks seen in the field.

Needs ``hypothesis`` (the ``test`` extra); shallot_ws itself does not.
"""

from __future__ import annotations

from hypothesis import strategies as st

from ..messages import MAX_REASON_BYTES, is_valid_close_code
from .flows import Disconnect, Drop, Send, Sleep, Step
from .server import (
    DISCONNECT_1006,
    SEND_AFTER_CLOSE_IGNORED,
    SEND_AFTER_CLOSE_OSERROR,
    SEND_AFTER_DISCONNECT_OSERROR,
)

_CHARACTERS = st.characters(blacklist_categories=["Cs"])  # any Unicode but lone surrogates

__all__ = [
    "binary_frames",
    "close_codes",
    "close_reasons",
    "flows",
    "frames",
    "invalid_close_codes",
    "server_quirks",
    "text_frames",
]


def text_frames(*, large: bool = True) -> st.SearchStrategy[str]:
    """Text frames: empty, ASCII, any Unicode (no lone surrogates), and large ones."""
    small = st.text(_CHARACTERS, max_size=64)
    if not large:
        return small
    big = st.builds(
        lambda chunk, count: chunk * count,
        st.text(_CHARACTERS, min_size=1, max_size=8),
        st.integers(min_value=1_000, max_value=70_000),
    )
    return st.one_of(small, st.just(""), big)


def binary_frames(*, large: bool = True) -> st.SearchStrategy[bytes]:
    """Binary frames: empty, small, and large ones."""
    small = st.binary(max_size=64)
    if not large:
        return small
    big = st.builds(
        lambda chunk, count: chunk * count,
        st.binary(min_size=1, max_size=8),
        st.integers(min_value=1_000, max_value=70_000),
    )
    return st.one_of(small, st.just(b""), big)


def frames(*, large: bool = True) -> st.SearchStrategy[str | bytes]:
    """Any frame a client may send: text or binary, see ``text_frames`` and ``binary_frames``."""
    return st.one_of(text_frames(large=large), binary_frames(large=large))


def close_codes() -> st.SearchStrategy[int]:
    """Close codes an application may send: 1000-1003, 1007-1014, 3000-4999."""
    return st.one_of(st.integers(1000, 1003), st.integers(1007, 1014), st.integers(3000, 4999))


def invalid_close_codes() -> st.SearchStrategy[int]:
    """Integers that are not close codes an application may send."""
    return st.integers(-(2**16), 2**16).filter(lambda code: not is_valid_close_code(code))


def close_reasons() -> st.SearchStrategy[str]:
    """Close reasons of at most 123 bytes of UTF-8."""
    return st.text(_CHARACTERS, max_size=MAX_REASON_BYTES).filter(
        lambda reason: len(reason.encode("utf-8")) <= MAX_REASON_BYTES
    )


SLEEPS = (0.0, 0.001, 0.005)  # seconds a drawn Sleep waits: short, even on a real clock


def flows(
    frames: st.SearchStrategy[str | bytes] | None = None,
    *,
    max_steps: int = 8,
    sleeps: st.SearchStrategy[float] | None = None,
    leave: bool = True,
) -> st.SearchStrategy[list[Step]]:
    """Whole client flows (see ``shallot_ws.testing.flows``): up to ``max_steps`` steps of
    ``Send`` (of ``frames``, small ones by default) and ``Sleep`` (``sleeps``, by default 0,
    1 or 5 ms; ``st.nothing()`` for none), ending, at any point when ``leave`` is true, with
    a ``Disconnect`` (any valid close code and reason) or a ``Drop``, or with neither (the
    client then leaves with 1000 after the last step). There are no ``Receive`` steps: which
    answers an app owes is the test's to say. Flows shrink towards fewer steps and no
    leaving."""
    if type(max_steps) is not int or max_steps < 0:
        raise ValueError(f"flows expected a non-negative int max_steps, got {max_steps!r}")
    sent = st.builds(Send, frames if frames is not None else _small_frames())
    slept = st.builds(Sleep, sleeps if sleeps is not None else st.sampled_from(SLEEPS))
    endings: st.SearchStrategy[Step | None] = st.none()
    if leave:
        endings = st.one_of(
            st.none(), st.builds(Disconnect, close_codes(), close_reasons()), st.just(Drop())
        )

    @st.composite
    def flow(draw: st.DrawFn) -> list[Step]:
        ending = draw(endings) if max_steps else None
        room = max_steps - (ending is not None)
        steps: list[Step] = draw(st.lists(st.one_of(sent, slept), max_size=room))
        return [*steps, ending] if ending is not None else steps

    return flow()


def _small_frames() -> st.SearchStrategy[str | bytes]:
    return st.one_of(text_frames(large=False), binary_frames(large=False))


def server_quirks() -> st.SearchStrategy[frozenset[str]]:
    """Sets of server quirks for ``connect(quirks=...)`` and ``run_flow``: any of them, but
    never both answers to a send after the close. Shrinks towards none (hypercorn)."""
    return st.builds(
        _quirk_set,
        st.booleans(),
        st.sampled_from((None, SEND_AFTER_CLOSE_IGNORED, SEND_AFTER_CLOSE_OSERROR)),
        st.booleans(),
    )


def _quirk_set(disconnect_1006: bool, after_close: str | None, oserror: bool) -> frozenset[str]:
    chosen = {after_close} if after_close is not None else set()
    if disconnect_1006:
        chosen.add(DISCONNECT_1006)
    if oserror:
        chosen.add(SEND_AFTER_DISCONNECT_OSERROR)
    return frozenset(chosen)
