"""Client flows as data: the steps a client takes, run against an app, and the transcript
of what happened.

A flow is a list of steps, frozen dataclasses::

    [Send("hi"), Receive(), Sleep(0.5), Send(b"\\x00"), Receive(), Disconnect(1001, "bye")]

``await run_flow(app, steps)`` opens an in-memory connection (``connect``), plays the steps,
ends the connection and returns a ``Transcript``: accepted or refused, every message the app
sent, who ended the connection, the hooks that ran, the app's errors and ASGI violations.

Theory of operation. The steps run in order on one connection:

- ``Send(data)`` sends a text (``str``) or binary (``bytes``) frame. Once the app has closed
  the connection (or its task has ended), a ``Send`` is skipped: the server would drop the
  frame, and a client that has seen the close may not send.
- ``Receive(count)`` waits until ``count`` more messages from the app have arrived, each
  within ``timeout``. The app's close counts as a message, so ``Receive()`` after an "exit"
  waits for the close. If the app closes or ends before, or the time runs out, the flow
  fails with ``FlowError``, saying which step waited for what and what came.
- ``Sleep(seconds)`` is ``asyncio.sleep``: under a virtual clock it costs no real time.
- ``Disconnect(code, reason)`` is a clean close: the client sends its close frame, waits (as
  flow control makes it) until the server's queue has room for it, then waits for the app
  to finish. The app's receive() reports the code and reason (1006 under the quirk
  ``DISCONNECT_1006``).
- ``Drop()`` is an abrupt drop, a lost network: the app's receive() reports code 1006 (no
  reason) after the frames already queued for it, and the client waits for nothing, not
  even for room in a full queue (a frame the app has not taken is still delivered first,
  as the server already holds it).

Leaving ends the flow: no step may follow a ``Disconnect`` or a ``Drop``. After the app's
close, both only end the flow (the client's answer to the close is not a leave).

After the last step, a client still there leaves with code 1000, at once, as leaving
``async with connect(...)`` does; then the flow waits (bounded by ``timeout``) for the app to
finish, so that the transcript is complete. End a flow with ``Receive`` steps to see the
app's answers to the last frames: what the app sends after the client left is not
delivered (its driver drops it).
"""

from __future__ import annotations

import asyncio
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..app import WebSocketApp
from ..errors import AppClosed, ASGIViolation, FlowError, HandshakeRefused, WSTimeout
from ..messages import close_message
from ..types import ASGIApp, Message, Scope
from ..types import Receive as ASGIReceive
from ..types import Send as ASGISend
from .client import connect
from .hooks import record_hooks

__all__ = [
    "Disconnect",
    "Drop",
    "FlowMessage",
    "Receive",
    "Send",
    "Sleep",
    "Step",
    "Transcript",
    "check_flow",
    "expect",
    "expected_hooks",
    "format_transcript",
    "run_flow",
    "transcript_diff",
]

# -- the steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """The client sends a frame: ``str`` as text, ``bytes`` as binary."""

    data: str | bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, (str, bytes)):
            raise TypeError(f"Send expected str or bytes, got {type(self.data).__name__}")


@dataclass(frozen=True)
class Receive:
    """The client waits for ``count`` more messages from the app (its close counts as one)."""

    count: int = 1

    def __post_init__(self) -> None:
        if type(self.count) is not int or self.count < 1:
            raise ValueError(f"Receive expected a positive int count, got {self.count!r}")


@dataclass(frozen=True)
class Sleep:
    """The client waits ``seconds`` (``asyncio.sleep``; free under a virtual clock)."""

    seconds: float

    def __post_init__(self) -> None:
        seconds = self.seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(f"Sleep expected a non-negative number of seconds, got {seconds!r}")


@dataclass(frozen=True)
class Disconnect:
    """The client leaves cleanly with a close ``code`` and ``reason``; it ends the flow."""

    code: int = 1000
    reason: str = ""

    def __post_init__(self) -> None:
        close_message(self.code, self.reason, "Disconnect")


@dataclass(frozen=True)
class Drop:
    """The connection drops abruptly: the app sees code 1006; it ends the flow."""


Step = Send | Receive | Sleep | Disconnect | Drop
_STEPS = (Send, Receive, Sleep, Disconnect, Drop)

# A message of the app in a transcript: a frame (``str`` text, ``bytes`` binary) or its close
# as ``(code, reason)``.
FlowMessage = str | bytes | tuple[int, str]


