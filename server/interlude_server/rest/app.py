"""The aiohttp application: MEF Interlude REST paths onto the contract's RPCs.

Handlers read like the servicers: parse (query or body) -> call the backend
-> map to MEF JSON. A first middleware sheds a request past the server's
bound on work in flight (api.overload: 429 with Retry-After), the next admits
every request whose route matched (rest.admission: the caller's principal, or
a 401/403 refusal) before any handler runs; errors of every kind end in the
outer middleware that turns them into MEF error bodies through
`rest.errors.mef_error`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import structlog
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    common_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.api.errors import rich_status, status_for
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.auth.http import http_refusal
from interlude_server.domain.errors import DomainError, MissingScope, Unauthenticated
from interlude_server.rest import inbound, query
from interlude_server.rest import mapping as m
from interlude_server.rest.admission import Admission
from interlude_server.rest.backend import Backend, Caller, RpcFailure, not_implemented
from interlude_server.rest.errors import REASON_HEADER, MefError, mef_error
from interlude_server.rest.hub import HubApi
from interlude_server.rest.pm_mapping import PM_BASE
from interlude_server.rest.sft_mapping import SFT_BASE

JSON = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "X-Request-Id"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = structlog.get_logger("interlude_server.rest")
_INV = "ServiceInventoryService"
_ORD = "ServiceOrderingService"
_CAT = "ServiceCatalogService"
BODY_ROOT = "body_root"
ADMISSION = web.AppKey("admission", Admission)
LIMITER = web.AppKey("limiter", LoadLimiter)
CALLER = "caller"


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_JSON_ONLY = {"Content-Type": JSON}  # aiohttp copies headers, so sharing this dict is safe


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = _ENCODE(data).encode()
    return web.Response(
        body=body, status=status, headers={"Content-Type": JSON, **headers} if headers else _JSON_ONLY
    )


def error_response(err: MefError) -> web.Response:
    return respond(err.body, err.http, {REASON_HEADER: err.reason, **dict(err.headers)})


def caller(request: web.Request) -> Caller:
    """Who the request acts for; set by the `admitted` middleware before any handler runs."""
    found: Caller = request[CALLER]
    return found


def _etag(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"'} if etag else {}


def params(request: web.Request) -> dict[str, list[str]]:
    """The query with every value of a repeated parameter."""
    return {name: request.query.getall(name) for name in request.query}


@functools.lru_cache(maxsize=64)
def _hrefs(base: str) -> m.Hrefs:
    return m.Hrefs(base)


def hrefs(request: web.Request) -> m.Hrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except web.HTTPRequestEntityTooLarge as exc:
        raise RpcFailure(
            rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_BODY,
                f"the body is larger than {request.client_max_size} bytes (--max-message-bytes)",
            )
        ) from exc
    except ValueError as exc:
        raise RpcFailure(
            rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_BODY,
                f"the body is not JSON: {exc}",
            )
        ) from exc


class RestApi:
    """The routes of one adapter, over one backend."""

    def __init__(self, backend: Backend, hub: HubApi | None) -> None:
        self.backend = backend
        self.hub = hub

    # -- serviceInventory v2 ----------------------------------------------

    async def get_service(self, request: web.Request) -> web.Response:
        response = await self.backend.call(
            _INV, "GetService", inventory_pb2.GetServiceRequest(id=request.match_info["id"]), caller(request)
        )
        s = response.service
        return respond(m.service(s, hrefs(request)), headers=_etag(s.etag))

    async def list_services(self, request: web.Request) -> web.Response:
        given = params(request)
        if missing := query.unsupported(given):
            raise RpcFailure(not_implemented(f"filtering by {', '.join(missing)} is not supported"))
        win = query.window(given)
        spec = query.service_filter(given)
        who = caller(request)

        async def fetch(size: int, token: str, skipping: bool) -> tuple[Sequence[Any], str, int]:
            req = inventory_pb2.ListServicesRequest(filter=spec, page_size=size, page_token=token)
            if skipping:
                req.read_mask.paths.append("id")
            r = await self.backend.call(_INV, "ListServices", req, who)
            return r.services, r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        h = hrefs(request)
        return respond([m.service(s, h) for s in page.items], headers=page.headers(win.offset))

    # -- serviceOrderingManagement v1 -------------------------------------

    async def create_order(self, request: web.Request) -> web.Response:
        order = inbound.service_order(await _json_body(request))
        request[BODY_ROOT] = "service_order"
        req = ordering_pb2.CreateServiceOrderRequest(
            service_order=order, request_id=request.headers.get(REQUEST_ID_HEADER, "")
        )
        r = await self.backend.call(_ORD, "CreateServiceOrder", req, caller(request))
        h = hrefs(request)
        headers = {"Location": h.order(r.service_order.id), **_etag(r.service_order.etag)}
        return respond(m.order(r.service_order, h), 201, headers)

    async def get_order(self, request: web.Request) -> web.Response:
        req = ordering_pb2.GetServiceOrderRequest(id=request.match_info["id"])
        r = await self.backend.call(_ORD, "GetServiceOrder", req, caller(request))
        return respond(m.order(r.service_order, hrefs(request)), headers=_etag(r.service_order.etag))

    async def list_orders(self, request: web.Request) -> web.Response:
        given = params(request)
        win = query.window(given)
        spec = query.order_filter(given)
        who = caller(request)

        async def fetch(size: int, token: str, _skipping: bool) -> tuple[Sequence[Any], str, int]:
            req = ordering_pb2.ListServiceOrdersRequest(filter=spec, page_size=size, page_token=token)
            r = await self.backend.call(_ORD, "ListServiceOrders", req, who)
            return r.service_orders, r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        h = hrefs(request)
        return respond([m.order(o, h) for o in page.items], headers=page.headers(win.offset))

    async def cancel_order(self, request: web.Request) -> web.Response:
        """Extension (TMF641-style; MEF has no order cancellation): `POST /serviceOrder/{id}/cancel`."""
        body = await _json_body(request) if request.body_exists else {}
        reason = body.get("cancellationReason", "") if isinstance(body, dict) else ""
        req = ordering_pb2.CancelServiceOrderRequest(
            id=request.match_info["id"],
            etag=request.headers.get("If-Match", "").strip('"'),
            cancellation_reason=str(reason),
            request_id=request.headers.get(REQUEST_ID_HEADER, ""),
        )
        r = await self.backend.call(_ORD, "CancelServiceOrder", req, caller(request))
        return respond(m.order(r.service_order, hrefs(request)))

    # -- serviceCatalog v1 (extension: the contract's JSON form) ---------------

    async def _catalog(self, request: web.Request, method: str, req: Message, field: str) -> web.Response:
        r = await self.backend.call(_CAT, method, req, caller(request))
        return respond(json_format.MessageToDict(getattr(r, field)))

    async def _catalog_list(self, request: web.Request, method: str, req: Any, field: str) -> web.Response:
        given = params(request)
        for name in given:
            if name not in query.PAGING:
                raise query.bad_parameter(name, "this extension takes only offset and limit")
        win = query.window(given)
        who = caller(request)

        async def fetch(size: int, token: str, _skipping: bool) -> tuple[Sequence[Any], str, int]:
            req.page_size, req.page_token = size, token
            r = await self.backend.call(_CAT, method, req, who)
            return getattr(r, field), r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        data = [json_format.MessageToDict(x) for x in page.items]
        return respond(data, headers=page.headers(win.offset))

    async def get_specification(self, request: web.Request) -> web.Response:
        req = catalog_pb2.GetServiceSpecificationRequest(id=request.match_info["id"])
        return await self._catalog(request, "GetServiceSpecification", req, "service_specification")

    async def list_specifications(self, request: web.Request) -> web.Response:
        req = catalog_pb2.ListServiceSpecificationsRequest()
        return await self._catalog_list(request, "ListServiceSpecifications", req, "service_specifications")

    async def get_policy(self, request: web.Request) -> web.Response:
        req = catalog_pb2.GetServicePolicyRequest(service_specification_id=request.match_info["id"])
        return await self._catalog(request, "GetServicePolicy", req, "service_policy")

    async def list_policies(self, request: web.Request) -> web.Response:
        req = catalog_pb2.ListServicePoliciesRequest()
        return await self._catalog_list(request, "ListServicePolicies", req, "service_policies")

    # -- hubs -------------------------------------------------------------

    def _hub_routes(self, base: str, api: str) -> list[web.RouteDef]:
        hub = self.hub

        async def unavailable(_request: web.Request) -> web.Response:
            raise RpcFailure(not_implemented("the hub is served by interlude-server, not by the gateway"))

        if hub is None:
            return [
                web.route("*", base + "/hub", unavailable),
                web.route("*", base + "/hub/{id}", unavailable),
            ]

        async def register(request: web.Request) -> web.Response:
            data = await _json_body(request)
            return respond(await hub.register(api, caller(request).buyer, hrefs(request).base, data), 201)

        async def retrieve(request: web.Request) -> web.Response:
            return respond(await hub.retrieve(api, caller(request).buyer, request.match_info["id"]))

        async def unregister(request: web.Request) -> web.Response:
            await hub.unregister(api, caller(request).buyer, request.match_info["id"])
            return web.Response(status=204)

        return [
            web.post(base + "/hub", register),
            web.get(base + "/hub/{id}", retrieve, allow_head=False),
            web.delete(base + "/hub/{id}", unregister),
        ]

    def routes(self) -> list[web.RouteDef]:
        from interlude_server.rest.sft_app import SftApi  # it reuses this module's helpers

        inv, ord_, cat = m.INVENTORY_BASE, m.ORDERING_BASE, m.CATALOG_BASE
        return [
            web.get(inv + "/service", self.list_services, allow_head=False),
            web.get(inv + "/service/{id}", self.get_service, allow_head=False),
            *self._hub_routes(inv, "serviceInventory"),
            web.post(ord_ + "/serviceOrder", self.create_order),
            web.get(ord_ + "/serviceOrder", self.list_orders, allow_head=False),
            web.get(ord_ + "/serviceOrder/{id}", self.get_order, allow_head=False),
            web.post(ord_ + "/serviceOrder/{id}/cancel", self.cancel_order),
            *self._hub_routes(ord_, "serviceOrdering"),
            *self._hub_routes(PM_BASE, "performanceMonitoring"),
            web.get(cat + "/serviceSpecification", self.list_specifications, allow_head=False),
            web.get(cat + "/serviceSpecification/{id}", self.get_specification, allow_head=False),
            web.get(cat + "/servicePolicy", self.list_policies, allow_head=False),
            web.get(cat + "/servicePolicy/{id}", self.get_policy, allow_head=False),
            *SftApi(self.backend).routes(),
            *self._hub_routes(SFT_BASE, "serviceFunctionTesting"),
        ]


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


@web.middleware
async def errors_and_logging(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a MEF error body; log one `rest.finished` event per request."""
    started = time.perf_counter()
    reason = ""
    try:
        response = await handler(request)
    except Exception as exc:
        err = _failure(exc, request)
        if err is None:
            incident = uuid.uuid4().hex
            _log.error("rest.fault", incident=incident, path=request.path, exc_info=exc)
            err = mef_error(
                rich_status(
                    grpc.StatusCode.INTERNAL,
                    common_pb2.ERROR_REASON_INTERNAL,
                    f"internal error (incident {incident})",
                )
            )
        reason = err.reason
        response = error_response(err)
    _log.info(
        "rest.finished",
        method=request.method,
        path=request.path,
        status=response.status,
        reason=reason,
        buyer=request[CALLER].buyer if CALLER in request else "",
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    return response


@web.middleware
async def limited(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse the request at once (429 OVERLOADED, Retry-After) when the server is at its bound
    of calls in flight; gRPC and REST share the bound (api.overload)."""
    limiter = request.app.get(LIMITER)
    if limiter is None:
        return await handler(request)
    with limiter.admitted():
        return await handler(request)


@web.middleware
async def admitted(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit the request for its route's operation before the handler runs; a path or method
    that matches no route goes on to its 404/405 (nothing is served, so nothing is checked)."""
    if request.match_info.http_exception is None:
        request[CALLER] = request.app[ADMISSION](request)
    return await handler(request)


def build_app(
    backend: Backend,
    hub: HubApi | None,
    admission: Admission,
    max_body_bytes: int,
    limiter: LoadLimiter | None = None,
) -> web.Application:
    """The adapter; `max_body_bytes` caps a request body (413 beyond), as --max-message-bytes
    caps a gRPC message; `limiter` (None: nothing is shed) bounds the requests in flight."""
    app = web.Application(middlewares=[errors_and_logging, limited, admitted], client_max_size=max_body_bytes)
    app[ADMISSION] = admission
    if limiter is not None:
        app[LIMITER] = limiter
    app.add_routes(RestApi(backend, hub).routes())
    from interlude_server.rest.pm_app import PmRestApi

    app.add_routes(PmRestApi(backend).routes())
    return app
