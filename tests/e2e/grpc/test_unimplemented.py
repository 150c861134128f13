"""Every RPC of the contract is built; a service served without a servicer answers
UNIMPLEMENTED with a reason, never data."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_server.config import Listen
from interlude_server.runtime.grpc_server import start_server


def _error_info(call: Any) -> Any:
    status = rpc_status.from_call(call)
    assert status is not None, "no google.rpc.Status in the trailers"
    return _info(status)


def _info(status: Any) -> Any:
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1, status
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return info


def test_every_unary_rpc_of_the_contract_is_built(
    channel: grpc.Channel, contract_services: list[ServiceDescriptor]
) -> None:
    # Every RPC has its behaviour now: none may answer RPC_NOT_IMPLEMENTED (an empty request
    # gets a validation error, NOT_FOUND or data, never "not built").
    unbuilt: list[str] = []
    for service in contract_services:
        for method in service.methods:
            if method.server_streaming or method.client_streaming:
                continue
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            call = channel.unary_unary(
                f"/{service.full_name}/{method.name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            try:
                call(request_class(), metadata=(("x-interlude-buyer", "sp-alpha"),), timeout=10)
            except grpc.RpcError as error:
                if isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    unbuilt.append(f"{service.name}.{method.name}")
    assert unbuilt == []


def _server_streaming_method(services: list[ServiceDescriptor]) -> MethodDescriptor:
    return next(m for s in services for m in s.methods if m.server_streaming and not m.client_streaming)


async def test_a_service_without_a_servicer_is_unimplemented_with_reason_even_for_streams(
    contract_services: list[ServiceDescriptor],
) -> None:
    # Every contract service has a servicer now; a server built without one (as the skeleton
    # was) answers each of its RPCs, streaming ones included, with the reason.
    running = await start_server(Listen("127.0.0.1", 0))
    method = _server_streaming_method(contract_services)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    try:
        async with grpc.aio.insecure_channel(running.listen.address) as channel:
            call = channel.unary_stream(
                f"/{method.containing_service.full_name}/{method.name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )(request_class(), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError):
                async for _ in call:
                    pass
            assert await call.code() == grpc.StatusCode.UNIMPLEMENTED
            trailers = await call.trailing_metadata()
            details = dict(trailers or ())["grpc-status-details-bin"]
            assert isinstance(details, bytes)
            info = _info(status_pb2.Status.FromString(details))
    finally:
        await running.stop(0)
    assert info.reason == "RPC_NOT_IMPLEMENTED"
    assert info.domain == "mef.lso.interlude"
    assert info.metadata["method"] == f"/{method.containing_service.full_name}/{method.name}"
