"""The RPC logging interceptor, with the server running in this process.

Every RPC, unary or streaming, ends in exactly one `rpc.finished` event with
method, peer, request id, buyer, status code and duration; while a handler
runs, the same context is its logging context (observability.logging.log_context).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import grpc
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from structlog.testing import capture_logs
from structlog.typing import EventDict

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, inventory_pb2_grpc
from interlude_server.api import errors
from interlude_server.api.binding import ServiceBinding
from interlude_server.config import Listen
from interlude_server.observability.logging import log_context
from interlude_server.runtime.grpc_server import start_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

INVENTORY = "mef.lso.interlude.v1.ServiceInventoryService"


@asynccontextmanager
async def serving(bindings: Sequence[ServiceBinding] = ()) -> AsyncIterator[grpc.aio.Channel]:
    """Start the real app on an ephemeral port; yield a channel to it."""
    running = await start_server(Listen("127.0.0.1", 0), bindings)
    try:
        async with grpc.aio.insecure_channel(running.listen.address) as channel:
            yield channel
    finally:
        await running.stop(0)


def _raw(message: bytes) -> bytes:
    return message


def finished(logs: list[EventDict], request_id: str) -> list[EventDict]:
    return [e for e in logs if e["event"] == "rpc.finished" and e["request_id"] == request_id]


async def finished_eventually(logs: list[EventDict], request_id: str) -> list[EventDict]:
    """The rpc.finished events of `request_id`, waiting (bounded) for the first one."""
    for _ in range(200):
        if finished(logs, request_id):
            await asyncio.sleep(0.05)  # a second event would show up now
            return finished(logs, request_id)
        await asyncio.sleep(0.01)
    return []


def assert_rpc_fields(entry: EventDict, method: str, code: str) -> None:
    assert entry["method"] == method
    assert entry["code"] == code
    assert entry["peer"].startswith("ipv4:127.0.0.1:"), entry["peer"]
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0


async def test_unary_rpc_logs_one_finished_event_with_code_peer_and_request_id() -> None:
    with capture_logs() as logs:
        async with serving() as channel:
            stub = inventory_pb2_grpc.ServiceInventoryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetService(
                    inventory_pb2.GetServiceRequest(id="svc-1"),
                    metadata=(("x-request-id", "req-unary"), ("x-interlude-buyer", "buyer-a")),
                )
    (entry,) = finished(logs, "req-unary")
    assert_rpc_fields(entry, f"/{INVENTORY}/GetService", "UNIMPLEMENTED")
    assert entry["buyer"] == "buyer-a"
    assert entry["log_level"] == "info"


async def test_bidi_stream_logs_one_finished_event_when_it_ends() -> None:
    with capture_logs() as logs:
        async with serving() as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(
                iter(
                    [
                        reflection_pb2.ServerReflectionRequest(list_services=""),
                        reflection_pb2.ServerReflectionRequest(list_services=""),
                    ]
                ),
                metadata=(("x-request-id", "req-stream"),),
            )
            responses = [response async for response in call]
            assert len(responses) == 2
    (entry,) = finished(logs, "req-stream")
    assert_rpc_fields(entry, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "OK")
    assert entry["buyer"] == ""


async def test_server_stream_cancelled_by_the_client_logs_one_cancelled_event() -> None:
    with capture_logs() as logs:
        async with serving() as channel:
            call = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), metadata=(("x-request-id", "req-watch"),)
            )
            first = await call.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            call.cancel()
            entries = await finished_eventually(logs, "req-watch")
    (entry,) = entries
    assert_rpc_fields(entry, "/grpc.health.v1.Health/Watch", "CANCELLED")


def _unary_method_with_request_id(services: list[ServiceDescriptor]) -> MethodDescriptor | None:
    for service in services:
        for method in service.methods:
            if not method.client_streaming and "request_id" in method.input_type.fields_by_name:
                return method
    return None


async def _call_once(channel: grpc.aio.Channel, method: MethodDescriptor, request: Any) -> None:
    """Call a unary-request RPC and read all of its response(s)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    serializer = type(request).SerializeToString
    if method.server_streaming:
        async for _ in channel.unary_stream(path, request_serializer=serializer)(request):
            pass
    else:
        await channel.unary_unary(path, request_serializer=serializer)(request)


