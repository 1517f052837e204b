"""The wrap_logging app after the two lines docs/middlewares.md gives to turn logging on."""

from __future__ import annotations

import logging

from shallot_ws import websocket, wrap_logging
from tests.logging_apps import say_back

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

app = websocket(wrap_logging(say_back))
