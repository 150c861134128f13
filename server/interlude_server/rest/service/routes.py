"""serviceInventory v2, serviceOrderingManagement v1 and the catalog extension onto their RPCs.

Handlers read like the servicers: parse (query or body) -> call the backend -> map to MEF JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, inventory_pb2, ordering_pb2
from interlude_server.rest import mapping as m
from interlude_server.rest import query
from interlude_server.rest.backend import Backend, RpcFailure, not_implemented
from interlude_server.rest.common import (
    BODY_ROOT,
    REQUEST_ID_HEADER,
    caller,
    etag,
    hrefs,
    json_body,
    params,
    respond,
)
from interlude_server.rest.service import inbound

_INV = "ServiceInventoryService"
_ORD = "ServiceOrderingService"
_CAT = "ServiceCatalogService"


class ServiceApi:
    """serviceInventory v2, serviceOrderingManagement v1 and the catalog extension."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- serviceInventory v2 ----------------------------------------------

    async def get_service(self, request: web.Request) -> web.Response:
        response = await self.backend.call(
            _INV, "GetService", inventory_pb2.GetServiceRequest(id=request.match_info["id"]), caller(request)
        )
        s = response.service
        return respond(m.service(s, hrefs(request)), headers=etag(s.etag))

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
        order = inbound.service_order(await json_body(request))
        request[BODY_ROOT] = "service_order"
        req = ordering_pb2.CreateServiceOrderRequest(
            service_order=order, request_id=request.headers.get(REQUEST_ID_HEADER, "")
        )
        r = await self.backend.call(_ORD, "CreateServiceOrder", req, caller(request))
        h = hrefs(request)
        headers = {"Location": h.order(r.service_order.id), **etag(r.service_order.etag)}
        return respond(m.order(r.service_order, h), 201, headers)

    async def get_order(self, request: web.Request) -> web.Response:
        req = ordering_pb2.GetServiceOrderRequest(id=request.match_info["id"])
        r = await self.backend.call(_ORD, "GetServiceOrder", req, caller(request))
        return respond(m.order(r.service_order, hrefs(request)), headers=etag(r.service_order.etag))

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
        body = await json_body(request) if request.body_exists else {}
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

    def routes(self) -> list[web.RouteDef]:
        inv, ord_, cat = m.INVENTORY_BASE, m.ORDERING_BASE, m.CATALOG_BASE
        return [
            web.get(inv + "/service", self.list_services, allow_head=False),
            web.get(inv + "/service/{id}", self.get_service, allow_head=False),
            web.post(ord_ + "/serviceOrder", self.create_order),
            web.get(ord_ + "/serviceOrder", self.list_orders, allow_head=False),
            web.get(ord_ + "/serviceOrder/{id}", self.get_order, allow_head=False),
            web.post(ord_ + "/serviceOrder/{id}/cancel", self.cancel_order),
            web.get(cat + "/serviceSpecification", self.list_specifications, allow_head=False),
            web.get(cat + "/serviceSpecification/{id}", self.get_specification, allow_head=False),
            web.get(cat + "/servicePolicy", self.list_policies, allow_head=False),
            web.get(cat + "/servicePolicy/{id}", self.get_policy, allow_head=False),
        ]
