"""A service or order row's columns (what the filters and orderings read through their
indexes) always hold what its body says, however often it is rewritten: a rewrite sets
only the columns whose values changed (SqlTx._write_row)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service

ACTIVE, INACTIVE = common_pb2.SERVICE_STATE_ACTIVE, common_pb2.SERVICE_STATE_INACTIVE
LOCKED = common_pb2.ADMINISTRATIVE_STATE_LOCKED
Ord = ordering_pb2


async def _found(store: SqliteStore | PgStore, **fields: Any) -> list[str]:
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
    page = await store.list_services(BUYER, query, PageRequest(limit=50))
    return sorted(s.id for s in page.items)


async def test_filters_find_a_rewritten_service_by_its_new_values_only(store: SqliteStore | PgStore) -> None:
    await store.write(putter(service("s1", external_id="ext-1"), service("s2", external_id="ext-2")))
    # One column changed, then two others, then back: each rewrite leaves the rest as they were.
    await store.write(putter(service("s1", state=INACTIVE, external_id="ext-1")))
    assert await _found(store, state=[INACTIVE]) == ["s1"]
    assert await _found(store, state=[ACTIVE]) == ["s2"]
    await store.write(putter(service("s1", state=INACTIVE, external_id="ext-9", admin=LOCKED)))
    assert await _found(store, external_id="ext-9") == ["s1"]
    assert await _found(store, external_id="ext-1") == []
    assert await _found(store, administrative_state=[LOCKED]) == ["s1"]
    assert await _found(store, state=[INACTIVE]) == ["s1"]
    await store.write(putter(service("s1", external_id="ext-1")))
    assert await _found(store, state=[ACTIVE]) == ["s1", "s2"]
    assert await _found(store, external_id="ext-1") == ["s1"]
    assert await _found(store, administrative_state=[LOCKED]) == []


def _order(state: Ord.ServiceOrderState.ValueType, completed: int = 0) -> Ord.ServiceOrder:
    order = Ord.ServiceOrder(id="o1", buyer_id=BUYER, external_id="x", state=state)
    order.order_date.seconds = 10
    if completed:
        order.completion_date.seconds = completed
    return order


async def _written(path: Path, *writes: list[Any]) -> list[tuple[Any, ...]]:
    """Every services and orders row of a new file once `writes` are done, one write per list."""
    store = SqliteStore(path)
    await store.open()
    try:
        for puts in writes:

            def write(tx: SqlTx, puts: list[Any] = puts) -> None:
                for item in puts:
                    if isinstance(item, inventory_pb2.Service):
                        tx.put_service(item)
                    else:
                        tx.put_order(item)

            await store.write(write)
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("SELECT * FROM services").fetchall()
            + conn.execute("SELECT * FROM orders").fetchall()
        )


async def test_a_row_rewritten_many_times_has_the_columns_of_its_last_body_written_once(
    tmp_path: Path,
) -> None:
    last_service = service("s1", state=ACTIVE, update_time=9, admin=LOCKED, external_id="e2")
    last_order = _order(Ord.SERVICE_ORDER_STATE_COMPLETED, completed=90)
    rewritten = await _written(
        tmp_path / "rewritten.db",
        [service("s1", state=INACTIVE, update_time=1, start_date=5, end_date=7, external_id="e1")],
        [
            service("s1", state=ACTIVE, update_time=2, start_date=5),
            _order(Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED),
        ],
        [
            service("s1", state=ACTIVE, update_time=3, admin=LOCKED),
            _order(Ord.SERVICE_ORDER_STATE_IN_PROGRESS),
        ],
        [last_service, last_order],
    )
    once = await _written(tmp_path / "once.db", [last_service, last_order])
    assert len(rewritten) == 2
    assert rewritten == once
