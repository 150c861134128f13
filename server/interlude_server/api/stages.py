"""The stages every RPC passes through, one job each; api.interceptors runs them in this order:

1. AccessLog.begin     bind the call's fields (method, peer, request id, buyer, and the trace
                       of its `traceparent` metadata: trace_id, span_id) as the call's logging
                       context (observability.logging, one contextvar), so every event logged
                       while serving it carries them;
2. Admission           shed a call past the server's bound on work in flight (api.overload)
                       before it costs anything: before the deadline, authentication or a handler;
3. DeadlineBinding     bind the call's deadline (core.deadlines), so the store does not begin a
                       write its caller has given up on; a call already past it is refused;
4. Authentication      admit the call through the AuthGate (api.principal) and run the handler
                       as the admitted principal (a response stream only while its token is valid);
5. ErrorMapping        end a call that raised (a refusal of 2-4 or the handler's): the status a
                       client can act on, logged once;
6. AccessLog.finished  one `rpc.finished` event per RPC (code, duration_ms), whatever its end,
                       and the call counted in its method's meter (observability.metrics),
                       when the server keeps metrics.

A stage is a plain object whose steps are plain calls, not a wrapper around the next stage:
the order is written once, in the interceptor's `staged`, and a call pays no coroutine or
handler per stage (this server is measured in calls per second). The metadata the stages
read is found in one pass over it (api.principal.CallHeaders).
"""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import grpc
import structlog
from google.protobuf.descriptor import FieldDescriptor

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api import errors
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.api.principal import AuthGate, CallHeaders, Metadata
from interlude_server.auth.principal import Principal, act_as, stop_acting, within_validity
from interlude_server.core import deadlines
from interlude_server.core.errors import DomainError
from interlude_server.observability import tracing
from interlude_server.observability.access import AccessPolicy
from interlude_server.observability.logging import bind_call
from interlude_server.observability.metrics import RpcMeter

if TYPE_CHECKING:
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

_log = structlog.get_logger("interlude_server.rpc")

_DEADLINE_SLACK_S = 0.05


def _peer_gone_errors() -> tuple[type[BaseException], ...]:
    """What `context.write` raises when the peer has gone while a response was being sent: grpc.aio's
    ExecuteBatchError (the call's cancellation reaches the task a moment later). grpc exports no
    public name for it; grpc.aio itself ignores it once the client has closed the call."""
    error = getattr(importlib.import_module("grpc._cython.cygrpc"), "ExecuteBatchError", None)
    return (error,) if isinstance(error, type) and issubclass(error, BaseException) else ()


# A cancelled call ends with CancelledError, or with a failed write when the cancellation
# races a response on its way out (measured: 41 of 100 streams closed mid-write).
_CANCELLED: tuple[type[BaseException], ...] = (asyncio.CancelledError, *_peer_gone_errors())
# The codes that mark a server span failed (OpenTelemetry's gRPC conventions): a fault of the
# server's, not a refusal of the caller's request.
_SERVER_FAULTS = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)


class Rpc:
    """One call as the stages see it, from its first byte to its status: what the access log
    reports, filled in as the call goes (the peer once bound, the buyer once admitted)."""

    __slots__ = (
        "buyer",
        "headers",
        "log_fields",
        "meter",
        "method",
        "peer",
        "request_id",
        "started",
        "streaming",
        "trace",
    )

    def __init__(
        self, method: str, headers: CallHeaders, streaming: bool, buyer: str, meter: RpcMeter | None = None
    ) -> None:
        self.method = method
        self.meter = meter  # its method's metrics (None: the server keeps none)
        self.headers = headers
        self.streaming = streaming  # a response stream: a long-lived call (api.overload)
        self.request_id = headers.request_id
        self.buyer = buyer
        self.peer = ""
        self.started = time.perf_counter()
        self.trace: tracing.Trace | None = None
        self.log_fields: dict[str, object] | None = None  # its logging context, once opened


def _has_request_id(message_type: type) -> bool | None:
    """Whether messages of this type have a string `request_id` field (from its descriptor);
    None for a type that is no protobuf message (its objects are asked each time)."""
    fields = getattr(getattr(message_type, "DESCRIPTOR", None), "fields_by_name", None)
    if fields is None:
        return None
    field = fields.get("request_id")
    return field is not None and field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated


