"""Each event is recorded with the W3C trace of the work that wrote it (migration step 7), on
both engines: what a hub delivery, perhaps by another process, reads back to carry it on."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.observability import tracing
from interlude_server.store.interface.store import TracedEvent
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _event(event_id: str, resource_id: str) -> events_pb2.Event:
    return events_pb2.Event(event_id=event_id, resource=events_pb2.ResourceRef(id=resource_id))


async def test_an_event_carries_the_trace_current_where_the_write_was_submitted(
    store: SqliteStore | PgStore,
) -> None:
    untraced = await store.write(lambda tx: tx.append_event(BUYER, _event("e0", "ord-1")))
    first = tracing.Trace(TRACE_ID, "00f067aa0ba902b7", "01", "rojo=1")
    tracing.use(first)
    traced = await store.write(lambda tx: tx.append_event(BUYER, _event("e1", "ord-1")))
    second = tracing.Trace(TRACE_ID, "b7ad6b7169203331")
    tracing.use(second)
    later = await store.write(lambda tx: tx.append_event(BUYER, _event("e2", "ord-1")))
    await store.write(lambda tx: tx.append_event(BUYER, _event("e3", "ord-2")))
    tracing.use(None)

    items = await store.read_traced_events(BUYER, 0, later, 10)
    assert [(i.event.event_id, i.event.sequence, i.traceparent, i.tracestate) for i in items] == [
        ("e0", untraced, "", ""),
        ("e1", traced, first.traceparent, "rojo=1"),
        ("e2", later, second.traceparent, ""),
    ]
    assert all(isinstance(i, TracedEvent) for i in items)
    # An order resumed after a restart carries on in the trace of its newest traced event.
    assert await store.resource_trace(BUYER, "ord-1") == (second.traceparent, "")
    assert await store.resource_trace(BUYER, "ord-9") is None
    assert await store.resource_trace("someone-else", "ord-1") is None
