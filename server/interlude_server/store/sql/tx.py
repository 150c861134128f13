"""The write side of the SQL stores: a `Tx` over the writer's connection.

Each write function gets its own SqlTx, valid only while the function runs.
The SQL is shared by SQLite and PostgreSQL (PgStore runs this same class over
its connection adapter); `dialect` holds the few differences (store/sql/dialect.py).
Every put keeps the side tables (contacts, order refs, relations, places, order
services) and the row counts in step with the main row, in the same transaction.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.core.keys import field_key, timestamp_key
from interlude_server.store.interface.store import HubSubscription, IdempotencyRecord, LoggedEvent
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.alarms.tx import AlarmTxMixin
from interlude_server.store.sql.cache import Appended, CatalogWritten, ServiceWritten
from interlude_server.store.sql.cluster import LeaseTx
from interlude_server.store.sql.dialect import EVENT_LOG, SQLITE, Conn, Dialect, upsert
from interlude_server.store.sql.hub import HUB_COLUMNS, hub_row
from interlude_server.store.sql.network.tx import NetworkTxMixin
from interlude_server.store.sql.pending import COLUMNS, TRACKING, PendingRows, Row
from interlude_server.store.sql.performance.tx import PmTxMixin
from interlude_server.store.sql.seqs import GroupSequences
from interlude_server.store.sql.sft.tx import SftTxMixin
from interlude_server.store.sql.sides import ORDER_SIDES, SERVICE_SIDES, Side

M = TypeVar("M", bound=Message)

# PostgreSQL: identities (e.g. tracking seqs) drawn in one statement (SqlTx._next_id), for a
# write, or for its writer's group when the writer keeps them (store.postgres.writer).
IDS_DRAWN = 16

# The columns a service or order row keeps beside its body, for the indexes.
_SERVICE_COLUMNS = (
    "state",
    "config_type",
    "service_type",
    "external_id",
    "admin_state",
    "oper_state",
    "service_date",
    "start_date",
    "end_date",
    "update_time",
    "start_mode",
)
_ORDER_COLUMNS = (
    "state",
    "external_id",
    "order_date",
    "completion_date",
    "expected_completion_date",
    "start_date",
)
Keys = tuple[int | str, ...]  # a row's column values (not its body), as the columns name them


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in range(len(columns) + 3))
    return f"INSERT INTO {table} (buyer_id, id, {', '.join(columns)}, body) VALUES ({marks})"


@functools.lru_cache(maxsize=1024)
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    assignments = "".join(f"{column} = ?, " for column in columns)
    return f"UPDATE {table} SET {assignments}body = ? WHERE buyer_id = ? AND id = ?"


def _require(kind: str, **keys: str) -> None:
    missing = [name for name, value in keys.items() if not value]
    if missing:
        raise ValueError(f"{kind} needs {', '.join(missing)}")


def _service_keys(s: inventory_pb2.Service) -> Keys:
    return (
        int(s.state),
        s.service_configuration.type,
        s.service_type,
        s.external_id,
        int(s.administrative_state),
        int(s.operational_state),
        field_key(s, "service_date"),
        field_key(s, "start_date"),
        field_key(s, "end_date"),
        field_key(s, "update_time"),
        int(s.start_mode),
    )


def _order_keys(o: ordering_pb2.ServiceOrder) -> Keys:
    return (
        int(o.state),
        o.external_id,
        field_key(o, "order_date"),
        field_key(o, "completion_date"),
        field_key(o, "expected_completion_date"),
        field_key(o, "start_date"),
    )


@dataclass(frozen=True)
class _Counted(Generic[M]):
    """A table whose rows are counted in row_counts and keep side tables: services, orders."""

    table: str
    kind: str  # what a row is, for errors ("a service")
    columns: tuple[str, ...]  # the columns beside the body, as `keys` gives their values
    parse: Callable[[bytes], M]
    keys: Callable[[M], Keys]
    count_key: Callable[[M], tuple[int, str]]  # the row_counts key: (state, configuration @type)
    sides: tuple[Side[M], ...]


_SERVICES = _Counted(
    "services",
    "a service",
    _SERVICE_COLUMNS,
    inventory_pb2.Service.FromString,
    _service_keys,
    lambda s: (int(s.state), s.service_configuration.type),
    SERVICE_SIDES,
)
_ORDERS = _Counted(
    "orders",
    "an order",
    _ORDER_COLUMNS,
    ordering_pb2.ServiceOrder.FromString,
    _order_keys,
    lambda o: (int(o.state), ""),  # orders are counted by state only
    ORDER_SIDES,
)


class SqlTx(SftTxMixin, PmTxMixin, NetworkTxMixin, AlarmTxMixin, LeaseTx):
    """Synchronous access to the store inside one write transaction (implements `Tx`)."""

    def __init__(
        self,
        conn: Conn,
        dialect: Dialect = SQLITE,
        seqs: GroupSequences | None = None,
        next_ids: dict[str, int] | None = None,
        spare_ids: dict[str, list[int]] | None = None,
        pending: PendingRows | None = None,
    ) -> None:
        self._conn: Conn | None = conn
        # The writer's rows of append-only tables, inserted before its COMMIT (store.sql.pending);
        # None: each is inserted at once.
        self._pending = pending
        self._dialect = dialect
        self._seqs = seqs  # PostgreSQL's writer: the log sequences its group holds (store.sql.seqs)
        # PostgreSQL: identities drawn ahead (_next_id), for this write or its writer's group.
        self._spare_ids: dict[str, list[int]] = {} if spare_ids is None else spare_ids
        # Events and measurement batches appended by this write, published after the commit.
        self.appended: Appended = []
        # SQLite: the next seq of each table appended to, counted for this write or, given
        # `next_ids`, for the writer's whole group (one transaction; see _next_id).
        self._next_ids: dict[str, int] = {} if next_ids is None else next_ids
        self._read: dict[tuple[str, str, str], bytes | None] = {}  # see _row
        # The W3C trace (traceparent, tracestate) of the work that submitted this write, recorded
        # with each event it appends (Store.write sets it); None: no trace was current.
        self.trace: tuple[str, str] | None = None

    def close(self) -> None:
        """Make further use fail: a Tx must not outlive its write function."""
        self._conn = None

    def _next_id(self, table: str, *, log: bool) -> int:
        """The seq of the next row this write appends to `table` (a log if `log`). SQLite has
        one writer, which holds the write lock for its group's transaction, so it is read once
        per group (or per write, without the group's counters) and then counted here, which
        saves a statement per row; a write rolled back to its savepoint leaves a gap, as a
        rolled-back AUTOINCREMENT does. PostgreSQL takes a log's from its counter row
        (`_log_seq`), and draws a table's identities a few at a time, for this write or its
        writer's group (one transaction: a write of a later group, drawing after this group's
        commit, still gets higher numbers, as with one draw per row); the unused ones are
        gaps, as a rolled-back draw leaves anyway."""
        dialect = self._dialect
        if not dialect.one_writer:
            if log:
                return self._log_seq(table)
            spare = self._spare_ids.get(table)
            if not spare:
                spare = self._spare_ids[table] = dialect.next_row_ids(self._c, table, IDS_DRAWN)
            return spare.pop(0)
        seq = self._next_ids.get(table)
        if seq is None:
            seq = self._dialect.next_row_id(self._c, table)
        self._next_ids[table] = seq + 1
        return seq

    @property
    def _c(self) -> Conn:
        if self._conn is None:
            raise RuntimeError("this Tx belongs to a write that has finished")
        return self._conn

    # -- services ---------------------------------------------------------

    def get_service(self, buyer_id: str, service_id: str) -> inventory_pb2.Service | None:
        return self._row(_SERVICES, buyer_id, service_id)

    def put_service(self, service: inventory_pb2.Service) -> None:
        self._put_counted(_SERVICES, service, service.buyer_id, service.id)
        body = self._read[(_SERVICES.table, service.buyer_id, service.id)]  # as _write_row stored it
        self.appended.append((service.buyer_id, ServiceWritten(service.id, body)))  # for the read cache

    def delete_service(self, buyer_id: str, service_id: str) -> None:
        old = self._row(_SERVICES, buyer_id, service_id)
        if old is None:
            return
        self._count("services", buyer_id, _SERVICES.count_key(old), -1)
        for side in SERVICE_SIDES:
            side.delete(self._c, buyer_id, service_id)
        self._c.execute("DELETE FROM services WHERE buyer_id = ? AND id = ?", (buyer_id, service_id))
        self._read[("services", buyer_id, service_id)] = None
        self.appended.append((buyer_id, ServiceWritten(service_id)))

    def _row(self, t: _Counted[M], buyer_id: str, row_id: str) -> M | None:
        """A service or order row as this write last read or wrote it (None: no row), parsed
        afresh. Its body is kept per write, so a put after a get reads nothing again, and a
        put compares the body it replaces with the new one to rewrite only the side rows
        that changed."""
        key = (t.table, buyer_id, row_id)
        if key not in self._read:
            self._read[key] = self._body(t.table, buyer_id, row_id)
        body = self._read[key]
        return None if body is None else t.parse(body)

    def _put_counted(
        self, t: _Counted[M], new: M, buyer_id: str, row_id: str, *, new_row: bool = False
    ) -> None:
        """Write the row, move its row count if its count key changed, and rewrite the side
        rows that changed. `new_row`: the caller knows there is none to replace (no read:
        on PostgreSQL a read inside a write is a round trip of its own)."""
        _require(t.kind, buyer_id=buyer_id, id=row_id)
        old = None if new_row else self._row(t, buyer_id, row_id)
        old_keys = None if old is None else t.keys(old)
        old_body = self._read.get((t.table, buyer_id, row_id)) if old is not None else None
        body = new.SerializeToString()
        self._write_row(t, buyer_id, row_id, t.keys(new), body, old_keys)
        counted = t.count_key(new)
        if old is None or t.count_key(old) != counted:  # an unchanged count key moves by 0
            if old is not None:
                self._count(t.table, buyer_id, t.count_key(old), -1)
            self._count(t.table, buyer_id, counted, +1)
        bodies = None if old_body is None else (old_body, body)
        for side in t.sides:
            side.rewrite(self._c, old, new, buyer_id, row_id, bodies)

    def _write_row(
        self, t: _Counted[M], buyer_id: str, row_id: str, keys: Keys, body: bytes, old_keys: Keys | None
    ) -> None:
        """Insert the row, or update the one it replaces (whose columns hold `old_keys`):
        its body, and only the columns whose values changed. A column set, even to its own
        value, makes SQLite rewrite its index entries: a service has eleven indexes, and an
        UPDATE of every column measured 90-130 µs against 14 µs for two (bench/README.md)."""
        if old_keys is None:
            self._c.execute(_insert_sql(t.table, t.columns), (buyer_id, row_id, *keys, body))
        else:
            changed = [i for i, (new, old) in enumerate(zip(keys, old_keys, strict=True)) if new != old]
            columns = tuple(t.columns[i] for i in changed)
            self._c.execute(
                _update_sql(t.table, columns), (*(keys[i] for i in changed), body, buyer_id, row_id)
            )
        self._read[(t.table, buyer_id, row_id)] = body

    def _count(self, table: str, buyer_id: str, key: tuple[int, str], delta: int) -> None:
        state, config_type = key
        self._c.execute(
            "INSERT INTO row_counts (tbl, buyer_id, state, config_type, n) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (tbl, buyer_id, state, config_type) DO UPDATE SET n = row_counts.n + excluded.n",
            (table, buyer_id, state, config_type, delta),
        )

    # -- orders and their history -----------------------------------------

    def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        return self._row(_ORDERS, buyer_id, order_id)

    def put_order(self, order: ordering_pb2.ServiceOrder, *, new: bool = False) -> None:
        self._put_counted(_ORDERS, order, order.buyer_id, order.id, new_row=new)

    def add_tracking(self, buyer_id: str, record: ordering_pb2.ServiceTrackingRecord) -> None:
        _require("a tracking record", buyer_id=buyer_id)
        seq = self._next_id("tracking", log=False)
        if not record.id:
            record.id = str(seq)
        self._append_row(
            TRACKING,
            (
                seq,
                buyer_id,
                record.service_id,
                record.service_order_id,
                field_key(record, "time"),
                record.SerializeToString(),
            ),
        )

    def _append_row(self, table: str, row: Row) -> None:
        conn = self._c  # (fails once the write has finished, as any statement does)
        if self._pending is None:
            self._dialect.insert_rows(conn, table, COLUMNS[table], [row])
        else:
            self._pending.add(table, row)

    # -- idempotency and events ---------------------------------------------

    def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
        # Until this write commits, another writer asking for the same request_id waits and
        # then finds this one's record: a request retried on two replicas at once runs once.
        self._dialect.lock_key(self._c, "idempotency", buyer_id, request_id)
        return q.idempotency_record(self._c, buyer_id, request_id)

    def put_idempotency(self, buyer_id: str, request_id: str, record: IdempotencyRecord) -> None:
        _require("an idempotency record", buyer_id=buyer_id, request_id=request_id)
        now = timestamp_pb2.Timestamp()
        now.FromNanoseconds(time.time_ns())
        upsert(
            self._c,
            "idempotency",
            ("buyer_id", "request_id"),
            {
                "buyer_id": buyer_id,
                "request_id": request_id,
                "method": record.method,
                "fingerprint": record.fingerprint,
                "response": record.response,
                "created": timestamp_key(now),
            },
        )

    def append_event(self, buyer_id: str, event: events_pb2.Event) -> int:
        _require("an event", buyer_id=buyer_id)
        seq = self._next_id(EVENT_LOG, log=True)
        event.sequence = seq
        traceparent, tracestate = self.trace or (None, None)
        self._append_row(
            EVENT_LOG,
            (
                seq,
                buyer_id,
                int(event.event_type),
                event.resource.id,
                field_key(event, "event_time"),
                body := event.SerializeToString(),
                traceparent,
                tracestate or None,
            ),
        )
        self.appended.append((buyer_id, LoggedEvent(event, body)))  # the log owns it now
        return seq

    def prune_events(self, before: timestamp_pb2.Timestamp, keep_last: int) -> int:
        """Delete events older than `before_time_key` or beyond the newest `keep_last`;
        remember how far the log was pruned. Returns how many were deleted."""
        c = self._c
        (last,) = c.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        (by_time,) = c.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE event_time < ?", (timestamp_key(before),)
        ).fetchone()
        through = max(int(by_time), int(last) - keep_last)
        # Never prune what an active hub registration has still to deliver; a registration
        # that stops accepting is dead-lettered after its retries, which releases the hold.
        (held,) = c.execute("SELECT MIN(cursor) FROM hub_subscriptions WHERE state = 'active'").fetchone()
        if held is not None:
            through = min(through, int(held))
        if through <= 0:
            return 0
        row = c.execute("SELECT MAX(event_time) FROM events WHERE seq <= ?", (through,)).fetchone()
        deleted = c.execute("DELETE FROM events WHERE seq <= ?", (through,)).rowcount
        if deleted:
            c.execute(
                f"UPDATE event_log SET pruned_through_seq = {self._dialect.greatest}(pruned_through_seq, ?), "
                f"pruned_through_time = {self._dialect.greatest}(pruned_through_time, ?) WHERE id = 1",
                (through, row[0] or ""),
            )
        return int(deleted)

    # -- catalog ------------------------------------------------------------

    def put_specification(self, spec: catalog_pb2.ServiceSpecification) -> None:
        _require("a specification", id=spec.id)
        upsert(
            self._c,
            "specifications",
            ("id",),
            {
                "id": spec.id,
                "category": spec.category,
                "lifecycle_status": int(spec.lifecycle_status),
                "config_type": spec.target_service_schema.type,
                "body": spec.SerializeToString(),
            },
        )
        self.appended.append(("", CatalogWritten()))  # for the catalog cache

    def put_policy(self, policy: catalog_pb2.ServicePolicy) -> None:
        b, spec_id = policy.buyer_id, policy.service_specification_id
        _require("a policy", buyer_id=b, service_specification_id=spec_id)
        upsert(
            self._c,
            "policies",
            ("buyer_id", "spec_id"),
            {
                "buyer_id": b,
                "spec_id": spec_id,
                "config_type": policy.service_configuration_type,
                "body": policy.SerializeToString(),
            },
        )
        self.appended.append(("", CatalogWritten()))  # for the catalog cache

    # -- hub registrations --------------------------------------------------

    def last_event_seq(self) -> int:
        if self._seqs is not None:
            return self._seqs.last(self._c, EVENT_LOG)
        stored = self._dialect.last_seq(self._c, EVENT_LOG)
        return stored if self._pending is None else max(stored, self._pending.newest_seq(EVENT_LOG))

    def put_hub_subscription(self, sub: HubSubscription) -> None:
        _require("a hub subscription", id=sub.id, buyer_id=sub.buyer_id)
        upsert(self._c, "hub_subscriptions", ("id",), dict(zip(HUB_COLUMNS, hub_row(sub), strict=True)))

    def delete_hub_subscription(self, buyer_id: str, sub_id: str) -> bool:
        cur = self._c.execute(
            "DELETE FROM hub_subscriptions WHERE buyer_id = ? AND id = ?", (buyer_id, sub_id)
        )
        return cur.rowcount > 0

    def update_hub_delivery(
        self, sub_id: str, cursor: int, state: str, attempts: int, last_error: str
    ) -> bool:
        cur = self._c.execute(
            "UPDATE hub_subscriptions SET cursor = ?, state = ?, attempts = ?, last_error = ? WHERE id = ?",
            (cursor, state, attempts, last_error, sub_id),
        )
        return cur.rowcount > 0
