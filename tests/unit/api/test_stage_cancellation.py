"""A response stream whose client goes away ends CANCELLED in the access log, whichever way
grpc.aio tells the handler: a CancelledError, or a write that fails because the peer closed the
call while a response was on its way out (the cancellation reaches the task a moment later).

A real grpc.aio server on 127.0.0.1 in this process, the stages wrapped at registration as the
server does; each client reads one response, then cancels its call or closes its channel
while the server writes (without the mapping of the failed write, about 40 % of these
streams logged INTERNAL).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from structlog.testing import capture_logs

from interlude_server.api.interceptors import RpcStages

METHOD = "/probe.v1.Probe/Flood"
STREAMS = 60


async def _flood(request: bytes, context: Any) -> None:
    """Write responses until the call ends (the client closes its channel after one)."""
    while True:
        await context.write(b"x" * 100_000)


async def _run() -> None:
    server = grpc.aio.server()
    handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
        "Flood": grpc.unary_stream_rpc_method_handler(_flood)
    }
    stages = RpcStages()
    stages.registrar(server).add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("probe.v1.Probe", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        for i in range(STREAMS):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                flood: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(METHOD)
                call = flood(b"")
                await call.read()
                await asyncio.sleep(0.005 * (i % 5))  # vary where the server's write is
                if i % 2:
                    call.cancel()  # else the channel's close ends it
        await asyncio.sleep(0.5)  # the last calls' ends reach their handlers
    finally:
        await server.stop(None)


def test_a_stream_closed_by_its_client_mid_write_is_cancelled_not_a_fault() -> None:
    with capture_logs() as logs:
        asyncio.run(_run())
    finished = [e for e in logs if e["event"] == "rpc.finished" and e["method"] == METHOD]
    assert len(finished) == STREAMS, finished
    assert {(e["code"], e["log_level"]) for e in finished} == {("CANCELLED", "info")}
