"""The interface between order processing and the Partner's network."""

from __future__ import annotations

from typing import Protocol

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.domain.fulfilment import ItemOutcome


class PartnerBackend(Protocol):
    """Carries out order items in the Partner network.

    `apply` is called once an item is in progress and returns when the network
    has applied it (ItemOutcome(ok=True), optionally with the operational state
    the network reports) or has failed to (ok=False with a reason the buyer
    sees). It must be idempotent: after a crash the same item may be applied
    again, because the outcome is recorded only after `apply` returns. The item
    carries the full desired service (for modify, the complete configuration).
    """

    async def apply(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ItemOutcome: ...
