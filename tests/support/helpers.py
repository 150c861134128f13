"""Client-side helpers for end-to-end tests: stubs, rich error details, waiting on orders."""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2_grpc,
    inventory_pb2_grpc,
    ordering_pb2,
    ordering_pb2_grpc,
)

ALPHA = (("x-interlude-buyer", "sp-alpha"),)
BETA = (("x-interlude-buyer", "sp-beta"),)
URN = "urn:mef:lso:spec:legato:"
UNI = URN + "carrier-ethernet-operator-uni:v0.0.1:all"
EVC = URN + "carrier-ethernet-evc:v0.0.1:all"
OVC = URN + "carrier-ethernet-ovc:v0.0.1:all"
OVC_EP = URN + "carrier-ethernet-ovc-end-point:v0.0.1:all"
TERMINAL = {
    ordering_pb2.SERVICE_ORDER_STATE_COMPLETED,
    ordering_pb2.SERVICE_ORDER_STATE_FAILED,
    ordering_pb2.SERVICE_ORDER_STATE_PARTIAL,
    ordering_pb2.SERVICE_ORDER_STATE_REJECTED,
    ordering_pb2.SERVICE_ORDER_STATE_CANCELLED,
}


@dataclass
class Stubs:
    inventory: inventory_pb2_grpc.ServiceInventoryServiceStub
    ordering: ordering_pb2_grpc.ServiceOrderingServiceStub
    catalog: catalog_pb2_grpc.ServiceCatalogServiceStub

    @classmethod
    def on(cls, channel: grpc.Channel) -> Stubs:
        return cls(
            inventory_pb2_grpc.ServiceInventoryServiceStub(channel),
            ordering_pb2_grpc.ServiceOrderingServiceStub(channel),
            catalog_pb2_grpc.ServiceCatalogServiceStub(channel),
        )


@dataclass
class RichError:
    """What a failed call carried: code, ErrorInfo reason and metadata, violations, rules."""

    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    violations: dict[str, str]
    rules: list[str]


def rich_error(error: grpc.RpcError) -> RichError:
    assert isinstance(error, grpc.Call)
    status = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} without rich status details"
    info = error_details_pb2.ErrorInfo()
    violations: dict[str, str] = {}
    rules: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.update({v.field: v.description for v in bad.field_violations})
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            pre = error_details_pb2.PreconditionFailure()
            detail.Unpack(pre)
            rules.extend(v.subject for v in pre.violations)
    assert info.reason, "no ErrorInfo in the status details"
    assert info.domain == "mef.lso.interlude"
    return RichError(error.code(), error.details() or "", info.reason, dict(info.metadata), violations, rules)


def wait_for_order(
    stubs: Stubs, order_id: str, metadata: tuple[tuple[str, str], ...] = ALPHA, timeout: float = 15.0
) -> ordering_pb2.ServiceOrder:
    """Poll until the order reaches a terminal state (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        order = stubs.ordering.GetServiceOrder(
            ordering_pb2.GetServiceOrderRequest(id=order_id), metadata=metadata
        ).service_order
        if order.state in TERMINAL:
            return order
        assert time.monotonic() < deadline, f"order {order_id} still {order.state} after {timeout}s"
        time.sleep(0.05)
