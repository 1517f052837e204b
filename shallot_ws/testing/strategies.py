"""Hypothesis strategies for WebSocket traffic: frames and close codes.

Needs ``hypothesis`` (the ``test`` extra); shallot_ws itself does not.
"""

from __future__ import annotations

from hypothesis import strategies as st

from ..messages import MAX_REASON_BYTES, is_valid_close_code

_CHARACTERS = st.characters(blacklist_categories=["Cs"])  # any Unicode but lone surrogates

__all__ = [
    "binary_frames",
    "close_codes",
    "close_reasons",
    "frames",
    "invalid_close_codes",
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
