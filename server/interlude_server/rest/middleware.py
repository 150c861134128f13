"""The middlewares every REST request passes, outermost first.

A first one binds the request's logging context (structlog contextvars: method, path,
operation, request id, peer, the trace of its `traceparent` header as trace_id and span_id;
the buyer once admitted) for its duration, as the gRPC
interceptor binds an RPC's, so every event logged while serving it, a servicer's too,
carries the same fields; it turns every failure into a MEF error body
(`rest.errors.mef_error`; an unforeseen exception a generic 500 naming an incident id;
`answered_as` where the route's operation lists another status for it) and
logs one `rest.finished` per request (and counts it by method, route template and status
when the app has METRICS). The next refuses every request once the server drains
(503 SHUTTING_DOWN) and sheds one past the server's bound on work in flight (api.overload:
429 with Retry-After), the probes (rest.health) excepted;
the last admits every request whose route matched (rest.admission: the caller's
principal, or a 401/403 refusal) before any handler runs.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import grpc
import structlog
from aiohttp import web

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import rich_status, status_for
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.auth.http import http_refusal
from interlude_server.core.errors import DomainError, MissingScope, ShuttingDown, Unauthenticated
from interlude_server.observability import tracing
from interlude_server.observability.access import AccessPolicy
from interlude_server.observability.metrics import RestMetrics
from interlude_server.rest.admission import Admission, route_template
from interlude_server.rest.backend import RpcFailure
from interlude_server.rest.common import BODY_ROOT, CALLER, Handler, error_response, request_id
from interlude_server.rest.errors import ANSWER_AS, MefError, answered_as, mef_error
from interlude_server.rest.operations import rest_operation
from interlude_server.rest.readiness import PROBES, Readiness

_log = structlog.get_logger("interlude_server.rest")
ADMISSION = web.AppKey("admission", Admission)
LIMITER = web.AppKey("limiter", LoadLimiter)
METRICS = web.AppKey("metrics", RestMetrics)
ACCESS = web.AppKey("access", AccessPolicy)  # which finished requests are logged (absent: all)
READINESS = web.AppKey("readiness", Readiness)


def _failure(exc: BaseException, request: web.Request) -> MefError | None:
    root = request.get(BODY_ROOT, "")
    if isinstance(exc, Unauthenticated | MissingScope):
        # MEF 401 missingCredentials/invalidCredentials or 403 accessDenied, with the
        # RFC 6750 challenge; the body is the one the gRPC status maps to.
        challenge = tuple(http_refusal(exc).headers.items())
        return dataclasses.replace(mef_error(status_for(exc)), headers=challenge)
    if isinstance(exc, RpcFailure | Overloaded):
        return mef_error(exc.status, root)
    if isinstance(exc, DomainError):
        return mef_error(status_for(exc), root)
    if isinstance(exc, web.HTTPNotFound):
        status = rich_status(
            grpc.StatusCode.NOT_FOUND,
            common_pb2.ERROR_REASON_PATH_NOT_FOUND,
            f"no resource at {request.path}",
        )
        return mef_error(status)
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        message = f"{request.method} is not an operation on {request.path}; allowed: {allowed}"
        status = rich_status(
            grpc.StatusCode.UNIMPLEMENTED, common_pb2.ERROR_REASON_METHOD_NOT_ALLOWED, message
        )
        return dataclasses.replace(mef_error(status), headers=(("Allow", allowed),))
    return None


def _fault(exc: BaseException, request: web.Request) -> MefError:
    """An unforeseen exception: logged whole (`rest.fault`) under a new incident id; the
    client gets a generic 500 naming only that id, never the exception's text."""
    incident = uuid.uuid4().hex
    _log.error("rest.fault", incident=incident, path=request.path, exc_info=exc)
    err = mef_error(
        rich_status(
            grpc.StatusCode.INTERNAL,
            common_pb2.ERROR_REASON_INTERNAL,
            f"internal error (incident {incident})",
        )
    )
    err.body["message"] = (
        f"The server failed to answer this request; it logged the fault as incident {incident}. "
        "Retry later, and quote the incident id if you report it."
    )
    return err