# _has_request_id of each request type seen, decided once: a message type's fields never change,
# and reading a field a message lacks costs protobuf an AttributeError (~0.8 µs) every call.
_REQUEST_ID_TYPES: dict[type, bool | None] = {}


def _request_id_field(request: object) -> str:
    kind = type(request)
    has = _REQUEST_ID_TYPES.get(kind, ...)
    if has is ...:
        has = _REQUEST_ID_TYPES[kind] = _has_request_id(kind)
    if has is False:
        return ""
    value = getattr(request, "request_id", "")
    return value if isinstance(value, str) else ""


class AccessLog:
    """Stages 1 and 6: the call's logging context, and its one `rpc.finished` event."""

    def __init__(self, default_buyer: str, dev_header: bool, policy: AccessPolicy | None = None) -> None:
        self.default_buyer = default_buyer
        self.dev_header = dev_header
        self.policy = policy or AccessPolicy()  # which finished calls get a line

    def begin(
        self,
        method: str,
        context: Context,
        metadata: Metadata,
        request: object = None,
        streaming: bool = False,
        meter: RpcMeter | None = None,
    ) -> Rpc:
        """A call just arrived: its Rpc, whose fields are bound for every event logged while it
        is served (the request id from the request's `request_id` field when no metadata named
        one), and its trace (its `traceparent`, else a new one) made current. Until the gate
        admits it, only auth none may name a buyer by header. A response stream is counted open
        in `meter` from now until `finished`. `metadata` is the call's (api.interceptors
        `call_metadata`)."""
        headers = CallHeaders(metadata)
        buyer = (headers.buyer or self.default_buyer) if self.dev_header else ""
        if meter is not None and streaming:
            meter.opened()
        rpc = Rpc(method, headers, streaming, buyer, meter)
        rpc.peer = peer = context.peer() or ""
        if not rpc.request_id and request is not None:
            rpc.request_id = _request_id_field(request)
        trace = rpc.trace = tracing.begin_request(method, headers.traceparent, headers.tracestate)
        # grpc.aio serves each call in a task of its own, whose context is a copy of the
        # server's: no other call's fields are in it, so there is nothing to clear.
        rpc.log_fields = {
            "method": method,
            "peer": peer,
            "request_id": rpc.request_id,
            "buyer": buyer,
            "trace_id": trace.trace_id,
            "span_id": trace.span_id,
        }
        bind_call(rpc.log_fields)
        return rpc

    def finished(
        self, rpc: Rpc, code: grpc.StatusCode | None, error: BaseException | None = None, **extra: str
    ) -> None:
        """Count the call and, if the access-log policy keeps it, log `rpc.finished`; `code`
        None is OK (grpc.aio leaves it unset on success)."""
        seconds = time.perf_counter() - rpc.started
        if rpc.meter is not None:
            rpc.meter.finished(code, seconds)
        failed = error is not None or (
            code not in (None, grpc.StatusCode.OK)
            and not (rpc.streaming and code == grpc.StatusCode.CANCELLED)
        )
        if self.policy.rpc(rpc.method, failed, seconds, rpc.streaming):
            self._log(rpc, code, error, seconds, extra)
        if rpc.trace is not None and rpc.trace.span is not None:
            name = code.name if code is not None else grpc.StatusCode.OK.name
            failed_span = name in _SERVER_FAULTS or error is not None
            tracing.end(rpc.trace, name if failed_span else "", {"rpc.grpc.status_code": name})

    @staticmethod
    def _log(
        rpc: Rpc,
        code: grpc.StatusCode | None,
        error: BaseException | None,
        seconds: float,
        extra: dict[str, str],
    ) -> None:
        fields = {
            **extra,
            "method": rpc.method,
            "peer": rpc.peer,
            "request_id": rpc.request_id,
            "buyer": rpc.buyer,
            "code": code.name if code is not None else grpc.StatusCode.OK.name,
            "duration_ms": round(seconds * 1000, 3),
        }
        if error is None:
            _log.info("rpc.finished", **fields)
        else:
            _log.error("rpc.finished", exc_info=error, **fields)


