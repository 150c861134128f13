"""The PostgreSQL writer's group in pipeline mode keeps the group-commit contract.

Statements are sent without waiting for their results, and a group counts the event
sequences itself once it holds the log's counter row (store.sql.seqs). Still: a write whose
statement fails on the server, or which raises after sending statements, fails alone and
leaves nothing; the others commit; a conflict reruns the write; sequences stay gap-free,
also across groups and across two writers on one database."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import psycopg
import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, ordering_pb2
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.tx import SqlTx
from tests.store.builders import BUYER, OTHER_BUYER
from tests.store.test_writes import one_group
from tests.support.pg_cluster import PgServer


class Boom(Exception):
    pass


def _event(event_id: str) -> events_pb2.Event:
    return events_pb2.Event(event_id=event_id, event_type=events_pb2.EVENT_TYPE_SERVICE_STATE_CHANGE)


def _rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
async def pg_store(pg_server: PgServer) -> PgStore:
    store = PgStore(pg_server.create_database("group", migrated=True))
    await store.open()
    return store


async def test_failed_writes_in_a_pipelined_group_fail_alone_and_sequences_stay_gap_free(
    pg_store: PgStore,
) -> None:
    def append(event_id: str, then: Callable[[SqlTx], None] = lambda tx: None) -> Callable[[SqlTx], int]:
        def write(tx: SqlTx) -> int:
            seq = tx.append_event(BUYER, _event(event_id))
            then(tx)
            return seq

        return write

    def raise_after_sending(tx: SqlTx) -> None:
        tx.append_event(BUYER, _event("also-gone"))  # sent, its result not read yet
        raise Boom("the write function failed")

    def failing_statement(tx: SqlTx) -> None:
        tx._c.execute("SELECT 1 / 0")  # fails on the server; nothing reads its result
        tx.append_event(BUYER, _event("after-the-failure"))

    store = pg_store
    try:
        results = await one_group(
            store,
            [
                append("first-fails", raise_after_sending),  # took the counter lock, then rolled back
                append("a"),
                append("b", failing_statement),
                append("c"),
                append("d", raise_after_sending),
                append("e"),
                lambda tx: tx.last_event_seq(),  # counts what the group took so far
            ],
        )
        assert isinstance(results[0], Boom)
        assert isinstance(results[2], psycopg.errors.DivisionByZero)
        assert isinstance(results[4], Boom)
        assert [results[i] for i in (1, 3, 5, 6)] == [1, 2, 3, 3]
        events = _rows(store.dsn, "SELECT seq, body FROM events ORDER BY seq")
        assert [seq for seq, _ in events] == [1, 2, 3]
        bodies = [body for _, body in events]
        assert all(isinstance(body, bytes) for body in bodies)
        ids = [events_pb2.Event.FromString(body).event_id for body in bodies if isinstance(body, bytes)]
        assert ids == ["a", "c", "e"]
        assert _rows(store.dsn, "SELECT last_seq FROM seq_counters WHERE name = 'events'") == [(3,)]
        assert await store.write(append("next-group")) == 4  # the stored counter continues
    finally:
        await store.close()


async def test_a_conflict_in_a_pipelined_group_reruns_the_write_from_its_savepoint(pg_store: PgStore) -> None:
    attempts: list[int] = []

    def conflicting(tx: SqlTx) -> int:
        attempts.append(tx.append_event(BUYER, _event("retried")))
        if len(attempts) == 1:  # another writer's key: UniqueViolation, a conflict (_transient)
            tx._c.execute("INSERT INTO seq_counters (name, last_seq) VALUES ('events', 0)")
        return attempts[-1]

    store = pg_store
    try:
        results = await one_group(
            store,
            [
                lambda tx: tx.append_event(BUYER, _event("before")),
                conflicting,
                lambda tx: tx.append_event(BUYER, _event("after")),
            ],
        )
        assert results == [1, 2, 3]
        assert attempts == [2, 2], "the rerun takes the sequence the failed attempt gave back"
        assert _rows(store.dsn, "SELECT seq FROM events ORDER BY seq") == [(1,), (2,), (3,)]
        assert store.stats.failed_writes == 0
    finally:
        await store.close()


async def test_two_writers_appending_at_once_share_one_gap_free_sequence(pg_server: PgServer) -> None:
    """Two replicas' groups each count sequences after taking the counter lock: they take turns."""
    dsn = pg_server.create_database("turns", migrated=True)
    a, b = PgStore(dsn), PgStore(dsn)
    await asyncio.gather(a.open(), b.open())
    try:

        def append(buyer: str, event_id: str) -> Callable[[SqlTx], int]:
            return lambda tx: tx.append_event(buyer, _event(event_id))

        seqs = await asyncio.gather(
            *(a.write(append(BUYER, f"a{i}")) for i in range(60)),
            *(b.write(append(OTHER_BUYER, f"b{i}")) for i in range(60)),
        )
    finally:
        await asyncio.gather(a.close(), b.close())
    assert sorted(seqs) == list(range(1, 121))
    assert _rows(dsn, "SELECT count(*), max(seq) FROM events") == [(120, 120)]
    assert _rows(dsn, "SELECT last_seq FROM seq_counters WHERE name = 'events'") == [(120,)]
    assert a.stats.max_batch > 1, "the writes did not run in groups"
    assert b.stats.max_batch > 1, "the writes did not run in groups"


