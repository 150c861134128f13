"""Hub registrations in the SQLite store: stored whole, updated in place, and holding retention."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.store.interface.store import HubSubscription
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore

SUB = HubSubscription(
    id="hub-1",
    buyer_id="sp-alpha",
    api="serviceOrdering",
    callback="http://listener.example/cb",
    query="eventType=serviceOrderStateChangeEvent",
    event_types=(events_pb2.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE,),
    base_url="http://127.0.0.1:8080",
    secret="s",
    authorization="Bearer t",
    cursor=0,
    created="2026-01-01T00:00:00Z",
)


def _append(n: int) -> Callable[[SqlTx], int]:
    def fn(tx: SqlTx) -> int:
        for i in range(n):
            event = events_pb2.Event(event_id=f"e{i}", event_type=events_pb2.EVENT_TYPE_SERVICE_ORDER_CREATE)
            event.event_time.FromSeconds(1_000 + i)
            tx.append_event("sp-alpha", event)
        return tx.last_event_seq()

    return fn


async def test_a_registration_round_trips_and_is_scoped_to_its_buyer(store: SqliteStore) -> None:
    await store.write(lambda tx: tx.put_hub_subscription(SUB))
    assert await store.get_hub_subscription("sp-alpha", "hub-1") == SUB
    assert await store.get_hub_subscription("sp-beta", "hub-1") is None
    assert await store.write(lambda tx: tx.update_hub_delivery("hub-1", 7, "deadLettered", 3, "HTTP 500"))
    assert await store.list_hub_subscriptions() == [
        dataclasses.replace(SUB, cursor=7, state="deadLettered", attempts=3, last_error="HTTP 500")
    ]
    assert not await store.write(lambda tx: tx.delete_hub_subscription("sp-beta", "hub-1"))
    assert await store.write(lambda tx: tx.delete_hub_subscription("sp-alpha", "hub-1"))
    assert not await store.write(lambda tx: tx.update_hub_delivery("hub-1", 8, "active", 0, ""))
    assert await store.list_hub_subscriptions() == []


async def test_retention_keeps_what_an_active_registration_has_not_delivered(store: SqliteStore) -> None:
    last = await store.write(_append(10))
    await store.write(lambda tx: tx.put_hub_subscription(dataclasses.replace(SUB, cursor=4)))
    future = timestamp_pb2.Timestamp(seconds=10**9)
    assert await store.write(lambda tx: tx.prune_events(future, 1)) == 4  # only what was delivered
    assert (await store.event_log_state()).pruned_through_seq == 4
    await store.write(lambda tx: tx.update_hub_delivery("hub-1", 4, "deadLettered", 10, "gone"))
    assert (
        await store.write(lambda tx: tx.prune_events(future, 1)) == last - 4
    )  # released: everything old enough goes
