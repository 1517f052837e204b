"""The command line: ``python -m shallot_ws.asyncapi module:app [options]`` prints the app's
AsyncAPI 3.0.0 document as JSON (``main``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .asyncapi_document import asyncapi
from .asyncapi_schemas import identifier

__all__ = ["main"]


def _server(text: str) -> tuple[str, dict[str, str]]:
    """``name=wss://host[:port][/path]`` as a Server Object."""
    name, equals, url = text.partition("=")
    parts = urlsplit(url)
    if (
        not equals
        or not identifier(name) == name
        or parts.scheme not in ("ws", "wss")
        or not parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise argparse.ArgumentTypeError(
            f"expected name=ws://host[:port][/path] or name=wss://..., got {text!r}"
        )
    server = {"host": parts.netloc, "protocol": parts.scheme}
    if parts.path not in ("", "/"):
        server["pathname"] = parts.path
    return name, server


def _load(target: str) -> Any:
    """The object ``module:attribute`` names (``attribute`` may be dotted)."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigError(f"expected module:attribute, got {target!r}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m shallot_ws.asyncapi module:app [--title T] [--version V]
    [--description D] [--server name=wss://host/path ...]``: print the app's AsyncAPI
    document as JSON. Returns the exit status (1 when the app cannot be loaded or described)."""
    parser = argparse.ArgumentParser(
        prog="python -m shallot_ws.asyncapi",
        description="Print the AsyncAPI 3.0.0 document of a shallot_ws router or app.",
    )
    parser.add_argument("app", help="the router or websocket app, as module:attribute")
    parser.add_argument("--title", help="info.title (default: the app's module:attribute)")
    parser.add_argument("--version", default="0.0.0", help="info.version (default: 0.0.0)")
    parser.add_argument("--description", help="info.description")
    parser.add_argument(
        "--server",
        action="append",
        type=_server,
        default=[],
        metavar="NAME=URL",
        help="a server, as name=wss://host[:port][/path]; repeat for several",
    )
    options = parser.parse_args(argv)
    try:
        document = asyncapi(
            _load(options.app),
            title=options.title or options.app,
            version=options.version,
            servers=dict(options.server) or None,
            description=options.description,
        )
    except ConfigError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0
