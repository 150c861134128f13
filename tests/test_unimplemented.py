"""RPCs whose behaviour is not built yet answer UNIMPLEMENTED with a reason, never data."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2, service_test_pb2_grpc


def _error_info(call: grpc.Call) -> Any:
    status = rpc_status.from_call(call)
    assert status is not None, "no google.rpc.Status in the trailers"
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1, status
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return info


def test_unbuilt_unary_rpc_is_unimplemented_with_reason(channel: grpc.Channel) -> None:
    # ServiceTestService arrives with F5; until then it must say so, never fake data.
    stub = service_test_pb2_grpc.ServiceTestServiceStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetTestJob(service_test_pb2.GetTestJobRequest(id="job-1"), timeout=5)
    call = raised.value
    assert isinstance(call, grpc.Call)
    assert call.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "ServiceTestService.GetTestJob" in (call.details() or "")
    info = _error_info(call)
    assert info.reason == "RPC_NOT_IMPLEMENTED"
    assert info.domain == "mef.lso.interlude"


def _server_streaming_method(services: list[ServiceDescriptor]) -> MethodDescriptor | None:
    # ServiceTestService (F5) is not built yet.
    for service in services:
        if service.name != "ServiceTestService":
            continue
        for method in service.methods:
            if method.server_streaming and not method.client_streaming:
                return method
    return None


def test_unbuilt_server_streaming_rpc_is_unimplemented_with_reason(
    channel: grpc.Channel, contract_services: list[ServiceDescriptor]
) -> None:
    method = _server_streaming_method(contract_services)
    if method is None:
        pytest.skip("the contract has no server-streaming RPC yet")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_stream(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )(request_class(), timeout=5)
    with pytest.raises(grpc.RpcError):
        next(iter(call))
    assert call.code() == grpc.StatusCode.UNIMPLEMENTED
    info = _error_info(call)
    assert info.reason == "RPC_NOT_IMPLEMENTED"
    assert info.domain == "mef.lso.interlude"
    assert info.metadata["method"] == f"/{method.containing_service.full_name}/{method.name}"
