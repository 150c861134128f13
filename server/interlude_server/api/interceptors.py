"""Every call, of every kind, through the stages of api.stages in order.

Order (api.stages says what each does): access log opened -> admission (load shedding) ->
deadline -> authentication -> the handler, as the admitted principal -> error mapping ->
`rpc.finished`. An overloaded server thus refuses before it binds a deadline or
authenticates, and every refusal, fault or cancellation still ends in one `rpc.finished`.

The stages are not a grpc.aio ServerInterceptor: each handler is wrapped once, when it is
registered (`RpcStages.registrar`), and a call runs the stages as plain calls inside one
coroutine, `staged`, whose body is the order above. A grpc.aio interceptor is awaited on
every call and hands back a handler built for that call; wrapping at registration instead
measured 6-8 % more GetService calls/s at 6-7 % less server CPU per call (two A/B runs of 6
rounds, h2load, 2 cores). What the wrapping needs of a method's handler (its kind, how to
call its behaviour, the lenient request parser, whether it is shed) is worked out once
(`_Method`, `Admission.for_method`), so a call only reads its own metadata.

A method no service has reaches `unknown_methods`, the last handler the server asks:
UNIMPLEMENTED with a reason, counted and logged like any call. The wrapping covers unary
and streaming handlers alike; a unary request is checked by api.wellformed before the
handler sees it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import grpc

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api import errors, wellformed
from interlude_server.api.overload import LoadLimiter
from interlude_server.api.principal import AuthGate
from interlude_server.api.stages import (
    AccessLog,
    Admission,
    Authentication,
    DeadlineBinding,
    ErrorMapping,
)
from interlude_server.auth.principal import act_as, stop_acting
from interlude_server.observability.access import AccessPolicy
from interlude_server.observability.metrics import Metrics, RpcMeter

if TYPE_CHECKING:
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

Invoke: TypeAlias = Callable[[Any, "Context"], Awaitable[Any]]

_DONE = object()

# The metadata of the call whose handler was just looked up, with the task that looked it up.
# grpc.aio converts a call's metadata for the handler lookup (HandlerCallDetails) and again
# for every `context.invocation_metadata()`; the lookup runs in the call's own task, so the
# generic handlers below leave what they were given here and the call's stages take it from
# here instead of converting it again (1.5 µs per call). A value is used only by the task that
# set it: if a grpcio ever looked handlers up elsewhere, the stages would ask the context. The
# task is held weakly, as core.deadlines explains (its own context holds the value).
_LOOKED_UP: contextvars.ContextVar[tuple[Callable[[], object], Any]] = contextvars.ContextVar(
    "interlude_looked_up_metadata", default=(lambda: None, None)
)


def _looked_up(details: grpc.HandlerCallDetails) -> None:
    task = asyncio.current_task()
    if task is not None:
        _LOOKED_UP.set((weakref.ref(task), details.invocation_metadata))


def call_metadata(context: Context) -> Any:
    """The call's metadata: as its handler lookup got it (this task's), else from `context`."""
    task, metadata = _LOOKED_UP.get()
    current = asyncio.current_task()
    if current is not None and task() is current:
        return metadata
    return context.invocation_metadata()


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


def _request_type(handler: Handler) -> object:
    """The request message's class (the owner of its `Message.FromString`), if known."""
    return getattr(handler.request_deserializer, "__self__", None)


def _type_name(handler: Handler, method: str) -> str:
    """The request message's full name (from `Message.FromString`), else the method's."""
    descriptor = getattr(_request_type(handler), "DESCRIPTOR", None)
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
        "plain_type",
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
        # The request type when no message of it can fail api.wellformed's check (most: no
        # float, Timestamp, Duration or Struct at any depth), decided once; else None.
        request_type = _request_type(handler)
        self.plain_type = request_type if wellformed.always_usable(request_type) else None

    def usable(self, request: Any) -> Any:
        """A unary request the handler can use (raises InvalidArgument, see api.wellformed)."""
        if self.request_streaming or type(request) is self.plain_type:
            return request
        return wellformed.checked(request)


