"""Typed message contracts: one declaration gives validation at the door, encoding, the
AsyncAPI document and the hypothesis strategies. Optional: needs msgspec
(``shallot_ws[typed]``) or pydantic v2 (``shallot_ws[pydantic]``); the core imports neither.

::

    class Join(msgspec.Struct, tag="join"):
        room: str

    class Said(msgspec.Struct, tag="said"):
        name: str
        text: str

    @websocket
    @contract(receives=Join | Say, sends=Said)
    async def chat(scope, receiver):
        async for message in receiver:  # Join or Say objects
            ...
            yield Said(name, text)

``asyncapi(app, title=..., version=...)`` is the AsyncAPI 3.0.0 document of a router or an
app; ``asyncapi_app(document)`` serves it with a page that renders it.
"""

from __future__ import annotations

from .asyncapi import asyncapi
from .codecs import ContractViolation, InvalidFrame
from .contract import Contract, contract, contract_of, error_reply
from .page import asyncapi_app

__all__ = [
    "Contract",
    "ContractViolation",
    "InvalidFrame",
    "asyncapi",
    "asyncapi_app",
    "contract",
    "contract_of",
    "error_reply",
]