async def test_request_id_falls_back_to_the_request_field(contract_services: list[ServiceDescriptor]) -> None:
    method = _unary_method_with_request_id(contract_services)
    if method is None:
        pytest.skip("no contract RPC has a request_id field yet")
    request_class = message_factory.GetMessageClass(method.input_type)
    request = json_format.ParseDict({"requestId": "req-in-body"}, request_class())
    path = f"/{method.containing_service.full_name}/{method.name}"
    with capture_logs() as logs:
        async with serving() as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await _call_once(channel, method, request)
    (entry,) = finished(logs, "req-in-body")
    assert_rpc_fields(entry, path, "UNIMPLEMENTED")


async def test_unknown_method_logs_one_unimplemented_event() -> None:
    with capture_logs() as logs:
        async with serving() as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary(
                    "/mef.lso.interlude.v1.NoSuchService/Nothing", request_serializer=_raw
                )(b"", metadata=(("x-request-id", "req-unknown"),))
            assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    (entry,) = finished(logs, "req-unknown")
    assert entry["method"] == "/mef.lso.interlude.v1.NoSuchService/Nothing"
    assert entry["code"] == "UNIMPLEMENTED"


class ProbeInventory(inventory_pb2_grpc.ServiceInventoryServiceServicer):
    """A real servicer for the test: records its logging context, then fails on purpose."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    async def GetService(self, request: inventory_pb2.GetServiceRequest, context: Any) -> NoReturn:
        self.contexts.append(log_context())
        await errors.abort(
            context,
            errors.rich_status(
                grpc.StatusCode.NOT_FOUND,
                common_pb2.ERROR_REASON_SERVICE_NOT_FOUND,
                f"no service {request.id}",
                resource=errors.ResourceInfo(resource_type=INVENTORY, resource_name=request.id),
            ),
        )

    async def ListServices(self, request: inventory_pb2.ListServicesRequest, context: Any) -> NoReturn:
        raise RuntimeError("probe failure")


def _probe_binding(probe: ProbeInventory) -> ServiceBinding:
    return ServiceBinding(
        INVENTORY,
        lambda server: inventory_pb2_grpc.add_ServiceInventoryServiceServicer_to_server(probe, server),
    )


async def test_real_servicer_replaces_unimplemented_and_sees_the_rpc_context() -> None:
    probe = ProbeInventory()
    with capture_logs() as logs:
        async with serving([_probe_binding(probe)]) as channel:
            stub = inventory_pb2_grpc.ServiceInventoryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.GetService(
                    inventory_pb2.GetServiceRequest(id="svc-9"),
                    metadata=(("x-request-id", "req-probe"), ("x-interlude-buyer", "buyer-b")),
                )
            # The server logs the call once its answer is out: wait for it before the server stops.
            entries = await finished_eventually(logs, "req-probe")
    call = raised.value
    assert call.code() == grpc.StatusCode.NOT_FOUND
    status = rpc_status.from_call(call)  # AioRpcError answers synchronously
    info, resource = error_details_pb2.ErrorInfo(), error_details_pb2.ResourceInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("SERVICE_NOT_FOUND", "mef.lso.interlude")
    assert status.details[1].Unpack(resource)
    assert resource.resource_name == "svc-9"
    (bound,) = probe.contexts
    assert bound["method"] == f"/{INVENTORY}/GetService"
    assert bound["request_id"] == "req-probe"
    assert bound["buyer"] == "buyer-b"
    assert bound["peer"].startswith("ipv4:127.0.0.1:")
    (entry,) = entries
    assert_rpc_fields(entry, f"/{INVENTORY}/GetService", "NOT_FOUND")


async def test_handler_fault_is_internal_with_an_incident_id_and_logged_at_error_level() -> None:
    with capture_logs() as logs:
        async with serving([_probe_binding(ProbeInventory())]) as channel:
            stub = inventory_pb2_grpc.ServiceInventoryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.ListServices(
                    inventory_pb2.ListServicesRequest(), metadata=(("x-request-id", "req-boom"),)
                )
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    status = rpc_status.from_call(raised.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "INTERNAL"
    assert info.metadata["incident"] == "req-boom"
    assert "req-boom" in (raised.value.details() or "")
    (entry,) = finished(logs, "req-boom")
    assert_rpc_fields(entry, f"/{INVENTORY}/ListServices", "INTERNAL")
    assert entry["log_level"] == "error"
    assert entry["incident"] == "req-boom"
    assert isinstance(entry["exc_info"], RuntimeError)
