"""The RPC interceptor: every call, of every kind, through the stages of api.stages in order.

Order (api.stages says what each does): access log opened -> admission (load shedding) ->
deadline -> authentication -> the handler, as the admitted principal -> error mapping ->
`rpc.finished`. An overloaded server thus refuses before it binds a deadline or
authenticates, and every refusal, fault or cancellation still ends in one `rpc.finished`.

Why one interceptor running stage objects rather than one grpc.aio ServerInterceptor per
stage: grpc.aio runs the interceptors, and each one that wraps the handler re-wraps it, on
every call; five of them would build five handlers and nest five coroutines per call on a
server measured in calls per second. Here each call builds one handler (as the single
interceptor always did) and runs the stages as plain calls inside one coroutine, `serve`,
whose body is the order above. What the wrapping needs of a method's handler (its kind,
how to call its behaviour, the lenient request parser) is worked out on the method's first
call and kept (`_Method`), so later calls only bind their own metadata.

The wrapping covers unary and streaming handlers alike; a unary request is checked by
api.wellformed before the handler sees it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from interlude_server.api import wellformed
from interlude_server.api.overload import LoadLimiter
from interlude_server.api.principal import AuthGate, Metadata
from interlude_server.api.stages import (
    AccessLog,
    Admission,
    Authentication,
    DeadlineBinding,
    ErrorMapping,
    Rpc,
)
from interlude_server.observability.access import AccessPolicy
from interlude_server.observability.metrics import Metrics, RpcMeter

if TYPE_CHECKING:
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

Invoke: TypeAlias = Callable[[Any, "Context"], Awaitable[Any]]

_DONE = object()


def _invoker(behavior: Callable[..., Any] | None) -> Invoke:
    """How to call a handler behaviour: async ones on the loop, sync ones (generated defaults)
    in a thread. The awaitable gives the response of a unary-response behaviour; for a
    streaming one, None (it wrote its responses itself) or the iterator of its responses."""
    if inspect.iscoroutinefunction(behavior):
        return behavior
    if inspect.isasyncgenfunction(behavior):
        generator_function = behavior

        async def generator(request: Any, context: Context) -> Any:
            return generator_function(request, context)

        return generator
    if behavior is None:  # pragma: no cover - grpc always sets the behaviour of the handler's kind

        async def missing(request: Any, context: Context) -> Any:
            raise TypeError("RPC method handler without a behaviour")

        return missing
    threaded = behavior

    async def in_thread(request: Any, context: Context) -> Any:
        return await asyncio.to_thread(threaded, request, context)

    return in_thread


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


async def _stream(responses: Awaitable[Any], context: Context) -> None:
    await _write_all(await responses, context)


def _type_name(handler: Handler, method: str) -> str:
    """The request message's full name (from `Message.FromString`), else the method's."""
    owner = getattr(handler.request_deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return str(getattr(descriptor, "full_name", f"request of {method}"))


_FACTORIES = {  # (request streaming, response streaming) -> grpc's handler factory
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class _Method:
    """What wrapping a method's handler needs, worked out once: the same for every call."""

    __slots__ = (
        "deserializer",
        "factory",
        "handler",
        "invoke",
        "meter",
        "request_streaming",
        "response_streaming",
    )

    def __init__(self, handler: Handler, method: str, metrics: Metrics | None) -> None:
        self.handler = handler
        self.request_streaming: bool = handler.request_streaming
        self.response_streaming: bool = handler.response_streaming
        kind = (self.request_streaming, self.response_streaming)
        self.factory: Callable[..., Handler] = _FACTORIES[kind]
        behaviors = {
            (False, False): handler.unary_unary,
            (False, True): handler.unary_stream,
            (True, False): handler.stream_unary,
            (True, True): handler.stream_stream,
        }
        self.invoke = _invoker(behaviors[kind])
        self.deserializer = wellformed.lenient(handler.request_deserializer, _type_name(handler, method))
        self.meter = metrics.rpc(method, self.response_streaming) if metrics is not None else None

    def usable(self, request: Any) -> Any:
        """A unary request the handler can use (raises InvalidArgument, see api.wellformed)."""
        return request if self.request_streaming else wellformed.checked(request)


class RpcInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc,unused-ignore]
    """Runs each RPC through the stages: sheds it past the limiter's bound (if given), admits
    it through the AuthGate (if given), runs it as the admitted principal, maps what it
    raised and logs `rpc.finished` (method, peer, request_id, buyer, code, duration_ms) once;
    `default_buyer` is logged for auth-none calls that name none (see api.principal); with
    `metrics`, each call is counted in its method's meter (bound once per method); `access`
    chooses which finished calls are logged (None: all)."""

    def __init__(
        self,
        default_buyer: str = "",
        gate: AuthGate | None = None,
        limiter: LoadLimiter | None = None,
        metrics: Metrics | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        self.log = AccessLog(default_buyer, gate is None or gate.honours_dev_header, access)
        self.admission = Admission(limiter)
        self.deadline = DeadlineBinding()
        self.auth = Authentication(gate)
        self.errors = ErrorMapping(self.log)
        # One entry per method that has a handler: the contract's, health's and reflection's.
        self._methods: dict[str, _Method] = {}
        self._metrics = metrics
        # Calls to a method no service has share one meter: their names are the caller's choice.
        self._unknown: RpcMeter | None = metrics.rpc(None, False) if metrics is not None else None

    async def serve(self, rpc: Rpc, context: Context, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run the handler behaviour `call` through stages 2-6 (the caller opened the log)."""
        held = False
        try:
            held = self.admission.enter(rpc)
            self.deadline.bind(context)
            principal = self.auth.admit(rpc, context)
            result = await self.auth.run_as(principal, rpc, call)
        except (Exception, asyncio.CancelledError) as exc:
            await self.errors.settle(rpc, context, exc)
        else:
            self.log.finished(rpc, context.code())
            return result
        finally:
            if held:
                self.admission.leave(rpc)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method: str = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        handler = await continuation(handler_call_details)
        if handler is None:  # no service has this method: grpc answers UNIMPLEMENTED
            self.log.finished(
                self.log.rpc(method, metadata, meter=self._unknown), grpc.StatusCode.UNIMPLEMENTED
            )
            return None
        known = self._methods.get(method)
        if known is None or known.handler is not handler:
            known = self._methods[method] = _Method(handler, method, self._metrics)
        return self._wrap(known, method, metadata)

    def _wrap(self, known: _Method, method: str, metadata: Metadata) -> Handler:
        """A handler of the same kind whose behaviour runs through the stages (stage 1 here)."""
        log, serve, invoke, meter = self.log, self.serve, known.invoke, known.meter
        streaming, unary_request = known.response_streaming, not known.request_streaming

        async def staged(request: Any, context: Context) -> Any:
            rpc = log.rpc(method, metadata, streaming, meter)
            log.open(rpc, context, request if unary_request else None)
            if streaming:
                return await serve(
                    rpc, context, lambda: _stream(invoke(known.usable(request), context), context)
                )
            return await serve(rpc, context, lambda: invoke(known.usable(request), context))

        return known.factory(
            staged,
            request_deserializer=known.deserializer,
            response_serializer=known.handler.response_serializer,
        )
