"""A service's side rows of order references (what `filter.service_order_id` reads) always
hold exactly the references its body lists, however a put changes the list: appended at the
end (the way fulfilment changes it, taken without building the rows of the whole list) or
changed anywhere else (the rows are rewritten)."""

from __future__ import annotations

import pytest

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.sides import _order_refs_appended
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service
from tests.store.conftest import query

Refs = list[tuple[str, str]]  # (order id, item id)


def _with_refs(refs: Refs) -> inventory_pb2.Service:
    s = service("s1")
    for order_id, item_id in refs:
        s.service_order_item.add(service_order_id=order_id, item_id=item_id)
    return s


def _body(refs: Refs) -> bytes:
    return _with_refs(refs).SerializeToString()


def test_an_append_gives_the_appended_rows_and_anything_else_none() -> None:
    old = [("o1", "1"), ("o2", "1")]
    appended = _order_refs_appended(_body(old), _body([*old, ("o3", "2"), ("", "9")]), BUYER, "s1")
    assert appended == frozenset({(BUYER, "o3", "2", "s1")})  # a reference without an order has no row
    assert _order_refs_appended(_body(old), _body(old), BUYER, "s1") == frozenset()
    assert _order_refs_appended(_body([]), _body(old), BUYER, "s1") == frozenset(
        {(BUYER, "o1", "1", "s1"), (BUYER, "o2", "1", "s1")}
    )
    for changed in ([("o1", "1")], [("o2", "1"), ("o1", "1")], [("o1", "1"), ("o2", "2"), ("o3", "1")], []):
        assert _order_refs_appended(_body(old), _body(changed), BUYER, "s1") is None


@pytest.mark.parametrize(
    "steps",
    [
        # appended one, then two, then one the list already had, then one without an order
        [
            [("o1", "1")],
            [("o1", "1"), ("o2", "1")],
            [("o1", "1"), ("o2", "1"), ("o3", "1"), ("o3", "2")],
            [("o1", "1"), ("o2", "1"), ("o3", "1"), ("o3", "2"), ("o1", "1")],
            [("o1", "1"), ("o2", "1"), ("o3", "1"), ("o3", "2"), ("o1", "1"), ("", "7")],
        ],
        # changed in the middle, shortened, emptied, and grown again
        [
            [("o1", "1"), ("o2", "1"), ("o3", "1")],
            [("o1", "1"), ("o9", "1"), ("o3", "1")],
            [("o1", "1")],
            [],
            [("o4", "1")],
        ],
    ],
    ids=["appended", "changed"],
)
async def test_the_side_rows_follow_the_body(store: SqliteStore | PgStore, steps: list[Refs]) -> None:
    for refs in steps:
        await store.write(putter(_with_refs(refs)))
        rows = query(
            store, "SELECT buyer_id, order_id, item_id FROM service_order_refs WHERE service_id = 's1'"
        )
        assert sorted(rows) == sorted({(BUYER, o, i) for o, i in refs if o})
