"""The embedded SQLite store (implements `Store`).

Threads: one writer thread owns the only write connection and group-commits
(see sqlite_writer); reads run on a small pool of threads, each with its own
read-only connection, so the event loop never blocks on SQLite or fsync. In WAL
mode readers see the last committed state and never wait for the writer. Each
read runs in one read transaction, so a page and its total agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.domain.errors import StorageUnavailable
from interlude_server.store import sqlite_queries as q
from interlude_server.store.base import (
    CommitListener,
    Committed,
    EventLogState,
    HubSubscription,
    Page,
    PageRequest,
    ServiceQuery,
)
from interlude_server.store.sqlite_cluster import SqliteSharedMixin
from interlude_server.store.sqlite_hub import SELECT_HUB, hub_from_row
from interlude_server.store.sqlite_keys import key_timestamp, timestamp_key
from interlude_server.store.sqlite_pm import SqlitePmReads
from interlude_server.store.sqlite_schema import (
    MIGRATIONS,
    TERMINAL_ORDER_STATES,
    Migration,
    SchemaVersionError,
    configure_reader,
)
from interlude_server.store.sqlite_tests import TestReadsMixin
from interlude_server.store.sqlite_tx import SqliteTx
from interlude_server.store.sqlite_writer import GroupCommitWriter, TransactionLost, WriterStats

if TYPE_CHECKING:
    from interlude_server.store.base import Store, Tx

__all__ = ["SchemaVersionError", "SqliteStore", "WriterStats"]

T = TypeVar("T")

_TERMINAL = ", ".join(str(s) for s in TERMINAL_ORDER_STATES)


class SqliteStore(TestReadsMixin, SqlitePmReads, SqliteSharedMixin):
    """Persistence in one SQLite file: WAL, durable group commit, keyset paging."""

    def __init__(
        self,
        path: Path | str,
        *,
        read_threads: int = 2,
        max_batch: int = 256,
        migrations: Sequence[Migration] = MIGRATIONS,
        max_bytes: int | None = None,
    ) -> None:
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._read_threads = read_threads
        self._max_batch = max_batch
        self._migrations = migrations
        self._writer: GroupCommitWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        return self._path

    @property
    def stats(self) -> WriterStats:
        """Writes, failures and commits so far; commits < writes shows group commit working."""
        if self._writer is None:
            return WriterStats(0, 0, 0, 0)
        return self._writer.stats

    # -- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None or self._closed:
            raise RuntimeError("a SqliteStore opens once")
        await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
        writer = GroupCommitWriter(
            self._path, max_batch=self._max_batch, migrations=self._migrations, max_bytes=self._max_bytes
        )
        await asyncio.wrap_future(writer.start())
        self._writer = writer
        self._readers = ThreadPoolExecutor(self._read_threads, thread_name_prefix="store-read")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.stop()
            await asyncio.to_thread(self._writer.join)
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown, wait=True)
        with self._conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    # -- writes -------------------------------------------------------------

    async def write(self, fn: Callable[[SqliteTx], T]) -> T:
        if self._writer is None or self._closed:
            raise RuntimeError("the store is not open")
        try:
            return await asyncio.wrap_future(self._writer.submit(fn))
        except (sqlite3.Error, TransactionLost) as exc:
            if (cause := _storage_failure(exc)) is not None:
                raise StorageUnavailable(
                    f"the database takes no writes now: {cause}; nothing was changed"
                ) from exc
            raise

    def on_commit(self, listener: CommitListener) -> None:
        if self._writer is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()

        def publish(events: list[tuple[str, Committed]]) -> None:
            # Runs on the writer thread after COMMIT: it must never fail the committed writes.
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
                loop.call_soon_threadsafe(listener, events)

        self._writer.on_commit = publish

    # -- the event log ------------------------------------------------------

    async def event_log_state(self) -> EventLogState:
        def read(conn: sqlite3.Connection) -> EventLogState:
            log_id, pruned_seq, pruned_time = conn.execute(
                "SELECT log_id, pruned_through_seq, pruned_through_time FROM event_log WHERE id = 1"
            ).fetchone()
            # AUTOINCREMENT keeps the highest sequence ever used, even once retention deleted it.
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            pruned_at = key_timestamp(str(pruned_time))
            return EventLogState(str(log_id), int(row[0]) if row else 0, int(pruned_seq), pruned_at)

        return await self._read(read)

    async def read_events(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[events_pb2.Event]:
        def read(conn: sqlite3.Connection) -> list[events_pb2.Event]:
            rows = conn.execute(
                "SELECT body FROM events WHERE buyer_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (buyer_id, after_seq, up_to_seq, limit),
            ).fetchall()
            return [events_pb2.Event.FromString(body) for (body,) in rows]

        return await self._read(read)

    async def seq_before(self, time: timestamp_pb2.Timestamp) -> int:
        key = timestamp_key(time)

        def read(conn: sqlite3.Connection) -> int:
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE event_time < ?", (key,)
            ).fetchone()
            return int(seq)

        return await self._read(read)

    # -- hub registrations --------------------------------------------------

    async def get_hub_subscription(self, buyer_id: str, sub_id: str) -> HubSubscription | None:
        def read(conn: sqlite3.Connection) -> HubSubscription | None:
            row = conn.execute(f"{SELECT_HUB} WHERE buyer_id = ? AND id = ?", (buyer_id, sub_id)).fetchone()
            return None if row is None else hub_from_row(row)

        return await self._read(read)

    async def list_hub_subscriptions(self) -> list[HubSubscription]:
        def read(conn: sqlite3.Connection) -> list[HubSubscription]:
            return [hub_from_row(r) for r in conn.execute(f"{SELECT_HUB} ORDER BY created, id").fetchall()]

        return await self._read(read)

    # -- reads --------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=10.0)
            configure_reader(conn)
            self._local.conn = conn
            with self._conns_lock:
                self._read_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")  # one snapshot for every statement of this read
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None or self._closed:
            raise RuntimeError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._run_read, fn)

    async def _get_body(self, sql: str, params: tuple[str, ...]) -> bytes | None:
        def run(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else bytes(row[0])

        return await self._read(run)

    async def get_service(self, buyer_id: str, service_id: str) -> inventory_pb2.Service | None:
        body = await self._get_body(
            "SELECT body FROM services WHERE buyer_id = ? AND id = ?", (buyer_id, service_id)
        )
        return None if body is None else inventory_pb2.Service.FromString(body)

    async def list_services(
        self, buyer_id: str, query: ServiceQuery, page: PageRequest
    ) -> Page[inventory_pb2.Service]:
        ordering = q.SERVICE_ORDERINGS.get(query.order_by)
        if ordering is None:
            raise ValueError(f"unknown order_by {query.order_by!r}")
        where = q.service_where(buyer_id, query.filter)
        counted = q.counted(query.filter)

        def run(conn: sqlite3.Connection) -> Page[inventory_pb2.Service]:
            total = None if counted is None else q.counted_total(conn, "services", buyer_id, counted)
            return q.fetch_page(
                conn, "services", where, ordering, page, inventory_pb2.Service.FromString, total
            )

        return await self._read(run)

    async def count_services(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT COALESCE(SUM(n), 0) FROM row_counts WHERE tbl = 'services'").fetchone()
            return int(row[0])

        return await self._read(run)

    async def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        body = await self._get_body(
            "SELECT body FROM orders WHERE buyer_id = ? AND id = ?", (buyer_id, order_id)
        )
        return None if body is None else ordering_pb2.ServiceOrder.FromString(body)

    async def list_orders(
        self, buyer_id: str, query: ordering_pb2.ServiceOrderFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceOrder]:
        where = q.order_where(buyer_id, query)
        counted = q.counted(query)

        def run(conn: sqlite3.Connection) -> Page[ordering_pb2.ServiceOrder]:
            total = None if counted is None else q.counted_total(conn, "orders", buyer_id, counted)
            return q.fetch_page(
                conn, "orders", where, q.ORDER_ORDERING, page, ordering_pb2.ServiceOrder.FromString, total
            )

        return await self._read(run)

    async def unfinished_orders(self) -> list[ordering_pb2.ServiceOrder]:
        def run(conn: sqlite3.Connection) -> list[ordering_pb2.ServiceOrder]:
            rows = conn.execute(
                f"SELECT body FROM orders WHERE state NOT IN ({_TERMINAL}) ORDER BY order_date, buyer_id, id"
            ).fetchall()
            return [ordering_pb2.ServiceOrder.FromString(r[0]) for r in rows]

        return await self._read(run)

    async def list_tracking(
        self, buyer_id: str, query: ordering_pb2.ServiceTrackingRecordFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceTrackingRecord]:
        where = q.tracking_where(buyer_id, query)

        def run(conn: sqlite3.Connection) -> Page[ordering_pb2.ServiceTrackingRecord]:
            return q.fetch_page(
                conn,
                "tracking",
                where,
                q.TRACKING_ORDERING,
                page,
                ordering_pb2.ServiceTrackingRecord.FromString,
            )

        return await self._read(run)

    async def get_specification(self, spec_id: str) -> catalog_pb2.ServiceSpecification | None:
        body = await self._get_body("SELECT body FROM specifications WHERE id = ?", (spec_id,))
        return None if body is None else catalog_pb2.ServiceSpecification.FromString(body)

    async def list_specifications(
        self, query: catalog_pb2.ServiceSpecificationFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServiceSpecification]:
        where = q.specification_where(query)

        def run(conn: sqlite3.Connection) -> Page[catalog_pb2.ServiceSpecification]:
            return q.fetch_page(
                conn,
                "specifications",
                where,
                q.SPECIFICATION_ORDERING,
                page,
                catalog_pb2.ServiceSpecification.FromString,
            )

        return await self._read(run)

    async def get_policy(self, buyer_id: str, spec_id: str) -> catalog_pb2.ServicePolicy | None:
        body = await self._get_body(
            "SELECT body FROM policies WHERE buyer_id = ? AND spec_id = ?", (buyer_id, spec_id)
        )
        return None if body is None else catalog_pb2.ServicePolicy.FromString(body)

    async def list_policies(
        self, buyer_id: str, query: catalog_pb2.ServicePolicyFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServicePolicy]:
        where = q.policy_where(buyer_id, query)

        def run(conn: sqlite3.Connection) -> Page[catalog_pb2.ServicePolicy]:
            return q.fetch_page(
                conn, "policies", where, q.POLICY_ORDERING, page, catalog_pb2.ServicePolicy.FromString
            )

        return await self._read(run)


if TYPE_CHECKING:

    def _implements(store: SqliteStore, tx: SqliteTx) -> tuple[Store, Tx]:
        """mypy proves here that the classes satisfy the Protocols."""
        return store, tx


# SQLite primary result codes that mean the file cannot take writes, not that the write was wrong.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 8, 10, 13


def _storage_failure(exc: BaseException) -> str | None:
    """What SQLite said, if `exc` (or the error that rolled its group back) is disk full,
    read-only or an I/O error; None for any other failure."""
    seen: BaseException | None = exc
    while seen is not None:
        code = getattr(seen, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in (_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL):
            return str(seen)
        seen = seen.__cause__
    return None
