"""An empty etag skips the concurrency check: when the Partner's network changes a service between
the validation of a buyer's order and its commit, the server builds and validates the order again
on the new version (a few times) instead of answering ABORTED ETAG_MISMATCH. A caller that sent
an etag asked for the check and still gets ABORTED.

The store is the real SQLite store with the demo seed; the race is made certain by committing
a change to the service (as the network would) just before the order's write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import pytest_asyncio
from google.protobuf import field_mask_pb2

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from interlude_server.api.ordering import ETAG_RETRIES, OrderingServicer
from interlude_server.api.principal import BuyerResolver
from interlude_server.core.errors import EtagMismatch
from interlude_server.domain import resources
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.store.interface.store import Store, Tx
from interlude_server.store.sqlite.store import SqliteStore
from tests.support.stores import demo_store

T = TypeVar("T")
BUYER = "sp-alpha"
SERVICE = "alpha-ovc-1-ep-1"


class _RacingStore:
    """The real store; before each of its next `races` writes, the network commits a change to
    SERVICE first (its etag moves on), as if it won the race against the buyer's order."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.races = 0
        self.raced = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def write(self, fn: Callable[[Tx], T]) -> T:
        if self.races:
            self.races -= 1
            self.raced += 1
            await self.store.write(self._network_change)
        return await self.store.write(fn)

    @staticmethod
    def _network_change(tx: Tx) -> None:
        service = tx.get_service(BUYER, SERVICE)
        assert service is not None
        service.etag = resources.next_etag(service.etag)
        tx.put_service(service)


class _Processor:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(
        self, buyer_id: str, order_id: str, committed: ordering_pb2.ServiceOrder | None = None
    ) -> None:
        self.submitted.append(order_id)


@pytest_asyncio.fixture(loop_scope="function")
async def racing(tmp_path: Path) -> AsyncIterator[_RacingStore]:
    async with demo_store(tmp_path / "db" / "interlude.db") as store:
        yield _RacingStore(store)


def _servicer(store: _RacingStore, processor: _Processor) -> OrderingServicer:
    return OrderingServicer(
        cast(Store, store), cast(BuyerResolver, lambda _context: BUYER), cast(OrderProcessor, processor)
    )


def _update(etag: str = "") -> ordering_pb2.UpdateServiceRequest:
    return ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(id=SERVICE, description="renamed by the buyer"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        etag=etag,
    )


async def _modify_order(store: _RacingStore, etag: str = "") -> ordering_pb2.CreateServiceOrderRequest:
    current = await store.store.get_service(BUYER, SERVICE)
    assert current is not None
    wanted = inventory_pb2.Service(id=SERVICE, etag=etag, service_configuration=current.service_configuration)
    item = ordering_pb2.ServiceOrderItem(id="1", action=ordering_pb2.SERVICE_ACTION_MODIFY, service=wanted)
    return ordering_pb2.CreateServiceOrderRequest(
        service_order=ordering_pb2.ServiceOrder(service_order_item=[item])
    )


async def _call(servicer: OrderingServicer, request: Any) -> ordering_pb2.ServiceOrder:
    context: Any = None
    if isinstance(request, ordering_pb2.UpdateServiceRequest):
        return (await servicer.UpdateService(request, context)).service_order
    return (await servicer.CreateServiceOrder(request, context)).service_order


@pytest.mark.parametrize("rpc", ["UpdateService", "CreateServiceOrder"])
async def test_without_an_etag_a_race_with_the_network_is_retried_inside_the_server(
    racing: _RacingStore, rpc: str
) -> None:
    processor = _Processor()
    request = _update() if rpc == "UpdateService" else await _modify_order(racing)
    racing.races = 2
    order = await _call(_servicer(racing, processor), request)
    assert racing.raced == 2  # the first two commits lost the race; the third went through
    assert order.state == ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED
    assert processor.submitted == [order.id]
    stored = await racing.store.get_order(BUYER, order.id)
    assert stored is not None
    assert stored.service_order_item[0].service.id == SERVICE


@pytest.mark.parametrize("rpc", ["UpdateService", "CreateServiceOrder"])
async def test_a_caller_that_sent_an_etag_still_gets_the_mismatch(racing: _RacingStore, rpc: str) -> None:
    current = await racing.store.get_service(BUYER, SERVICE)
    assert current is not None
    request = _update(current.etag) if rpc == "UpdateService" else await _modify_order(racing, current.etag)
    racing.races = 1
    with pytest.raises(EtagMismatch):
        await _call(_servicer(racing, _Processor()), request)
    assert racing.raced == 1


async def test_the_retries_are_bounded(racing: _RacingStore) -> None:
    racing.races = ETAG_RETRIES
    with pytest.raises(EtagMismatch):
        await _call(_servicer(racing, _Processor()), _update())
    assert racing.raced == ETAG_RETRIES
