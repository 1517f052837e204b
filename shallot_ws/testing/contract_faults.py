"""Frames a contract must refuse: ``bad_frames`` (each a ``BadFrame`` that says how it was
made) and ``invalid_frames`` (the frames alone).

An invalid frame starts from a valid message, made wrong in one way (a ``Fault``): a field
given a value of a JSON type its annotation cannot take, a required field left out, the tag
set to one no kind declares, the bytes cut short or followed by junk, or sent as the other
frame kind.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal

from hypothesis import strategies as st

from ..contracts.codecs import Codec, type_name
from ..types import Frame
from .contract_fields import array_like, fields_of, optional_msgspec, tag_of
from .contract_json_kinds import JSON_KINDS, accepts, wrong_values
from .contract_kinds import kind_strategies
from .contract_leaves import CHARACTERS
from .contract_targets import Side, declared, kind_name

__all__ = ["FAULTS", "BadFrame", "Fault", "bad_frames", "invalid_frames"]

Fault = Literal["wrong type", "missing field", "unknown tag", "bad encoding", "wrong frame kind"]
FAULTS: tuple[Fault, ...] = typing.get_args(Fault)


@dataclasses.dataclass(frozen=True)
class BadFrame:
    """A frame the contract must refuse, and how it was made: ``fault`` (one of ``FAULTS``),
    ``kind`` (the name of the message kind it was made from, or ``""``), ``field`` (the key
    that is wrong or missing, or ``None`` for the whole message) and ``value`` (the value put
    in its place, or ``None``)."""

    frame: Frame
    fault: Fault
    kind: str = ""
    field: str | None = None
    value: Any = None

    def __str__(self) -> str:
        made = f"a {self.kind} message" if self.kind else "a frame"
        where = f" at {self.field!r}" if self.field is not None else ""
        if self.fault == "wrong type":
            return f"{made} with a value of the wrong type{where}"
        if self.fault == "missing field":
            return f"{made} without its field {self.field!r}"
        if self.fault == "unknown tag":
            return f"{made} with an unknown tag{where}"
        if self.fault == "bad encoding":
            return f"{made} that does not decode"
        return f"{made} sent as the other frame kind"


def invalid_frames(
    target: Any, *, side: Side = "receives", faults: Iterable[Fault] = FAULTS
) -> st.SearchStrategy[Frame]:
    """Frames that the contract must refuse (``decode`` raises ``InvalidFrame``): the frames
    of ``bad_frames``."""
    return bad_frames(target, side=side, faults=faults).map(lambda bad: bad.frame)


def bad_frames(
    target: Any, *, side: Side = "receives", faults: Iterable[Fault] = FAULTS
) -> st.SearchStrategy[BadFrame]:
    """Frames that the contract must refuse, each as a ``BadFrame`` that says how it was
    made, one way or another (``faults``, all of ``FAULTS`` by default, drawn fairly among
    those the declared type allows):

    - "wrong type": a field (or the whole message) with a value of a JSON type it cannot
      take; a string put there starts with ``bad-value-``;
    - "missing field": a required field left out (the tag too, in a union);
    - "unknown tag": the tag set to one no kind declares (``bad-tag-...``);
    - "bad encoding": bad JSON (or bad MessagePack): cut short, junk after, or junk alone;
    - "wrong frame kind": a binary frame in text mode, a text frame in binary mode.
    """
    chosen = tuple(faults)
    unknown = [fault for fault in chosen if fault not in FAULTS]
    if unknown or not chosen:
        raise ValueError(f"expected faults among {FAULTS}, got {chosen!r}")
    codec, text = declared(target, side)
    made = _Bad(codec, text)
    strategies = [made.strategy(fault) for fault in dict.fromkeys(chosen)]
    possible = [strategy for strategy in strategies if strategy is not None]
    if not possible:
        raise ValueError(
            f"{type_name(codec.type)} allows none of the faults {chosen!r}: nothing to draw"
        )
    return st.one_of(*possible)


class _Bad:
    """The ways to make a valid message of one codec's type invalid."""

    def __init__(self, codec: Codec, text: bool) -> None:
        self.codec = codec
        self.text = text
        self.kinds = kind_strategies(codec)
        self.tag = tag_of(codec.type, tuple(self.kinds))

    def strategy(self, fault: Fault) -> st.SearchStrategy[BadFrame] | None:
        make: dict[Fault, Callable[[], st.SearchStrategy[BadFrame] | None]] = {
            "wrong type": self.wrong_type,
            "missing field": self.missing_field,
            "unknown tag": self.unknown_tag,
            "bad encoding": self.bad_encoding,
            "wrong frame kind": self.wrong_frame_kind,
        }
        return make[fault]()

    # What the frames hold, as plain data (dicts, lists, str...), and back.

    def plain(self, message: Any) -> Any:
        frame = self.codec.encode(message)
        if isinstance(frame, str):
            return json.loads(frame)
        return optional_msgspec().msgpack.decode(frame)

    def frame(self, plain: Any) -> Frame:
        if self.text:
            return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
        data: bytes = optional_msgspec().msgpack.encode(plain)
        return data

    def objects(self) -> list[tuple[Any, st.SearchStrategy[Any]]]:
        """The kinds sent as objects (with named fields), and their strategies."""
        return [
            (kind, strategy)
            for kind, strategy in self.kinds.items()
            if isinstance(kind, type) and fields_of(kind) and not array_like(kind)
        ]

    # The faults.

    def wrong_type(self) -> st.SearchStrategy[BadFrame] | None:
        choices: list[st.SearchStrategy[BadFrame]] = []
        for kind, strategy in self.objects():
            fields = [
                (field.wire, wrong)
                for field in fields_of(kind)
                if field.wire != (self.tag[0] if self.tag else None)
                for wrong in [sorted(JSON_KINDS - accepts(field.annotation))]
                if wrong
            ]
            if fields:
                choices.append(self._wrong_field(kind, strategy, fields))
        whole = sorted(JSON_KINDS - {"object"} - accepts(self.codec.type))
        if "object" in accepts(self.codec.type) and whole:  # messages are objects
            choices.append(st.sampled_from(whole).flatmap(wrong_values).map(self._wrong_whole))
        return st.one_of(*choices) if choices else None

    def _wrong_field(
        self,
        kind: type,
        strategy: st.SearchStrategy[Any],
        fields: list[tuple[str, list[str]]],
    ) -> st.SearchStrategy[BadFrame]:
        @st.composite
        def made(draw: st.DrawFn) -> BadFrame:
            plain = self.plain(draw(strategy))
            key, wrong = draw(st.sampled_from(fields))
            value = draw(st.sampled_from(wrong).flatmap(wrong_values))
            plain[key] = value
            return BadFrame(self.frame(plain), "wrong type", kind_name(kind), key, value)

        return made()

    def _wrong_whole(self, value: Any) -> BadFrame:
        return BadFrame(self.frame(value), "wrong type", "", None, value)

    def missing_field(self) -> st.SearchStrategy[BadFrame] | None:
        choices = []
        tagged = self.tag is not None and len(self.tag[1]) > 1
        for kind, strategy in self.objects():
            keys = [field.wire for field in fields_of(kind) if field.required]
            if tagged and self.tag is not None and kind in self.tag[1]:
                keys.append(self.tag[0])
            if keys:
                choices.append(self._without(kind, strategy, list(dict.fromkeys(keys))))
        return st.one_of(*choices) if choices else None

    def _without(
        self, kind: type, strategy: st.SearchStrategy[Any], keys: list[str]
    ) -> st.SearchStrategy[BadFrame]:
        @st.composite
        def made(draw: st.DrawFn) -> BadFrame:
            plain = self.plain(draw(strategy))
            key = draw(st.sampled_from(keys))
            plain.pop(key, None)
            return BadFrame(self.frame(plain), "missing field", kind_name(kind), key)

        return made()

    def unknown_tag(self) -> st.SearchStrategy[BadFrame] | None:
        if self.tag is None:
            return None
        key, tags = self.tag
        declared = set(tags.values())
        if all(isinstance(tag, int) for tag in declared):
            values: st.SearchStrategy[Any] = st.integers(-(2**31), 2**31)
        else:
            values = st.text(CHARACTERS, max_size=8).map(lambda text: f"bad-tag-{text}")
        values = values.filter(lambda value: value not in declared)
        choices = [
            self._retagged(kind, strategy, key, values)
            for kind, strategy in self.objects()
            if kind in tags
        ]
        return st.one_of(*choices) if choices else None

    def _retagged(
        self, kind: type, strategy: st.SearchStrategy[Any], key: str, values: Any
    ) -> st.SearchStrategy[BadFrame]:
        @st.composite
        def made(draw: st.DrawFn) -> BadFrame:
            plain = self.plain(draw(strategy))
            value = draw(values)
            plain[key] = value
            return BadFrame(self.frame(plain), "unknown tag", kind_name(kind), key, value)

        return made()

    def bad_encoding(self) -> st.SearchStrategy[BadFrame]:
        kinds = list(self.kinds.items())

        @st.composite
        def made(draw: st.DrawFn) -> BadFrame:
            kind, strategy = draw(st.sampled_from(kinds))
            frame = self.codec.encode(draw(strategy))
            how = draw(st.sampled_from(("cut", "junk after", "junk")))
            if how == "cut" and _cuttable(frame):
                cut = draw(st.integers(0, len(frame) - 1))
                return BadFrame(frame[:cut], "bad encoding", kind_name(kind))
            if isinstance(frame, str):
                junk = draw(st.text(CHARACTERS, max_size=8).map(lambda text: f"bad-json-{text}"))
                return BadFrame(
                    junk if how == "junk" else f"{frame}{junk}", "bad encoding", kind_name(kind)
                )
            tail = b"\xc1" + draw(st.binary(max_size=8))  # 0xc1: never used by MessagePack
            junked = tail if how == "junk" else frame + tail
            return BadFrame(junked, "bad encoding", kind_name(kind))

        return made()

    def wrong_frame_kind(self) -> st.SearchStrategy[BadFrame]:
        kinds = list(self.kinds.items())

        @st.composite
        def made(draw: st.DrawFn) -> BadFrame:
            kind, strategy = draw(st.sampled_from(kinds))
            message = draw(strategy)
            frame = self.codec.encode(message)
            if isinstance(frame, str):
                return BadFrame(frame.encode(), "wrong frame kind", kind_name(kind))
            text = optional_msgspec().json.encode(message).decode()
            return BadFrame(text, "wrong frame kind", kind_name(kind))

        return made()


def _cuttable(frame: Frame) -> bool:
    """Whether every proper prefix of ``frame`` is bad: an object or an array (JSON), or
    any non-empty MessagePack value (it says its own length)."""
    if isinstance(frame, bytes):
        return bool(frame)
    return frame[:1] in ("{", "[")
