"""What order validation reads: the buyer's services, the catalog and the buyer's policy."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, inventory_pb2
from interlude_server.store.interface.store import Store


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
