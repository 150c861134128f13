"""serviceInventory v2, serviceOrderingManagement v1 and the catalog extension onto their RPCs.

Handlers read like the servicers: parse (query or body) -> call the backend -> map to MEF JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web
from google.protobuf import json_format

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, inventory_pb2, ordering_pb2
from interlude_server.rest import mapping as m
from interlude_server.rest import query
from interlude_server.rest.backend import Backend
from interlude_server.rest.common import (
    BODY_ROOT,
    caller,
    etag,
    field_name,
    hrefs,
    if_match,
    json_body,
    page_response,
    params,
    request_id,
    respond,
)
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.routing import Route, RouteTable, list_route, retrieve_route
from interlude_server.rest.service import inbound

_INV = "ServiceInventoryService"
_ORD = "ServiceOrderingService"
_CAT = "ServiceCatalogService"


class ServiceApi:
    """serviceInventory v2, serviceOrderingManagement v1 and the catalog extension."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _sender(self, request: web.Request, service: str, method: str) -> Callable[[Any], Awaitable[Any]]:
        """What sends the request's call of `method` (on every keyset page of a list)."""
        who = caller(request)
        return lambda req: self.backend.call(service, method, req, who)

    # -- serviceInventory v2 ----------------------------------------------

    async def get_service(self, request: web.Request) -> web.Response:
        response = await self.backend.call(
            _INV, "GetService", inventory_pb2.GetServiceRequest(id=request.match_info["id"]), caller(request)
        )
        s = response.service
        return respond(m.service(s, hrefs(request)), headers=etag(s.etag))

    async def list_services(self, request: web.Request) -> web.Response:
        given = params(request)
        win = query.window(given)
        req = inventory_pb2.ListServicesRequest(filter=query.service_filter(given))
        h = hrefs(request)
        call = self._sender(request, _INV, "ListServices")
        return await page_response(
            win, req, call, "services", lambda s: m.service(s, h), ids_when_skipping=True
        )

    # -- serviceOrderingManagement v1 -------------------------------------

    async def create_order(self, request: web.Request) -> web.Response:
        order = inbound.service_order(await json_body(request))
        request[BODY_ROOT] = "service_order"
        req = ordering_pb2.CreateServiceOrderRequest(service_order=order, request_id=request_id(request))
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
        req = ordering_pb2.ListServiceOrdersRequest(filter=query.order_filter(given))
        h = hrefs(request)
        call = self._sender(request, _ORD, "ListServiceOrders")
        return await page_response(win, req, call, "service_orders", lambda o: m.order(o, h))

    async def cancel_order(self, request: web.Request) -> web.Response:
        """Extension (TMF641-style; MEF has no order cancellation): `POST /serviceOrder/{id}/cancel`."""
        body = await json_body(request) if request.body_exists else {}
        reason = body.get("cancellationReason", "") if isinstance(body, dict) else ""
        req = ordering_pb2.CancelServiceOrderRequest(
            id=request.match_info["id"],
            etag=if_match(request),
            cancellation_reason=str(reason),
            request_id=request_id(request),
        )
        r = await self.backend.call(_ORD, "CancelServiceOrder", req, caller(request))
        return respond(m.order(r.service_order, hrefs(request)))

    async def provide_information(self, request: web.Request) -> web.Response:
        """Extension: `POST /serviceOrder/{id}/information` answers an item the Partner asked for
        information (`serviceOrderInformationRequiredEvent`); MEF's API has no operation for it."""
        req = inbound.order_information(await json_body(request))
        req.id, req.etag, req.request_id = request.match_info["id"], if_match(request), request_id(request)
        r = await self.backend.call(_ORD, "ProvideOrderInformation", req, caller(request))
        order = r.service_order
        return respond(m.order(order, hrefs(request)), headers=etag(order.etag))

    # -- serviceCatalog v1 (extension: the contract's JSON form) ---------------
    # A catalog resource's list and retrieve are one handler each, told the resource by
    # the route table (its name in the RPCs, `noun`, and the list RPC's `plural`).

    async def catalog_get(self, request: web.Request, noun: str, key: str) -> web.Response:
        """retrieve{noun}: Get{noun}, the path's id as its `key` field."""
        req = getattr(catalog_pb2, f"Get{noun}Request")(**{key: request.match_info["id"]})
        r = await self.backend.call(_CAT, f"Get{noun}", req, caller(request))
        return respond(_catalog_json(hrefs(request))(getattr(r, field_name(noun))))

    async def catalog_list(self, request: web.Request, plural: str) -> web.Response:
        """list{noun}: one MEF page of List{plural}, which filters on nothing."""
        given = params(request)
        query.paging_only(given, "this extension takes only offset and limit")
        win = query.window(given)
        method = f"List{plural}"
        req = getattr(catalog_pb2, method + "Request")()
        call = self._sender(request, _CAT, method)
        return await page_response(win, req, call, field_name(plural), _catalog_json(hrefs(request)))

    async def get_schema(self, request: web.Request) -> web.Response:
        """A schema document a specification's `@schemaLocation` names, as published."""
        location = m.SCHEMA_LOCATION_PREFIX + request.match_info["location"]
        req = catalog_pb2.GetServiceSchemaRequest(location=location)
        r = await self.backend.call(_CAT, "GetServiceSchema", req, caller(request))
        return respond(json_format.MessageToDict(r.schema))


