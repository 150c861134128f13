"""ServiceCatalogService: the Partner's service specifications and each buyer's policy.

Specifications are the same for every buyer. Policies are per buyer: a buyer
only ever sees its own, and a specification it has no policy for answers
NOT_FOUND exactly like an unknown one. Errors are domain errors; the RPC
interceptor turns them into rich statuses (api.errors.status_for).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, catalog_pb2_grpc
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import found, required
from interlude_server.api.paging import PageParams, fingerprint, page_params
from interlude_server.api.principal import BuyerResolver
from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.domain.schemas import validation as schemas
from interlude_server.store.interface.store import Store

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

SERVICE_NAME: str = catalog_pb2.DESCRIPTOR.services_by_name["ServiceCatalogService"].full_name
_SPEC_NOT_FOUND = "SERVICE_SPECIFICATION_NOT_FOUND"
_SCHEMA_NOT_FOUND = "SERVICE_SCHEMA_NOT_FOUND"


def _located(spec: catalog_pb2.ServiceSpecification) -> catalog_pb2.ServiceSpecification:
    """The specification with the location of its schema (unless its seed named one)."""
    target = spec.target_service_schema
    if not target.schema_location:
        target.schema_location = schemas.active().location_of(target.type)
    return spec


def _require_id(value: str, field_name: str) -> None:
    required(value, field_name, "is required")


def _keyed_by_id(params: PageParams) -> PageParams:
    """Both catalog lists are ordered by one string id: a token holding anything else is forged."""
    after = params.request.after
    if after is not None and not (len(after) == 1 and isinstance(after[0], str)):
        message = "page_token is malformed; use the next_page_token of the previous page"
        raise InvalidArgument(message, [Violation("page_token", message)], reason="INVALID_PAGE_TOKEN")
    return params


class CatalogServicer(catalog_pb2_grpc.ServiceCatalogServiceServicer):
    """Serves specifications to everyone and policies to the buyer that owns them."""

    def __init__(self, store: Store, buyer_of: BuyerResolver) -> None:
        self._store = store
        self._buyer_of = buyer_of

    async def GetServiceSpecification(
        self, request: catalog_pb2.GetServiceSpecificationRequest, context: Context
    ) -> catalog_pb2.GetServiceSpecificationResponse:
        _require_id(request.id, "id")
        spec = found(
            await self._store.get_specification(request.id),
            "ServiceSpecification",
            request.id,
            _SPEC_NOT_FOUND,
        )
        return catalog_pb2.GetServiceSpecificationResponse(service_specification=_located(spec))

    async def ListServiceSpecifications(
        self, request: catalog_pb2.ListServiceSpecificationsRequest, context: Context
    ) -> catalog_pb2.ListServiceSpecificationsResponse:
        params = _keyed_by_id(page_params(request.page_size, request.page_token, fingerprint(request.filter)))
        page = await self._store.list_specifications(request.filter, params.request)
        return catalog_pb2.ListServiceSpecificationsResponse(
            service_specifications=[_located(spec) for spec in page.items],
            next_page_token=params.next_token(page),
            total_size=page.total,
        )

    async def GetServicePolicy(
        self, request: catalog_pb2.GetServicePolicyRequest, context: Context
    ) -> catalog_pb2.GetServicePolicyResponse:
        spec_id = request.service_specification_id
        _require_id(spec_id, "service_specification_id")
        policy = found(
            await self._store.get_policy(self._buyer_of(context), spec_id),
            "ServicePolicy",
            spec_id,
            _SPEC_NOT_FOUND,
        )
        return catalog_pb2.GetServicePolicyResponse(service_policy=policy)

    async def ListServicePolicies(
        self, request: catalog_pb2.ListServicePoliciesRequest, context: Context
    ) -> catalog_pb2.ListServicePoliciesResponse:
        buyer_id = self._buyer_of(context)
        # The buyer is part of the query: one buyer's token is refused for another.
        query = fingerprint(request.filter, buyer_id)
        params = _keyed_by_id(page_params(request.page_size, request.page_token, query))
        page = await self._store.list_policies(buyer_id, request.filter, params.request)
        return catalog_pb2.ListServicePoliciesResponse(
            service_policies=page.items,
            next_page_token=params.next_token(page),
            total_size=page.total,
        )

    async def GetServiceSchema(
        self, request: catalog_pb2.GetServiceSchemaRequest, context: Context
    ) -> catalog_pb2.GetServiceSchemaResponse:
        _require_id(request.location, "location")
        document = found(
            schemas.active().document(request.location), "ServiceSchema", request.location, _SCHEMA_NOT_FOUND
        )
        schema = struct_pb2.Struct()
        schema.update(document)
        return catalog_pb2.GetServiceSchemaResponse(location=request.location, schema=schema)


def catalog_binding(store: Store, buyer_of: BuyerResolver) -> ServiceBinding:
    """The ServiceCatalogService servicer over `store`, ready for app.start_server."""
    servicer = CatalogServicer(store, buyer_of)
    return ServiceBinding(
        SERVICE_NAME,
        lambda server: catalog_pb2_grpc.add_ServiceCatalogServiceServicer_to_server(servicer, server),
        servicer,
    )
