"""Property tests from a contract: a state machine that speaks the declared messages, and a
check of a flow's transcript.

``ContractMachine`` is a ``WebSocketMachine`` whose client sends valid messages of the
contract's ``receives`` type (``messages``) and frames the contract must refuse
(``bad_frames``) instead of arbitrary frames. On top of the machine's own checks:

- every frame the app sends decodes as the declared ``sends`` type, and the handler never
  yields an object the contract refuses (``ContractViolation``); a failure names the
  message the client sent last, with its kind, and the frame or object the app sent;
- every invalid frame gets the documented answer, within ``answer_timeout``: a close with
  1007 and the reason ``contract.decode`` gives (``on_invalid="close"``), or the error
  reply (``"reply"`` or a function), the connection kept;
- a valid message is never refused: the app closes with 1007 only after an invalid frame.

::

    class ChatMachine(ContractMachine):
        app = chat  # declared with contract(receives=..., sends=...)

    TestChat = ChatMachine.TestCase

Needs ``hypothesis`` (the ``test`` extra), and msgspec or pydantic for the types.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from ..contracts import Contract, ContractViolation, InvalidFrame, contract_of
from ..contracts.codecs import kinds_of, type_name
from ..types import Frame
from .contracts import BadFrame, bad_frames, contract_for, kind_name, kind_of, messages
from .flows import Send, Step, Transcript
from .machine import WebSocketMachine

__all__ = ["ContractMachine", "check_sends", "expected_answer"]

_POLL_SECONDS = 0.001  # between looks at the connection while waiting for an answer


def expected_answer(declared: Contract, frame: Frame) -> tuple[int, str] | Frame | None:
    """The documented answer to a client frame: ``None`` if the contract accepts it, else
    the close ``(1007, reason)`` (``on_invalid="close"``), or the frame of the error reply
    (a close ``(code, reason)`` if the reply is one)."""
    try:
        declared.decode(frame)
    except InvalidFrame as exc:
        if declared.on_invalid == "close":
            return (1007, exc.reason)
        reply = declared.reply_to(exc.reason)
        if reply.get("type") == "websocket.close":
            return (int(reply.get("code", 1000)), str(reply.get("reason") or ""))
        answer: Frame = reply["text"] if reply.get("text") is not None else reply["bytes"]
        return answer
    return None


_STRATEGIES: weakref.WeakKeyDictionary[
    Contract, tuple[st.SearchStrategy[Any], st.SearchStrategy[BadFrame]]
] = weakref.WeakKeyDictionary()


def _strategies(declared: Contract) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[BadFrame]]:
    """The strategies of a contract's valid messages and bad frames, built once."""
    found = _STRATEGIES.get(declared)
    if found is None:
        found = _STRATEGIES[declared] = (messages(declared), bad_frames(declared))
    return found


def _messages_of(machine: ContractMachine) -> st.SearchStrategy[Any]:
    return _strategies(machine.declared)[0]


def _bad_frames_of(machine: ContractMachine) -> st.SearchStrategy[BadFrame]:
    return _strategies(machine.declared)[1]


def _is_open(machine: ContractMachine) -> bool:
    return machine.is_open


def _may_send_invalid(machine: ContractMachine) -> bool:
    return machine.is_open and type(machine).send_invalid


