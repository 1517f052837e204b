"""``python -m shallot_ws.asyncapi module:app``: print the app's AsyncAPI 3.0.0 document.

A shim for the command line; the code is ``shallot_ws.contracts.asyncapi``.
"""

from __future__ import annotations

from .contracts.asyncapi import asyncapi, main

__all__ = ["asyncapi", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
