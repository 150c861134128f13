"""Where the REST adapter sends a call: the servicers in this process, or a remote server.

Both backends take the same request messages and give the same responses;
both fail with a google.rpc.Status (RpcFailure), so the REST error mapping is
one function whichever deployment runs.

The `Caller` of a call says who it acts for: in-process, the principal the
REST middleware admitted (the servicers run inside `acting_as(principal)`,
exactly as behind the gRPC interceptor); in gateway mode, the caller's own
credentials, forwarded so the upstream admits the call itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import structlog
from google.protobuf.message import Message
from google.rpc import status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2_grpc,
    catalog_pb2_grpc,
    common_pb2,
    inventory_pb2_grpc,
    ordering_pb2_grpc,
    performance_pb2_grpc,
    service_test_pb2_grpc,
)
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.errors import rich_status, status_for
from interlude_server.api.principal import BUYER_METADATA
from interlude_server.auth.principal import Principal, acting_as
from interlude_server.core.errors import DomainError, Unauthenticated
from interlude_server.observability import tracing

PACKAGE = "mef.lso.interlude.v1."
_log = structlog.get_logger("interlude_server.rest.gateway")
# gRPC codes that say the upstream failed (an exception, lost data) rather than refused the call.
_FAULTS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS)
_DETAILS_KEY = "grpc-status-details-bin"


class RpcFailure(Exception):
    """A call failed with this rich status."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Caller:
    """Who one REST request acts for.

    `buyer` scopes the hub and names the caller in logs; `principal` is set when this
    process admitted the request; `forward` is the metadata a gateway sends upstream
    (the caller's `authorization`, and `x-interlude-buyer`, which the upstream honours
    only in auth none mode).
    """

    buyer: str
    principal: Principal | None = None
    forward: Metadata = ()


class Backend(Protocol):
    """Runs one unary RPC of the contract for a caller."""

    async def call(self, service: str, method: str, request: Message, caller: Caller) -> Any:
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

    async def call(self, service: str, method: str, request: Message, caller: Caller) -> Any:
        servicer = self._servicers.get(service)
        if servicer is None:
            raise RpcFailure(not_implemented(f"{service} is not served here"))
        if caller.principal is None:  # the middleware admits every request: fail closed
            raise RpcFailure(status_for(Unauthenticated("no admitted principal", "missing_credentials")))
        try:
            with acting_as(caller.principal):
                return await getattr(servicer, method)(request, _Context(caller.buyer))
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
    message = error.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        reason = common_pb2.ERROR_REASON_UPSTREAM_UNAVAILABLE
    elif code == grpc.StatusCode.UNIMPLEMENTED:
        reason = common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:  # the gateway's --timeout passed: 504
        reason = common_pb2.ERROR_REASON_DEADLINE_EXCEEDED
        message = "the upstream server did not answer in time"
    else:
        reason = common_pb2.ERROR_REASON_INTERNAL
        if code in _FAULTS:  # a fault's text (an exception's, say) is the log's, not the client's
            incident = uuid.uuid4().hex
            _log.error("gateway.upstream_fault", incident=incident, code=code.name, details=message)
            message = f"the upstream server failed (incident {incident})"
    return rich_status(code, reason, message)


class GatewayBackend:
    """Calls a remote Interlude gRPC server through the generated stubs, with the caller's
    `authorization` (and development buyer header) as metadata, as from any other client;
    over TLS when `credentials` are given. The request's trace goes upstream too
    (`traceparent`, `tracestate`), so the upstream's logs and events name the same trace."""

    def __init__(
        self, upstream: str, timeout: float = 30.0, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self._channel = (
            grpc.aio.secure_channel(upstream, credentials)
            if credentials is not None
            else grpc.aio.insecure_channel(upstream)
        )
        self._timeout = timeout
        self._stubs: dict[str, Any] = {
            "ServiceInventoryService": inventory_pb2_grpc.ServiceInventoryServiceStub(self._channel),
            "ServiceOrderingService": ordering_pb2_grpc.ServiceOrderingServiceStub(self._channel),
            "ServiceCatalogService": catalog_pb2_grpc.ServiceCatalogServiceStub(self._channel),
            "ServiceTestService": service_test_pb2_grpc.ServiceTestServiceStub(self._channel),
            "PerformanceService": performance_pb2_grpc.PerformanceServiceStub(self._channel),
            "AlarmService": alarm_pb2_grpc.AlarmServiceStub(self._channel),
        }

    async def call(self, service: str, method: str, request: Message, caller: Caller) -> Any:
        stub = self._stubs.get(service)
        if stub is None:
            raise RpcFailure(not_implemented(f"{service} is not mapped by the gateway"))
        trace = tracing.current()
        metadata = caller.forward if trace is None else (*caller.forward, *trace.outgoing().items())
        try:
            return await getattr(stub, method)(request, metadata=metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise RpcFailure(status_of(exc)) from exc

    async def close(self) -> None:
        await self._channel.close()
