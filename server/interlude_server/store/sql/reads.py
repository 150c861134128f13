"""The reads every SQL store shares (SQLite and PostgreSQL run the same queries).

Mixed into SqliteStore and PgStore, whose `_read` runs a function on a reader
connection in one read transaction (a page and its total agree); `_dialect`
holds the few differences between the engines (store/sql/dialect.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.core.keys import key_timestamp, timestamp_key
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.store import (
    EventLogState,
    HubSubscription,
    IdempotencyRecord,
    OrderKey,
    ServiceQuery,
    TracedEvent,
)
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.alarms.reads import AlarmReadsMixin
from interlude_server.store.sql.cache import CatalogKey
from interlude_server.store.sql.dialect import EVENT_LOG, Conn
from interlude_server.store.sql.hub import SELECT_HUB, hub_from_row
from interlude_server.store.sql.migrations import TERMINAL_ORDER_STATES
from interlude_server.store.sql.performance.reads import PmReadsMixin
from interlude_server.store.sql.sft.reads import SftReadsMixin
from interlude_server.store.sql.sft.schema import TERMINAL_JOB_SQL

T = TypeVar("T")
_TERMINAL = ", ".join(str(s) for s in TERMINAL_ORDER_STATES)


class StoreReads(SftReadsMixin, PmReadsMixin, AlarmReadsMixin):
    """Inventory, ordering, catalog, event log and hub reads over `_read`."""

    # -- the event log ------------------------------------------------------

    async def event_log_state(self) -> EventLogState:
        def read(conn: Conn) -> EventLogState:
            log_id, pruned_seq, pruned_time = conn.execute(
                "SELECT log_id, pruned_through_seq, pruned_through_time FROM event_log WHERE id = 1"
            ).fetchone()
            # The highest sequence ever used, even once retention deleted it.
            last = self._dialect.last_seq(conn, EVENT_LOG)
            pruned_at = key_timestamp(str(pruned_time))
            return EventLogState(str(log_id), last, int(pruned_seq), pruned_at)

        return await self._read(read)

    async def read_events(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[events_pb2.Event]:
        rows = await self.read_event_bodies(buyer_id, after_seq, up_to_seq, limit)
        return [events_pb2.Event.FromString(body) for _, body in rows]

    async def read_traced_events(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[TracedEvent]:
        def read(conn: Conn) -> list[TracedEvent]:
            rows = conn.execute(
                "SELECT body, traceparent, tracestate FROM events "
                "WHERE buyer_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (buyer_id, after_seq, up_to_seq, limit),
            ).fetchall()
            return [
                TracedEvent(events_pb2.Event.FromString(bytes(body)), parent or "", state or "")
                for body, parent, state in rows
            ]

        return await self._read(read)

    async def resource_trace(self, buyer_id: str, resource_id: str) -> tuple[str, str] | None:
        def read(conn: Conn) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT traceparent, tracestate FROM events WHERE buyer_id = ? AND resource_id = ? "
                "AND traceparent IS NOT NULL ORDER BY seq DESC LIMIT 1",
                (buyer_id, resource_id),
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1] or ""))

        return await self._read(read)

    async def read_event_bodies(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[tuple[int, bytes]]:
        def read(conn: Conn) -> list[tuple[int, bytes]]:
            rows = conn.execute(
                "SELECT seq, body FROM events WHERE buyer_id = ? AND seq > ? AND seq <= ? "
                "ORDER BY seq LIMIT ?",
                (buyer_id, after_seq, up_to_seq, limit),
            ).fetchall()
            return [(int(seq), bytes(body)) for seq, body in rows]

        return await self._read(read)

    async def seq_before(self, time: timestamp_pb2.Timestamp) -> int:
        key = timestamp_key(time)

        def read(conn: Conn) -> int:
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE event_time < ?", (key,)
            ).fetchone()
            return int(seq)

        return await self._read(read)

    # -- idempotency ----------------------------------------------------------

    async def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
        return await self._read(lambda conn: q.idempotency_record(conn, buyer_id, request_id))

    # -- hub registrations --------------------------------------------------

    async def get_hub_subscription(self, buyer_id: str, sub_id: str) -> HubSubscription | None:
        def read(conn: Conn) -> HubSubscription | None:
            row = conn.execute(f"{SELECT_HUB} WHERE buyer_id = ? AND id = ?", (buyer_id, sub_id)).fetchone()
            return None if row is None else hub_from_row(row)

        return await self._read(read)

    async def list_hub_subscriptions(self) -> list[HubSubscription]:
        def read(conn: Conn) -> list[HubSubscription]:
            return [hub_from_row(r) for r in conn.execute(f"{SELECT_HUB} ORDER BY created, id").fetchall()]

        return await self._read(read)

    async def get_service(self, buyer_id: str, service_id: str) -> inventory_pb2.Service | None:
        body = await self.get_service_body(buyer_id, service_id)
        return None if body is None else inventory_pb2.Service.FromString(body)

    async def get_service_body(self, buyer_id: str, service_id: str) -> bytes | None:
        return await self._by_id("services", buyer_id, service_id, bytes)

    async def list_services(
        self, buyer_id: str, query: ServiceQuery, page: PageRequest
    ) -> Page[inventory_pb2.Service]:
        ordering = q.SERVICE_ORDERINGS.get(query.order_by)
        if ordering is None:
            raise ValueError(f"unknown order_by {query.order_by!r}")
        where = q.service_where(buyer_id, query.filter)
        parse = inventory_pb2.Service.FromString
        return await self._counted_page(
            "services", buyer_id, where, ordering, page, parse, q.counted(query.filter)
        )

    async def count_services(self) -> int:
        def run(conn: Conn) -> int:
            row = conn.execute("SELECT COALESCE(SUM(n), 0) FROM row_counts WHERE tbl = 'services'").fetchone()
            return int(row[0])

        return await self._read(run)

    async def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        return await self._by_id("orders", buyer_id, order_id, ordering_pb2.ServiceOrder.FromString)

    async def list_orders(
        self, buyer_id: str, query: ordering_pb2.ServiceOrderFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceOrder]:
        where = q.order_where(buyer_id, query)
        parse = ordering_pb2.ServiceOrder.FromString
        return await self._counted_page(
            "orders", buyer_id, where, q.ORDER_ORDERING, page, parse, q.counted(query)
        )

    async def _counted_page(
        self,
        table: str,
        buyer_id: str,
        where: q.Where,
        ordering: q.Ordering,
        page: PageRequest,
        parse: Callable[[bytes], T],
        counted: q.Counted | None,
    ) -> Page[T]:
        """A page of `table`; its total comes from row_counts when the filter is `counted`."""

        def run(conn: Conn) -> Page[T]:
            total = None if counted is None else q.counted_total(conn, table, buyer_id, counted)
            return q.fetch_page(conn, table, where, ordering, page, parse, total, self._dialect)

        return await self._read(run)

    async def unfinished_order_keys(self) -> list[OrderKey]:
        sql = (
            f"SELECT buyer_id, id FROM orders WHERE state NOT IN ({_TERMINAL}) "
            "ORDER BY order_date, buyer_id, id"
        )
        rows = await self._read(lambda conn: conn.execute(sql).fetchall())
        return [OrderKey(str(buyer_id), str(order_id)) for buyer_id, order_id in rows]

    async def work_by_state(self) -> dict[str, dict[int, int]]:
        # Each an index or counter read, never a scan of the bodies: orders from row_counts,
        # PM jobs from pm_jobs_state, unfinished test jobs from the partial test_jobs_active.
        def read(conn: Conn) -> dict[str, dict[int, int]]:
            queries = {
                "orders": "SELECT state, SUM(n) FROM row_counts WHERE tbl = 'orders' GROUP BY state",
                "pm_jobs": "SELECT state, COUNT(*) FROM pm_jobs GROUP BY state",
                "test_jobs": f"SELECT state, COUNT(*) FROM test_jobs WHERE state NOT IN ({TERMINAL_JOB_SQL}) "
                "GROUP BY state",
            }
            return {
                table: {int(state): int(n) for state, n in conn.execute(sql).fetchall() if n}
                for table, sql in queries.items()
            }

        return await self._read(read)

    async def list_tracking(
        self, buyer_id: str, query: ordering_pb2.ServiceTrackingRecordFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceTrackingRecord]:
        where = q.tracking_where(buyer_id, query)
        parse = ordering_pb2.ServiceTrackingRecord.FromString
        return await self._page_of("tracking", where, q.TRACKING_ORDERING, page, parse)

    async def get_specification(self, spec_id: str) -> catalog_pb2.ServiceSpecification | None:
        parse = catalog_pb2.ServiceSpecification.FromString
        return await self._one("SELECT body FROM specifications WHERE id = ?", (spec_id,), parse)

    async def list_specifications(
        self, query: catalog_pb2.ServiceSpecificationFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServiceSpecification]:
        where = q.specification_where(query)
        parse = catalog_pb2.ServiceSpecification.FromString
        return await self._page_of("specifications", where, q.SPECIFICATION_ORDERING, page, parse)

    async def specification_for_type(self, type_urn: str) -> catalog_pb2.ServiceSpecification | None:
        body = await self.catalog_body(("specification", type_urn))
        return None if body is None else catalog_pb2.ServiceSpecification.FromString(body)

    async def get_policy(self, buyer_id: str, spec_id: str) -> catalog_pb2.ServicePolicy | None:
        body = await self.catalog_body(("policy", buyer_id, spec_id))
        return None if body is None else catalog_pb2.ServicePolicy.FromString(body)

    async def catalog_body(self, key: CatalogKey) -> bytes | None:
        """The stored specification of a configuration type (the first by id), or a buyer's
        policy for a specification: ("specification", type_urn) or ("policy", buyer_id,
        spec_id). One statement by key, so a point read (no reader hop, no page total):
        every order looks its types up."""
        if key[0] == "specification":
            sql = "SELECT body FROM specifications WHERE config_type = ? ORDER BY id LIMIT 1"
        else:
            sql = "SELECT body FROM policies WHERE buyer_id = ? AND spec_id = ?"
        return await self._one(sql, key[1:], bytes)

    async def list_policies(
        self, buyer_id: str, query: catalog_pb2.ServicePolicyFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServicePolicy]:
        where = q.policy_where(buyer_id, query)
        parse = catalog_pb2.ServicePolicy.FromString
        return await self._page_of("policies", where, q.POLICY_ORDERING, page, parse)
