"""The SQLite store keeps every object kind exactly, survives restarts and guards its schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.core.keys import timestamp_key
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import IdempotencyRecord, ServiceQuery
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.migrations import MIGRATIONS, SCHEMA_VERSION
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SchemaVersionError, SqliteStore
from tests.store.builders import BUYER, OTHER_BUYER, OVC, UNI, order, service, ts


def full_service() -> inventory_pb2.Service:
    s = service(
        "svc-1",
        service_type="ethernet",
        external_id="ext-1",
        contacts=["Alice"],
        service_date=100,
        start_date=200,
        end_date=300,
        update_time=400,
        order_refs=[("ord-1", "1")],
        related=["svc-0"],
        admin=common_pb2.ADMINISTRATIVE_STATE_UNLOCKED,
        oper=common_pb2.OPERATIONAL_STATE_ENABLED,
    )
    s.description = "UNI at Zurich"
    s.etag = "e1"
    s.start_mode = inventory_pb2.START_MODE_AUTOMATICALLY_BY_MANAGED_ENVIRONMENT
    s.service_configuration.attributes.update({"physicalLayer": ["1000BASE_LX"], "maximumFrameSize": 9000})
    s.place.add(role="INSTALL_LOCATION", type="GeographicSiteRef", id="site-7")
    s.note.add(id="n1", author="noc", text="installed", source=common_pb2.NOTE_SOURCE_SOF)
    s.component.add(id="link-1", component_type="accessLink", configuration_path="/uniLinks/0")
    return s


async def test_every_object_kind_round_trips_exactly(store: SqliteStore) -> None:
    svc = full_service()
    o = order("ord-1", order_date=500, external_id="po-1", service_ids=["svc-1"])
    o.note.add(text="please hurry")
    spec = catalog_pb2.ServiceSpecification(
        id="spec-uni",
        name="Operator UNI",
        category="interface",
        lifecycle_status=catalog_pb2.SERVICE_SPECIFICATION_LIFECYCLE_STATUS_ACTIVE,
        target_service_schema=catalog_pb2.TargetServiceSchema(type=UNI),
        is_service_interface=True,
    )
    spec.service_spec_characteristic.add(path="/maximumFrameSize", name="maximumFrameSize")
    policy = catalog_pb2.ServicePolicy(
        buyer_id=BUYER, service_specification_id="spec-uni", service_configuration_type=UNI, etag="p1"
    )
    policy.characteristic_policy.add(
        path="/maximumFrameSize",
        changeability=catalog_pb2.CHANGEABILITY_DYNAMIC,
        default_value=struct_pb2.Value(number_value=1522),
        range=catalog_pb2.NumericRange(min=1522, max=9600),
    )
    record = ordering_pb2.ServiceTrackingRecord(
        time=ts(600), service_id="svc-1", attribute="state", old_value="inactive", new_value="active"
    )
    idem = IdempotencyRecord(method="CreateServiceOrder", fingerprint="abc", response=b"\x00\x01resp")

    def put_all(tx: SqlTx) -> None:
        tx.put_service(svc)
        tx.put_order(o)
        tx.put_specification(spec)
        tx.put_policy(policy)
        tx.add_tracking(BUYER, record)
        tx.put_idempotency(BUYER, "req-1", idem)

    await store.write(put_all)

    assert await store.get_service(BUYER, "svc-1") == svc
    assert await store.get_order(BUYER, "ord-1") == o
    assert await store.get_specification("spec-uni") == spec
    assert await store.get_policy(BUYER, "spec-uni") == policy
    history = await store.list_tracking(BUYER, ordering_pb2.ServiceTrackingRecordFilter(), PageRequest(10))
    assert list(history.items) == [record]
    assert await store.write(lambda tx: tx.get_idempotency(BUYER, "req-1")) == idem
    assert await store.get_idempotency(BUYER, "req-1") == idem  # the read-path pre-check
    assert await store.get_idempotency(BUYER, "req-2") is None
    assert await store.write(lambda tx: (tx.get_service(BUYER, "svc-1"), tx.get_order(BUYER, "ord-1"))) == (
        svc,
        o,
    )


async def test_objects_are_scoped_to_their_buyer(store: SqliteStore) -> None:
    await store.write(lambda tx: tx.put_service(service("svc-1")))
    await store.write(lambda tx: tx.put_order(order("ord-1")))
    await store.write(lambda tx: tx.put_idempotency(BUYER, "r", IdempotencyRecord("m", "f", b"")))

    assert await store.get_service(OTHER_BUYER, "svc-1") is None
    assert await store.get_order(OTHER_BUYER, "ord-1") is None
    assert await store.get_policy(OTHER_BUYER, "spec-uni") is None
    assert await store.write(lambda tx: tx.get_idempotency(OTHER_BUYER, "r")) is None
    assert await store.get_idempotency(OTHER_BUYER, "r") is None
    page = await store.list_services(OTHER_BUYER, ServiceQuery(), PageRequest(10))
    assert (list(page.items), page.total) == ([], 0)


async def test_unknown_ids_read_as_none(store: SqliteStore) -> None:
    assert await store.get_service(BUYER, "nope") is None
    assert await store.get_order(BUYER, "nope") is None
    assert await store.get_specification("nope") is None
    assert await store.write(lambda tx: tx.get_service(BUYER, "nope")) is None


async def test_put_replaces_and_delete_removes_a_service(store: SqliteStore) -> None:
    await store.write(lambda tx: tx.put_service(service("svc-1", external_id="old")))
    await store.write(lambda tx: tx.put_service(service("svc-1", external_id="new")))
    got = await store.get_service(BUYER, "svc-1")
    assert got is not None
    assert got.external_id == "new"
    assert await store.count_services() == 1

    await store.write(lambda tx: tx.delete_service(BUYER, "svc-1"))
    await store.write(lambda tx: tx.delete_service(BUYER, "never-existed"))
    assert await store.get_service(BUYER, "svc-1") is None
    assert await store.count_services() == 0


async def test_objects_without_identity_are_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="buyer_id"):
        await store.write(lambda tx: tx.put_service(inventory_pb2.Service(id="x")))
    with pytest.raises(ValueError, match="id"):
        await store.write(lambda tx: tx.put_order(ordering_pb2.ServiceOrder(buyer_id=BUYER)))
    with pytest.raises(ValueError, match="service_specification_id"):
        await store.write(lambda tx: tx.put_policy(catalog_pb2.ServicePolicy(buyer_id=BUYER)))


async def test_append_event_sequences_strictly_increase_across_writes_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "events.db"

    def append_two(tx: SqlTx) -> tuple[int, int]:
        first = events_pb2.Event(event_id="a", event_type=events_pb2.EVENT_TYPE_SERVICE_CREATE)
        first.resource.id = "svc-1"
        second = events_pb2.Event(event_id="b", event_type=events_pb2.EVENT_TYPE_SERVICE_STATE_CHANGE)
        return tx.append_event(BUYER, first), tx.append_event(OTHER_BUYER, second)

    seqs: list[int] = []
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        for pair in [await store.write(append_two) for _ in range(3)]:
            seqs.extend(pair)
        await store.close()

    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT seq, buyer_id, body FROM events ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == seqs
    stored = events_pb2.Event.FromString(rows[0][2])
    assert (stored.sequence, stored.event_id, stored.resource.id) == (seqs[0], "a", "svc-1")


async def test_append_event_sets_the_sequence_on_the_event(store: SqliteStore) -> None:
    event = events_pb2.Event(event_id="e")
    seq = await store.write(lambda tx: tx.append_event(BUYER, event))
    assert event.sequence == seq > 0


async def test_a_write_that_fails_leaves_no_gap_in_the_log_or_the_tracking_ids(store: SqliteStore) -> None:
    def append(count: int, fail: bool = False) -> Callable[[SqlTx], list[int]]:
        def write(tx: SqlTx) -> list[int]:
            seqs = [tx.append_event(BUYER, events_pb2.Event(event_id=f"e{n}")) for n in range(count)]
            for n in range(count):
                tx.add_tracking(BUYER, ordering_pb2.ServiceTrackingRecord(service_id=f"s{n}", time=ts(1)))
            if fail:
                raise ValueError("the write changes its mind")
            return seqs

        return write

    first = await store.write(append(3))
    with pytest.raises(ValueError, match="changes its mind"):
        await store.write(append(2, fail=True))
    second = await store.write(append(2))
    assert first == [first[0], first[0] + 1, first[0] + 2]
    assert second == [first[-1] + 1, first[-1] + 2]
    records = (
        await store.list_tracking(BUYER, ordering_pb2.ServiceTrackingRecordFilter(), PageRequest(10))
    ).items
    ids = sorted(int(r.id) for r in records)
    assert len(set(ids)) == 5
    if store._dialect.name == "sqlite":  # PostgreSQL numbers tracking rows from a sequence, with gaps
        assert ids == list(range(ids[0], ids[0] + 5))


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "reopen.db"
    store = SqliteStore(path)
    await store.open()
    await store.write(lambda tx: tx.put_service(full_service()))
    await store.write(lambda tx: tx.put_order(order("ord-1", order_date=1)))
    await store.close()

    reopened = SqliteStore(path)
    await reopened.open()
    try:
        assert await reopened.get_service(BUYER, "svc-1") == full_service()
        assert await reopened.get_order(BUYER, "ord-1") == order("ord-1", order_date=1)
        assert await reopened.count_services() == 1
    finally:
        await reopened.close()


async def test_database_is_in_wal_mode_with_the_current_schema_version(sqlite_store: SqliteStore) -> None:
    with sqlite3.connect(sqlite_store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


async def test_a_database_newer_than_the_code_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))

    newer = SqliteStore(path)
    with pytest.raises(
        SchemaVersionError, match=rf"version {SCHEMA_VERSION + 1} is newer .*\({SCHEMA_VERSION}\)"
    ):
        await newer.open()
    await newer.close()


async def test_opening_migrates_an_older_database_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SqliteStore(path)
    await old.open()
    await old.write(lambda tx: tx.put_service(service("svc-1")))
    await old.close()

    next_step = ("CREATE TABLE added_later (x INTEGER)", "INSERT INTO added_later VALUES (42)")
    upgraded = SqliteStore(path, migrations=(*MIGRATIONS, next_step))
    await upgraded.open()
    try:
        assert await upgraded.get_service(BUYER, "svc-1") is not None
    finally:
        await upgraded.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS) + 1,)]
        assert conn.execute("SELECT x FROM added_later").fetchall() == [(42,)]


async def test_a_failing_migration_leaves_the_database_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "failing.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()

    broken = SqliteStore(path, migrations=(*MIGRATIONS, ("CREATE TABLE t (x)", "NOT SQL")))
    with pytest.raises(sqlite3.OperationalError):
        await broken.open()
    await broken.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall() == []


def test_timestamp_keys_sort_like_instants_over_the_whole_proto_range() -> None:
    instants = [
        ts(-62_135_596_800),  # 0001-01-01
        ts(-1, 999_999_999),
        ts(0),
        ts(0, 1),
        ts(1_700_000_000, 5),
        ts(1_700_000_000, 6),
        ts(253_402_300_799, 999_999_999),  # 9999-12-31T23:59:59.999999999
    ]
    keys = [timestamp_key(t) for t in instants]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 21 and k != "" for k in keys)


async def test_catalog_lists_filter_and_page(store: SqliteStore) -> None:
    active = catalog_pb2.SERVICE_SPECIFICATION_LIFECYCLE_STATUS_ACTIVE
    retired = catalog_pb2.SERVICE_SPECIFICATION_LIFECYCLE_STATUS_RETIRED
    specs = [
        catalog_pb2.ServiceSpecification(
            id=f"spec-{i}",
            category="interface" if i % 2 else "connectivity",
            lifecycle_status=active if i < 4 else retired,
            target_service_schema=catalog_pb2.TargetServiceSchema(type=UNI if i % 2 else OVC),
        )
        for i in range(6)
    ]

    def put(tx: SqlTx) -> None:
        for spec in specs:
            tx.put_specification(spec)
            tx.put_policy(
                catalog_pb2.ServicePolicy(
                    buyer_id=BUYER,
                    service_specification_id=spec.id,
                    service_configuration_type=spec.target_service_schema.type,
                )
            )

    await store.write(put)

    f = catalog_pb2.ServiceSpecificationFilter
    ids = [s.id for s in (await store.list_specifications(f(category="interface"), PageRequest(10))).items]
    assert ids == ["spec-1", "spec-3", "spec-5"]
    ids = [
        s.id for s in (await store.list_specifications(f(lifecycle_status=[retired]), PageRequest(10))).items
    ]
    assert ids == ["spec-4", "spec-5"]
    ids = [
        s.id
        for s in (await store.list_specifications(f(service_configuration_type=[OVC]), PageRequest(10))).items
    ]
    assert ids == ["spec-0", "spec-2", "spec-4"]
    # The point read orders use is the first item of that list.
    assert getattr(await store.specification_for_type(OVC), "id", None) == "spec-0"
    assert await store.specification_for_type("urn:no-such-type") is None
    assert (await store.list_specifications(f(category="none"), PageRequest(10))).total == 0

    first = await store.list_specifications(f(), PageRequest(4))
    second = await store.list_specifications(f(), PageRequest(4, after=first.last_key))
    assert [s.id for s in [*first.items, *second.items]] == [s.id for s in specs]
    assert (first.total, second.last_key) == (6, None)

    p = catalog_pb2.ServicePolicyFilter
    policies = await store.list_policies(BUYER, p(service_configuration_type=[UNI]), PageRequest(2))
    assert [x.service_specification_id for x in policies.items] == ["spec-1", "spec-3"]
    assert policies.total == 3
    rest = await store.list_policies(
        BUYER, p(service_configuration_type=[UNI]), PageRequest(2, policies.last_key)
    )
    assert [x.service_specification_id for x in rest.items] == ["spec-5"]
    assert (await store.list_policies(OTHER_BUYER, p(), PageRequest(10))).total == 0


async def test_a_new_order_is_stored_without_a_read_and_a_used_id_is_refused(
    store: SqliteStore | PgStore,
) -> None:
    """put_order(new=True) reads nothing first: an id in use fails the write (duplicate key)
    and leaves the stored order as it was."""
    first = ordering_pb2.ServiceOrder(id="ord-new", buyer_id=BUYER, external_id="first")
    await store.write(lambda tx: tx.put_order(first, new=True))
    again = ordering_pb2.ServiceOrder(id="ord-new", buyer_id=BUYER, external_id="second")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.write(lambda tx: tx.put_order(again, new=True))
    stored = await store.get_order(BUYER, "ord-new")
    assert stored is not None
    assert stored.external_id == "first"
