"""Strategies of valid messages from a contract: ``messages`` (the objects of one side of
it, each kind of a union as likely as the next) and ``contract_frames`` (their frames, as
the codec encodes them).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ..types import Frame
from .contract_faults import invalid_frames
from .contract_kinds import kind_strategies
from .contract_targets import Side, codec_for

__all__ = ["contract_frames", "messages"]


def messages(target: Any, side: Side = "receives") -> st.SearchStrategy[Any]:
    """Valid objects of one side of a contract (``target``: a ``Contract``, an app or
    handler with one, or a type): each kind of a union as likely as the next, then built
    from its fields. Every object encodes, and decodes back equal, through the codec."""
    codec = codec_for(target, side)
    return st.one_of(*kind_strategies(codec).values())


def contract_frames(
    target: Any, valid: bool = True, side: Side = "receives"
) -> st.SearchStrategy[Frame]:
    """Frames of valid messages, as the codec encodes them: JSON text, or MessagePack
    bytes in binary mode. ``valid=False``: ``invalid_frames(target, side=side)``."""
    if not valid:
        return invalid_frames(target, side=side)
    codec = codec_for(target, side)
    return messages(target, side).map(codec.encode)