def check_flow(steps: Iterable[Step]) -> tuple[Step, ...]:
    """The steps as a tuple, checked: steps only, and nothing after the client left."""
    if isinstance(steps, (str, bytes)):
        raise TypeError(f"run_flow expected a list of steps, got {type(steps).__name__}")
    flow = tuple(steps)
    left: int | None = None
    for index, step in enumerate(flow):
        if not isinstance(step, _STEPS):
            raise TypeError(
                f"run_flow expected steps (Send, Receive, Sleep, Disconnect, Drop), "
                f"got {type(step).__name__} at steps[{index}]"
            )
        if left is not None:
            raise ValueError(
                f"run_flow expected nothing after the client left at steps[{left}], "
                f"{flow[left]!r}, got steps[{index}], {step!r}"
            )
        if isinstance(step, (Disconnect, Drop)):
            left = index
    return flow


# -- the transcript ----------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Transcript:
    """What happened on one connection, as data; equal transcripts mean equal behaviour.

    ``messages``: every frame (``str`` or ``bytes``) and close (``(code, reason)``) the app
    sent after the accept, in order: each ``send()`` that returned, so a message sent after
    the client left and dropped by the server is there, one the server refused by raising
    (an ``OSError`` quirk) is not; anything else the app sent is in ``violations``.
    ``client_left``: the close code and reason the client left with while the connection was
    open, ``(1006, "")`` for a ``Drop``, ``None`` if the app closed first. (A close the app
    sent after the client left, not knowing yet, shows as both.) ``hooks``: the hooks of a
    ``WebSocketApp`` in the order they started (``None``: not known, not a ``WebSocketApp``).
    ``refused``: the HTTP status and body of a refused handshake. ``subprotocol``: the one the
    app accepted. ``errors``: the exceptions the app raised or reported, as ``"Type: text"``;
    ``exceptions`` holds the objects themselves and takes no part in comparisons.
    ``violations``: what the app did that the ASGI WebSocket protocol does not allow.
    """

    messages: list[FlowMessage] = field(default_factory=list)
    client_left: tuple[int, str] | None = None
    hooks: list[str] | None = None
    refused: tuple[int, bytes] | None = None
    subprotocol: str | None = None
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    exceptions: list[BaseException] = field(default_factory=list, compare=False)

    @property
    def accepted(self) -> bool:
        """Whether the app accepted the connection."""
        return self.refused is None

    @property
    def close(self) -> tuple[int, str] | None:
        """The ``(code, reason)`` of the app's close, or ``None`` if it sent none."""
        for message in self.messages:
            if isinstance(message, tuple):
                return message
        return None

    @property
    def frames(self) -> list[str | bytes]:
        """The frames the app sent, without its close."""
        return [message for message in self.messages if not isinstance(message, tuple)]

    def __repr__(self) -> str:
        return format_transcript(self)

    __str__ = __repr__


MAX_SHOWN = 72  # characters (or bytes) of a frame shown in a transcript's text


def _shown(message: FlowMessage) -> str:
    """One message as a line of Python source; a long frame is cut, its size said."""
    if isinstance(message, (str, bytes)) and len(message) > MAX_SHOWN:
        unit = "characters" if isinstance(message, str) else "bytes"
        return f"{message[: MAX_SHOWN - 24]!r}...,  # cut: {len(message):,} {unit}"
    return f"{message!r},"


def _summary(transcript: Transcript) -> str:
    if transcript.refused is not None:
        return f"refused with HTTP {transcript.refused[0]}"
    parts = ["accepted"]
    if transcript.subprotocol is not None:
        parts[0] += f" with subprotocol {transcript.subprotocol!r}"
    close, left = transcript.close, transcript.client_left
    if left is not None:
        said = f" {left[1]!r}" if left[1] else ""
        parts.append(
            "the connection dropped (1006)"
            if left == (1006, "")
            else f"the client left with {left[0]}{said}"
        )
    if close is not None:
        after = " after the client left" if left is not None else ""
        reason = f" {close[1]!r}" if close[1] else ""
        parts.append(f"the app closed with {close[0]}{reason}{after}")
    if transcript.errors:
        parts.append(f"{len(transcript.errors)} error(s)")
    if transcript.violations:
        parts.append(f"{len(transcript.violations)} violation(s)")
    return ", ".join(parts)


def format_transcript(transcript: Transcript) -> str:
    """A transcript as readable, multi-line text, close to the Python that builds it: one
    message per line, long frames cut; fields at their defaults are left out."""
    lines = [f"Transcript(  # {_summary(transcript)}"]
    if transcript.messages:
        lines.append("    messages=[")
        lines.extend(f"        {_shown(message)}" for message in transcript.messages)
        lines.append("    ],")
    else:
        lines.append("    messages=[],")
    lines.append(f"    client_left={transcript.client_left!r},")
    if transcript.hooks is None:
        lines.append("    hooks=None,  # not known: the app is not a WebSocketApp")
    else:
        lines.append(f"    hooks={transcript.hooks!r},")
    if transcript.refused is not None:
        lines.append(f"    refused={transcript.refused!r},")
    if transcript.subprotocol is not None:
        lines.append(f"    subprotocol={transcript.subprotocol!r},")
    for name in ("errors", "violations"):
        texts: list[str] = getattr(transcript, name)
        if texts:
            lines.append(f"    {name}=[")
            lines.extend(f"        {text!r}," for text in texts)
            lines.append("    ],")
    lines.append(")")
    return "\n".join(lines)