class ContractMachine(WebSocketMachine):
    """A ``WebSocketMachine`` for an app with a contract: its client sends the declared
    messages, and frames the contract must refuse, and every answer is checked.

    Class attributes, beside ``WebSocketMachine``'s: ``contract`` (``None``: the app's own,
    ``contract_of(app)``; give one for an app that keeps a contract without the
    middleware), ``send_invalid`` (``False``: valid messages only), ``answer_timeout``
    (seconds an answer to an invalid frame may take, 1 by default).

    Rules: ``send_message(message)`` sends one valid message (``messages(contract)``) and
    lets the app run; ``send_invalid_frame(bad)`` sends one ``BadFrame`` and waits for the
    answer. ``send_frames`` (arbitrary frames) is not a rule here. In rules and invariants of
    your own: ``self.declared`` is the contract, ``self.sent_messages`` the valid messages
    sent, in order, and ``self.sent_invalid`` the ``BadFrame`` objects sent.
    """

    contract: ClassVar[Contract | None] = None
    send_invalid: ClassVar[bool] = True
    answer_timeout: ClassVar[float] = 1.0

    def __init__(self) -> None:
        cls = type(self)
        declared = cls.contract if cls.contract is not None else contract_of(_app_of(cls))
        if declared is None:
            raise TypeError(
                f"{cls.__name__} expected an app declared with contract(...), or a "
                f"`contract` class attribute"
            )
        if declared.receive_codec is None:
            raise TypeError(f"{cls.__name__} expected a contract with receives=, got {declared!r}")
        self.declared: Contract = declared
        self.kinds = kinds_of(declared.receives)
        self.sent_messages: list[Any] = []
        self.sent_invalid: list[BadFrame] = []
        self._first_refusal: str | None = None  # the reason the first invalid frame gets
        self._marks: list[tuple[int, Any]] = []  # (frames received then, message sent)
        self._replies: list[Frame] = []  # answers to invalid frames, not yet seen
        self._checked = 0  # frames received and checked
        self._errors_checked = 0
        super().__init__()

    # -- rules -------------------------------------------------------------------------

    def send_frames(self, batch: list[Frame]) -> None:
        """Not a rule here: the client sends declared messages and invalid frames only."""
        for frame in batch:
            self.send_frame(frame)

    @precondition(_is_open)
    @rule(message=st.runner().flatmap(_messages_of))
    def send_message(self, message: Any) -> None:
        """The client sends one valid message of the declared receive type; the app runs."""
        codec = self.declared.receive_codec
        assert codec is not None
        self._marks.append((len(self.received), message))
        self.sent_messages.append(message)
        self.send_frame(codec.encode(message))
        self.let_app_run()

    @precondition(_may_send_invalid)
    @rule(bad=st.runner().flatmap(_bad_frames_of))
    def send_invalid_frame(self, bad: BadFrame) -> None:
        """The client sends a frame the contract must refuse; the documented answer must come
        within ``answer_timeout``."""
        answer = expected_answer(self.declared, bad.frame)
        if answer is None:
            raise AssertionError(f"the contract accepted {bad}, {bad.frame!r}")
        seen, delivered = len(self.received), len(self.sent_frames)
        self.sent_invalid.append(bad)
        if self._first_refusal is None:
            self._first_refusal = _reason(self.declared, bad.frame)
        if not isinstance(answer, tuple):
            self._replies.append(answer)  # not a sent message: the check of sends skips it
        self.send_frame(bad.frame)
        if len(self.sent_frames) == delivered:
            return  # the write waits for room: the answer comes later, unchecked
        if isinstance(answer, tuple):
            self._wait_for(lambda: not self.is_open)
            got = (self.ws.close_code, self.ws.close_reason or "")
            if self.is_open or got != answer:
                raise AssertionError(
                    f"the app answered {bad} ({bad.frame!r}) with {self._state()}, expected a "
                    f"close with {answer[0]} {answer[1]!r}"
                )
            return
        self._wait_for(lambda: answer in self.received[seen:] or not self.is_open)
        if answer not in self.received[seen:]:
            raise AssertionError(
                f"the app answered {bad} ({bad.frame!r}) with {self._state()}, expected the "
                f"reply {answer!r}"
            )

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def contract_kept(self) -> None:
        """Checked after every step: what the app sent is declared, and it closed with 1007
        only after an invalid frame."""
        self._check_yielded()
        self._check_sent()
        self._check_refusal()

    def _check_yielded(self) -> None:
        errors = self.ws.app_exceptions
        for error in errors[self._errors_checked :]:
            self._errors_checked += 1
            if isinstance(error, ContractViolation):
                raise AssertionError(f"{self._after(len(self.received))}, {error}") from error

    def _check_sent(self) -> None:
        codec = self.declared.send_codec
        while self._checked < len(self.received):
            index = self._checked
            frame = self.received[index]
            self._checked += 1
            if frame in self._replies:
                self._replies.remove(frame)
                continue
            if codec is None:
                continue
            try:
                codec.decode(frame)
            except InvalidFrame as exc:
                raise AssertionError(
                    f"{self._after(index)}, the app sent {frame!r}, which is not a valid "
                    f"{type_name(codec.type)}: {exc.reason}"
                ) from None

    def _check_refusal(self) -> None:
        if self.ws.state != "closed" or self.ws.close_code != 1007:
            return
        reason = self.ws.close_reason or ""
        if self.declared.on_invalid != "close" or reason == self._first_refusal:
            return
        if self._first_refusal is None:
            raise AssertionError(
                f"{self._after(len(self.received))}, the app closed with 1007 {reason!r}, "
                f"though the client sent valid messages only"
            )
        raise AssertionError(
            f"the app closed with 1007 {reason!r}, expected {self._first_refusal!r}, the "
            f"reason of the first invalid frame, {self.sent_invalid[0]}"
        )

    # -- the machinery -----------------------------------------------------------------

    def _after(self, index: int) -> str:
        """What the client had sent when the app sent its frame ``index``."""
        message: Any = None
        sent = False
        for count, value in self._marks:
            if count > index:
                break
            message, sent = value, True
        if not sent:
            return "before the client sent any message"
        kind = kind_of(message, self.kinds)
        named = kind_name(kind) if kind is not None else type(message).__name__
        return f"after the client sent a {named} message, {message!r}"

    def _state(self) -> str:
        ws = self.ws
        if ws.state == "closed":
            return f"a close with {ws.close_code} {ws.close_reason or ''!r}"
        if ws.state == "gone":
            return "nothing: the client left"
        if ws.finished:
            return "nothing: the app ended without a close"
        return f"nothing within {type(self).answer_timeout:g} s"

    def _wait_for(self, done: Callable[[], bool]) -> None:
        """Let the app run until ``done()`` or ``answer_timeout`` seconds have passed."""
        self.let_app_run()
        if done():
            return
        loop = self.loop
        deadline = loop.time() + type(self).answer_timeout

        async def poll() -> None:  # a condition with a bound: there is no event to wait on
            while loop.time() < deadline:
                await asyncio.sleep(_POLL_SECONDS)
                if done():
                    return

        loop.run_until_complete(poll())
        self.let_app_run()


