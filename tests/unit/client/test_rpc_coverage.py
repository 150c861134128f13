"""Every RPC of every service of the contract has a method on both client faces, named
after it (`CreatePerformanceReport` -> `create_performance_report`), so an RPC added to a
.proto file without a client method fails here rather than being forgotten."""

from __future__ import annotations

import re

import pytest
from google.protobuf.descriptor import ServiceDescriptor

from interlude_client import AsyncInterludeClient, InterludeClient
from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    fault_management_pb2,
    inventory_pb2,
    ordering_pb2,
    performance_pb2,
    service_test_pb2,
)

MODULES = (catalog_pb2, events_pb2, inventory_pb2, ordering_pb2, performance_pb2, service_test_pb2)
SERVICES: list[ServiceDescriptor] = [
    service for module in MODULES for service in module.DESCRIPTOR.services_by_name.values()
]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_service_of_the_contract_is_checked() -> None:
    names = {s.name for s in SERVICES}
    assert {"PerformanceService", "ServiceTestService", "ServiceOrderingService", "EventService"} <= names
    # Fault Management is served by ServiceTestService: the FM file declares no service.
    assert not fault_management_pb2.DESCRIPTOR.services_by_name


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_rpc_has_a_method_on_both_faces(service: ServiceDescriptor) -> None:
    missing = [
        f"{service.name}.{rpc.name} -> {snake(rpc.name)}"
        for rpc in service.methods
        for face in (InterludeClient, AsyncInterludeClient)
        if not callable(getattr(face, snake(rpc.name), None))
    ]
    assert missing == []


def test_the_check_sees_a_missing_method() -> None:
    assert snake("GetPerformanceReportFile") == "get_performance_report_file"
    assert getattr(InterludeClient, snake("NoSuchRpc"), None) is None
