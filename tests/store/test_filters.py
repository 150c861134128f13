"""Every filter field selects exactly the matching objects of the calling buyer, with its total."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, IPVC, OTHER_BUYER, OVC, UNI, order, service, ts

ACTIVE = common_pb2.SERVICE_STATE_ACTIVE
INACTIVE = common_pb2.SERVICE_STATE_INACTIVE
LOCKED = common_pb2.ADMINISTRATIVE_STATE_LOCKED
UNLOCKED = common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
ENABLED = common_pb2.OPERATIONAL_STATE_ENABLED
DISABLED = common_pb2.OPERATIONAL_STATE_DISABLED
MANUAL = inventory_pb2.START_MODE_MANUALLY_BY_PROVIDER
AUTOMATIC = inventory_pb2.START_MODE_AUTOMATICALLY_BY_MANAGED_ENVIRONMENT
SITE, ADDRESS = "GeographicSiteRef", "GeographicAddressRef"


def inventory() -> list[inventory_pb2.Service]:
    return [
        service(
            "s1",
            state=ACTIVE,
            config_type=UNI,
            service_type="ethernet",
            external_id="ext-1",
            contacts=["Alice"],
            service_date=100,
            start_date=200,
            order_refs=[("o1", "1")],
            admin=UNLOCKED,
            oper=ENABLED,
            start_mode=MANUAL,
            places=[(SITE, "site-1")],
        ),
        service(
            "s2",
            state=INACTIVE,
            config_type=OVC,
            service_type="ethernet",
            external_id="ext-2",
            contacts=["Bob", "Alice", "Alice"],
            service_date=300,
            end_date=500,
            order_refs=[("o1", "2"), ("o2", "1")],
            related=["s1"],
            admin=LOCKED,
            oper=DISABLED,
            start_mode=AUTOMATIC,
            places=[(SITE, "site-1"), (ADDRESS, "addr-1"), (SITE, "site-2")],
        ),
        service(
            "s3",
            state=ACTIVE,
            config_type=IPVC,
            service_type="ip",
            start_date=400,
            end_date=600,
            related=["s1", "s2"],
            places=[(ADDRESS, "site-2"), ("FieldedAddress", "addr-1")],
        ),
        # Another buyer's service that matches every positive case below.
        service(
            "s0",
            OTHER_BUYER,
            state=ACTIVE,
            config_type=UNI,
            service_type="ethernet",
            external_id="ext-1",
            contacts=["Alice", "Bob"],
            service_date=150,
            start_date=250,
            end_date=550,
            order_refs=[("o1", "1"), ("o1", "2"), ("o2", "1")],
            related=["s1", "s2"],
            admin=LOCKED,
            oper=ENABLED,
            start_mode=MANUAL,
            places=[(SITE, "site-1"), (SITE, "site-2"), (ADDRESS, "addr-1")],
        ),
    ]


def rng(after: int | None = None, before: int | None = None) -> common_pb2.TimeRange:
    r = common_pb2.TimeRange()
    if after is not None:
        r.after.CopyFrom(ts(after))
    if before is not None:
        r.before.CopyFrom(ts(before))
    return r


SERVICE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("state", {"state": [ACTIVE]}, ["s1", "s3"]),
    ("state any of", {"state": [ACTIVE, INACTIVE]}, ["s1", "s2", "s3"]),
    ("state none", {"state": [common_pb2.SERVICE_STATE_TERMINATED]}, []),
    ("state unspecified means any", {"state": [common_pb2.SERVICE_STATE_UNSPECIFIED]}, ["s1", "s2", "s3"]),
    ("config type", {"service_configuration_type": [UNI]}, ["s1"]),
    ("config type any of", {"service_configuration_type": [UNI, OVC]}, ["s1", "s2"]),
    ("config type none", {"service_configuration_type": ["urn:none"]}, []),
    ("service type", {"service_type": "ethernet"}, ["s1", "s2"]),
    ("service type none", {"service_type": "optical"}, []),
    ("external id", {"external_id": "ext-2"}, ["s2"]),
    ("external id none", {"external_id": "ext-9"}, []),
    ("contact", {"related_contact_name": "Alice"}, ["s1", "s2"]),
    ("contact second", {"related_contact_name": "Bob"}, ["s2"]),
    ("contact none", {"related_contact_name": "Carol"}, []),
    ("service date after is exclusive", {"service_date": rng(after=100)}, ["s2"]),
    ("service date before skips unset", {"service_date": rng(before=300)}, ["s1"]),
    ("service date both bounds", {"service_date": rng(after=99, before=301)}, ["s1", "s2"]),
    ("service date none", {"service_date": rng(after=100, before=300)}, []),
    ("start date after", {"start_date": rng(after=200)}, ["s3"]),
    ("start date before", {"start_date": rng(before=400)}, ["s1"]),
    ("start date none", {"start_date": rng(after=400)}, []),
    ("end date before", {"end_date": rng(before=600)}, ["s2"]),
    ("end date after", {"end_date": rng(after=500)}, ["s3"]),
    ("end date none", {"end_date": rng(before=500)}, []),
    ("empty range matches all", {"end_date": rng()}, ["s1", "s2", "s3"]),
    ("order", {"service_order_id": "o1"}, ["s1", "s2"]),
    ("order other", {"service_order_id": "o2"}, ["s2"]),
    ("order item", {"service_order_id": "o1", "service_order_item_id": "2"}, ["s2"]),
    ("order item none", {"service_order_id": "o2", "service_order_item_id": "2"}, []),
    ("order none", {"service_order_id": "o9"}, []),
    ("related service", {"related_service_id": "s1"}, ["s2", "s3"]),
    ("related service second", {"related_service_id": "s2"}, ["s3"]),
    ("related service none", {"related_service_id": "s3"}, []),
    ("admin state", {"administrative_state": [LOCKED]}, ["s2"]),
    ("admin state any of", {"administrative_state": [LOCKED, UNLOCKED]}, ["s1", "s2"]),
    ("admin state none", {"administrative_state": [LOCKED], "state": [ACTIVE]}, []),
    ("oper state", {"operational_state": [ENABLED]}, ["s1"]),
    ("oper state second", {"operational_state": [DISABLED]}, ["s2"]),
    ("oper state none", {"operational_state": [ENABLED], "service_type": "ip"}, []),
    ("and across fields", {"state": [ACTIVE], "related_service_id": "s1"}, ["s3"]),
    ("and across side tables", {"related_contact_name": "Alice", "service_order_id": "o2"}, ["s2"]),
    ("start mode", {"start_mode": [MANUAL]}, ["s1"]),
    ("start mode any of", {"start_mode": [MANUAL, AUTOMATIC]}, ["s1", "s2"]),
    ("start mode none", {"start_mode": [inventory_pb2.START_MODE_ANY]}, []),
    ("site", {"geographic_site_id": "site-1"}, ["s1", "s2"]),
    ("site second", {"geographic_site_id": "site-2"}, ["s2"]),  # s3 has it as an address id
    ("site none", {"geographic_site_id": "addr-1"}, []),
    ("address", {"geographic_address_id": "addr-1"}, ["s2"]),  # s3's is a FieldedAddress
    ("address second", {"geographic_address_id": "site-2"}, ["s3"]),
    ("address none", {"geographic_address_id": "site-1"}, []),
    ("site and address", {"geographic_site_id": "site-1", "geographic_address_id": "addr-1"}, ["s2"]),
    ("site and start mode", {"geographic_site_id": "site-1", "start_mode": [AUTOMATIC]}, ["s2"]),
]


@pytest_asyncio.fixture(loop_scope="function")
async def stocked(store: SqliteStore) -> SqliteStore:
    def put(tx: SqlTx) -> None:
        for s in inventory():
            tx.put_service(s)

    await store.write(put)
    return store


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
async def test_service_filter_selects_exactly_the_matching_services(
    stocked: SqliteStore, fields: dict[str, Any], expected: list[str]
) -> None:
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
    page = await stocked.list_services(BUYER, query, PageRequest(limit=10))
    assert [s.id for s in page.items] == expected
    assert page.total == len(expected)
    assert page.last_key is None


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
async def test_service_filter_pages_one_at_a_time(
    stocked: SqliteStore, fields: dict[str, Any], expected: list[str]
) -> None:
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
    seen: list[str] = []
    after = None
    while True:
        page = await stocked.list_services(BUYER, query, PageRequest(limit=1, after=after))
        seen.extend(s.id for s in page.items)
        assert page.total == len(expected)
        if page.last_key is None:
            break
        after = page.last_key
    assert seen == expected


async def test_an_order_item_filter_without_its_order_is_refused(stocked: SqliteStore) -> None:
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(service_order_item_id="1"))
    with pytest.raises(ValueError, match="service_order_id"):
        await stocked.list_services(BUYER, query, PageRequest(limit=10))


async def test_side_tables_follow_replacement_and_deletion(stocked: SqliteStore) -> None:
    def ids_for(**fields: Any) -> Any:
        query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
        return stocked.list_services(BUYER, query, PageRequest(limit=10))

    replaced = service("s2", state=INACTIVE, contacts=["Carol"], order_refs=[("o3", "1")], related=["s3"])
    await stocked.write(lambda tx: tx.put_service(replaced))
    assert [s.id for s in (await ids_for(related_contact_name="Bob")).items] == []
    assert [s.id for s in (await ids_for(related_contact_name="Carol")).items] == ["s2"]
    assert [s.id for s in (await ids_for(service_order_id="o2")).items] == []
    assert [s.id for s in (await ids_for(service_order_id="o3")).items] == ["s2"]
    assert [s.id for s in (await ids_for(related_service_id="s1")).items] == ["s3"]

    moved = service("s1", state=ACTIVE, start_mode=AUTOMATIC, places=[(SITE, "site-9")])
    await stocked.write(lambda tx: tx.put_service(moved))
    assert [s.id for s in (await ids_for(geographic_site_id="site-1")).items] == []
    assert [s.id for s in (await ids_for(geographic_site_id="site-9")).items] == ["s1"]
    assert [s.id for s in (await ids_for(start_mode=[AUTOMATIC])).items] == ["s1"]
    assert [s.id for s in (await ids_for(start_mode=[MANUAL])).items] == []

    await stocked.write(lambda tx: tx.delete_service(BUYER, "s1"))
    assert [s.id for s in (await ids_for(geographic_site_id="site-9")).items] == []
    assert [s.id for s in (await ids_for(related_contact_name="Alice")).items] == []
    assert [s.id for s in (await ids_for(service_order_id="o1")).items] == []
    assert (await ids_for()).total == 2


async def test_nanoseconds_count_in_time_ranges(store: SqliteStore) -> None:
    s = service("s1")
    s.service_date.CopyFrom(ts(100, 2))
    await store.write(lambda tx: tx.put_service(s))

    def query(after: tuple[int, int]) -> ServiceQuery:
        r = common_pb2.TimeRange()
        r.after.CopyFrom(ts(*after))
        return ServiceQuery(filter=inventory_pb2.ServiceFilter(service_date=r))

    assert (await store.list_services(BUYER, query((100, 1)), PageRequest(10))).total == 1
    assert (await store.list_services(BUYER, query((100, 2)), PageRequest(10))).total == 0


# -- orders ---------------------------------------------------------------

S = ordering_pb2


def orders() -> list[ordering_pb2.ServiceOrder]:
    return [
        order(
            "o1",
            state=S.SERVICE_ORDER_STATE_COMPLETED,
            order_date=100,
            start_date=110,
            expected_completion_date=150,
            completion_date=160,
            external_id="po-1",
            service_ids=["s1", "s2"],
        ),
        order(
            "o2",
            state=S.SERVICE_ORDER_STATE_IN_PROGRESS,
            order_date=200,
            start_date=210,
            expected_completion_date=250,
            external_id="po-2",
            service_ids=["s2"],
        ),
        order("o3", state=S.SERVICE_ORDER_STATE_ACKNOWLEDGED, order_date=300),
        order(
            "o9",
            OTHER_BUYER,
            state=S.SERVICE_ORDER_STATE_COMPLETED,
            order_date=250,
            start_date=255,
            expected_completion_date=260,
            completion_date=270,
            external_id="po-1",
            service_ids=["s1", "s2"],
        ),
    ]


ORDER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("all newest first", {}, ["o3", "o2", "o1"]),
    ("state", {"state": [S.SERVICE_ORDER_STATE_COMPLETED]}, ["o1"]),
    (
        "state any of",
        {"state": [S.SERVICE_ORDER_STATE_COMPLETED, S.SERVICE_ORDER_STATE_ACKNOWLEDGED]},
        ["o3", "o1"],
    ),
    ("state none", {"state": [S.SERVICE_ORDER_STATE_FAILED]}, []),
    ("order date", {"order_date": rng(after=100)}, ["o3", "o2"]),
    ("order date none", {"order_date": rng(after=300)}, []),
    ("completion date", {"completion_date": rng(before=200)}, ["o1"]),
    ("completion date none", {"completion_date": rng(after=160)}, []),
    ("expected completion date", {"expected_completion_date": rng(after=200)}, ["o2"]),
    ("expected completion date none", {"expected_completion_date": rng(after=250)}, []),
    ("start date", {"start_date": rng(after=100, before=111)}, ["o1"]),
    ("start date none", {"start_date": rng(before=110)}, []),
    ("external id", {"external_id": "po-2"}, ["o2"]),
    ("external id none", {"external_id": "po-9"}, []),
    ("service", {"service_id": "s2"}, ["o2", "o1"]),
    ("service one", {"service_id": "s1"}, ["o1"]),
    ("service none", {"service_id": "s3"}, []),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES]
)
async def test_order_filter_selects_exactly_the_matching_orders(
    store: SqliteStore, fields: dict[str, Any], expected: list[str]
) -> None:
    def put(tx: SqlTx) -> None:
        for o in orders():
            tx.put_order(o)

    await store.write(put)
    query = ordering_pb2.ServiceOrderFilter(**fields)
    page = await store.list_orders(BUYER, query, PageRequest(limit=10))
    assert [o.id for o in page.items] == expected
    assert page.total == len(expected)
    walked: list[str] = []
    after = None
    while True:
        one = await store.list_orders(BUYER, query, PageRequest(limit=1, after=after))
        walked.extend(o.id for o in one.items)
        if one.last_key is None:
            break
        after = one.last_key
    assert walked == expected


async def test_a_service_changed_after_its_read_in_one_write_keeps_side_rows_and_totals_right(
    stocked: SqliteStore,
) -> None:
    """A put compares the body it replaces, as the write read it, with the new one."""

    async def ids_for(**fields: Any) -> list[str]:
        query = ServiceQuery(filter=inventory_pb2.ServiceFilter(**fields))
        return [s.id for s in (await stocked.list_services(BUYER, query, PageRequest(limit=10))).items]

    async def total(state: common_pb2.ServiceState.ValueType) -> int:
        query = ServiceQuery(filter=inventory_pb2.ServiceFilter(state=[state]))
        return (await stocked.list_services(BUYER, query, PageRequest(limit=1))).total

    def add_contact_and_activate(tx: SqlTx) -> None:
        current = tx.get_service(BUYER, "s2")
        assert current is not None
        current.related_contact_information.add(name="Dave")  # changes the object the read gave
        current.state = ACTIVE
        tx.put_service(current)
        tx.put_service(current)  # again in the same write: nothing moves twice

    await stocked.write(add_contact_and_activate)
    assert await ids_for(related_contact_name="Dave") == ["s2"]
    assert await ids_for(related_contact_name="Bob") == ["s2"]
    assert (await total(ACTIVE), await total(INACTIVE)) == (3, 0)

    def drop_alice(tx: SqlTx) -> None:
        current = tx.get_service(BUYER, "s2")
        assert current is not None
        kept = [c for c in current.related_contact_information if c.name != "Alice"]
        del current.related_contact_information[:]
        current.related_contact_information.extend(kept)
        tx.put_service(current)

    await stocked.write(drop_alice)
    assert await ids_for(related_contact_name="Alice") == ["s1"]
    assert await ids_for(related_contact_name="Dave") == ["s2"]
    assert await ids_for(service_order_id="o2") == ["s2"]  # the sides that did not change stay


async def test_order_side_table_follows_item_changes(store: SqliteStore) -> None:
    await store.write(lambda tx: tx.put_order(order("o1", order_date=1, service_ids=["s1"])))
    await store.write(lambda tx: tx.put_order(order("o1", order_date=1, service_ids=["s2"])))
    by = ordering_pb2.ServiceOrderFilter
    assert (await store.list_orders(BUYER, by(service_id="s1"), PageRequest(10))).total == 0
    assert (await store.list_orders(BUYER, by(service_id="s2"), PageRequest(10))).total == 1


async def test_order_totals_follow_state_changes(store: SqliteStore) -> None:
    await store.write(lambda tx: tx.put_order(order("o1", order_date=1)))
    await store.write(lambda tx: tx.put_order(order("o2", order_date=2)))
    await store.write(
        lambda tx: tx.put_order(order("o1", state=S.SERVICE_ORDER_STATE_COMPLETED, order_date=1))
    )
    by = ordering_pb2.ServiceOrderFilter

    async def total(query: ordering_pb2.ServiceOrderFilter) -> int:
        return (await store.list_orders(BUYER, query, PageRequest(1))).total

    assert await total(by()) == 2
    assert await total(by(state=[S.SERVICE_ORDER_STATE_COMPLETED])) == 1
    assert await total(by(state=[S.SERVICE_ORDER_STATE_ACKNOWLEDGED])) == 1
    assert await total(by(state=[S.SERVICE_ORDER_STATE_IN_PROGRESS])) == 0


async def test_unfinished_orders_span_buyers_oldest_first_without_terminal_states(store: SqliteStore) -> None:
    batch = [
        order("a-late", state=S.SERVICE_ORDER_STATE_IN_PROGRESS, order_date=300),
        order("b-early", OTHER_BUYER, state=S.SERVICE_ORDER_STATE_ACKNOWLEDGED, order_date=100),
        order("a-mid", state=S.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION, order_date=200),
        order("a-held", state=S.SERVICE_ORDER_STATE_HELD, order_date=250),
    ]
    for i, terminal in enumerate(
        [
            S.SERVICE_ORDER_STATE_REJECTED,
            S.SERVICE_ORDER_STATE_COMPLETED,
            S.SERVICE_ORDER_STATE_FAILED,
            S.SERVICE_ORDER_STATE_PARTIAL,
            S.SERVICE_ORDER_STATE_CANCELLED,
        ]
    ):
        batch.append(order(f"done-{i}", state=terminal, order_date=50 + i))

    def put(tx: SqlTx) -> None:
        for o in batch:
            tx.put_order(o)

    await store.write(put)
    assert await store.unfinished_order_keys() == [
        (OTHER_BUYER, "b-early"),
        (BUYER, "a-mid"),
        (BUYER, "a-held"),
        (BUYER, "a-late"),
    ]

    finished = order("a-mid", state=S.SERVICE_ORDER_STATE_CANCELLED, order_date=200)
    await store.write(lambda tx: tx.put_order(finished))
    assert [key.id for key in await store.unfinished_order_keys()] == ["b-early", "a-held", "a-late"]


# -- tracking -------------------------------------------------------------


async def test_tracking_records_get_increasing_ids_and_filter_by_service_order_and_time(
    store: SqliteStore,
) -> None:
    records = [
        ordering_pb2.ServiceTrackingRecord(time=ts(10), service_id="s1", new_value="active"),
        ordering_pb2.ServiceTrackingRecord(time=ts(20), service_order_id="o1", service_order_item_id="1"),
        ordering_pb2.ServiceTrackingRecord(time=ts(30), service_id="s1", service_order_id="o1"),
        ordering_pb2.ServiceTrackingRecord(id="given", time=ts(40), service_id="s2"),
    ]

    def add(tx: SqlTx) -> None:
        for r in records:
            tx.add_tracking(BUYER, r)
        tx.add_tracking(OTHER_BUYER, ordering_pb2.ServiceTrackingRecord(time=ts(15), service_id="s1"))

    await store.write(add)
    assigned = [int(r.id) for r in records[:3]]
    assert assigned == sorted(assigned)
    assert records[3].id == "given"

    f = ordering_pb2.ServiceTrackingRecordFilter

    async def ids(query: ordering_pb2.ServiceTrackingRecordFilter) -> list[str]:
        return [r.id for r in (await store.list_tracking(BUYER, query, PageRequest(10))).items]

    all_ids = [r.id for r in records]
    assert await ids(f()) == all_ids
    assert await ids(f(service_id="s1")) == [all_ids[0], all_ids[2]]
    assert await ids(f(service_id="s9")) == []
    assert await ids(f(service_order_id="o1")) == [all_ids[1], all_ids[2]]
    assert await ids(f(service_order_id="o9")) == []
    assert await ids(f(service_id="s1", service_order_id="o1")) == [all_ids[2]]
    assert await ids(f(time=rng(after=10, before=40))) == [all_ids[1], all_ids[2]]
    assert await ids(f(time=rng(after=40))) == []

    first = await store.list_tracking(BUYER, f(), PageRequest(3))
    rest = await store.list_tracking(BUYER, f(), PageRequest(3, after=first.last_key))
    assert [r.id for r in [*first.items, *rest.items]] == all_ids
    assert (first.total, rest.last_key) == (4, None)
    stored = await store.list_tracking(BUYER, f(service_id="s1"), PageRequest(1))
    assert stored.items[0] == records[0]
