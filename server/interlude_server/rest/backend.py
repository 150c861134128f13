"""Where the REST adapter sends a call: the servicers in this process, or a remote server.

Both backends take the same request messages and give the same responses;
both fail with a google.rpc.Status (RpcFailure), so the REST error mapping is
one function whichever deployment runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2_grpc,
    common_pb2,
    inventory_pb2_grpc,
    ordering_pb2_grpc,
    performance_pb2_grpc,
)
from interlude_server.api.errors import rich_status, status_for
from interlude_server.api.principal import BUYER_METADATA
from interlude_server.app import ServiceBinding
from interlude_server.domain.errors import DomainError

PACKAGE = "mef.lso.interlude.v1."
_DETAILS_KEY = "grpc-status-details-bin"


class RpcFailure(Exception):
    """A call failed with this rich status."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


class Backend(Protocol):
    """Runs one unary RPC of the contract for a buyer."""

    async def call(self, service: str, method: str, request: Message, buyer: str) -> Any:
        """`service` is the short name (`ServiceInventoryService`); raises RpcFailure."""

    async def close(self) -> None: ...


class _Context:
    """The part of a grpc.aio ServicerContext the servicers use: who is calling."""

    __slots__ = ("_metadata",)

    def __init__(self, buyer: str) -> None:
        self._metadata = ((BUYER_METADATA, buyer),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


class InProcessBackend:
    """Calls the servicers directly: no serialization, no network hop."""

    def __init__(self, bindings: Sequence[ServiceBinding]) -> None:
        self._servicers = {
            b.service_name.removeprefix(PACKAGE): b.servicer for b in bindings if b.servicer is not None
        }

    async def call(self, service: str, method: str, request: Message, buyer: str) -> Any:
        servicer = self._servicers.get(service)
        if servicer is None:
            raise RpcFailure(not_implemented(f"{service} is not served here"))
        try:
            return await getattr(servicer, method)(request, _Context(buyer))
        except DomainError as exc:
            raise RpcFailure(status_for(exc)) from exc

    async def close(self) -> None:
        return None


def not_implemented(message: str) -> status_pb2.Status:
    return rich_status(grpc.StatusCode.UNIMPLEMENTED, common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED, message)


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status a failed upstream call carried (or one built from its code)."""
    for key, value in error.trailing_metadata() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    code = error.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        reason = common_pb2.ERROR_REASON_UPSTREAM_UNAVAILABLE
    elif code == grpc.StatusCode.UNIMPLEMENTED:
        reason = common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED
    else:
        reason = common_pb2.ERROR_REASON_INTERNAL
    return rich_status(code, reason, error.details() or code.name)


class GatewayBackend:
    """Calls a remote Interlude gRPC server through the generated stubs (the buyer travels
    in the `x-interlude-buyer` metadata, as from any other client)."""

    def __init__(self, upstream: str, timeout: float = 30.0) -> None:
        self._channel = grpc.aio.insecure_channel(upstream)
        self._timeout = timeout
        self._stubs: dict[str, Any] = {
            "ServiceInventoryService": inventory_pb2_grpc.ServiceInventoryServiceStub(self._channel),
            "ServiceOrderingService": ordering_pb2_grpc.ServiceOrderingServiceStub(self._channel),
            "ServiceCatalogService": catalog_pb2_grpc.ServiceCatalogServiceStub(self._channel),
            "PerformanceService": performance_pb2_grpc.PerformanceServiceStub(self._channel),
        }

    async def call(self, service: str, method: str, request: Message, buyer: str) -> Any:
        stub = self._stubs.get(service)
        if stub is None:
            raise RpcFailure(not_implemented(f"{service} is not mapped by the gateway"))
        try:
            return await getattr(stub, method)(
                request, metadata=((BUYER_METADATA, buyer),), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise RpcFailure(status_of(exc)) from exc

    async def close(self) -> None:
        await self._channel.close()