class Admission:
    """Stage 2: a place in the server's bound on work in flight, or Overloaded at once.
    Health and reflection are never shed (a busy server must not look dead)."""

    def __init__(self, limiter: LoadLimiter | None) -> None:
        self.limiter = limiter

    def for_method(self, method: str) -> LoadLimiter | None:
        """The limiter a call of `method` takes a place in (`enter`, paired with `leave`; it
        raises Overloaded past the bound), decided once per method: None if nothing is shed or
        the method is exempt."""
        limiter = self.limiter
        return None if limiter is None or limiter.exempt(method) else limiter


class DeadlineBinding:
    """Stage 3: the call's deadline, bound to the task serving it (core.deadlines)."""

    @staticmethod
    def bind(context: Context) -> None:
        """Bind it; raises DeadlineExceeded if it has already passed. A call without one
        binds nothing: its task's context is new, and holds none."""
        remaining = context.time_remaining()
        if remaining is not None:
            deadlines.bind(remaining)
            deadlines.check(deadlines.current(), "the call began")


class Authentication:
    """Stage 4: who the call acts as (the AuthGate refuses with a DomainError; no gate: the
    `x-interlude-buyer` development behaviour), and the handler run as that principal."""

    def __init__(self, gate: AuthGate | None) -> None:
        self.gate = gate

    def admit(self, rpc: Rpc, context: Context) -> Principal | None:
        """The principal the call acts as; the access log reports its buyer from now on."""
        if self.gate is None:
            return None
        principal = self.gate(rpc.method, rpc.headers, context)
        if principal is not None and principal.buyer != rpc.buyer:
            rpc.buyer = principal.buyer
            if rpc.log_fields is not None:  # the call's own dict: no other task has it yet
                rpc.log_fields["buyer"] = rpc.buyer
        return principal

    @staticmethod
    async def run_as(principal: Principal | None, rpc: Rpc, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run the handler behaviour `call` as `principal` (a response stream only while its
        token is valid: it ends with UNAUTHENTICATED token_expired)."""
        if principal is None:
            return await call()
        token = act_as(principal)
        try:
            return await (within_validity(principal, call) if rpc.streaming else call())
        finally:
            stop_acting(token)


class ErrorMapping:
    """Stage 5: how a call that raised ends. Logs `rpc.finished` once (through the access log)
    and sends the status; the one mapping of domain errors to statuses is api.errors."""

    def __init__(self, log: AccessLog) -> None:
        self.log = log

    async def settle(self, rpc: Rpc, context: Context, exc: BaseException) -> NoReturn:
        """End the call that raised `exc`: always raises (its own exception, or AbortError)."""
        if isinstance(exc, grpc.aio.AbortError):  # the handler sent its status itself
            self.log.finished(rpc, context.code())
            raise exc
        if isinstance(exc, _CANCELLED):
            # grpc.aio cancels the handler when the client cancels or the deadline passes (or a
            # write fails first: the peer is gone either way, which is no fault of the server's).
            # gRPC's timer and this clock differ by a few ms, so the deadline may look a hair
            # away when its cancellation arrives: within _DEADLINE_SLACK_S it counts as passed.
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= _DEADLINE_SLACK_S
            self.log.finished(
                rpc, grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
            )
            raise exc
        if isinstance(exc, Overloaded):
            self.log.finished(rpc, grpc.StatusCode.RESOURCE_EXHAUSTED, reason="OVERLOADED")
            await errors.abort(context, exc.status)
        if isinstance(exc, DomainError):
            self.log.finished(rpc, errors.code_for(exc))
            await errors.abort_for(context, exc)
        await self._internal(rpc, context, exc)

    async def _internal(self, rpc: Rpc, context: Context, exc: BaseException) -> NoReturn:
        """A fault of ours: the client gets INTERNAL with a correlation id to quote; the log
        has the traceback under the same id."""
        incident = rpc.request_id or uuid.uuid4().hex
        self.log.finished(rpc, grpc.StatusCode.INTERNAL, exc, incident=incident)
        await errors.abort(
            context,
            errors.rich_status(
                grpc.StatusCode.INTERNAL,
                common_pb2.ERROR_REASON_INTERNAL,
                f"internal error (incident {incident})",
                metadata={"incident": incident},
            ),
        )
