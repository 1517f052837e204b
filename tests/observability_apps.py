"""An instrumented app for the real-server tests of shallot_ws.observability, served as
``tests.observability_apps:app``: websocket routes counted into ``METRICS``, exported by
prometheus_client at ``GET /metrics`` from a registry of its own.

``/rooms/{room}`` subscribes to the channel ``room:<room>``, says ``joined``, then publishes
each frame it gets and sends back the first message its subscription holds (its own, when
nobody else spoke). ``/private`` refuses every handshake with 401.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shallot_ws import Broadcast, route, router, ws_deny, ws_send
from shallot_ws.observability import Metrics, instrument
from shallot_ws.observability.prometheus import metrics_endpoint, register

METRICS = Metrics(buckets=(1.0, 60.0))
REGISTRY = CollectorRegistry()
register(METRICS, REGISTRY)
BROADCAST = Broadcast("memory://")
METRICS.watch(BROADCAST, channel=lambda name: name.split(":")[0])


async def room(scope, receiver):
    channel = f"room:{scope['path_params']['room']}"
    async with BROADCAST.subscribe(channel) as subscription:
        yield ws_send("joined")
        async for message in receiver:
            await BROADCAST.publish(channel, message)
            yield ws_send(await anext(subscription))


async def nobody(scope):
    return ws_deny(401, "no")


app = instrument(
    router(
        [route("/rooms/{room}", room), route("/private", room, on_connect=nobody)],
        fallback=metrics_endpoint(REGISTRY),
    ),
    METRICS,
)