def transcript_diff(left: Transcript, right: Transcript) -> list[str]:
    """How two transcripts differ, as lines for an assertion failure: the fields that differ,
    then both texts line by line (``-`` only in ``left``, ``+`` only in ``right``). A pytest
    plugin returns them from ``pytest_assertrepr_compare`` for ``left == right``."""
    differing = [
        item.name
        for item in fields(Transcript)
        if item.compare and getattr(left, item.name) != getattr(right, item.name)
    ]
    if not differing:
        return ["the transcripts are equal"]
    lines = [f"the transcripts differ in {', '.join(differing)}:"]
    lines.extend(
        line
        for line in difflib.ndiff(
            format_transcript(left).splitlines(), format_transcript(right).splitlines()
        )
        if not line.startswith("? ")
    )
    return lines


def expected_hooks(
    *, accepted: bool = True, client_left: bool = False, app_closed: bool = False
) -> list[str]:
    """The hooks docs/design.md §2 runs: ``on_connect``; for an accepted connection
    ``on_disconnect`` when the client left before any close from the app, then ``on_close``."""
    if not accepted:
        return ["on_connect"]
    if client_left and not app_closed:
        return ["on_connect", "on_disconnect", "on_close"]
    return ["on_connect", "on_close"]


def expect(
    messages: Iterable[FlowMessage] = (),
    *,
    client_left: tuple[int, str] | None = None,
    refused: tuple[int, bytes] | None = None,
    subprotocol: str | None = None,
    errors: Iterable[str] = (),
    violations: Iterable[str] = (),
    hooks_known: bool = True,
) -> Transcript:
    """The transcript a test expects, its hooks filled in by docs/design.md §2
    (``expected_hooks``) unless ``hooks_known`` is false (an app that is not a
    ``WebSocketApp``)."""
    listed = list(messages)
    hooks = (
        expected_hooks(
            accepted=refused is None,
            client_left=client_left is not None,
            app_closed=any(isinstance(message, tuple) for message in listed),
        )
        if hooks_known
        else None
    )
    return Transcript(
        messages=listed,
        client_left=client_left,
        hooks=hooks,
        refused=refused,
        subprotocol=subprotocol,
        errors=list(errors),
        violations=list(violations),
    )


def _as_flow_message(message: Message) -> FlowMessage | None:
    """A message the app sent after the accept, as a transcript shows it; ``None`` for one
    that is neither a frame nor a close (a violation, listed there)."""
    kind = message.get("type")
    if kind == "websocket.send":
        text, data = message.get("text"), message.get("bytes")
        if isinstance(text, str) and data is None:
            return text
        if isinstance(data, bytes) and text is None:
            return data
        return None
    if kind == "websocket.close":
        return (int(message.get("code", 1000)), str(message.get("reason") or ""))
    return None


def _messages_after_accept(sent: Sequence[Message]) -> list[FlowMessage]:
    accepted = False
    shown: list[FlowMessage] = []
    for message in sent:
        if not accepted:
            accepted = message.get("type") == "websocket.accept"
            continue
        flow_message = _as_flow_message(message)
        if flow_message is not None:
            shown.append(flow_message)
    return shown


