"""Reporting errors: one log record with the traceback, and the in-memory client told."""

from __future__ import annotations

import logging
from typing import Any

from .types import Scope

__all__ = ["TESTING_EXTENSION", "logger", "report", "testing_box"]

logger = logging.getLogger("shallot_ws")

# The scope extension through which ``shallot_ws.testing.connect`` collects the exceptions
# the app reported, to re-raise them into the test. Absent under a real server: then
# nothing is recorded.
TESTING_EXTENSION = "shallot_ws.testing"


def testing_box(scope: Scope) -> dict[str, Any] | None:
    """The in-memory test client's box in ``scope``, or ``None`` under a real server."""
    extensions = scope.get("extensions")
    if extensions:
        box: dict[str, Any] | None = extensions.get(TESTING_EXTENSION)
        return box
    return None


def report(scope: Scope, exc: BaseException, text: str, *args: object) -> None:
    """Log ``exc`` with its traceback once, and hand it to an in-memory test client if any."""
    logger.error(text, *args, exc_info=exc)
    box = testing_box(scope)
    if box is not None:
        box["errors"].append(exc)
