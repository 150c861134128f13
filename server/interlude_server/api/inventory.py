"""ServiceInventoryService: the buyer's services and their state (Interlude interactions 2 and 6)."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import field_mask_pb2

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, inventory_pb2_grpc
from interlude_server.api import filters, paging, wire
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import found, required
from interlude_server.api.principal import BuyerResolver
from interlude_server.core.errors import Errors
from interlude_server.store.interface.store import ServiceQuery, Store

Context = grpc.aio.ServicerContext[Any, Any]
ORDER_BY = ("", "id", "service_date", "service_date desc", "update_time", "update_time desc")
_SERVICE = inventory_pb2.Service.DESCRIPTOR
_NOT_FOUND = "SERVICE_NOT_FOUND"
_SERVICE_KEY = wire.field_key(inventory_pb2.GetServiceResponse.DESCRIPTOR, "service")
# The start modes a filter may name: every StartMode but UNSPECIFIED (which no filter means).
_START_MODES = tuple(v for v in inventory_pb2.StartMode.values() if v)


def _masked(service: inventory_pb2.Service, mask: field_mask_pb2.FieldMask) -> inventory_pb2.Service:
    if not mask.paths:
        return service
    out = inventory_pb2.Service()
    mask.MergeMessage(service, out)
    return out


def _check_filter(request: inventory_pb2.ListServicesRequest) -> str:
    """Validate the filter and order; the normalized order_by."""
    errors = Errors()
    order_by = " ".join(request.order_by.split()).lower()
    if order_by not in ORDER_BY:
        errors.add("order_by", f"must be one of: {', '.join(repr(o) for o in ORDER_BY[1:])}")
    f = request.filter
    if f.service_order_item_id and not f.service_order_id:
        errors.add("filter.service_order_item_id", "needs filter.service_order_id", "missingProperty")
    for name in ("service_date", "start_date", "end_date"):
        filters.check_range(errors, f"filter.{name}", getattr(f, name))
    for mode in f.start_mode:
        if mode not in _START_MODES:
            names = ", ".join(inventory_pb2.StartMode.Name(v) for v in _START_MODES)
            errors.add("filter.start_mode", f"{mode} is not a start mode: use {names}")
    errors.raise_if_any("the filter is not valid")
    return order_by


class InventoryServicer(inventory_pb2_grpc.ServiceInventoryServiceServicer):
    """Reads the calling buyer's services; another buyer's services do not exist for it."""

    def __init__(self, store: Store, buyer_of: BuyerResolver) -> None:
        self.store = store
        self.buyer_of = buyer_of

    async def GetService(
        self, request: inventory_pb2.GetServiceRequest, context: Context
    ) -> inventory_pb2.GetServiceResponse:
        required(request.id, "id")
        filters.check_read_mask(request.read_mask, _SERVICE)
        service = inventory_pb2.Service.FromString(await self.stored_service(request.id, context))
        return inventory_pb2.GetServiceResponse(service=_masked(service, request.read_mask))

    async def stored_service(self, service_id: str, context: Context) -> bytes:
        """The calling buyer's service as stored (serialized), or NOT_FOUND."""
        body = await self.store.get_service_body(self.buyer_of(context), service_id)
        return found(body, "Service", service_id, _NOT_FOUND)

    async def ListServices(
        self, request: inventory_pb2.ListServicesRequest, context: Context
    ) -> inventory_pb2.ListServicesResponse:
        order_by = _check_filter(request)
        filters.check_read_mask(request.read_mask, _SERVICE)
        params = paging.page_params(
            request.page_size, request.page_token, paging.fingerprint(request.filter, order_by)
        )
        query = ServiceQuery(filter=request.filter, order_by=order_by)
        page = await self.store.list_services(self.buyer_of(context), query, params.request)
        return inventory_pb2.ListServicesResponse(
            services=[_masked(s, request.read_mask) for s in page.items],
            next_page_token=params.next_token(page),
            total_size=page.total,
        )


class WireInventory:
    """The servicer as gRPC serves it: GetService answers with the stored service's bytes as
    they are (no parse, no copy, no serialization: the read most SP systems poll); every
    other call, and a GetService with a read mask, is the servicer's."""

    def __init__(self, servicer: InventoryServicer) -> None:
        self.servicer = servicer
        self.ListServices = servicer.ListServices

    async def GetService(
        self, request: inventory_pb2.GetServiceRequest, context: Context
    ) -> bytes | inventory_pb2.GetServiceResponse:
        if request.read_mask.paths:
            return await self.servicer.GetService(request, context)
        required(request.id, "id")
        return wire.wrapped(_SERVICE_KEY, await self.servicer.stored_service(request.id, context))


def inventory_binding(store: Store, buyer_of: BuyerResolver) -> ServiceBinding:
    servicer = InventoryServicer(store, buyer_of)
    service = inventory_pb2.DESCRIPTOR.services_by_name["ServiceInventoryService"]
    return wire.passthrough_binding(service, WireInventory(servicer), servicer)
