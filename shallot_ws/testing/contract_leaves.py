"""Strategies for the leaves of a message: text without lone surrogates, 64-bit integers and
finite floats within a field's bounds, sizes of bounded values, and any JSON value (for
``Any``). Every value drawn survives the JSON and MessagePack codecs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "CHARACTERS",
    "ITEMS",
    "TEXT_SIZE",
    "bounded_floats",
    "bounded_integers",
    "bounded_sizes",
    "bounded_texts",
    "json_values",
]

CHARACTERS = st.characters(exclude_categories=["Cs"])  # any Unicode but lone surrogates
TEXT_SIZE = 20  # characters of a drawn str, bytes of drawn bytes (unless bounded)
ITEMS = 4  # items of a drawn list, set or dict (unless bounded)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # what both JSON and MessagePack carry


def bounded_sizes(bounds: Mapping[str, Any], default: int) -> tuple[int, int]:
    """The least and most items (or characters) a bounded value may have."""
    least = int(bounds.get("min_length", 0))
    most = bounds.get("max_length")
    return least, int(most) if most is not None else least + default


def bounded_integers(bounds: Mapping[str, Any]) -> st.SearchStrategy[int]:
    """64-bit integers within ``bounds`` (gt, ge, lt, le, multiple_of)."""
    least, most = _INT_MIN, _INT_MAX
    if "ge" in bounds:
        least = max(least, math.ceil(bounds["ge"]))
    if "gt" in bounds:
        least = max(least, math.floor(bounds["gt"]) + 1)
    if "le" in bounds:
        most = min(most, math.floor(bounds["le"]))
    if "lt" in bounds:
        most = min(most, math.ceil(bounds["lt"]) - 1)
    step = bounds.get("multiple_of")
    if isinstance(step, int) and step > 0:
        return st.integers(-(-least // step), most // step).map(lambda count: count * step)
    return st.integers(least, most)


def bounded_floats(bounds: Mapping[str, Any]) -> st.SearchStrategy[float]:
    """Finite floats within ``bounds`` (gt, ge, lt, le)."""
    least = bounds.get("gt", bounds.get("ge"))
    most = bounds.get("lt", bounds.get("le"))
    return st.floats(
        min_value=least,
        max_value=most,
        exclude_min="gt" in bounds,
        exclude_max="lt" in bounds,
        allow_nan=False,
        allow_infinity=False,
    )


def bounded_texts(bounds: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """Text without lone surrogates, of a bounded length, matching ``pattern`` if set."""
    least, most = bounded_sizes(bounds, TEXT_SIZE)
    pattern = bounds.get("pattern")
    if pattern is None:
        return st.text(CHARACTERS, min_size=least, max_size=most)
    matching = st.from_regex(pattern, alphabet=CHARACTERS)
    return matching.filter(lambda text: least <= len(text) <= most)


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value (for ``Any``): no NaN, no infinity, 53-bit integers."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(CHARACTERS, max_size=TEXT_SIZE),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(CHARACTERS, max_size=8), inner, max_size=3),
        ),
        max_leaves=8,
    )
