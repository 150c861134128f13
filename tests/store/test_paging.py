"""Keyset paging walks every item exactly once in a stable order, and totals are right."""

from __future__ import annotations

import random
from typing import Any

import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from interlude_server.core.keys import field_key, timestamp_key
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, OTHER_BUYER, OVC, UNI, putter, service, ts
from tests.store.conftest import query

ORDERS = ["", "id", "service_date", "service_date desc", "update_time", "update_time desc"]


def varied_inventory(n: int) -> list[inventory_pb2.Service]:
    """Services with duplicate and unset dates, so ties and '' keys are exercised."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        date = None if i % 9 == 0 else rnd.randrange(5) * 1000
        s = service(f"svc-{rnd.randrange(10**6):06d}-{i}", service_date=date, update_time=rnd.randrange(3))
        if i % 4 == 0:
            s.update_time.nanos = rnd.randrange(1, 1000)
        out.append(s)
    return out


def expected_order(services: list[inventory_pb2.Service], order_by: str) -> list[str]:
    field = order_by.split()[0] if order_by not in ("", "id") else ""

    def key(s: inventory_pb2.Service) -> tuple[str, str]:
        if not field:
            return ("", s.id)
        return (field_key(s, field), s.id)

    return [s.id for s in sorted(services, key=key, reverse=order_by.endswith(" desc"))]


async def walk(store: SqliteStore, query: ServiceQuery, limit: int) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    after = None
    while True:
        page = await store.list_services(BUYER, query, PageRequest(limit=limit, after=after))
        ids.extend(s.id for s in page.items)
        totals.add(page.total)
        if page.last_key is None:
            return ids, totals
        assert len(page.items) == limit
        after = page.last_key


@pytest.mark.parametrize("order_by", ORDERS)
async def test_keyset_paging_walks_every_service_once_in_order(store: SqliteStore, order_by: str) -> None:
    services = varied_inventory(57)

    def put(tx: SqlTx) -> None:
        for s in services:
            tx.put_service(s)
        tx.put_service(service("svc-other-buyer", OTHER_BUYER, service_date=1000))

    await store.write(put)
    for limit in (1, 10, 57, 100):
        ids, totals = await walk(store, ServiceQuery(order_by=order_by), limit)
        assert ids == expected_order(services, order_by)
        assert totals == {57}


@pytest.mark.parametrize("order_by", ORDERS)
async def test_keyset_paging_with_a_side_table_filter_keeps_the_order(
    store: SqliteStore, order_by: str
) -> None:
    services = varied_inventory(40)
    for s in services[::3]:
        s.related_contact_information.add(name="Alice")

    def put(tx: SqlTx) -> None:
        for s in services:
            tx.put_service(s)

    await store.write(put)
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(related_contact_name="Alice"), order_by=order_by)
    ids, totals = await walk(store, query, 4)
    assert ids == expected_order(services[::3], order_by)
    assert totals == {len(services[::3])}


async def test_concurrent_inserts_neither_duplicate_nor_skip_existing_services(store: SqliteStore) -> None:
    existing = [service(f"svc-{i:04d}") for i in range(0, 400, 2)]

    def put(tx: SqlTx) -> None:
        for s in existing:
            tx.put_service(s)

    await store.write(put)

    # Odd ids, one committed after each page read: the first ones land ahead of the
    # walk, the later ones behind it. Interleaved, so every walk sees inserts land.
    inserts = [f"svc-{i:04d}" for i in range(399, 0, -2)]
    seen: list[str] = []
    after = None
    while True:
        page = await store.list_services(BUYER, ServiceQuery(), PageRequest(limit=7, after=after))
        seen.extend(s.id for s in page.items)
        if inserts:
            await store.write(putter(service(inserts.pop(0))))
        if page.last_key is None:
            break
        after = page.last_key

    assert len(seen) == len(set(seen)), "an item was returned twice"
    assert seen == sorted(seen)
    assert {s.id for s in existing} <= set(seen), "a pre-existing item was skipped"
    assert len(seen) > len(existing), "no insert landed during the walk: the test proved nothing"


async def test_totals_follow_puts_state_and_type_changes_and_deletes(store: SqliteStore) -> None:
    active, inactive = common_pb2.SERVICE_STATE_ACTIVE, common_pb2.SERVICE_STATE_INACTIVE

    def put(tx: SqlTx) -> None:
        for i in range(10):
            tx.put_service(service(f"a{i}", state=active, config_type=UNI if i < 6 else OVC))
        for i in range(5):
            tx.put_service(service(f"b{i}", OTHER_BUYER, state=active))

    await store.write(put)
    await store.write(putter(service("a0", state=inactive, external_id="x")))  # state changes
    await store.write(putter(service("a1", state=active, config_type=OVC, external_id="x")))  # type changes
    await store.write(putter(service("a2", state=active, external_id="x")))  # neither changes
    await store.write(lambda tx: tx.delete_service(BUYER, "a9"))

    async def total(**fields: Any) -> int:
        query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
        return (await store.list_services(BUYER, query, PageRequest(limit=1))).total

    assert await total() == 9
    assert await total(state=[active]) == 8
    assert await total(state=[inactive]) == 1
    assert await total(state=[active, inactive]) == 9
    assert await total(service_configuration_type=[UNI]) == 5
    assert await total(service_configuration_type=[OVC]) == 4
    assert await total(service_configuration_type=[UNI, OVC]) == 9
    assert await total(state=[active], service_configuration_type=[UNI]) == 4
    assert await total(state=[inactive], service_configuration_type=[OVC]) == 0
    assert await total(state=[active], external_id="x") == 2
    assert await total(external_id="x") == 3
    assert await store.count_services() == 14
    counted = query(
        store,
        "SELECT buyer_id, state, config_type, n FROM row_counts "
        "WHERE tbl = 'services' AND n != 0 ORDER BY 1, 2, 3",
    )
    actual = query(
        store, "SELECT buyer_id, state, config_type, COUNT(*) FROM services GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    assert counted == actual


async def test_paging_rejects_unknown_orders_mismatched_keys_and_empty_pages(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="order_by"):
        await store.list_services(BUYER, ServiceQuery(order_by="external_id"), PageRequest(10))
    with pytest.raises(ValueError, match="page key"):
        await store.list_services(
            BUYER, ServiceQuery(order_by="service_date"), PageRequest(10, after=("svc-1",))
        )
    with pytest.raises(ValueError, match="page key"):
        await store.list_services(BUYER, ServiceQuery(), PageRequest(10, after=(3,)))
    with pytest.raises(ValueError, match="limit"):
        await store.list_services(BUYER, ServiceQuery(), PageRequest(0))


async def test_last_key_is_set_only_when_more_items_follow(store: SqliteStore) -> None:
    await store.write(putter(*(service(f"s{i}", update_time=i) for i in range(4))))
    full = await store.list_services(BUYER, ServiceQuery(order_by="update_time"), PageRequest(4))
    assert full.last_key is None
    partial = await store.list_services(BUYER, ServiceQuery(order_by="update_time"), PageRequest(3))
    assert partial.last_key == (timestamp_key(ts(2)), "s2")
