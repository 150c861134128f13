"""A call's stages read the metadata its handler lookup was given, and only their own call's.

api.interceptors keeps what grpc.aio handed the handler lookup (HandlerCallDetails) for the
task that looked the handler up, so the stages need not convert the metadata a second time.
A real grpc.aio server on 127.0.0.1 in this process, many calls in flight at once, each with
its own buyer: every call's stages and handler see exactly that call's metadata, through the
method table and through a generic handler alike, and code running in another task falls back
to the context's own copy.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import grpc

from interlude_server.api.interceptors import RpcStages, call_metadata
from interlude_server.api.principal import BUYER_METADATA, metadata_value
from interlude_server.observability.logging import log_context

SERVICE = "probe.v1.Probe"
CALLS = 60


async def _seen(request: bytes, context: Any) -> bytes:
    """What the call saw: the buyer its stages bound, the buyer in the kept metadata, whether
    the kept metadata was the lookup's (the same object every time) and what another task
    sees; each must match the buyer the caller sent."""
    kept = call_metadata(context)
    await asyncio.sleep(0)  # let the other calls' lookups run in between
    again = call_metadata(context)
    other_task = await asyncio.create_task(_other_task(context))
    fields = log_context()
    return "|".join(
        [
            str(fields.get("buyer")),
            metadata_value(kept, BUYER_METADATA),
            str(kept is again),
            other_task,
        ]
    ).encode()


async def _other_task(context: Any) -> str:
    seen = call_metadata(context)
    # Another task gets the context's own conversion: equal content, a new object each time.
    fresh = seen is not call_metadata(context)
    return f"{metadata_value(seen, BUYER_METADATA)}:{fresh}"


class _Generic(grpc.GenericRpcHandler):
    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        if handler_call_details.method == f"/{SERVICE}/Generic":
            return grpc.unary_unary_rpc_method_handler(_seen)
        return None


async def _serve_and_call() -> list[tuple[str, str]]:
    server = grpc.aio.server()
    stages = RpcStages(default_buyer="nobody")
    registrar = stages.registrar(server)
    registrar.add_registered_method_handlers(SERVICE, {"Table": grpc.unary_unary_rpc_method_handler(_seen)})
    registrar.add_generic_rpc_handlers((_Generic(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            table: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{SERVICE}/Table")
            generic: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                f"/{SERVICE}/Generic"
            )

            async def call(index: int) -> tuple[str, str]:
                buyer = f"buyer-{index}"
                method = table if index % 2 else generic
                answer = await method(b"", metadata=((BUYER_METADATA, buyer),), timeout=10)
                return buyer, bytes(answer).decode()

            return list(await asyncio.gather(*(call(i) for i in range(CALLS))))
    finally:
        await server.stop(None)


def test_each_call_reads_its_own_looked_up_metadata() -> None:
    answers = asyncio.run(_serve_and_call())
    assert len(answers) == CALLS
    for buyer, answer in answers:
        # stages' buyer | handler's kept metadata | kept was the lookup's | another task's view
        assert answer == f"{buyer}|{buyer}|True|{buyer}:True", (buyer, answer)


async def _serve_one_call_and_keep_its_task() -> weakref.ref[asyncio.Task[Any]]:
    seen: list[weakref.ref[asyncio.Task[Any]]] = []

    async def handler(request: bytes, context: Any) -> bytes:
        task = asyncio.current_task()
        assert task is not None
        seen.append(weakref.ref(task))
        return metadata_value(call_metadata(context), BUYER_METADATA).encode()

    server = grpc.aio.server()
    registrar = RpcStages().registrar(server)
    registrar.add_registered_method_handlers(SERVICE, {"Kept": grpc.unary_unary_rpc_method_handler(handler)})
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            kept: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{SERVICE}/Kept")
            # A deadline, so the stages bind one too (core.deadlines keeps it in the same context).
            assert await kept(b"", metadata=((BUYER_METADATA, "b"),), timeout=10) == b"b"
        for _ in range(20):  # let grpc.aio finish with the call
            await asyncio.sleep(0.01)
            if seen[0]() is None:
                break
    finally:
        await server.stop(None)
    return seen[0]


def test_a_served_call_leaves_no_cycle_through_its_task() -> None:
    """What the stages keep in a call's context (its looked-up metadata, its deadline) names
    the call's task weakly: a strong reference there would leave every call's task, context and
    coroutines as garbage only the cyclic collector frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        task = asyncio.run(_serve_one_call_and_keep_its_task())
        assert task() is None
    finally:
        if was_enabled:
            gc.enable()
