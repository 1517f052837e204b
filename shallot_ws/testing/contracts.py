"""Hypothesis strategies from a contract (``shallot_ws.contracts``): the messages it declares,
their frames, and the frames it must refuse. This module is their one place to import from;
each concern has a module of its own beside it.

::

    chat = contract(receives=Join | Say, sends=Said)

    messages(chat)        # Join and Say objects, one kind or the other, drawn fairly
    contract_frames(chat) # their JSON text frames (MessagePack bytes in binary mode)
    invalid_frames(chat)  # frames the contract refuses: wrong types, missing fields, ...
    bad_frames(chat)      # the same, as BadFrame: the frame, what is wrong, where

Theory of operation. A declared type is split into its kinds (the members of a union); each
kind gets a strategy built from its fields' annotations: msgspec Structs (their tags come
with the class), dataclasses, ``TypedDict`` and pydantic models, nested at will; fields with
a default are sometimes left out. Leaves are drawn so that they survive the codec: text
without lone surrogates, finite floats, 64-bit integers; the bounds of ``msgspec.Meta`` and
of annotated-types (pydantic's ``Field(ge=..., max_length=...)``) are kept. Anything else
goes to ``st.from_type``: register a strategy for a type of your own there.

An invalid frame starts from a valid message, made wrong in one way: a field given a value
of a JSON type its annotation cannot take, a required field left out, the tag set to one no
kind declares, the bytes cut short or followed by junk, or sent as the other frame kind.

Where each part lives:

- ``contract_targets``: the contract and codec a strategy is drawn for, and kind names;
- ``contract_messages``: ``messages`` and ``contract_frames``, the valid side;
- ``contract_kinds``: a strategy per declared kind, built from its annotations;
- ``contract_fields``: the fields, bounds and tags of the declared types;
- ``contract_leaves``: text, numbers and JSON values that survive the codecs;
- ``contract_faults``: ``bad_frames``, ``invalid_frames`` and ``BadFrame``;
- ``contract_json_kinds``: the JSON types a field takes, and values of the others.

Needs ``hypothesis`` (the ``test`` extra), and msgspec or pydantic for the types.
"""

from __future__ import annotations

from .contract_faults import FAULTS, BadFrame, Fault, bad_frames, invalid_frames
from .contract_messages import contract_frames, messages
from .contract_targets import codec_for, contract_for, kind_name, kind_of

__all__ = [
    "FAULTS",
    "BadFrame",
    "Fault",
    "bad_frames",
    "codec_for",
    "contract_for",
    "contract_frames",
    "invalid_frames",
    "kind_name",
    "kind_of",
    "messages",
]