class RpcStages:
    """Runs each RPC through the stages: sheds it past the limiter's bound (if given), admits
    it through the AuthGate (if given), runs it as the admitted principal, maps what it
    raised and logs `rpc.finished` (method, peer, request_id, buyer, code, duration_ms) once;
    `default_buyer` is logged for auth-none calls that name none (see api.principal); with
    `metrics`, each call is counted in its method's meter (bound once per method); `access`
    chooses which finished calls are logged (None: all).

    Every handler the server has is wrapped once, when it is registered (`registrar`), and
    calls to a method no service has get UNIMPLEMENTED from `unknown_methods`, counted and
    logged, the last handler the server asks."""

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
        self._metrics = metrics
        # Calls to a method no service has share one meter: their names are the caller's choice.
        self._unknown: RpcMeter | None = metrics.rpc(None, False) if metrics is not None else None

    def wrap(self, method: str, handler: Handler) -> Handler:
        """A handler of the same kind as `handler` (of `method`, `/package.Service/Method`)
        whose behaviour runs through the stages, in their order (api.stages), in one coroutine."""
        known = _Method(handler, method, self._metrics)
        log, deadline, auth, settle = self.log, self.deadline, self.auth, self.errors.settle
        invoke, meter, limiter = known.invoke, known.meter, self.admission.for_method(method)
        streaming, unary_request = known.response_streaming, not known.request_streaming

        async def staged(request: Any, context: Context) -> Any:
            rpc = log.begin(
                method, context, call_metadata(context), request if unary_request else None, streaming, meter
            )
            held: LoadLimiter | None = None
            try:
                if limiter is not None:
                    limiter.enter(streaming)
                    held = limiter
                deadline.bind(context)
                principal = auth.admit(rpc, context)
                if streaming:
                    result = await auth.run_as(
                        principal, rpc, lambda: _stream(invoke(known.usable(request), context), context)
                    )
                else:  # Authentication.run_as, folded: a unary call needs no validity watch
                    acting = act_as(principal)
                    try:
                        result = await invoke(known.usable(request), context)
                    finally:
                        stop_acting(acting)
            except (Exception, asyncio.CancelledError) as exc:
                await settle(rpc, context, exc)
            else:
                log.finished(rpc, context.code())
                return result
            finally:
                if held is not None:
                    held.leave(streaming)

        return known.factory(
            staged,
            request_deserializer=known.deserializer,
            response_serializer=handler.response_serializer,
        )

    def registrar(self, server: grpc.aio.Server) -> grpc.aio.Server:
        """What the services register their handlers on instead of `server`: it passes them to
        `server` wrapped (generated `add_*_to_server`, health and reflection alike)."""
        return cast("grpc.aio.Server", _StagedRegistrar(server, self))

    def unknown_methods(self) -> grpc.GenericRpcHandler:
        """The handler of last resort: UNIMPLEMENTED (reason RPC_NOT_IMPLEMENTED) for a method
        no service has, counted and logged like any call."""
        return _UnknownMethods(self)

    async def refuse_unknown(self, method: str, context: Context) -> None:
        rpc = self.log.begin(method, context, call_metadata(context), meter=self._unknown)
        self.log.finished(rpc, grpc.StatusCode.UNIMPLEMENTED)
        await errors.abort(
            context,
            errors.rich_status(
                grpc.StatusCode.UNIMPLEMENTED,
                common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED,
                f"no service of this server has the method {method}",
                metadata={"method": method},
            ),
        )


class _StagedRegistrar:
    """The two registration calls of grpc.aio.Server, each handler wrapped by the stages.

    The generated `add_*_to_server` functions register their methods with grpc as
    "registered methods"; grpc.aio then keeps one pending request per registered method
    and, for every call that arrives, waits on all of them again (`asyncio.wait`, one
    done-callback added to and removed from each). With this server's 38 such methods that
    cost about 26 µs per call, measured on GetService (grpc.aio's per-call `asyncio.wait`
    took 18.7 % of the interpreter-lock samples, against 11 % for a server with none).
    So the registrar serves them from one generic handler instead, a table by method path
    (`_MethodTable`): the same handlers, one dictionary lookup per call."""

    def __init__(self, server: grpc.aio.Server, stages: RpcStages) -> None:
        self._server = server
        self._stages = stages
        self._table: _MethodTable | None = None

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        wrap = self._stages.wrap
        if self._table is None:  # asked first, before any generic handler added after it
            self._table = _MethodTable()
            self._server.add_generic_rpc_handlers((self._table,))
        for name, handler in handlers.items():
            method = f"/{service}/{name}"
            self._table.add(method, wrap(method, handler))

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_StagedGeneric(h, self._stages) for h in handlers))


class _MethodTable(grpc.GenericRpcHandler):
    """Handlers by full method path (`/package.Service/Method`), each already staged."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, method: str, handler: Handler) -> None:
        if method in self._handlers:
            raise ValueError(f"{method} is registered twice")
        self._handlers[method] = handler

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = self._handlers.get(handler_call_details.method)
        if handler is not None:
            _looked_up(handler_call_details)
        return handler


class _StagedGeneric(grpc.GenericRpcHandler):
    """A generic handler's handlers wrapped by the stages, each once (kept per method)."""

    def __init__(self, inner: grpc.GenericRpcHandler, stages: RpcStages) -> None:
        self._inner = inner
        self._stages = stages
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        known = self._wrapped.get(method)
        if known is None or known[0] is not handler:
            known = self._wrapped[method] = (handler, self._stages.wrap(method, handler))
        _looked_up(handler_call_details)
        return known[1]


class _UnknownMethods(grpc.GenericRpcHandler):
    """Every method: a stream-stream handler (it reads nothing, whatever the caller sends)
    answering UNIMPLEMENTED."""

    def __init__(self, stages: RpcStages) -> None:
        self._stages = stages

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        method: str = handler_call_details.method
        refuse = self._stages.refuse_unknown
        _looked_up(handler_call_details)

        async def unknown(requests: object, context: Context) -> None:
            await refuse(method, context)

        return grpc.stream_stream_rpc_method_handler(unknown)
