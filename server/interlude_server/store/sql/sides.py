"""The side rows a service or an order keeps beside its body, for filters, and how a put
rewrites only the ones that changed.

A modify order's write replaces a service whose contacts and relationships are the same
and whose order references gained one; deleting and re-inserting every side row cost
six statements per put, each a GIL hand-off on the writer thread. A put now compares the
side rows of the body it replaces with those of the new one: nothing changed, no
statement; rows only added, one insert; a row gone, the old delete-then-insert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from interlude_server.store.sql.dialect import Conn

M = TypeVar("M")
Row = tuple[str, ...]


@dataclass(frozen=True)
class Side(Generic[M]):
    """One side table: its rows for a message, each (buyer_id, ..., owner id) in insert order."""

    table: str
    owner: str  # the column holding the service or order id
    columns: tuple[str, ...]  # every column, buyer_id first
    rows: Callable[[M], frozenset[Row]]

    def delete(self, conn: Conn, buyer_id: str, owner_id: str) -> None:
        sql = f"DELETE FROM {self.table} WHERE buyer_id = ? AND {self.owner} = ?"
        conn.execute(sql, (buyer_id, owner_id))

    def insert(self, conn: Conn, rows: frozenset[Row]) -> None:
        if rows:
            columns, marks = ", ".join(self.columns), ", ".join("?" for _ in self.columns)
            sql = f"INSERT INTO {self.table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            conn.executemany(sql, sorted(rows))

    def rewrite(self, conn: Conn, old: M | None, new: M, buyer_id: str, owner_id: str) -> None:
        """Make the table hold `new`'s rows where it held `old`'s (None: the owner is new)."""
        rows = self.rows(new)
        before = frozenset() if old is None else self.rows(old)
        if before - rows:  # a row went: rewrite them all
            self.delete(conn, buyer_id, owner_id)
            before = frozenset()
        self.insert(conn, rows - before)


SERVICE_SIDES: tuple[Side[inventory_pb2.Service], ...] = (
    Side(
        "service_contacts",
        "service_id",
        ("buyer_id", "name", "service_id"),
        lambda s: frozenset((s.buyer_id, ci.name, s.id) for ci in s.related_contact_information if ci.name),
    ),
    Side(
        "service_order_refs",
        "service_id",
        ("buyer_id", "order_id", "item_id", "service_id"),
        lambda s: frozenset(
            (s.buyer_id, ref.service_order_id, ref.item_id, s.id)
            for ref in s.service_order_item
            if ref.service_order_id
        ),
    ),
    Side(
        "service_relations",
        "service_id",
        ("buyer_id", "related_id", "service_id"),
        lambda s: frozenset(
            (s.buyer_id, rel.service.id, s.id) for rel in s.service_relationship if rel.service.id
        ),
    ),
    # Places that reference a site or an address by id, under their MEF `@type`.
    Side(
        "service_places",
        "service_id",
        ("buyer_id", "place_type", "place_id", "service_id"),
        lambda s: frozenset((s.buyer_id, p.type, p.id, s.id) for p in s.place if p.type and p.id),
    ),
)

ORDER_SIDES: tuple[Side[ordering_pb2.ServiceOrder], ...] = (
    Side(
        "order_services",
        "order_id",
        ("buyer_id", "service_id", "order_id"),
        lambda o: frozenset((o.buyer_id, i.service.id, o.id) for i in o.service_order_item if i.service.id),
    ),
)
