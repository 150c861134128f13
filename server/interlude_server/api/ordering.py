"""ServiceOrderingService: every change is an order (Interlude interactions 1, 3, 4, 5)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import structlog

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2, ordering_pb2_grpc
from interlude_server.api import filters, paging
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import get, required
from interlude_server.api.principal import BuyerResolver
from interlude_server.core import clock
from interlude_server.core.errors import Errors, EtagMismatch
from interlude_server.domain import documents
from interlude_server.domain.idempotency import Planned, run_once
from interlude_server.domain.ordering import changes, fulfilment, information, plan, waiting
from interlude_server.domain.ordering.lookup import Lookup
from interlude_server.domain.ordering.orders import FieldNames, prepare_order
from interlude_server.domain.states import ORDER
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.store.interface.store import Store

Context = grpc.aio.ServicerContext[Any, Any]
R = TypeVar(
    "R",
    ordering_pb2.CreateServiceOrderResponse,
    ordering_pb2.UpdateServiceResponse,
    ordering_pb2.SetAdministrativeStateResponse,
    ordering_pb2.CreateConnectivityResponse,
    ordering_pb2.CancelServiceOrderResponse,
    ordering_pb2.ProvideOrderInformationResponse,
)
OrderBuilder = Callable[[Lookup], Awaitable[ordering_pb2.ServiceOrder]]
_SERVICE_FIELDS = FieldNames(service=lambda _i: "service")
_CONNECTIVITY_FIELDS = FieldNames(
    service=lambda i: "connectivity_configuration" if i == 0 else f"end_points[{i - 1}]",
    configuration=lambda i: (
        "connectivity_configuration" if i == 0 else f"end_points[{i - 1}].end_point_configuration"
    ),
)

_ORDER_NOT_FOUND = "SERVICE_ORDER_NOT_FOUND"
# How often an order whose caller sent no etag is rebuilt when the service changed under it.
ETAG_RETRIES = 5
log = structlog.get_logger(__name__)


class OrderingServicer(ordering_pb2_grpc.ServiceOrderingServiceServicer):
    """Validates changes against policy, stores them as orders, and hands them to the Partner."""

    def __init__(self, store: Store, buyer_of: BuyerResolver, processor: OrderProcessor) -> None:
        self.store = store
        self.buyer_of = buyer_of
        self.processor = processor

    async def _submit(
        self,
        buyer: str,
        method: str,
        request: Any,
        response_type: type[R],
        build: OrderBuilder,
        names: FieldNames | None = None,
        *,
        etag_sent: bool = False,
    ) -> R:
        """Validate the order `build` makes, then commit it (idempotently) and hand it to the Partner.
        A retry is answered before validation: it must not fail because its own first attempt
        already changed the service.

        A caller that sent no etag asked for no concurrency check: when a service its order
        modifies changes between validation and commit (the Partner's network racing the
        buyer), the order is built and validated again on the new version, up to
        ETAG_RETRIES times, instead of answering ABORTED."""

        async def prepare() -> Planned[R]:
            lookup = Lookup(self.store, buyer)
            prepared = await prepare_order(await build(lookup), lookup, clock.now(), names)
            if request.validate_only:
                preview = prepared.order
                preview.id = ""
                preview.note.extend(plan.plan_notes(preview))  # the items in the order they would run
                preview.note.extend(plan.rule_notes(prepared.checked))  # the rules the gate checked
                return response_type(service_order=preview)
            return lambda tx: response_type(
                service_order=fulfilment.commit_new_order(tx, prepared, clock.now())
            )

        for attempt in range(1, ETAG_RETRIES + 1):
            try:
                return await run_once(
                    self.store, buyer, method, request, response_type, prepare, self._process(buyer)
                )
            except EtagMismatch:
                if etag_sent or attempt == ETAG_RETRIES:
                    raise
                log.info("order.etag_race_retried", method=method, attempt=attempt)
        raise AssertionError("unreachable")

    def _process(self, buyer: str) -> Callable[[R], None]:
        """After the commit: the Partner processes the order (a no-op if it already does),
        starting from the order as committed."""
        return lambda response: self.processor.submit(
            buyer, response.service_order.id, response.service_order
        )

    async def _current_service(self, buyer: str, service_id: str, field: str) -> inventory_pb2.Service:
        return await get(self.store.get_service, buyer, service_id, "Service", "SERVICE_NOT_FOUND", field)

    async def CreateServiceOrder(
        self, request: ordering_pb2.CreateServiceOrderRequest, context: Context
    ) -> ordering_pb2.CreateServiceOrderResponse:
        async def build(_lookup: Lookup) -> ordering_pb2.ServiceOrder:
            return request.service_order

        return await self._submit(
            self.buyer_of(context),
            "CreateServiceOrder",
            request,
            ordering_pb2.CreateServiceOrderResponse,
            build,
            etag_sent=any(i.service.etag for i in request.service_order.service_order_item),
        )

    async def UpdateService(
        self, request: ordering_pb2.UpdateServiceRequest, context: Context
    ) -> ordering_pb2.UpdateServiceResponse:
        buyer = self.buyer_of(context)

        async def build(_lookup: Lookup) -> ordering_pb2.ServiceOrder:
            current = await self._current_service(buyer, request.service.id, "service.id")
            return changes.update_order(current, request)

        return await self._submit(
            buyer,
            "UpdateService",
            request,
            ordering_pb2.UpdateServiceResponse,
            build,
            _SERVICE_FIELDS,
            etag_sent=bool(request.etag),
        )

    async def SetAdministrativeState(
        self, request: ordering_pb2.SetAdministrativeStateRequest, context: Context
    ) -> ordering_pb2.SetAdministrativeStateResponse:
        buyer = self.buyer_of(context)

        async def build(_lookup: Lookup) -> ordering_pb2.ServiceOrder:
            current = await self._current_service(buyer, request.service_id, "service_id")
            return changes.admin_state_order(current, request)

        return await self._submit(
            buyer,
            "SetAdministrativeState",
            request,
            ordering_pb2.SetAdministrativeStateResponse,
            build,
            FieldNames(service=lambda _i: "service_id", configuration=lambda _i: "administrative_state"),
            etag_sent=bool(request.etag),
        )

    async def CreateConnectivity(
        self, request: ordering_pb2.CreateConnectivityRequest, context: Context
    ) -> ordering_pb2.CreateConnectivityResponse:
        async def build(lookup: Lookup) -> ordering_pb2.ServiceOrder:
            return await changes.connectivity_order(request, lookup)

        return await self._submit(
            self.buyer_of(context),
            "CreateConnectivity",
            request,
            ordering_pb2.CreateConnectivityResponse,
            build,
            _CONNECTIVITY_FIELDS,
        )

    async def GetServiceOrder(
        self, request: ordering_pb2.GetServiceOrderRequest, context: Context
    ) -> ordering_pb2.GetServiceOrderResponse:
        order = await get(
            self.store.get_order, self.buyer_of(context), request.id, "ServiceOrder", _ORDER_NOT_FOUND
        )
        return ordering_pb2.GetServiceOrderResponse(service_order=order)

    async def ListServiceOrders(
        self, request: ordering_pb2.ListServiceOrdersRequest, context: Context
    ) -> ordering_pb2.ListServiceOrdersResponse:
        fetch = functools.partial(self.store.list_orders, self.buyer_of(context), request.filter)
        ranges = ("order_date", "completion_date", "expected_completion_date", "start_date")
        return await paging.listed(
            request, ordering_pb2.ListServiceOrdersResponse, "service_orders", fetch, ranges
        )

    async def CancelServiceOrder(
        self, request: ordering_pb2.CancelServiceOrderRequest, context: Context
    ) -> ordering_pb2.CancelServiceOrderResponse:
        buyer = self.buyer_of(context)
        required(request.id, "id")
        response_type = ordering_pb2.CancelServiceOrderResponse

        async def prepare() -> Planned[ordering_pb2.CancelServiceOrderResponse]:
            if request.validate_only:
                order = await get(self.store.get_order, buyer, request.id, "ServiceOrder", _ORDER_NOT_FOUND)
                ORDER.check(order.state, "cancel")
                return response_type(service_order=order)
            return lambda tx: response_type(
                service_order=fulfilment.request_cancellation(
                    tx, buyer, request.id, request.etag, request.cancellation_reason, clock.now()
                )
            )

        return await run_once(
            self.store, buyer, "CancelServiceOrder", request, response_type, prepare, self._process(buyer)
        )

    async def ProvideOrderInformation(
        self, request: ordering_pb2.ProvideOrderInformationRequest, context: Context
    ) -> ordering_pb2.ProvideOrderInformationResponse:
        buyer = self.buyer_of(context)
        required(request.id, "id")
        required(request.item_id, "item_id")
        response_type = ordering_pb2.ProvideOrderInformationResponse
        values = documents.struct_to_dict(request.service_configuration)
        notes = [n.text for n in request.note if n.text.strip()]

        async def prepare() -> Planned[ordering_pb2.ProvideOrderInformationResponse]:
            order = await get(self.store.get_order, buyer, request.id, "ServiceOrder", _ORDER_NOT_FOUND)
            if request.etag and request.etag != order.etag:
                raise EtagMismatch("ServiceOrder", order.id, order.etag)
            await information.check(order, request.item_id, values, notes, Lookup(self.store, buyer))
            if request.validate_only:
                return response_type(service_order=order)
            return lambda tx: response_type(
                service_order=waiting.answer(
                    tx, buyer, request.id, request.etag, request.item_id, values, notes, clock.now()
                )
            )

        return await run_once(
            self.store,
            buyer,
            "ProvideOrderInformation",
            request,
            response_type,
            prepare,
            self._process(buyer),
        )

    async def ListServiceTrackingRecords(
        self, request: ordering_pb2.ListServiceTrackingRecordsRequest, context: Context
    ) -> ordering_pb2.ListServiceTrackingRecordsResponse:
        errors = Errors()
        if not request.filter.service_id and not request.filter.service_order_id:
            errors.add(
                "filter.service_id", "name a service or an order (filter.service_order_id)", "missingProperty"
            )
        filters.check_range(errors, "filter.time", request.filter.time)
        errors.raise_if_any("the filter is not valid")
        params = paging.page_params(request.page_size, request.page_token, paging.fingerprint(request.filter))
        page = await self.store.list_tracking(self.buyer_of(context), request.filter, params.request)
        return ordering_pb2.ListServiceTrackingRecordsResponse(
            service_tracking_records=page.items,
            next_page_token=params.next_token(page),
            total_size=page.total,
        )


def ordering_binding(store: Store, buyer_of: BuyerResolver, processor: OrderProcessor) -> ServiceBinding:
    servicer = OrderingServicer(store, buyer_of, processor)
    return ServiceBinding(
        "mef.lso.interlude.v1.ServiceOrderingService",
        lambda server: ordering_pb2_grpc.add_ServiceOrderingServiceServicer_to_server(servicer, server),
        servicer,
    )
