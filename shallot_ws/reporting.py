"""Reporting errors: one log record with the traceback, and the in-memory client told."""

from __future__ import annotations

import logging

from .types import Scope

__all__ = ["TESTING_EXTENSION", "logger", "report"]

logger = logging.getLogger("shallot_ws")

# The scope extension through which ``shallot_ws.testing.connect`` collects the exceptions
# the app reported, to re-raise them into the test.
TESTING_EXTENSION = "shallot_ws.testing"


def report(scope: Scope, exc: BaseException, text: str, *args: object) -> None:
    """Log ``exc`` with its traceback once, and hand it to an in-memory test client if any."""
    logger.error(text, *args, exc_info=exc)
    extensions = scope.get("extensions")
    if extensions:
        box = extensions.get(TESTING_EXTENSION)
        if box is not None:
            box["errors"].append(exc)
