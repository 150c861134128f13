"""The write side of the SQL stores: a `Tx` over the writer's connection.

Each write function gets its own SqlTx, valid only while the function runs.
The SQL is shared by SQLite and PostgreSQL (PgStore runs this same class over
its connection adapter); `dialect` holds the few differences (store/sql/dialect.py).
Every put keeps the side tables (contacts, order refs, relations, places, order
services) and the row counts in step with the main row, in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.core.keys import field_key, timestamp_key
from interlude_server.store.interface.store import Committed, HubSubscription, IdempotencyRecord, LoggedEvent
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.alarms.tx import AlarmTxMixin
from interlude_server.store.sql.cluster import LeaseTx
from interlude_server.store.sql.dialect import EVENT_LOG, SQLITE, Conn, Dialect, upsert
from interlude_server.store.sql.hub import HUB_COLUMNS, hub_row
from interlude_server.store.sql.network.tx import NetworkTxMixin
from interlude_server.store.sql.performance.tx import PmTxMixin
from interlude_server.store.sql.sft.tx import SftTxMixin
from interlude_server.store.sql.sides import ORDER_SIDES, SERVICE_SIDES, Side

M = TypeVar("M")

_SERVICE_COLUMNS = (
    "state, config_type, service_type, external_id, admin_state, oper_state, "
    "service_date, start_date, end_date, update_time, start_mode, body"
)
_ORDER_COLUMNS = "state, external_id, order_date, completion_date, expected_completion_date, start_date, body"


def _require(kind: str, **keys: str) -> None:
    missing = [name for name, value in keys.items() if not value]
    if missing:
        raise ValueError(f"{kind} needs {', '.join(missing)}")


def _service_row(s: inventory_pb2.Service) -> tuple[int | str | bytes, ...]:
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
        s.SerializeToString(),
    )


def _order_row(o: ordering_pb2.ServiceOrder) -> tuple[int | str | bytes, ...]:
    return (
        int(o.state),
        o.external_id,
        field_key(o, "order_date"),
        field_key(o, "completion_date"),
        field_key(o, "expected_completion_date"),
        field_key(o, "start_date"),
        o.SerializeToString(),
    )


@dataclass(frozen=True)
class _Counted(Generic[M]):
    """A table whose rows are counted in row_counts and keep side tables: services, orders."""

    table: str
    kind: str  # what a row is, for errors ("a service")
    columns: str  # the columns of `row`, the body last
    parse: Callable[[bytes], M]
    row: Callable[[M], tuple[int | str | bytes, ...]]
    count_key: Callable[[M], tuple[int, str]]  # the row_counts key: (state, configuration @type)
    sides: tuple[Side[M], ...]


_SERVICES = _Counted(
    "services",
    "a service",
    _SERVICE_COLUMNS,
    inventory_pb2.Service.FromString,
    _service_row,
    lambda s: (int(s.state), s.service_configuration.type),
    SERVICE_SIDES,
)
_ORDERS = _Counted(
    "orders",
    "an order",
    _ORDER_COLUMNS,
    ordering_pb2.ServiceOrder.FromString,
    _order_row,
    lambda o: (int(o.state), ""),  # orders are counted by state only
    ORDER_SIDES,
)


class SqlTx(SftTxMixin, PmTxMixin, NetworkTxMixin, AlarmTxMixin, LeaseTx):
    """Synchronous access to the store inside one write transaction (implements `Tx`)."""

    def __init__(self, conn: Conn, dialect: Dialect = SQLITE) -> None:
        self._conn: Conn | None = conn
        self._dialect = dialect
        # Events and measurement batches appended by this write, published after the commit.
        self.appended: list[tuple[str, Committed]] = []
        self._next_ids: dict[str, int] = {}  # SQLite: the next seq of a table this write appends to
        self._read: dict[tuple[str, str, str], bytes | None] = {}  # see _row
        # The W3C trace (traceparent, tracestate) of the work that submitted this write, recorded
        # with each event it appends (Store.write sets it); None: no trace was current.
        self.trace: tuple[str, str] | None = None

    def close(self) -> None:
        """Make further use fail: a Tx must not outlive its write function."""
        self._conn = None

    def _next_id(self, table: str, *, log: bool) -> int:
        """The seq of the next row this write appends to `table` (a log if `log`). SQLite has
        one writer, so it is read once per write and then counted here, which saves a
        statement per row; PostgreSQL takes each from the dialect (a counter row lock for a
        log, a sequence otherwise)."""
        dialect = self._dialect
        if not dialect.one_writer:
            return dialect.next_seq(self._c, table) if log else dialect.next_row_id(self._c, table)
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

    def delete_service(self, buyer_id: str, service_id: str) -> None:
        old = self._row(_SERVICES, buyer_id, service_id)
        if old is None:
            return
        self._count("services", buyer_id, _SERVICES.count_key(old), -1)
        for side in SERVICE_SIDES:
            side.delete(self._c, buyer_id, service_id)
        self._c.execute("DELETE FROM services WHERE buyer_id = ? AND id = ?", (buyer_id, service_id))
        self._read[("services", buyer_id, service_id)] = None

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

    def _put_counted(self, t: _Counted[M], new: M, buyer_id: str, row_id: str) -> None:
        """Write the row, move its row count if its count key changed, and rewrite the side
        rows that changed."""
        _require(t.kind, buyer_id=buyer_id, id=row_id)
        old = self._row(t, buyer_id, row_id)
        self._write_row(t.table, t.columns, buyer_id, row_id, t.row(new), replacing=old is not None)
        counted = t.count_key(new)
        if old is None or t.count_key(old) != counted:  # an unchanged count key moves by 0
            if old is not None:
                self._count(t.table, buyer_id, t.count_key(old), -1)
            self._count(t.table, buyer_id, counted, +1)
        for side in t.sides:
            side.rewrite(self._c, old, new, buyer_id, row_id)

    def _write_row(
        self,
        table: str,
        columns: str,
        buyer_id: str,
        row_id: str,
        row: tuple[int | str | bytes, ...],
        *,
        replacing: bool,
    ) -> None:
        """Insert the row (`row` holds `columns`, the body last), or update the one it replaces."""
        if replacing:
            assignments = ", ".join(f"{col.strip()} = ?" for col in columns.split(","))
            sql = f"UPDATE {table} SET {assignments} WHERE buyer_id = ? AND id = ?"
            self._c.execute(sql, (*row, buyer_id, row_id))
        else:
            marks = ", ".join("?" for _ in range(len(row) + 2))
            self._c.execute(
                f"INSERT INTO {table} (buyer_id, id, {columns}) VALUES ({marks})", (buyer_id, row_id, *row)
            )
        body = row[-1]
        assert isinstance(body, bytes)
        self._read[(table, buyer_id, row_id)] = body

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

    def put_order(self, order: ordering_pb2.ServiceOrder) -> None:
        self._put_counted(_ORDERS, order, order.buyer_id, order.id)

    def add_tracking(self, buyer_id: str, record: ordering_pb2.ServiceTrackingRecord) -> None:
        _require("a tracking record", buyer_id=buyer_id)
        seq = self._next_id("tracking", log=False)
        if not record.id:
            record.id = str(seq)
        self._c.execute(
            "INSERT INTO tracking (seq, buyer_id, service_id, service_order_id, time, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                seq,
                buyer_id,
                record.service_id,
                record.service_order_id,
                field_key(record, "time"),
                record.SerializeToString(),
            ),
        )

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
        self._c.execute(
            "INSERT INTO events (seq, buyer_id, event_type, resource_id, event_time, body, "
            "traceparent, tracestate) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

    # -- hub registrations --------------------------------------------------

    def last_event_seq(self) -> int:
        return self._dialect.last_seq(self._c, EVENT_LOG)

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
