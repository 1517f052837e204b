"""One connection's life as a state machine: phases, events, actions, outcomes, one table.

Pure: no event loop. The driver (driver.py) keeps each connection's phase and moves it
with ``advance`` at every event of the connection's life; the table below decides the next
phase, what the driver does (its ``Action``) and, where it is settled, how the connection
ended (its ``Outcome``). A pair the table does not hold cannot happen: ``advance`` raises
``LifecycleError`` naming it, never a hang. docs/handlers.md draws the same table.

Every accepted connection ends with exactly one ``Outcome``; ``on_disconnect`` runs for
``DISCONNECTED`` only, ``on_close`` for all of them, once each, after ``CLEANED``.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from .errors import LifecycleError

__all__ = ["DRAINING", "TABLE", "Action", "Event", "Outcome", "Phase", "Step", "advance"]


class Phase(enum.Enum):
    """Where one connection is in its life."""

    CONNECTING = "connecting"  # the connect event came; on_connect decides
    ACCEPTING = "accepting"  # the accept is being sent
    OPEN = "open"  # the handler runs; the client is there
    FAULTED = "faulted"  # the server broke the ASGI contract; the handler is being stopped
    GONE = "gone"  # the client left; the handler runs or closes, bounded by drain_timeout
    CLOSING = "closing"  # this connection's one close is being sent
    DONE = "done"  # nothing more is sent; the handler's generator closes, unbounded
    ENDED = "ended"  # the hooks ran (or the handshake was refused): nothing more happens


class Event(enum.Enum):
    """What can happen to a connection."""

    ACCEPT = "accept"  # on_connect accepted
    REFUSE = "refuse"  # on_connect refused (HTTP 403 or its own denial)
    SENT = "sent"  # the accept or the close being sent was sent
    LEFT = "left"  # the client's disconnect came, or a send found the client gone
    RETURNED = "returned"  # the handler returned (or was stopped at its yield, client gone)
    CLOSE_YIELDED = "close yielded"  # the handler yielded a close
    RAISED = "raised"  # the handler raised (or yielded something invalid)
    FAULT = "fault"  # the server sent an event the ASGI specification does not allow
    DRAIN_EXPIRED = "drain expired"  # the handler outlived its client by drain_timeout
    SHUTDOWN = "shutdown"  # the server cancelled the connection's task
    CLOSE_REFUSED = "close refused"  # the server raised on the close, or did not take it in time
    CLOSE_LOST = "close lost"  # the close's send found the client gone (ASGI 2.4 OSError)
    CLEANED = "cleaned"  # the generator is closed and the receiver stopped


class Action(enum.Enum):
    """What the driver does on a step."""

    NOTHING = "nothing"
    SEND_ACCEPT = "send the accept"
    SEND_REFUSAL = "send the refusal"
    RUN_HANDLER = "run the handler"
    SEND_NORMAL_CLOSE = "send 1000"
    SEND_HANDLER_CLOSE = "send the handler's close"
    SEND_ERROR_CLOSE = "log the error, send 1011"
    SEND_SHUTDOWN_CLOSE = "send the shutdown close (1012), waiting at most drain_timeout"
    ARM_DRAIN = "arm the drain timer"
    CANCEL_HANDLER = "cancel the handler where it waits, again each drain_timeout"
    REPORT_ERROR = "log the error, send nothing"
    REPORT_REFUSAL = "log that the close was not sent"
    RUN_HOOKS = "run on_disconnect (if DISCONNECTED), then on_close"


class Outcome(enum.Enum):
    """How one accepted connection ended."""

    FINISHED = "finished"  # the handler returned: the driver sent 1000
    CLOSED = "closed"  # the handler yielded a close: sent as given
    DISCONNECTED = "disconnected"  # the client left (or a send found it gone)
    FAILED = "failed"  # the handler raised (1011), or the server cancelled the task (1012)


class Step(NamedTuple):
    """One entry of the table: the next phase, the action, and the outcome it settles."""

    phase: Phase
    action: Action
    outcome: Outcome | None = None  # None: the outcome stays what it was


P, E, A, Ends = Phase, Event, Action, Outcome

TABLE: dict[tuple[Phase, Event], Step] = {
    (P.CONNECTING, E.ACCEPT): Step(P.ACCEPTING, A.SEND_ACCEPT),
    (P.CONNECTING, E.REFUSE): Step(P.ENDED, A.SEND_REFUSAL),
    (P.CONNECTING, E.FAULT): Step(P.ENDED, A.NOTHING),  # no connect event first
    (P.CONNECTING, E.SHUTDOWN): Step(P.ENDED, A.NOTHING),  # nothing accepted: no hooks
    (P.ACCEPTING, E.SENT): Step(P.OPEN, A.RUN_HANDLER),
    (P.ACCEPTING, E.LEFT): Step(P.DONE, A.NOTHING, Ends.DISCONNECTED),
    (P.ACCEPTING, E.FAULT): Step(P.DONE, A.NOTHING, Ends.FAILED),  # the accept refused
    (P.ACCEPTING, E.SHUTDOWN): Step(P.DONE, A.NOTHING, Ends.FAILED),
    (P.OPEN, E.RETURNED): Step(P.CLOSING, A.SEND_NORMAL_CLOSE, Ends.FINISHED),
    (P.OPEN, E.CLOSE_YIELDED): Step(P.CLOSING, A.SEND_HANDLER_CLOSE, Ends.CLOSED),
    (P.OPEN, E.RAISED): Step(P.CLOSING, A.SEND_ERROR_CLOSE, Ends.FAILED),
    (P.OPEN, E.LEFT): Step(P.GONE, A.ARM_DRAIN, Ends.DISCONNECTED),
    (P.OPEN, E.FAULT): Step(P.FAULTED, A.CANCEL_HANDLER),
    (P.OPEN, E.SHUTDOWN): Step(P.CLOSING, A.SEND_SHUTDOWN_CLOSE, Ends.FAILED),
    (P.FAULTED, E.RETURNED): Step(P.CLOSING, A.SEND_NORMAL_CLOSE, Ends.FINISHED),
    (P.FAULTED, E.CLOSE_YIELDED): Step(P.CLOSING, A.SEND_HANDLER_CLOSE, Ends.CLOSED),
    (P.FAULTED, E.RAISED): Step(P.CLOSING, A.SEND_ERROR_CLOSE, Ends.FAILED),
    (P.FAULTED, E.LEFT): Step(P.GONE, A.CANCEL_HANDLER, Ends.DISCONNECTED),
    (P.FAULTED, E.FAULT): Step(P.FAULTED, A.NOTHING),
    (P.FAULTED, E.DRAIN_EXPIRED): Step(P.FAULTED, A.CANCEL_HANDLER),
    (P.FAULTED, E.SHUTDOWN): Step(P.CLOSING, A.SEND_SHUTDOWN_CLOSE, Ends.FAILED),
    (P.GONE, E.RETURNED): Step(P.GONE, A.NOTHING),  # its generator closes, still bounded
    (P.GONE, E.CLOSE_YIELDED): Step(P.GONE, A.NOTHING),  # nobody to send it to
    (P.GONE, E.RAISED): Step(P.GONE, A.REPORT_ERROR),
    (P.GONE, E.LEFT): Step(P.GONE, A.ARM_DRAIN),  # it took a frame: the drain time again
    (P.GONE, E.FAULT): Step(P.GONE, A.CANCEL_HANDLER),
    (P.GONE, E.DRAIN_EXPIRED): Step(P.GONE, A.CANCEL_HANDLER),
    (P.GONE, E.SHUTDOWN): Step(P.GONE, A.NOTHING),  # nobody to send 1001 to
    (P.GONE, E.CLEANED): Step(P.ENDED, A.RUN_HOOKS),
    (P.CLOSING, E.SENT): Step(P.DONE, A.NOTHING),
    # the client's disconnect read while our close is on its way: its answer to our close
    # (the closing handshake), or a leave that crossed it; the app closed first either way
    (P.CLOSING, E.LEFT): Step(P.CLOSING, A.NOTHING),
    (P.CLOSING, E.CLOSE_LOST): Step(P.DONE, A.NOTHING, Ends.DISCONNECTED),
    (P.CLOSING, E.CLOSE_REFUSED): Step(P.DONE, A.REPORT_REFUSAL, Ends.FAILED),
    (P.CLOSING, E.SHUTDOWN): Step(P.DONE, A.NOTHING),
    (P.DONE, E.RAISED): Step(P.DONE, A.REPORT_ERROR),  # raised while its generator closed
    (P.DONE, E.LEFT): Step(P.DONE, A.NOTHING),  # after the close: nothing to do
    (P.DONE, E.FAULT): Step(P.DONE, A.NOTHING),
    (P.DONE, E.SHUTDOWN): Step(P.DONE, A.NOTHING),  # re-raised once the hooks ran
    (P.DONE, E.CLEANED): Step(P.ENDED, A.RUN_HOOKS),
}

#: The phases in which the handler may be cancelled by the driver's drain timer.
DRAINING = frozenset({Phase.FAULTED, Phase.GONE})


def advance(phase: Phase, event: Event) -> Step:
    """The table's step for ``event`` in ``phase``: the next phase, the action, the outcome.

    Raises ``LifecycleError`` for an event that ``phase`` cannot meet, naming both and what
    the phase expects.
    """
    try:
        return TABLE[phase, event]
    except KeyError:
        expected = ", ".join(e.name for (p, e) in TABLE if p is phase) or "nothing"
        raise LifecycleError(
            f"event {event.name} cannot happen in phase {phase.name}: expected {expected}"
        ) from None
