"""The RPC interceptor: admission, deadline, and one `rpc.finished` event per RPC, of every kind.

It wraps the behaviour of unary and streaming handlers alike, binds the RPC's
context (method, peer, request id, buyer) with structlog.contextvars so every
event logged while serving it carries the same fields, and logs the final
status code and duration once the handler is done. Before anything else it
sheds a call past the server's bound on work in flight (api.overload), and it
binds the call's deadline so the store does not begin a write the caller has
given up on (domain.deadlines).
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
import structlog

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api import errors, wellformed
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.api.principal import BUYER_METADATA, AuthGate, Metadata, metadata_value
from interlude_server.auth.principal import Principal, acting_as, within_validity
from interlude_server.core import deadlines
from interlude_server.core.errors import DomainError

if TYPE_CHECKING:
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

REQUEST_ID_METADATA = "x-request-id"

_log = structlog.get_logger("interlude_server.rpc")

_DONE = object()
_DEADLINE_SLACK_S = 0.05


def _request_id_field(request: object) -> str:
    value = getattr(request, "request_id", "")
    return value if isinstance(value, str) else ""


class _RpcScope:
    """The logging context of one RPC, from its first byte to its status."""

    def __init__(
        self, method: str, metadata: Metadata, default_buyer: str = "", gate: AuthGate | None = None
    ) -> None:
        self.method = method
        self.metadata = metadata
        self.gate = gate
        self.request_id = metadata_value(metadata, REQUEST_ID_METADATA)
        # Until the gate admits the call, only auth none may name a buyer by header.
        dev = gate is None or gate.honours_dev_header
        self.buyer = (metadata_value(metadata, BUYER_METADATA) or default_buyer) if dev else ""
        self.peer = ""
        self.started = time.perf_counter()

    def bind(self, context: Context, request: object = None) -> None:
        self.peer = context.peer() or ""
        if not self.request_id and request is not None:
            self.request_id = _request_id_field(request)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            method=self.method, peer=self.peer, request_id=self.request_id, buyer=self.buyer
        )

    def finished(
        self, code: grpc.StatusCode | None, error: BaseException | None = None, **extra: str
    ) -> None:
        """Log `rpc.finished`; `code` None is OK (grpc.aio leaves it unset on success)."""
        fields = {
            **extra,
            "method": self.method,
            "peer": self.peer,
            "request_id": self.request_id,
            "buyer": self.buyer,
            "code": code.name if code is not None else grpc.StatusCode.OK.name,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 3),
        }
        if error is None:
            _log.info("rpc.finished", **fields)
        else:
            _log.error("rpc.finished", exc_info=error, **fields)

    def admit(self, context: Context) -> Principal | None:
        """The principal the call acts as (the gate refuses with a DomainError)."""
        if self.gate is None:
            return None
        principal = self.gate(self.method, self.metadata, context)
        if principal is not None and principal.buyer != self.buyer:
            self.buyer = principal.buyer
            structlog.contextvars.bind_contextvars(buyer=self.buyer)
        return principal

    async def run(self, context: Context, call: Callable[[], Awaitable[Any]], streaming: bool = False) -> Any:
        """Admit the call, run the handler behaviour `call` as its principal (a response stream
        only while its token is valid), and log how it ended."""
        try:
            deadlines.bind(context.time_remaining())
            deadlines.check(deadlines.current(), "the call began")
            principal = self.admit(context)
            with acting_as(principal):
                result = await (within_validity(principal, call) if streaming else call())
        except grpc.aio.AbortError:
            self.finished(context.code())
            raise
        except asyncio.CancelledError:
            # grpc.aio cancels the handler when the client cancels or the deadline passes.
            # gRPC's timer and this clock differ by a few ms, so the deadline may look a hair
            # away when its cancellation arrives: within _DEADLINE_SLACK_S it counts as passed.
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= _DEADLINE_SLACK_S
            self.finished(grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED)
            raise
        except DomainError as exc:
            self.finished(errors.code_for(exc))
            await errors.abort_for(context, exc)
        except Exception as exc:
            # A fault of ours: the client gets INTERNAL with a correlation id
            # to quote; the log has the traceback under the same id.
            incident = self.request_id or uuid.uuid4().hex
            self.finished(grpc.StatusCode.INTERNAL, exc, incident=incident)
            await errors.abort(
                context,
                errors.rich_status(
                    grpc.StatusCode.INTERNAL,
                    common_pb2.ERROR_REASON_INTERNAL,
                    f"internal error (incident {incident})",
                    metadata={"incident": incident},
                ),
            )
        self.finished(context.code())
        return result

    async def admitted(
        self,
        limiter: LoadLimiter | None,
        context: Context,
        call: Callable[[], Awaitable[Any]],
        streaming: bool = False,
    ) -> Any:
        """`run` the call if the limiter has room for it; else refuse it at once (OVERLOADED)."""
        if limiter is None or limiter.exempt(self.method):
            return await self.run(context, call, streaming)
        try:
            limiter.enter(streaming)
        except Overloaded as exc:
            self.finished(grpc.StatusCode.RESOURCE_EXHAUSTED, reason="OVERLOADED")
            await errors.abort(context, exc.status)
        try:
            return await self.run(context, call, streaming)
        finally:
            limiter.leave(streaming)


async def _call(behavior: Callable[..., Any] | None, *args: Any) -> Any:
    """Call a handler behaviour: async ones on the loop, sync ones (generated defaults) in a thread.

    Returns the response of a unary-response behaviour; for a streaming one,
    None (it wrote its responses itself) or the iterator of its responses.
    """
    if behavior is None:  # pragma: no cover - grpc always sets the behaviour of the handler's kind
        raise TypeError("RPC method handler without a behaviour")
    if inspect.iscoroutinefunction(behavior):
        return await behavior(*args)
    if inspect.isasyncgenfunction(behavior):
        return behavior(*args)
    return await asyncio.to_thread(behavior, *args)


async def _write_all(responses: object, context: Context) -> None:
    """Send the responses a streaming behaviour yielded (none if it wrote them itself)."""
    if isinstance(responses, AsyncIterator):
        try:
            async for response in responses:
                await context.write(response)
        finally:
            # Cancelled (client gone, deadline) while writing: close the handler's generator
            # now, so its subscription is released at once rather than when it is collected.
            if isinstance(responses, AsyncGenerator):
                await responses.aclose()
    elif isinstance(responses, Iterator):
        while (response := await asyncio.to_thread(next, responses, _DONE)) is not _DONE:
            await context.write(response)


def _wrap(
    handler: Handler,
    method: str,
    metadata: Metadata,
    default_buyer: str,
    gate: AuthGate | None,
    limiter: LoadLimiter | None = None,
) -> Handler:
    """A copy of `handler` whose behaviour is logged as one RPC."""
    request_streaming: bool = handler.request_streaming
    if handler.response_streaming:
        behavior = handler.stream_stream if request_streaming else handler.unary_stream

        async def logged_stream(request: Any, context: Context) -> None:
            scope = _RpcScope(method, metadata, default_buyer, gate)
            scope.bind(context, None if request_streaming else request)
            await scope.admitted(
                limiter,
                context,
                lambda: _stream(behavior, _usable(request, request_streaming), context),
                streaming=True,
            )

        factory = (
            grpc.stream_stream_rpc_method_handler
            if request_streaming
            else grpc.unary_stream_rpc_method_handler
        )
        wrapped: Callable[..., Any] = logged_stream
    else:
        behavior = handler.stream_unary if request_streaming else handler.unary_unary

        async def logged_unary(request: Any, context: Context) -> Any:
            scope = _RpcScope(method, metadata, default_buyer, gate)
            scope.bind(context, None if request_streaming else request)
            return await scope.admitted(
                limiter, context, lambda: _call(behavior, _usable(request, request_streaming), context)
            )

        factory = (
            grpc.stream_unary_rpc_method_handler if request_streaming else grpc.unary_unary_rpc_method_handler
        )
        wrapped = logged_unary
    return factory(
        wrapped,
        request_deserializer=wellformed.lenient(handler.request_deserializer, _type_name(handler, method)),
        response_serializer=handler.response_serializer,
    )


def _type_name(handler: Handler, method: str) -> str:
    """The request message's full name (from `Message.FromString`), else the method's."""
    owner = getattr(handler.request_deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return str(getattr(descriptor, "full_name", f"request of {method}"))


def _usable(request: Any, request_streaming: bool) -> Any:
    """A unary request the handler can use (raises InvalidArgument, see api.wellformed)."""
    return request if request_streaming else wellformed.checked(request)


async def _stream(behavior: Callable[..., Any] | None, request: Any, context: Context) -> None:
    await _write_all(await _call(behavior, request, context), context)


class RpcLoggingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc,unused-ignore]
    """Sheds each RPC past the limiter's bound (if given), admits it through the AuthGate (if
    given), runs it as the admitted principal and logs `rpc.finished` (method, peer,
    request_id, buyer, code, duration_ms) once per RPC; `default_buyer` is logged for
    auth-none calls that name none (see api.principal)."""

    def __init__(
        self, default_buyer: str = "", gate: AuthGate | None = None, limiter: LoadLimiter | None = None
    ) -> None:
        self.default_buyer = default_buyer
        self.gate = gate
        self.limiter = limiter

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method: str = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        handler = await continuation(handler_call_details)
        if handler is None:  # no service has this method: grpc answers UNIMPLEMENTED
            _RpcScope(method, metadata, self.default_buyer, self.gate).finished(grpc.StatusCode.UNIMPLEMENTED)
            return None
        return _wrap(handler, method, metadata, self.default_buyer, self.gate, self.limiter)
