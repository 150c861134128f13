"""SQL for filtered, keyset-paged reads.

A read is a WHERE clause built from the contract's filter message, plus a sort
order whose columns form the keyset. A page fetches `limit + 1` rows strictly
after the previous page's last key, so its cost is an index seek plus the page,
never a skip over earlier rows (no OFFSET).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    common_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.core.keys import timestamp_key
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.store import IdempotencyRecord
from interlude_server.store.sql.dialect import SQLITE, Conn, Dialect

Item = TypeVar("Item")
Key = tuple[str | int | float, ...]


@dataclass(frozen=True)
class Ordering:
    """A sort order: its key columns (the last one unique) and their direction."""

    columns: tuple[str, ...]
    descending: bool = False
    # The Python type of each key column, to validate a page's `after` key.
    kinds: tuple[type, ...] = ()

    def key_kinds(self) -> tuple[type, ...]:
        return self.kinds or tuple(str for _ in self.columns)


SERVICE_ORDERINGS: dict[str, Ordering] = {
    "": Ordering(("id",)),
    "id": Ordering(("id",)),
    "service_date": Ordering(("service_date", "id")),
    "service_date desc": Ordering(("service_date", "id"), descending=True),
    "update_time": Ordering(("update_time", "id")),
    "update_time desc": Ordering(("update_time", "id"), descending=True),
}
ORDER_ORDERING = Ordering(("order_date", "id"), descending=True)
TRACKING_ORDERING = Ordering(("seq",), kinds=(int,))
SPECIFICATION_ORDERING = Ordering(("id",))
POLICY_ORDERING = Ordering(("spec_id",))
# The MEF place `@type`s the geographic site and address filters look for (store.sql.sides).
SITE_REF, ADDRESS_REF = "GeographicSiteRef", "GeographicAddressRef"


@dataclass(frozen=True)
class InSubquery:
    """`column IN (select)`: membership in a side table, e.g. services with a contact name."""

    column: str  # the outer column, e.g. "id"
    select: str  # selects `key` from the side table
    key: str  # the side table's column that holds values of `column`
    params: tuple[object, ...]


@dataclass
class Where:
    """AND-ed SQL conditions with their parameters."""

    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    subqueries: list[InSubquery] = field(default_factory=list)

    @classmethod
    def of_buyer(cls, buyer_id: str) -> Where:
        """The rows of one buyer: where every per-buyer filter starts."""
        w = cls()
        w.add("buyer_id = ?", buyer_id)
        return w

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, column: str, value: str) -> None:
        """`column` equals `value` (no condition when `value` is '', i.e. not given)."""
        if value:
            self.add(f"{column} = ?", value)

    def member_of(self, column: str, select: str, key: str, *params: object) -> None:
        self.subqueries.append(InSubquery(column, select, key, params))

    def in_side(self, table: str, key: str, buyer_id: str, **match: str) -> None:
        """`id` is the `key` of one of the buyer's rows of side table `table` whose columns
        equal `match`: e.g. services with a contact of that name."""
        conditions = "".join(f" AND {column} = ?" for column in match)
        select = f"SELECT {key} FROM {table} WHERE buyer_id = ?{conditions}"
        self.member_of("id", select, key, buyer_id, *match.values())

    def any_of(self, column: str, values: Sequence[object]) -> None:
        """`column` equals any of `values` (no condition when `values` is empty)."""
        if len(values) == 1:
            self.add(f"{column} = ?", values[0])
        elif values:
            self.add(f"{column} IN ({', '.join('?' for _ in values)})", *values)

    def time_range(self, column: str, rng: common_pb2.TimeRange) -> None:
        """Exclusive bounds; an unset value ('') never satisfies a bound."""
        if rng.HasField("after"):
            self.add(f"{column} > ?", timestamp_key(rng.after))
        if rng.HasField("before"):
            self.add(f"{column} <> '' AND {column} < ?", timestamp_key(rng.before))

    def render(self, seek: tuple[str, str, object] | None = None) -> tuple[str, list[object]]:
        """SQL and parameters; `seek` = (column, operator, value) narrows side tables on that column."""
        clauses, params = list(self.clauses), list(self.params)
        for sub in self.subqueries:
            select, sub_params = sub.select, list(sub.params)
            if seek is not None and seek[0] == sub.column:
                select += f" AND {sub.key} {seek[1]} ?"
                sub_params.append(seek[2])
            clauses.append(f"{sub.column} IN ({select})")
            params.extend(sub_params)
        return (" AND ".join(clauses) if clauses else "1 = 1"), params


def states(values: Sequence[int]) -> list[int]:
    """Enum states to match; UNSPECIFIED (0) in a state filter means any state."""
    return [] if 0 in values else [int(v) for v in values]


def service_where(buyer_id: str, f: inventory_pb2.ServiceFilter) -> Where:
    """Every ServiceFilter field, AND across fields, ANY within repeated ones."""
    w = Where.of_buyer(buyer_id)
    w.any_of("state", states(f.state))
    w.any_of("config_type", list(f.service_configuration_type))
    w.equal("service_type", f.service_type)
    w.equal("external_id", f.external_id)
    w.any_of("admin_state", [int(v) for v in f.administrative_state])
    w.any_of("oper_state", [int(v) for v in f.operational_state])
    w.time_range("service_date", f.service_date)
    w.time_range("start_date", f.start_date)
    w.time_range("end_date", f.end_date)
    if f.related_contact_name:
        w.in_side("service_contacts", "service_id", buyer_id, name=f.related_contact_name)
    if f.service_order_item_id and not f.service_order_id:
        raise ValueError("service_order_item_id requires service_order_id")
    if f.service_order_id:
        item = {"item_id": f.service_order_item_id} if f.service_order_item_id else {}
        w.in_side("service_order_refs", "service_id", buyer_id, order_id=f.service_order_id, **item)
    if f.related_service_id:
        w.in_side("service_relations", "service_id", buyer_id, related_id=f.related_service_id)
    w.any_of("start_mode", [int(v) for v in f.start_mode])
    for place_type, place_id in (
        (SITE_REF, f.geographic_site_id),
        (ADDRESS_REF, f.geographic_address_id),
    ):
        if place_id:
            w.in_side("service_places", "service_id", buyer_id, place_type=place_type, place_id=place_id)
    return w


def order_where(buyer_id: str, f: ordering_pb2.ServiceOrderFilter) -> Where:
    w = Where.of_buyer(buyer_id)
    w.any_of("state", states(f.state))
    w.time_range("order_date", f.order_date)
    w.time_range("completion_date", f.completion_date)
    w.time_range("expected_completion_date", f.expected_completion_date)
    w.time_range("start_date", f.start_date)
    w.equal("external_id", f.external_id)
    if f.service_id:
        w.in_side("order_services", "order_id", buyer_id, service_id=f.service_id)
    return w


def tracking_where(buyer_id: str, f: ordering_pb2.ServiceTrackingRecordFilter) -> Where:
    w = Where.of_buyer(buyer_id)
    w.equal("service_id", f.service_id)
    w.equal("service_order_id", f.service_order_id)
    w.time_range("time", f.time)
    return w


def specification_where(f: catalog_pb2.ServiceSpecificationFilter) -> Where:
    w = Where()
    w.equal("category", f.category)
    w.any_of("lifecycle_status", states(f.lifecycle_status))
    w.any_of("config_type", list(f.service_configuration_type))
    return w


def policy_where(buyer_id: str, f: catalog_pb2.ServicePolicyFilter) -> Where:
    w = Where.of_buyer(buyer_id)
    w.any_of("config_type", list(f.service_configuration_type))
    return w


@dataclass(frozen=True)
class Counted:
    """A filter whose total the row_counts table answers: states and @types ([] = any)."""

    states: list[int]
    config_types: list[str]


def counted(f: inventory_pb2.ServiceFilter | ordering_pb2.ServiceOrderFilter) -> Counted | None:
    """`f` as a Counted when it filters by nothing but state and configuration @type, else None."""
    if any(fd.name not in ("state", "service_configuration_type") for fd, _ in f.ListFields()):
        return None
    types = list(f.service_configuration_type) if isinstance(f, inventory_pb2.ServiceFilter) else []
    return Counted(states(list(f.state)), types)


def counted_total(conn: Conn, table: str, buyer_id: str, c: Counted) -> int:
    """O(1) total (a sum over a few rows per buyer) from row_counts, kept by every put and delete."""
    w = Where()
    w.add("tbl = ?", table)
    w.add("buyer_id = ?", buyer_id)
    w.any_of("state", c.states)
    w.any_of("config_type", c.config_types)
    sql, params = w.render()
    row = conn.execute(f"SELECT COALESCE(SUM(n), 0) FROM row_counts WHERE {sql}", params).fetchone()
    return int(row[0])


def _check_after(ordering: Ordering, after: Key) -> None:
    kinds = ordering.key_kinds()
    if not isinstance(after, tuple) or len(after) != len(kinds):
        raise ValueError("page key does not match the sort order")
    for value, kind in zip(after, kinds, strict=True):
        if type(value) is not kind:
            raise ValueError("page key does not match the sort order")


def _rows_after(
    conn: Conn, table: str, where: Where, ordering: Ordering, after: Key | None, limit: int, dialect: Dialect
) -> list[Any]:
    """At most `limit` rows (body, then the sort key's columns) of `table` under `where`,
    strictly after the key `after` in sort order (see fetch_page for the planner hints)."""
    cols = ordering.columns
    op = "<" if ordering.descending else ">"
    plus = "+" if where.subqueries and dialect.planner_hints else ""
    keyset: list[str] = []
    key_params: list[object] = []
    seek: tuple[str, str, object] | None = None
    if after is not None:
        _check_after(ordering, after)
        if len(cols) == 1:
            keyset.append(f"{plus}{cols[0]} {op} ?")
            seek = (cols[0], op, after[0])
        else:
            lhs = ", ".join(f"{plus}{c}" for c in cols)
            keyset.append(f"({lhs}) {op} ({', '.join('?' for _ in cols)})")
        key_params.extend(after)
    condition, params = where.render(seek)
    sort_plus = plus if len(cols) > 1 else ""
    direction = " DESC" if ordering.descending else ""
    order = ", ".join(f"{sort_plus}{c}{direction}" for c in cols)
    return list(
        conn.execute(
            f"SELECT body, {', '.join(cols)} FROM {table} WHERE {' AND '.join([condition, *keyset])} "
            f"ORDER BY {order} LIMIT ?",
            [*params, *key_params, limit],
        ).fetchall()
    )


def fetch_page(
    conn: Conn,
    table: str,
    where: Where,
    ordering: Ordering,
    page: PageRequest,
    parse: Callable[[bytes], Item],
    total: int | None = None,
    dialect: Dialect = SQLITE,
) -> Page[Item]:
    """One keyset page of `table` under `where`; counts the matches unless `total` is given.

    With side-table filters the page is driven by the side table's index (its
    matches are probed by primary key) rather than by scanning the main table in
    sort order: a unary `+` keeps SQLite from using the sort index for the
    keyset. For the single-column order the keyset also narrows the side table.
    PostgreSQL's planner needs no such hint (and has no unary `+` for text).
    """
    if page.limit < 1:
        raise ValueError("page limit must be at least 1")
    rows = _rows_after(conn, table, where, ordering, page.after, page.limit + 1, dialect)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    if total is None:
        condition, params = where.render()
        total = int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {condition}", params).fetchone()[0])
    last_key: Key | None = tuple(rows[-1][1:]) if more else None
    return Page(items=[parse(r[0]) for r in rows], total=total, last_key=last_key)


SCAN_CHUNK = 200


def scan_page(
    conn: Conn,
    table: str,
    where: Where,
    ordering: Ordering,
    page: PageRequest,
    parse: Callable[[bytes], Item],
    keep: Callable[[Item], bool],
    scan_limit: int,
    dialect: Dialect = SQLITE,
) -> Page[Item]:
    """A keyset page of the rows under `where` that `keep` also accepts (a predicate SQL
    cannot say), examining at most `scan_limit` rows in sort order. The page ends at
    `page.limit` kept items or at the limit of the scan, so it may be short, even empty,
    with a `last_key` to go on from; `last_key` is None once no row is left. Matches are
    not counted (`total` is -1)."""
    if page.limit < 1 or scan_limit < 1:
        raise ValueError("page and scan limits must be at least 1")
    items: list[Item] = []
    after, scanned = page.after, 0
    while True:
        chunk = min(SCAN_CHUNK, scan_limit - scanned)
        rows = _rows_after(conn, table, where, ordering, after, chunk + 1, dialect)
        for index, row in enumerate(rows[:chunk]):
            after, scanned = tuple(row[1:]), scanned + 1
            item = parse(row[0])
            if keep(item):
                items.append(item)
            if len(items) == page.limit:
                more = index + 1 < len(rows)
                return Page(items=items, total=-1, last_key=after if more else None)
        if len(rows) <= chunk:
            return Page(items=items, total=-1, last_key=None)
        if scanned >= scan_limit:
            return Page(items=items, total=-1, last_key=after)


def idempotency_record(conn: Conn, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
    """The record of (buyer, request_id), read by the write (under its lock) and by the
    read-path pre-check alike."""
    row = conn.execute(
        "SELECT method, fingerprint, response FROM idempotency WHERE buyer_id = ? AND request_id = ?",
        (buyer_id, request_id),
    ).fetchone()
    if row is None:
        return None
    return IdempotencyRecord(method=row[0], fingerprint=row[1], response=bytes(row[2]))