def _bind_context(request: web.Request) -> tracing.Trace:
    """Bind the request's logging context and make its trace current, replacing whatever the
    task carried; the request's trace."""
    matched = request.match_info.http_exception is None
    operation = rest_operation(request.method, route_template(request)).operation_id if matched else ""
    if request.path in PROBES:
        operation = request.path.lstrip("/")
    headers = request.headers
    states = headers.getall(tracing.TRACESTATE, ())
    trace = tracing.begin_request(
        operation or request.method,
        headers.get(tracing.TRACEPARENT),
        ",".join(states) if states else None,
        **{"http.request.method": request.method, "url.path": request.path},
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        method=request.method,
        path=request.path,
        operation=operation,
        request_id=request_id(request),
        peer=request.remote or "",
        buyer="",
        trace_id=trace.trace_id,
        span_id=trace.span_id,
    )
    return trace


@web.middleware
async def errors_and_logging(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind the request's logging context while it is served; turn every failure into a MEF
    error body; log one `rest.finished` event per request."""
    trace = _bind_context(request)
    try:
        return await _served(request, handler, trace)
    finally:
        structlog.contextvars.clear_contextvars()
        tracing.use(None)


async def _served(request: web.Request, handler: Handler, trace: tracing.Trace) -> web.StreamResponse:
    started = time.perf_counter()
    reason = ""
    try:
        response = await handler(request)
    except Exception as exc:
        err = _failure(exc, request)
        if err is None:
            err = _fault(exc, request)
        err = answered_as(err, request.get(ANSWER_AS, {}))  # a status the operation does not list
        reason = err.reason
        response = error_response(err)
    seconds = time.perf_counter() - started
    if (metrics := request.app.get(METRICS)) is not None:
        metrics.finished(request.method, route_template(request), response.status, seconds)
    policy = request.app.get(ACCESS)  # the operator's --access-log (metrics counted it anyway)
    if policy is None or policy.rest(request.method, response.status, seconds):
        _finished_line(request, response, reason, seconds)
    if trace.span is not None:
        failed = f"HTTP {response.status} {reason}".rstrip() if response.status >= 500 else ""
        tracing.end(trace, failed, {"http.response.status_code": str(response.status)})
    return response


def _finished_line(request: web.Request, response: web.StreamResponse, reason: str, seconds: float) -> None:
    log = _log.debug if request.path in PROBES and response.status < 500 else _log.info  # probes poll
    log(
        "rest.finished",
        method=request.method,
        path=request.path,
        status=response.status,
        reason=reason,
        buyer=request[CALLER].buyer if CALLER in request else "",
        duration_ms=round(seconds * 1000, 3),
    )


@web.middleware
async def limited(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse the request at once (429 OVERLOADED, Retry-After) when the server is at its bound
    of calls in flight; gRPC and REST share the bound (api.overload). Once the server drains,
    refuse every new request (503 SHUTTING_DOWN). The probes are never refused."""
    if request.path in PROBES:
        return await handler(request)
    readiness = request.app.get(READINESS)
    if readiness is not None and readiness.is_draining:
        raise ShuttingDown("the server is shutting down; retry on another replica or after it restarts")
    limiter = request.app.get(LIMITER)
    if limiter is None:
        return await handler(request)
    with limiter.admitted():
        return await handler(request)


@web.middleware
async def admitted(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit the request for its route's operation before the handler runs; a path or method
    that matches no route goes on to its 404/405 (nothing is served, so nothing is checked), and
    the probes (rest.health) need no credentials."""
    if request.match_info.http_exception is None and request.path not in PROBES:
        request[CALLER] = request.app[ADMISSION](request)
        structlog.contextvars.bind_contextvars(buyer=request[CALLER].buyer)
    return await handler(request)