async def test_a_group_draws_tracking_ids_for_all_its_writes_in_order(pg_store: PgStore) -> None:
    """Tracking records take identities the group drew ahead (one draw for many writes, not
    one per write): unique, in the order the group's writes ran, a failed write's a gap, and
    a later group's all higher."""

    def track(n: int, fail: bool = False) -> Callable[[SqlTx], None]:
        def fn(tx: SqlTx) -> None:
            for k in range(2):
                tx.add_tracking(BUYER, ordering_pb2.ServiceTrackingRecord(service_order_id=f"o{n}-{k}"))
            if fail:
                raise Boom("after tracking")

        return fn

    results = await one_group(pg_store, [track(n, fail=n == 2) for n in range(6)])
    assert [isinstance(r, Boom) for r in results] == [n == 2 for n in range(6)]
    await pg_store.write(track(9))
    rows = _rows(pg_store.dsn, "SELECT seq, service_order_id FROM tracking ORDER BY seq")
    assert [order for _, order in rows] == [f"o{n}-{k}" for n in (0, 1, 3, 4, 5, 9) for k in range(2)]
    seqs = [int(str(seq)) for seq, _ in rows]
    assert seqs == sorted(set(seqs))


async def test_a_failed_write_leaves_the_writers_statements_usable(pg_store: PgStore) -> None:
    """A write failing in a pipelined group (here on a key in use, after its statements were
    run often enough to be worth preparing) fails with its own error, and the writes after
    it, in its group and in later ones, run: the writer's connection keeps no prepared
    statement the server never made (psycopg took one skipped in an aborted pipeline for
    prepared, and the write run again met "prepared statement ... does not exist")."""

    def put(order_id: str) -> Callable[[SqlTx], None]:
        order = ordering_pb2.ServiceOrder(id=order_id, buyer_id=BUYER, external_id=order_id)
        return lambda tx: tx.put_order(order, new=True)

    for n in range(8):  # past psycopg's prepare threshold (5)
        await pg_store.write(put(f"o{n}"))
    results = await one_group(pg_store, [put("o1"), put("o20"), put("o21")])
    assert isinstance(results[0], psycopg.errors.UniqueViolation)
    assert results[1:] == [None, None]
    for n in range(30, 34):
        await pg_store.write(put(f"o{n}"))
    ids = {row[0] for row in _rows(pg_store.dsn, "SELECT id FROM orders")}
    assert ids == {f"o{n}" for n in (*range(8), 20, 21, *range(30, 34))}


async def test_the_writer_prepares_its_statements_and_failed_writes_leave_them_usable(
    pg_store: PgStore,
) -> None:
    """Sixty groups of one to eight writes, a third of them failing at random (by raising,
    or on the server before or after their own statements): each write fails alone with its
    own error, never "prepared statement ... does not exist", every other write commits, and
    the writer still prepares the statements it runs often (psycopg's threshold is 5)."""
    rnd = random.Random(20261207)
    taken = ordering_pb2.ServiceOrder(id="taken", buyer_id=BUYER, external_id="taken")
    await pg_store.write(lambda tx: tx.put_order(taken, new=True))
    prepared: list[int] = []

    def write(n: int, fail: str) -> Callable[[SqlTx], None]:
        order = ordering_pb2.ServiceOrder(id=f"o{n}", buyer_id=BUYER, external_id=f"o{n}")

        def fn(tx: SqlTx) -> None:
            if fail == "server, first":
                tx.put_order(taken, new=True)
            tx.put_order(order, new=True)
            tx.add_tracking(BUYER, ordering_pb2.ServiceTrackingRecord(service_order_id=order.id))
            tx.append_event(BUYER, _event(f"e{n}"))
            if fail == "raises":
                raise Boom(order.id)
            if fail == "server, last":
                tx.put_order(taken, new=True)
            prepared.append(
                tx._c.execute(  # the writer's own session
                    "SELECT count(*) FROM pg_prepared_statements"
                ).fetchone()[0]
            )

        return fn

    committed: set[str] = set()
    n = 0
    for _ in range(60):
        fns = []
        for k in range(rnd.randint(1, 8)):
            n += 1
            fail = rnd.choice(("", "", "", "", "raises", "server, first", "server, last")) if k else ""
            committed |= {f"o{n}"} if not fail else set()
            fns.append(write(n, fail))
        for result in await one_group(pg_store, fns):
            assert result is None or isinstance(result, Boom | psycopg.errors.UniqueViolation), result
    for _ in range(8):  # nothing fails: the statements are prepared once past the threshold
        n += 1
        committed.add(f"o{n}")
        await pg_store.write(write(n, ""))
    ids = {row[0] for row in _rows(pg_store.dsn, "SELECT id FROM orders")}
    assert ids == committed | {"taken"}
    assert prepared[-1] >= 4, "put_order, its row count, the tracking record and the event are prepared"
