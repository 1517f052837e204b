"""Hypothesis strategies from a contract (``shallot_ws.contracts``): the messages it declares,
their frames, and the frames it must refuse.

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

Needs ``hypothesis`` (the ``test`` extra), and msgspec or pydantic for the types.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st

from ..contracts import Contract, contract, contract_of
from ..contracts.codecs import Codec, kinds_of, type_name
from ..types import Frame

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

Side = Literal["receives", "sends"]
Fault = Literal["wrong type", "missing field", "unknown tag", "bad encoding", "wrong frame kind"]
FAULTS: tuple[Fault, ...] = typing.get_args(Fault)

_CHARACTERS = st.characters(exclude_categories=["Cs"])  # any Unicode but lone surrogates
_TEXT_SIZE = 20  # characters of a drawn str, bytes of drawn bytes (unless bounded)
_ITEMS = 4  # items of a drawn list, set or dict (unless bounded)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # what both JSON and MessagePack carry
_SIZE_BOUNDS = ("min_length", "max_length")
_BOUNDS = ("gt", "ge", "lt", "le", "multiple_of", "pattern", *_SIZE_BOUNDS)


# -- what the strategies are drawn for -----------------------------------------------------


def codec_for(target: Any, side: Side = "receives") -> Codec:
    """The codec of one side of a contract: ``target`` is a ``Contract``, an app or handler
    that has one (``contract_of``), or a type (the codec of ``contract(receives=target)``).
    Raises ``ValueError`` when that side is not declared."""
    return _declared(target, side)[0]


def _declared(target: Any, side: Side) -> tuple[Codec, bool]:
    """The codec of one side of a contract, and whether it speaks text frames."""
    if side not in ("receives", "sends"):
        raise ValueError(f"expected side 'receives' or 'sends', got {side!r}")
    found = contract_for(target)
    codec = found.receive_codec if side == "receives" else found.send_codec
    if codec is None:
        raise ValueError(f"{found!r} declares no {side} type: nothing to draw")
    return codec, found.mode == "text"


def contract_for(target: Any) -> Contract:
    """``target`` if it is a ``Contract``, the contract of an app or handler
    (``contract_of``), or ``contract(receives=target)`` for a type."""
    if isinstance(target, Contract):
        return target
    found = contract_of(target)
    if found is not None:
        return found
    return contract(receives=target)  # a type: a ConfigError names it if it is none


def kind_name(kind: Any) -> str:
    """A short name of a declared kind: the class's name (``Rename``), or the type as
    written (``list[int]``)."""
    if isinstance(kind, type):
        return kind.__name__
    return type_name(kind)


def kind_of(value: Any, kinds: Iterable[Any]) -> Any:
    """The declared kind ``value`` is an object of (the first that fits), or ``None``."""
    for kind in kinds:
        if isinstance(kind, type) and typing.is_typeddict(kind):
            if isinstance(value, dict):
                return kind
        elif isinstance(kind, type):
            if isinstance(value, kind):
                return kind
        elif get_origin(kind) is Literal and value in get_args(kind):
            return kind
    return None


# -- valid messages --------------------------------------------------------------------------


def messages(target: Any, side: Side = "receives") -> st.SearchStrategy[Any]:
    """Valid objects of one side of a contract (``target``: a ``Contract``, an app or
    handler with one, or a type): each kind of a union as likely as the next, then built
    from its fields. Every object encodes, and decodes back equal, through the codec."""
    codec = codec_for(target, side)
    return st.one_of(*_kind_strategies(codec).values())


def contract_frames(
    target: Any, valid: bool = True, side: Side = "receives"
) -> st.SearchStrategy[Frame]:
    """Frames of valid messages, as the codec encodes them: JSON text, or MessagePack
    bytes in binary mode. ``valid=False``: ``invalid_frames(target, side=side)``."""
    if not valid:
        return invalid_frames(target, side=side)
    codec = codec_for(target, side)
    return messages(target, side).map(codec.encode)


def _kind_strategies(codec: Codec) -> dict[Any, st.SearchStrategy[Any]]:
    builder = _Builder(pydantic=codec.backend == "pydantic")
    return {kind: builder.strategy(kind) for kind in kinds_of(codec.type)}


class _Builder:
    """Strategies for annotations; classes built once (recursive ones deferred)."""

    def __init__(self, *, pydantic: bool) -> None:
        self.pydantic = pydantic
        self.classes: dict[type, st.SearchStrategy[Any] | None] = {}

    def strategy(self, kind: Any, bounds: Mapping[str, Any] | None = None) -> Any:
        bounds = bounds or {}
        origin, args = get_origin(kind), get_args(kind)
        if origin is typing.Annotated:
            return self.strategy(args[0], {**bounds, **_bounds(kind.__metadata__)})
        if origin in _WRAPPERS:  # Required[...], NotRequired[...], ReadOnly[...]
            return self.strategy(args[0], bounds)
        if kind is Any or kind is object:
            return _json_values()
        if kind is None or kind is type(None):
            return st.none()
        if origin is Literal:
            return st.sampled_from(args)
        if _is_union(kind):
            return st.one_of(*(self.strategy(arg, bounds) for arg in args))
        supertype = getattr(kind, "__supertype__", None)  # a NewType
        if supertype is not None:
            return self.strategy(supertype, bounds)
        if origin is not None:
            return self.generic(origin, args, bounds)
        if isinstance(kind, type):
            return self.class_strategy(kind, bounds)
        return st.from_type(kind)

    def generic(self, origin: Any, args: tuple[Any, ...], bounds: Mapping[str, Any]) -> Any:
        least, most = _sizes(bounds, _ITEMS)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return st.lists(self.strategy(args[0]), min_size=least, max_size=most).map(tuple)
            if args == ((),):
                return st.just(())
            return st.tuples(*(self.strategy(arg) for arg in args))
        if _subclass(origin, Mapping):
            key, value = args or (str, Any)
            keys, values = self.strategy(key), self.strategy(value)
            return st.dictionaries(keys, values, min_size=least, max_size=most)
        item = self.strategy(args[0]) if args else _json_values()
        if origin is frozenset:
            return st.frozensets(item, min_size=least, max_size=most)
        if _subclass(origin, AbstractSet):
            return st.sets(item, min_size=least, max_size=most)
        if _subclass(origin, Sequence):
            return st.lists(item, min_size=least, max_size=most)
        return st.from_type(origin[args] if args else origin)

    def class_strategy(self, kind: type, bounds: Mapping[str, Any]) -> Any:
        if issubclass(kind, enum.Enum):
            return st.sampled_from(list(kind))
        if kind is bool:
            return st.booleans()
        if kind is int:
            return _integers(bounds)
        if kind is float:
            return _floats(bounds)
        if kind is str:
            return _texts(bounds)
        if kind in (bytes, bytearray):
            least, most = _sizes(bounds, _TEXT_SIZE)
            if self.pydantic:  # pydantic writes bytes as UTF-8 text: ASCII, one byte each
                ascii_text = st.text(st.characters(codec="ascii"), min_size=least, max_size=most)
                return ascii_text.map(str.encode)
            return st.binary(min_size=least, max_size=most).map(kind)
        if kind is decimal.Decimal:
            return st.decimals(allow_nan=False, allow_infinity=False, places=6)
        if kind in (list, set, frozenset, tuple, dict):
            return self.generic(kind, (), bounds)
        if _is_struct(kind) or dataclasses.is_dataclass(kind) or typing.is_typeddict(kind):
            return self.built(kind)
        if _is_model(kind):
            return self.built(kind)
        return st.from_type(kind)

    def built(self, kind: type) -> st.SearchStrategy[Any]:
        """The strategy of a class with fields; a class inside itself is deferred."""
        if kind not in self.classes:
            self.classes[kind] = None  # being built: a field refers back to it
            self.classes[kind] = self.fields(kind)
        known = self.classes[kind]
        if known is None:
            return st.deferred(lambda: typing.cast(st.SearchStrategy[Any], self.classes[kind]))
        return known

    def fields(self, kind: type) -> st.SearchStrategy[Any]:
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for field in _fields(kind):
            into = required if field.required else optional
            into[field.argument] = self.strategy(field.annotation, field.bounds)
        drawn = st.fixed_dictionaries(required, optional=optional)
        if typing.is_typeddict(kind):
            return drawn
        return drawn.map(lambda arguments: kind(**arguments))


def _special(name: str) -> tuple[Any, ...]:
    """A special form of ``typing`` (and of ``typing_extensions``, if there), by name."""
    found = [getattr(typing, name, None)]
    try:
        import typing_extensions
    except ImportError:  # pragma: no cover - pydantic and mypy bring it
        pass
    else:
        found.append(getattr(typing_extensions, name, None))
    return tuple(form for form in found if form is not None)


_WRAPPERS = _special("Required") + _special("NotRequired") + _special("ReadOnly")


def _is_union(kind: Any) -> bool:
    import types

    return get_origin(kind) in (typing.Union, types.UnionType)


def _subclass(origin: Any, base: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, base)


def _bounds(metadata: Iterable[Any]) -> dict[str, Any]:
    """Bounds from ``msgspec.Meta``, annotated-types (``Ge``, ``MaxLen``, ``Interval``...)
    and pydantic's ``Field(...)``: whichever of gt, ge, lt, le, multiple_of, min_length,
    max_length and pattern they set."""
    found: dict[str, Any] = {}
    for item in metadata:
        nested = getattr(item, "metadata", None)  # a pydantic FieldInfo
        if isinstance(nested, list):
            found.update(_bounds(nested))
        for name in _BOUNDS:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                found[name] = value
    return found


def _sizes(bounds: Mapping[str, Any], default: int) -> tuple[int, int]:
    """The least and most items (or characters) a bounded value may have."""
    least = int(bounds.get("min_length", 0))
    most = bounds.get("max_length")
    return least, int(most) if most is not None else least + default


def _integers(bounds: Mapping[str, Any]) -> st.SearchStrategy[int]:
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


def _floats(bounds: Mapping[str, Any]) -> st.SearchStrategy[float]:
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


def _texts(bounds: Mapping[str, Any]) -> st.SearchStrategy[str]:
    least, most = _sizes(bounds, _TEXT_SIZE)
    pattern = bounds.get("pattern")
    if pattern is None:
        return st.text(_CHARACTERS, min_size=least, max_size=most)
    matching = st.from_regex(pattern, alphabet=_CHARACTERS)
    return matching.filter(lambda text: least <= len(text) <= most)


def _json_values() -> st.SearchStrategy[Any]:
    """Any JSON value (for ``Any``): no NaN, no infinity, 53-bit integers."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(_CHARACTERS, max_size=_TEXT_SIZE),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(_CHARACTERS, max_size=8), inner, max_size=3),
        ),
        max_leaves=8,
    )


