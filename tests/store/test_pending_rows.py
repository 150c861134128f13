"""A write group's tracking records and events wait for its end and go in one statement per
table (executemany on SQLite, multi-row INSERTs on PostgreSQL), only a succeeded write's;
and a write still sees the events its group appended before it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, ordering_pb2
from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.dialect import EVENT_LOG, POSTGRES, SQLITE, Conn, Cursor, Dialect
from interlude_server.store.sql.migrations import MIGRATIONS
from interlude_server.store.sql.pending import TRACKING, PendingRows, Row
from interlude_server.store.sql.schema import configure_writer, migrate
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER
from tests.store.test_writes import Boom, one_group
from tests.support.pg_cluster import PgServer


class Counting:
    """A real connection that also counts the statements it is given (not the rows)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.statements: list[str] = []

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self.statements.append(sql)
        return self.conn.execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Cursor:
        self.statements.append(sql)
        return self.conn.executemany(sql, seq_of_parameters)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction


def _event_row(seq: int) -> Row:
    return (seq, BUYER, 1, f"svc-{seq}", "2026-12-07T00:00:00.000000000Z", b"body", None, None)


def _tracking_row(seq: int) -> Row:
    return (seq, BUYER, f"svc-{seq}", "order-1", "2026-12-07T00:00:00.000000000Z", b"body")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Conn, Dialect]]:
    """A real connection to a migrated database of each engine, and its dialect."""
    if request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "interlude.db", isolation_level=None)
        configure_writer(conn)
        migrate(conn, MIGRATIONS)
        yield conn, SQLITE
        conn.close()
        return
    pg: PgServer = request.getfixturevalue("pg_server")
    pg_conn = PgConn.connect(pg.create_database(request.node.name, migrated=True), "tests")
    yield pg_conn, POSTGRES
    pg_conn.close()


def test_only_succeeded_writes_rows_are_inserted_in_few_statements(engine: tuple[Conn, Dialect]) -> None:
    conn, dialect = engine
    pending = PendingRows()
    for seq in range(1, 1201):  # a write: more events than one PostgreSQL INSERT takes
        pending.add(EVENT_LOG, _event_row(seq))
    pending.add(TRACKING, _tracking_row(1))
    pending.write_succeeded()
    pending.add(EVENT_LOG, _event_row(1201))  # a write that failed
    pending.add(TRACKING, _tracking_row(2))
    pending.write_failed()
    pending.add(EVENT_LOG, _event_row(1202))  # one more that succeeded
    pending.write_succeeded()
    assert pending.newest_seq(EVENT_LOG) == 1202
    counting = Counting(conn)
    conn.execute("BEGIN")
    pending.insert(counting, dialect)
    conn.execute("COMMIT")
    events = [s for s in counting.statements if s.startswith("INSERT INTO events")]
    tracking = [s for s in counting.statements if s.startswith("INSERT INTO tracking")]
    assert len(events) == (1 if dialect is SQLITE else 2)  # PostgreSQL: 1,000 rows per INSERT
    assert len(tracking) == 1
    seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq").fetchall()]
    assert seqs == [*range(1, 1201), 1202]
    assert [row[0] for row in conn.execute("SELECT seq FROM tracking").fetchall()] == [1]
    assert len(pending) == 0  # inserted once: a second insert adds nothing
    pending.insert(counting, dialect)
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1201


async def test_a_write_sees_the_events_its_group_appended_before_it(store: SqliteStore | PgStore) -> None:
    """The events of earlier writes of the group are not in the table yet, but they are the
    log's newest (a hub registration starts after them); a failed write's are not."""

    def append(event_id: str, *, fail: bool = False) -> Callable[[SqlTx], int]:
        def fn(tx: SqlTx) -> int:
            seq = tx.append_event(BUYER, events_pb2.Event(event_id=event_id))
            tx.add_tracking(BUYER, ordering_pb2.ServiceTrackingRecord(service_id="svc-1"))
            if fail:
                raise Boom("after appending")
            return seq

        return fn

    def newest(tx: SqlTx) -> int:
        return tx.last_event_seq()

    results = await one_group(store, [append("e1"), newest, append("e2", fail=True), newest, append("e3")])
    first, seen, failed, seen_after_failure, third = results
    assert isinstance(failed, Boom)
    assert seen == first
    assert seen_after_failure == first  # not the failed write's sequence
    assert isinstance(third, int)
    assert isinstance(first, int)
    assert third > first
    assert await store.write(newest) == third
    events = await store.read_events(BUYER, 0, third + 1, 10)
    assert [e.event_id for e in events] == ["e1", "e3"]
    assert [e.sequence for e in events] == [first, third]


def _poison_tracking(store: SqliteStore | PgStore) -> None:
    """Make the database refuse a tracking record of service 'poison' (as a full disk or a
    lost connection would refuse every row): a trigger on SQLite, a CHECK on PostgreSQL."""
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path, isolation_level=None)
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON tracking WHEN NEW.service_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
        )
        conn.close()
        return
    pg_conn = PgConn.connect(store.dsn, "tests")
    pg_conn.execute("ALTER TABLE tracking ADD CONSTRAINT poison CHECK (service_id <> 'poison')")
    pg_conn.close()


async def test_rows_refused_at_the_end_of_a_group_fail_every_write_of_it(
    store: SqliteStore | PgStore,
) -> None:
    """The rows go in after the group's writes ran: if the database refuses them there, no
    write of the group is acknowledged and none of it is stored, as when the COMMIT fails."""
    _poison_tracking(store)

    def track(service_id: str) -> Callable[[SqlTx], int]:
        def fn(tx: SqlTx) -> int:
            seq = tx.append_event(BUYER, events_pb2.Event(event_id=service_id))
            tx.add_tracking(BUYER, ordering_pb2.ServiceTrackingRecord(service_id=service_id))
            return seq

        return fn

    results = await one_group(store, [track("svc-1"), track("poison"), track("svc-2")], committed=False)
    assert all(isinstance(r, Exception) for r in results), results
    assert await store.read_events(BUYER, 0, 10**9, 10) == []
    later = await store.write(track("svc-3"))  # the writer goes on
    assert [e.event_id for e in await store.read_events(BUYER, 0, later + 1, 10)] == ["svc-3"]
