"""The side rows a service or an order keeps beside its body, for filters, and how a put
rewrites only the ones that changed.

A modify order's write replaces a service whose contacts and relationships are the same
and whose order references gained one; deleting and re-inserting every side row cost
six statements per put, each a GIL hand-off on the writer thread. A put now compares the
side rows of the body it replaces with those of the new one: nothing changed, no
statement; rows only added, one insert; a row gone, the old delete-then-insert.

A service's order references grow with its history (each order item that changed it is
listed, for good), and building the rows of both lists cost about 1 µs per reference per
put, in Python (946 µs at 1,000). Fulfilment only ever appends to that list, so its side
first asks whether the new list is the old one plus some at the end: the two bodies are
read as lists of serialized references (in C; 66 µs at 1,000) and only the appended ones
are parsed into rows. Any other change takes the general way, so the result is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from interlude_server.store.sql.dialect import Conn

M = TypeVar("M")
Row = tuple[str, ...]
# The rows a put added to the side, from the bodies it replaces and writes (old, new), its
# buyer and owner id; None: the put did not only add at the end of the list the rows come from.
Appended = Callable[[bytes, bytes, str, str], frozenset[Row] | None]


@dataclass(frozen=True)
class Side(Generic[M]):
    """One side table: its rows for a message, each (buyer_id, ..., owner id) in insert order."""

    table: str
    owner: str  # the column holding the service or order id
    columns: tuple[str, ...]  # every column, buyer_id first
    rows: Callable[[M], frozenset[Row]]
    appended: Appended | None = None  # for rows from a list that puts append to

    def delete(self, conn: Conn, buyer_id: str, owner_id: str) -> None:
        sql = f"DELETE FROM {self.table} WHERE buyer_id = ? AND {self.owner} = ?"
        conn.execute(sql, (buyer_id, owner_id))

    def insert(self, conn: Conn, rows: frozenset[Row]) -> None:
        if rows:
            columns, marks = ", ".join(self.columns), ", ".join("?" for _ in self.columns)
            sql = f"INSERT INTO {self.table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            conn.executemany(sql, sorted(rows))

    def rewrite(
        self,
        conn: Conn,
        old: M | None,
        new: M,
        buyer_id: str,
        owner_id: str,
        bodies: tuple[bytes, bytes] | None = None,
    ) -> None:
        """Make the table hold `new`'s rows where it held `old`'s (None: the owner is new);
        `bodies`: the two serialized, (old, new), for `appended`."""
        if old is not None and bodies is not None and self.appended is not None:
            added = self.appended(*bodies, buyer_id, owner_id)
            if added is not None:
                self.insert(conn, added)
                return
        rows = self.rows(new)
        before = frozenset() if old is None else self.rows(old)
        if before - rows:  # a row went: rewrite them all
            self.delete(conn, buyer_id, owner_id)
            before = frozenset()
        self.insert(conn, rows - before)


def _raw_list(message: type[Message], field: str) -> Callable[[bytes], Sequence[bytes]]:
    """What reads `message`'s repeated message `field` from a serialized `message` as
    serialized items (through a type with the same field number as bytes: a nested message
    and bytes share their wire form), leaving every other field unparsed: for comparing two
    bodies' lists in C."""
    number = message.DESCRIPTOR.fields_by_name[field].number
    name = f"{message.__name__}{field.title().replace('_', '')}Raw"
    file = descriptor_pb2.FileDescriptorProto(
        name=f"interlude_server/store/{name}.proto", package="interlude_server.store", syntax="proto3"
    )
    view = file.message_type.add(name=name)
    view.field.add(
        name=field,
        number=number,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    )
    pool = descriptor_pool.DescriptorPool()  # its own: nothing of the contract's pool changes
    pool.Add(file)
    view_type = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"interlude_server.store.{name}"))

    def items(body: bytes) -> Sequence[bytes]:
        items: Sequence[bytes] = getattr(view_type.FromString(body), field)
        return items

    return items


_service_order_refs = _raw_list(inventory_pb2.Service, "service_order_item")


def _order_refs_appended(old: bytes, new: bytes, buyer_id: str, service_id: str) -> frozenset[Row] | None:
    """The order-reference rows of the references `new` lists after all of `old`'s, if its
    list starts with exactly those (byte for byte); None otherwise."""
    before, after = _service_order_refs(old), _service_order_refs(new)
    kept = len(before)
    if len(after) < kept or list(after[:kept]) != list(before[:]):
        return None
    refs = (inventory_pb2.ServiceOrderItemRef.FromString(raw) for raw in after[kept:])
    return frozenset(
        (buyer_id, ref.service_order_id, ref.item_id, service_id) for ref in refs if ref.service_order_id
    )


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
        _order_refs_appended,
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
