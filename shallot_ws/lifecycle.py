"""How a connection ended: the outcomes the driver tells its hooks by. Pure: no event loop.

The driver (driver.py) ends every accepted connection with exactly one ``Outcome``;
``on_disconnect`` runs for ``DISCONNECTED`` only, ``on_close`` for all of them.
"""

from __future__ import annotations

import enum

__all__ = ["Outcome"]


class Outcome(enum.Enum):
    """How one accepted connection ended."""

    FINISHED = "finished"  # the handler returned: the driver sent 1000
    CLOSED = "closed"  # the handler yielded a close: sent as given
    DISCONNECTED = "disconnected"  # the client left (or a send found it gone)
    FAILED = "failed"  # the handler raised (1011), or the server cancelled the task (1001)