def _reason(declared: Contract, frame: Frame) -> str:
    try:
        declared.decode(frame)
    except InvalidFrame as exc:
        return exc.reason
    return ""


def _app_of(cls: type) -> Any:
    app = inspect.getattr_static(cls, "app", None)
    if isinstance(app, (staticmethod, classmethod)):
        app = app.__get__(None, cls)
    return app


def check_sends(transcript: Transcript, target: Any, steps: Iterable[Step] = ()) -> None:
    """Check a ``run_flow`` transcript against a contract (``target``: a ``Contract`` or an
    app with one): every frame the app sent decodes as the declared ``sends`` type (the
    answers to the invalid frames among ``steps`` aside), and the handler yielded nothing
    the contract refused. Raises ``AssertionError`` naming the kinds the client sent."""
    declared = contract_for(target)
    sent = [step.data for step in steps if isinstance(step, Send)]
    replies = [
        answer
        for answer in (expected_answer(declared, frame) for frame in sent)
        if answer is not None and not isinstance(answer, tuple)
    ]
    kinds = kinds_of(declared.receives) if declared.receives is not None else ()
    said = _sent_kinds(declared, sent, kinds)
    for error in transcript.exceptions:
        if isinstance(error, ContractViolation):
            raise AssertionError(f"{said}, {error}") from error
    codec = declared.send_codec
    if codec is None:
        return
    for frame in transcript.frames:
        if frame in replies:
            replies.remove(frame)
            continue
        try:
            codec.decode(frame)
        except InvalidFrame as exc:
            raise AssertionError(
                f"{said}, the app sent {frame!r}, which is not a valid "
                f"{type_name(codec.type)}: {exc.reason}"
            ) from None


def _sent_kinds(declared: Contract, frames: list[Frame], kinds: tuple[Any, ...]) -> str:
    names = []
    for frame in frames:
        try:
            value = declared.decode(frame)
        except InvalidFrame:
            names.append("an invalid frame")
            continue
        kind = kind_of(value, kinds)
        names.append(kind_name(kind) if kind is not None else type(value).__name__)
    if not names:
        return "before the client sent any message"
    return f"after the client sent {', '.join(names)}"