def _error_text(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- running a flow ----------------------------------------------------------------------


class _Run:
    """One flow on one connection: plays the steps, ends the connection, tells the story."""

    def __init__(self, app: ASGIApp, path: str, **options: Any) -> None:
        self.hooks: list[str] | None = None
        if isinstance(app, WebSocketApp):
            app, self.hooks = record_hooks(app)
        self.sent: list[Message] = []  # what the app sent: each send() that returned
        self.ws = connect(self._observed(app), path, raise_app_exceptions=False, **options)
        self.client_left: tuple[int, str] | None = None
        self.refused: tuple[int, bytes] | None = None
        self.close_taken = False  # a Receive step has taken the app's close

    def transcript(self) -> Transcript:
        ws = self.ws
        exceptions = list(ws.app_exceptions)
        return Transcript(
            messages=_messages_after_accept(self.sent) if self.refused is None else [],
            client_left=self.client_left,
            hooks=list(self.hooks) if self.hooks is not None else None,
            refused=self.refused,
            subprotocol=ws.accepted_subprotocol,
            errors=[_error_text(error) for error in exceptions],
            violations=list(ws.violations),
            exceptions=exceptions,
        )

    def _observed(self, app: ASGIApp) -> ASGIApp:
        """``app``, with each message it sends recorded once the server has taken it."""
        sent = self.sent

        async def observed(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
            async def observed_send(message: Message) -> None:
                await send(message)
                sent.append(message)

            await app(scope, receive, observed_send)

        return observed

    async def open(self) -> str | None:
        """Open the connection; return what went wrong, if the handshake did not finish."""
        ws = self.ws
        try:
            await ws.__aenter__()
        except HandshakeRefused as refused:
            self.refused = (refused.status, refused.body)
        except ASGIViolation:  # raised before the refusal; the transcript lists it
            denial = ws.denial if ws.state == "refused" else None
            self.refused = (denial["status"], denial["body"]) if denial else (500, b"")
        except WSTimeout as timeout:
            await self.abort()
            return f"the handshake: {timeout}"
        return None

    async def play(self, step: Step) -> None:
        ws = self.ws
        if isinstance(step, Send):
            if ws.state == "open" and not ws.finished:
                await ws.send(step.data)
        elif isinstance(step, Receive):
            await self.receive(step.count)
        elif isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Disconnect):
            if ws.state == "open":
                self.client_left = (step.code, step.reason)
                await ws.close(step.code, step.reason)
        elif ws.state == "open":  # Drop
            self.client_left = (1006, "")
            ws.drop()

    async def receive(self, count: int) -> None:
        ws = self.ws
        got = 0
        while got < count:
            if self.close_taken:
                raise _Short(f"the app closed the connection with {self._close()}", got)
            try:
                await ws.receive()  # each message within the timeout
            except AppClosed:
                if ws.close_code is None:
                    raise _Short("the app ended without a close", got) from None
                self.close_taken = True
            except WSTimeout:
                raise _Short(f"timed out after {ws.timeout} s", got) from None
            got += 1

    def _close(self) -> str:
        return f"{self.ws.close_code} {self.ws.close_reason or ''!r}"

    async def end(self) -> str | None:
        """The client leaves if it is still there (1000); wait for the app to finish.
        Return what went wrong, if the app did not finish in time."""
        ws = self.ws
        if ws.state == "open":
            self.client_left = (1000, "")
        try:
            await ws.__aexit__(None, None, None)
        except ASGIViolation:
            pass  # listed in the transcript
        except WSTimeout as timeout:
            await self.abort()
            return str(timeout)
        return None

    async def abort(self) -> None:
        """Cancel the app's task if it still runs (it did not answer in time)."""
        task = self.ws.app_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))


class _Short(Exception):
    """A Receive step ended before its messages came: why, and how many came."""

    def __init__(self, why: str, got: int) -> None:
        super().__init__(why, got)
        self.why = why
        self.got = got


async def run_flow(
    app: ASGIApp,
    steps: Iterable[Step],
    path: str = "/",
    *,
    headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]] | None = None,
    subprotocols: Iterable[str] = (),
    quirks: Iterable[str] = (),
    timeout: float = 2.0,
) -> Transcript:
    """Run the client flow ``steps`` against ``app`` on an in-memory connection to ``path``;
    return the transcript once the app has finished.

    The hooks are recorded when ``app`` is a ``WebSocketApp`` (``record_hooks``). ``quirks``
    makes the server behave like others (see ``connect``). ``timeout`` bounds every wait: the
    handshake, each message a ``Receive`` waits for, a clean ``Disconnect``, the app's end.
    A step that cannot be done raises ``FlowError`` (with the transcript); the app's own
    exceptions and ASGI violations do not raise: they are in the transcript.
    """
    flow = check_flow(steps)
    run = _Run(
        app, path, headers=headers, subprotocols=subprotocols, timeout=timeout, quirks=quirks
    )
    failure = await run.open()
    if failure is not None:
        raise FlowError(f"run_flow failed in {failure}", run.transcript())
    if run.refused is not None:
        return run.transcript()
    for index, step in enumerate(flow):
        try:
            await run.play(step)
        except _Short as short:
            assert isinstance(step, Receive)
            failure = (
                f"steps[{index}], {step!r}, waited for {step.count} message(s) from the app "
                f"and got {short.got}: {short.why}"
            )
        except WSTimeout as timeout:
            failure = f"steps[{index}], {step!r}: {timeout}"
        if failure is not None:
            break
    ending = await run.end()
    if failure is None and ending is not None:
        failure = f"the end of the flow: {ending}"
    elif ending is not None:
        failure = f"{failure}; then {ending}"
    if failure is not None:
        raise FlowError(f"run_flow failed at {failure}", run.transcript())
    return run.transcript()
