"""An order waiting for its next step holds no copy of itself, and an order acknowledged for a
later start waits for it (or for a change) without reading the store again and again.

A Partner can hold many orders for a long time (a requested start weeks ahead, fulfilment held
back): each keeps a task. The task used to keep the parsed order while it slept (about 11 KB a
held order, measured in the server's resident memory), and an order with a later start was
read back once a second until it began. The store is the real SQLite store with the demo seed,
the orders are created through the real servicer and driven by the real processor.
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.api.ordering import OrderingServicer
from interlude_server.api.principal import BuyerResolver
from interlude_server.core import clock
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.partner.ordering.simulator import SimulatedPartner
from interlude_server.store.interface.store import Store
from interlude_server.store.sqlite.store import SqliteStore
from tests.support.stores import demo_store

BUYER = "sp-alpha"
SERVICE = "alpha-ovc-1-ep-1"
HOUR = 3600


class _CountingStore:
    """The real store, counting the orders read back from it."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.order_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        self.order_reads += 1
        return await self.store.get_order(buyer_id, order_id)


@pytest_asyncio.fixture(loop_scope="function")
async def store(tmp_path: Path) -> AsyncIterator[_CountingStore]:
    async with demo_store(tmp_path / "db" / "interlude.db") as real:
        yield _CountingStore(real)


async def _place(
    store: _CountingStore, step_delay: float, start_in: float = 0.0
) -> tuple[OrderProcessor, OrderingServicer, ordering_pb2.ServiceOrder]:
    """A MODIFY order of SERVICE acknowledged through the servicer (its start `start_in`
    seconds ahead, if any), and the processor now driving it."""
    processor = OrderProcessor(cast(Store, store), SimulatedPartner(step_delay), step_delay)
    servicer = OrderingServicer(cast(Store, store), cast(BuyerResolver, lambda _context: BUYER), processor)
    current = await store.store.get_service(BUYER, SERVICE)
    assert current is not None
    item = ordering_pb2.ServiceOrderItem(id="1", action=ordering_pb2.SERVICE_ACTION_MODIFY)
    item.service.id = SERVICE
    item.service.service_configuration.CopyFrom(current.service_configuration)
    order = ordering_pb2.ServiceOrder(service_order_item=[item])
    if start_in:
        order.requested_start_date.FromNanoseconds(clock.now().ToNanoseconds() + int(start_in * 1e9))
    request = ordering_pb2.CreateServiceOrderRequest(service_order=order)
    created = (await servicer.CreateServiceOrder(request, cast(Any, None))).service_order
    assert created.state == ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED
    return processor, servicer, created


def _orders_held(root: object) -> list[ordering_pb2.ServiceOrder]:
    """The ServiceOrder messages reachable from `root` through what a waiting task keeps:
    coroutines (their locals, and what they await), closures, partials, bound methods'
    functions and containers. Not through other objects (the processor, the store, the loop)."""
    found: list[ordering_pb2.ServiceOrder] = []
    seen: set[int] = set()
    todo: list[object] = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, ordering_pb2.ServiceOrder):
            found.append(obj)
        elif isinstance(obj, asyncio.Task):
            todo.append(obj.get_coro())
        elif isinstance(obj, types.CoroutineType):
            if obj.cr_frame is not None:
                todo.extend(obj.cr_frame.f_locals.values())
            if obj.cr_await is not None:
                todo.append(obj.cr_await)
        elif isinstance(obj, types.FunctionType):
            todo.extend(cell.cell_contents for cell in obj.__closure__ or () if _filled(cell))
        elif isinstance(obj, functools.partial):
            todo.extend((obj.func, *obj.args, *obj.keywords.values()))
        elif isinstance(obj, types.MethodType):
            todo.append(obj.__func__)
        elif isinstance(obj, (tuple, list, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
    return found


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


async def _waiting_task(processor: OrderProcessor, order_id: str) -> asyncio.Task[None]:
    tasks: dict[str, asyncio.Task[None]] = processor._workers._tasks
    task = tasks[order_id]
    for _ in range(50):  # until the task sleeps in its step (a few turns of the loop)
        await asyncio.sleep(0.01)
    assert not task.done()
    return task


async def test_the_walk_finds_an_order_a_waiting_coroutine_keeps() -> None:
    """The check below can fail: an order in a local of a coroutine that sleeps, or in a
    closure it awaits through, is found."""
    order = ordering_pb2.ServiceOrder(id="kept")

    async def sleeper(kept: Callable[[], object]) -> None:
        await asyncio.sleep(HOUR)

    task = asyncio.create_task(sleeper(lambda: order))
    await asyncio.sleep(0.01)
    try:
        assert [o.id for o in _orders_held(task)] == ["kept"]
    finally:
        task.cancel()


async def test_an_order_whose_fulfilment_is_held_back_is_not_kept_by_its_task(
    store: _CountingStore,
) -> None:
    processor, _servicer, order = await _place(store, step_delay=HOUR)
    try:
        task = await _waiting_task(processor, order.id)
        assert _orders_held(task) == []
    finally:
        await processor.stop()


async def test_an_order_for_a_later_start_waits_without_reading_and_wakes_on_a_cancellation(
    store: _CountingStore,
) -> None:
    processor, servicer, order = await _place(store, step_delay=0.05, start_in=HOUR)
    try:
        task = await _waiting_task(processor, order.id)
        assert _orders_held(task) == []
        reads = store.order_reads
        await asyncio.sleep(2.5)  # it used to read the order back once a second
        assert store.order_reads == reads
        stored = await store.store.get_order(BUYER, order.id)
        assert stored is not None
        assert stored.state == ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED

        cancel = ordering_pb2.CancelServiceOrderRequest(id=order.id, cancellation_reason="not needed")
        await servicer.CancelServiceOrder(cancel, cast(Any, None))
        for _ in range(200):  # the cancellation wakes the waiting task, which carries it out
            stored = await store.store.get_order(BUYER, order.id)
            assert stored is not None
            if stored.state == ordering_pb2.SERVICE_ORDER_STATE_CANCELLED:
                break
            await asyncio.sleep(0.05)
        assert stored.state == ordering_pb2.SERVICE_ORDER_STATE_CANCELLED
        assert task.done()
    finally:
        await processor.stop()
