"""How an accepted connection ended, told from the ASGI events a wrapper around the app saw.

Pure: no event loop. The wrapper (instrument.py) sees what the app sends and what the
server hands it, never the driver's own phase; ``ending`` turns what it saw into one of the
lifecycle's outcomes (``shallot_ws.lifecycle.Outcome``) and a close code, by the first
rule that applies:

==========================================  ==========================  ============  ========
first seen                                  and                         outcome       code
==========================================  ==========================  ============  ========
the client left (its disconnect, or the     -                           disconnected  the
accept or close refused with ``OSError``)                                             client's
the app's close                             the app was cancelled       failed        as sent
the app's close                             code 1011, or the app       failed        as sent
                                            raised
the app's close                             code 1000                   finished      1000
the app's close                             any other code              closed        as sent
neither                                     the app raised or was       failed        1006
                                            cancelled
neither                                     -                           disconnected  1006
==========================================  ==========================  ============  ========

A handler that yields ``ws_close(1000)`` counts as finished (on the wire it is what the
driver sends when the handler returns); the server's cancellation at shutdown is a failure,
as in the lifecycle table; a client's code behind hypercorn is always 1006 (docs/design.md
§6). 1006 stands for "no close frame" where neither side's close was seen.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..lifecycle import Outcome

__all__ = ["Ending", "NO_CLOSE", "ending", "payload_size"]

NO_CLOSE = 1006  # the code reported when no close frame was seen (RFC 6455 §7.1.5)
_ERROR_CLOSE = 1011
_NORMAL_CLOSE = 1000


class Ending(NamedTuple):
    """How a connection ended: its outcome, the close code and reason that ended it."""

    outcome: Outcome
    code: int
    reason: str = ""


def ending(
    closed: tuple[int, str] | None,
    left: tuple[int, str] | None,
    *,
    raised: bool = False,
    cancelled: bool = False,
) -> Ending:
    """The ending of an accepted connection (see the module's table).

    ``closed``: the code and reason of the app's close, if it was sent before the client
    was seen leaving; ``left``: the client's code and reason, if it was seen leaving first
    (at most one of the two is given); ``raised``: the app call raised; ``cancelled``: it
    was cancelled.
    """
    if left is not None:
        return Ending(Outcome.DISCONNECTED, *left)
    if closed is not None:
        code, reason = closed
        if cancelled or raised or code == _ERROR_CLOSE:
            return Ending(Outcome.FAILED, code, reason)
        if code == _NORMAL_CLOSE:
            return Ending(Outcome.FINISHED, code, reason)
        return Ending(Outcome.CLOSED, code, reason)
    if raised or cancelled:
        return Ending(Outcome.FAILED, NO_CLOSE)
    return Ending(Outcome.DISCONNECTED, NO_CLOSE)


def payload_size(message: Any) -> int:
    """The size in bytes of a ``websocket.receive`` or ``websocket.send`` message's payload:
    its text in UTF-8, or its bytes."""
    text = message.get("text")
    if text is not None:
        return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    data = message.get("bytes")
    return len(data) if data is not None else 0
