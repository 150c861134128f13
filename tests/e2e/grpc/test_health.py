"""grpc.health.v1 on a real server process: overall and per-service status."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING


def _check(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    status: int = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
    return status


def test_overall_health_is_serving_once_started(channel: grpc.Channel) -> None:
    assert _check(channel, "") == SERVING


def test_every_contract_service_reports_serving(
    channel: grpc.Channel, contract_services: list[ServiceDescriptor]
) -> None:
    for service in contract_services:
        assert _check(channel, service.full_name) == SERVING, service.full_name


def test_unknown_service_health_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _check(channel, "mef.lso.interlude.v1.NoSuchService")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
