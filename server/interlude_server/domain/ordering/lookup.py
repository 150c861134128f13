"""What order validation reads: the buyer's services, the catalog and the buyer's policy."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery, Store


class Lookup:
    """Buyer-scoped reads for one request, with the catalog cached for its duration."""

    def __init__(self, store: Store, buyer_id: str) -> None:
        self.store = store
        self.buyer_id = buyer_id
        self._specs: dict[str, catalog_pb2.ServiceSpecification | None] = {}
        self._policies: dict[str, catalog_pb2.ServicePolicy | None] = {}

    async def service(self, service_id: str) -> inventory_pb2.Service | None:
        if not service_id:
            return None
        return await self.store.get_service(self.buyer_id, service_id)

    async def spec_for_type(self, type_urn: str) -> catalog_pb2.ServiceSpecification | None:
        if type_urn not in self._specs:
            self._specs[type_urn] = await self.store.specification_for_type(type_urn)
        return self._specs[type_urn]

    async def policy(self, spec_id: str) -> catalog_pb2.ServicePolicy | None:
        if spec_id not in self._policies:
            self._policies[spec_id] = await self.store.get_policy(self.buyer_id, spec_id)
        return self._policies[spec_id]

    async def policy_for_type(self, type_urn: str) -> catalog_pb2.ServicePolicy | None:
        spec = await self.spec_for_type(type_urn)
        return await self.policy(spec.id) if spec else None

    async def connectivity_rule(self, type_urn: str) -> catalog_pb2.ConnectivityRule | None:
        """The buyer's business-arrangement rule for connectivity services of `type_urn`."""
        rules = await self.policy_for_type(type_urn)
        found = (r for r in rules.connectivity_rule if r.connectivity_type == type_urn) if rules else ()
        return next(iter(found), None)

    async def end_point_count(self, connectivity_id: str) -> int:
        """How many services not terminated relate to the connectivity service (its end points)."""
        live = [s for s in common_pb2.ServiceState.values() if s not in _GONE]
        query = ServiceQuery(
            filter=inventory_pb2.ServiceFilter(related_service_id=connectivity_id, state=live)
        )
        page = await self.store.list_services(self.buyer_id, query, PageRequest(limit=1))
        return page.total


_GONE = (common_pb2.SERVICE_STATE_UNSPECIFIED, common_pb2.SERVICE_STATE_TERMINATED)