def _catalog_json(links: m.Hrefs) -> Callable[[Any], dict[str, Any]]:
    """A catalog resource as JSON, a schema location made absolute (a URL under the catalog)."""

    def render(message: Any) -> dict[str, Any]:
        out: dict[str, Any] = json_format.MessageToDict(message)
        target = out.get("targetServiceSchema", {})
        if target.get("@schemaLocation", "").startswith(m.SCHEMA_LOCATION_PREFIX):
            target["@schemaLocation"] = links.catalog(target["@schemaLocation"])
        return out

    return render


def _catalog_reads(noun: str, plural: str, key: str = "id") -> tuple[Route[ServiceApi], ...]:
    return (
        list_route(noun, partial(ServiceApi.catalog_list, plural=plural), plural),
        retrieve_route(noun, partial(ServiceApi.catalog_get, noun=noun, key=key)),
    )


def _serve(backend: Backend, _hub: HubApi | None) -> ServiceApi:
    return ServiceApi(backend)


_S = ServiceApi
INVENTORY_ROUTES: RouteTable[ServiceApi] = RouteTable(
    m.INVENTORY_BASE,
    _INV,
    (
        Route("GET", "/service", _S.list_services, "serviceFind", "ListServices"),
        Route("GET", "/service/{id}", _S.get_service, "serviceGet", "GetService"),
    ),
    _serve,
)
ORDERING_ROUTES: RouteTable[ServiceApi] = RouteTable(
    m.ORDERING_BASE,
    _ORD,
    (
        Route("POST", "/serviceOrder", _S.create_order, "createServiceOrder", "CreateServiceOrder"),
        Route("GET", "/serviceOrder", _S.list_orders, "listServiceOrder", "ListServiceOrders"),
        Route("GET", "/serviceOrder/{id}", _S.get_order, "retrieveServiceOrder", "GetServiceOrder"),
        Route(
            "POST", "/serviceOrder/{id}/cancel", _S.cancel_order, "cancelServiceOrder", "CancelServiceOrder"
        ),
        Route(
            "POST",
            "/serviceOrder/{id}/information",
            _S.provide_information,
            "provideServiceOrderInformation",
            "ProvideOrderInformation",
        ),
    ),
    _serve,
)
CATALOG_ROUTES: RouteTable[ServiceApi] = RouteTable(
    m.CATALOG_BASE,
    _CAT,
    (
        *_catalog_reads("ServiceSpecification", "ServiceSpecifications"),
        *_catalog_reads("ServicePolicy", "ServicePolicies", key="service_specification_id"),
        Route(
            "GET", "/serviceSchema/{location:.+}", _S.get_schema, "retrieveServiceSchema", "GetServiceSchema"
        ),
    ),
    _serve,
)