# -- the fields of a message -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Field:
    argument: str  # the name the constructor takes
    wire: str  # the key on the wire
    annotation: Any
    required: bool
    bounds: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # pydantic's Field()


def _msgspec() -> Any:
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec


def _is_struct(kind: Any) -> bool:
    msgspec = _msgspec()
    return msgspec is not None and isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _is_model(kind: Any) -> bool:
    try:
        import pydantic
    except ImportError:
        return False
    return isinstance(kind, type) and issubclass(kind, pydantic.BaseModel)


def _fields(kind: type) -> list[_Field]:
    """The fields of a message class, in order; none for other kinds."""
    if _is_struct(kind):
        return [
            _Field(info.name, info.encode_name, info.type, info.required)
            for info in _msgspec().structs.fields(kind)
        ]
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        return [
            _Field(
                item.name,
                item.name,
                hints[item.name],
                item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING,
            )
            for item in dataclasses.fields(kind)
            if item.init
        ]
    if typing.is_typeddict(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        required = getattr(kind, "__required_keys__", frozenset(hints))
        return [
            _Field(name, name, hint, _required_key(name in required, hint))
            for name, hint in hints.items()
        ]
    if _is_model(kind):
        found = []
        for name, info in kind.model_fields.items():  # type: ignore[attr-defined]
            key = info.alias or name
            bounds = _bounds(info.metadata)
            found.append(_Field(key, key, info.annotation, info.is_required(), bounds))
        return found
    return []


def _required_key(required: bool, hint: Any) -> bool:
    """Whether a ``TypedDict`` key is required: ``Required[...]`` and ``NotRequired[...]``
    decide (string annotations hide them from ``__required_keys__``), else the class."""
    while get_origin(hint) is typing.Annotated:
        hint = get_args(hint)[0]
    origin = get_origin(hint)
    if origin is not None and origin in _special("Required"):
        return True
    if origin is not None and origin in _special("NotRequired"):
        return False
    return required


def _array_like(kind: Any) -> bool:
    return _is_struct(kind) and bool(kind.__struct_config__.array_like)


# -- invalid frames --------------------------------------------------------------------------


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
    codec, text = _declared(target, side)
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
        self.kinds = _kind_strategies(codec)
        self.tag = _tag(codec.type, tuple(self.kinds))

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
        return _msgspec().msgpack.decode(frame)

    def frame(self, plain: Any) -> Frame:
        if self.text:
            return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
        data: bytes = _msgspec().msgpack.encode(plain)
        return data

    def objects(self) -> list[tuple[Any, st.SearchStrategy[Any]]]:
        """The kinds sent as objects (with named fields), and their strategies."""
        return [
            (kind, strategy)
            for kind, strategy in self.kinds.items()
            if isinstance(kind, type) and _fields(kind) and not _array_like(kind)
        ]

    # The faults.

    def wrong_type(self) -> st.SearchStrategy[BadFrame] | None:
        choices: list[st.SearchStrategy[BadFrame]] = []
        for kind, strategy in self.objects():
            fields = [
                (field.wire, wrong)
                for field in _fields(kind)
                if field.wire != (self.tag[0] if self.tag else None)
                for wrong in [sorted(_JSON_KINDS - _accepts(field.annotation))]
                if wrong
            ]
            if fields:
                choices.append(self._wrong_field(kind, strategy, fields))
        whole = sorted(_JSON_KINDS - {"object"} - _accepts(self.codec.type))
        if "object" in _accepts(self.codec.type) and whole:  # messages are objects
            choices.append(st.sampled_from(whole).flatmap(_wrong_values).map(self._wrong_whole))
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
            value = draw(st.sampled_from(wrong).flatmap(_wrong_values))
            plain[key] = value
            return BadFrame(self.frame(plain), "wrong type", kind_name(kind), key, value)

        return made()

    def _wrong_whole(self, value: Any) -> BadFrame:
        return BadFrame(self.frame(value), "wrong type", "", None, value)

    def missing_field(self) -> st.SearchStrategy[BadFrame] | None:
        choices = []
        tagged = self.tag is not None and len(self.tag[1]) > 1
        for kind, strategy in self.objects():
            keys = [field.wire for field in _fields(kind) if field.required]
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
            values = st.text(_CHARACTERS, max_size=8).map(lambda text: f"bad-tag-{text}")
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
                junk = draw(st.text(_CHARACTERS, max_size=8).map(lambda text: f"bad-json-{text}"))
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
            text = _msgspec().json.encode(message).decode()
            return BadFrame(text, "wrong frame kind", kind_name(kind))

        return made()


def _cuttable(frame: Frame) -> bool:
    """Whether every proper prefix of ``frame`` is bad: an object or an array (JSON), or
    any non-empty MessagePack value (it says its own length)."""
    if isinstance(frame, bytes):
        return bool(frame)
    return frame[:1] in ("{", "[")


def _tag(kind: Any, kinds: tuple[Any, ...]) -> tuple[str, dict[Any, Any]] | None:
    """The tag of the declared kinds, if they have one: its key on the wire and each kind's
    value (msgspec Struct tags, or a pydantic union's ``discriminator``)."""
    structs = [k for k in kinds if _is_struct(k) and k.__struct_config__.tag is not None]
    if structs:
        return structs[0].__struct_config__.tag_field, {k: k.__struct_config__.tag for k in structs}
    if get_origin(kind) is typing.Annotated:
        for meta in kind.__metadata__:
            key = getattr(meta, "discriminator", None)
            if isinstance(key, str):
                tags = {}
                for model in kinds:
                    field = getattr(model, "model_fields", {}).get(key)
                    if field is not None and get_origin(field.annotation) is Literal:
                        tags[model] = get_args(field.annotation)[0]
                return (key, tags) if tags else None
    return None


# -- what a field cannot take ----------------------------------------------------------------

# The JSON types of a value; a field's annotation takes some. The lists below over-count on
# purpose (pydantic's lax mode takes 1.0 for an int, "true" for a bool), so that a value of a
# type not listed is refused by msgspec and pydantic alike.
_JSON_KINDS = frozenset({"string", "int", "float", "bool", "null", "array", "object"})
_NUMBERS = frozenset({"int", "float", "bool"})
_SCALARS: dict[Any, frozenset[str]] = {
    str: frozenset({"string"}),
    bytes: frozenset({"string"}),
    bytearray: frozenset({"string"}),
    bool: _NUMBERS,
    int: _NUMBERS,
    float: _NUMBERS,
    decimal.Decimal: _NUMBERS | {"string"},
    datetime.datetime: frozenset({"string", "int", "float"}),
    datetime.date: frozenset({"string", "int", "float"}),
    datetime.time: frozenset({"string", "int", "float"}),
    datetime.timedelta: frozenset({"string", "int", "float"}),
    uuid.UUID: frozenset({"string"}),
}


def _accepts(kind: Any) -> frozenset[str]:
    """The JSON types a value of ``kind`` may come as (all of them when not known)."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is typing.Annotated or origin in _WRAPPERS:
        return _accepts(args[0])
    if kind is None or kind is type(None):
        return frozenset({"null"})
    if origin is Literal:
        return frozenset().union(*(_accepts(type(arg)) for arg in args))
    if _is_union(kind):
        return frozenset().union(*(_accepts(arg) for arg in args))
    supertype = getattr(kind, "__supertype__", None)
    if supertype is not None:
        return _accepts(supertype)
    if origin is not None:
        kind = origin
    msgspec = _msgspec()
    if msgspec is not None and kind is msgspec.UnsetType:
        return frozenset()
    if not isinstance(kind, type):
        return _JSON_KINDS
    if issubclass(kind, enum.Enum):
        return frozenset().union(*(_accepts(type(member.value)) for member in kind))
    for scalar, accepted in _SCALARS.items():
        if issubclass(kind, scalar):
            return accepted
    if _array_like(kind):
        return frozenset({"array"})
    if _is_struct(kind) or dataclasses.is_dataclass(kind) or _is_model(kind):
        return frozenset({"object"})
    if typing.is_typeddict(kind) or issubclass(kind, Mapping):
        return frozenset({"object"})
    if issubclass(kind, (Sequence, AbstractSet)):  # str and bytes are scalars, above
        return frozenset({"array"})
    return _JSON_KINDS


def _wrong_values(json_kind: str) -> st.SearchStrategy[Any]:
    """Values of one JSON type, to put where that type is wrong."""
    if json_kind == "string":
        return st.text(_CHARACTERS, max_size=8).map(lambda text: f"bad-value-{text}")
    if json_kind == "int":
        return st.integers(-1000, 1000)
    if json_kind == "float":
        return st.integers(-1000, 1000).map(lambda number: number + 0.5)
    if json_kind == "bool":
        return st.booleans()
    if json_kind == "null":
        return st.none()
    if json_kind == "array":
        return st.lists(st.integers(0, 9), max_size=3)
    return st.dictionaries(st.sampled_from(("bad", "key")), st.integers(0, 9), max_size=2)
