"""Methods a service registers with grpc as "registered methods" are served from one table.

grpc.aio keeps one pending request per registered method and waits on all of them again for
every call that arrives; the registrar therefore serves such methods from one generic handler
(api.interceptors._MethodTable). A real grpc.aio server on 127.0.0.1 in this process: every
method still answers through the stages, an unknown one is UNIMPLEMENTED, and grpc.aio's
per-call wait covers one pending request, not one per method.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from structlog.testing import capture_logs

from interlude_server.api.interceptors import RpcStages

SERVICE = "probe.v1.Probe"
METHODS = [f"Echo{i}" for i in range(10)]


def _answer(name: str) -> Callable[[bytes, Any], Awaitable[bytes]]:
    async def answer(request: bytes, context: Any) -> bytes:
        return name.encode() + request

    return answer


async def _serve_and_call(waits: list[int]) -> tuple[list[bytes], grpc.StatusCode | None]:
    server = grpc.aio.server()
    stages = RpcStages()
    registrar = stages.registrar(server)
    registrar.add_registered_method_handlers(
        SERVICE, {name: grpc.unary_unary_rpc_method_handler(_answer(name)) for name in METHODS}
    )
    server.add_generic_rpc_handlers((stages.unknown_methods(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    original = asyncio.wait

    def counting(fs: Any, *args: Any, **kwargs: Any) -> Any:
        fs = list(fs)
        waits.append(len(fs))
        return original(fs, *args, **kwargs)

    asyncio.wait = counting  # what grpc.aio waits on, per call
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:

            def method(name: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
                return channel.unary_unary(f"/{SERVICE}/{name}")

            answers = [await method(name)(b"!", timeout=10) for name in METHODS]
            missing: grpc.StatusCode | None = None
            try:
                await method("Missing")(b"", timeout=10)
            except grpc.aio.AioRpcError as error:
                missing = error.code()
    finally:
        asyncio.wait = original
        await server.stop(None)
    return answers, missing


def test_registered_methods_answer_through_the_stages_from_one_table() -> None:
    waits: list[int] = []
    with capture_logs() as logs:
        answers, missing = asyncio.run(_serve_and_call(waits))
    assert answers == [name.encode() + b"!" for name in METHODS]
    assert missing == grpc.StatusCode.UNIMPLEMENTED
    finished = [e["method"] for e in logs if e["event"] == "rpc.finished"]
    assert finished == [f"/{SERVICE}/{name}" for name in METHODS] + [f"/{SERVICE}/Missing"]
    # Registered with grpc, the ten methods would make every wait cover eleven requests.
    assert waits, "grpc.aio no longer waits per call: revisit api.interceptors._StagedRegistrar"
    assert max(waits) == 1, waits


async def test_a_method_registered_twice_is_refused() -> None:
    registrar = RpcStages().registrar(grpc.aio.server())
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_answer("x"))
    registrar.add_registered_method_handlers(SERVICE, {"Echo": handler})
    with pytest.raises(ValueError, match="registered twice"):
        registrar.add_registered_method_handlers(SERVICE, {"Echo": handler})
