"""The hub's fan-out and its in-memory tail of recent events (replay without the store)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.api.events import Response, WireCache
from interlude_server.events import hub as hub_module
from interlude_server.events import tokens
from interlude_server.events.hub import EventHub, MeasurementHub, reload_tail, unkept
from interlude_server.store.interface.performance import MeasurementBatch


def _event(seq: int) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=f"ev-{seq}",
        sequence=seq,
        event_type=events_pb2.EVENT_TYPE_SERVICE_STATE_CHANGE,
        resource=events_pb2.ResourceRef(id=f"svc-{seq % 3}"),
    )


def _publish(hub: EventHub, first: int, last: int) -> None:
    """Events first..last, alternately for buyers a and b, one commit each."""
    for seq in range(first, last + 1):
        hub.publish([("a" if seq % 2 else "b", _event(seq))])


def test_tail_replays_a_recent_range_of_one_buyer_in_order() -> None:
    hub = EventHub(last_seq=10, tail=100)
    _publish(hub, 11, 30)
    recent = hub.recent("a", 14, 25)
    assert recent is not None
    assert [seq for seq, _ in recent] == [15, 17, 19, 21, 23, 25]
    # kept serialized, as the log stores them: what a replay sends without parsing
    assert [events_pb2.Event.FromString(body) for _, body in recent] == [_event(s) for s in range(15, 26, 2)]
    assert [seq for seq, _ in hub.recent("b", 10, 16) or []] == [12, 14, 16]


def test_tail_does_not_answer_for_positions_before_it() -> None:
    hub = EventHub(last_seq=10, tail=100)
    _publish(hub, 11, 20)
    assert hub.recent("a", 9, 20) is None  # event 10 was committed before the hub started
    assert hub.recent("a", 10, 20) is not None


def test_tail_is_bounded_and_keeps_the_newest_events() -> None:
    hub = EventHub(last_seq=0, tail=10)
    _publish(hub, 1, 35)
    assert hub.tail_floor > 0
    assert hub.recent("a", 0, 35) is None
    kept = hub.recent("a", hub.tail_floor, 35)
    assert kept is not None
    expected = [s for s in range(hub.tail_floor + 1, 36) if s % 2]
    assert [seq for seq, _ in kept] == expected
    assert len(expected) >= 5  # at least `tail` events are always kept


def test_a_disabled_tail_sends_every_replay_to_the_store() -> None:
    hub = EventHub(last_seq=0, tail=0)
    _publish(hub, 1, 5)
    assert hub.recent("a", 0, 5) is None
    assert hub.recent("a", 4, 5) is None


def test_live_subscribers_get_only_their_buyers_matching_events() -> None:
    async def scenario() -> list[int]:
        hub = EventHub(last_seq=0)
        sub = hub.subscribe("a", lambda e: e.resource.id == "svc-1")
        _publish(hub, 1, 12)
        got = []
        while (event := await sub.next(0.01)) is not None:
            got.append(event.sequence)
        return got

    assert asyncio.run(scenario()) == [1, 7]


def test_wire_cache_serializes_an_event_once_with_its_token() -> None:
    cache = WireCache("log-1", capacity=2)
    event = _event(5)
    wire = cache.response(event)
    decoded = Response.FromString(wire)
    assert decoded.event.sequence == 5
    assert tokens.decode(decoded.event.resume_token) == tokens.ResumePoint("log-1", 5)
    event.event_id = "changed"  # a cached event is not serialized again
    assert cache.response(event) is wire
    cache.response(_event(6))
    cache.response(_event(7))  # evicts 5 (least recently added)
    assert Response.FromString(cache.response(event)).event.event_id == "changed"


def test_subscriptions_are_counted_per_buyer_and_forgotten_when_they_end() -> None:
    async def scenario() -> None:
        hub = EventHub(last_seq=0)
        a1, a2 = hub.subscribe("a", lambda e: True), hub.subscribe("a", lambda e: True)
        b = hub.subscribe("b", lambda e: True)
        assert (hub.subscribers, hub.buyers) == (3, 2)
        _publish(hub, 1, 4)  # a: 1, 3; b: 2, 4
        for sub, expected in ((a1, [1, 3]), (a2, [1, 3]), (b, [2, 4])):
            got = []
            while (event := await sub.next(0.01)) is not None:
                got.append(event.sequence)
            assert got == expected
        hub.unsubscribe(a1)
        hub.unsubscribe(a1)  # twice is harmless
        assert (hub.subscribers, hub.buyers) == (2, 2)
        hub.unsubscribe(a2)
        hub.unsubscribe(b)
        assert (hub.subscribers, hub.buyers) == (0, 0)
        _publish(hub, 5, 6)  # nobody left to offer to
        assert await a1.next(0.01) is None

    asyncio.run(scenario())


Reader = Callable[[int, int], Awaitable[list[tuple[str, int, bytes]]]]


def _log_reader(last: int) -> tuple[list[int], Reader]:
    """A log of events 1..last (buyers a, b alternately) read page by page, as the store's
    read_log_bodies_after does; the first list records each read's `after`."""
    log = [("a" if seq % 2 else "b", seq, _event(seq).SerializeToString()) for seq in range(1, last + 1)]
    reads: list[int] = []

    async def read_after(after: int, limit: int) -> list[tuple[str, int, bytes]]:
        reads.append(after)
        return [row for row in log if row[1] > after][:limit]

    return reads, read_after


def test_the_tail_reloaded_at_start_answers_resumes_from_before_the_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "RELOAD_PAGE", 4)
    reads, read_after = _log_reader(30)
    hub = EventHub(last_seq=30, tail=10)
    assert hub.recent("a", 25, 30) is None  # a fresh hub: nothing before its start
    loaded = asyncio.run(reload_tail(hub, 0, read_after))
    assert loaded == 10
    assert reads == [20, 24, 28]  # page by page from the floor, up to the newest event
    assert hub.tail_floor == 20
    reloaded = hub.recent("a", 20, 30) or []
    assert [seq for seq, _ in reloaded] == [21, 23, 25, 27, 29]
    assert events_pb2.Event.FromString(reloaded[0][1]) == _event(21)
    assert hub.recent("a", 19, 30) is None  # older: the store answers
    _publish(hub, 31, 32)  # live events follow the reloaded ones
    assert [seq for seq, _ in hub.recent("b", 26, 32) or []] == [28, 30, 32]


def test_reloading_skips_what_retention_pruned_and_what_came_after_the_start() -> None:
    _, read_after = _log_reader(40)  # 31..40 committed after the hub read last_seq = 30
    hub = EventHub(last_seq=30, tail=100)
    assert asyncio.run(reload_tail(hub, 25, read_after)) == 5
    assert hub.tail_floor == 25
    assert [seq for seq, _ in hub.recent("a", 25, 40) or []] == [27, 29]
    off = EventHub(last_seq=30, tail=0)
    assert asyncio.run(reload_tail(off, 0, read_after)) == 0
    assert off.recent("a", 29, 30) is None


def test_the_measurement_tail_gives_back_each_batch_whole() -> None:
    def batch(seq: int) -> MeasurementBatch:
        measurements = tuple(
            performance_pb2.Measurement(performance_job_id=f"job-{seq}", metric_name=name, value=seq + 0.5)
            for name in ("oneWayFrameDelay", "oneWayFrameLossRatio")
        )
        return MeasurementBatch(f"job-{seq}", (f"svc-{seq}",), f"k{seq:03d}", measurements, seq)

    hub = MeasurementHub(last_seq=0, tail=10)
    hub.publish([("a" if seq % 2 else "b", batch(seq)) for seq in range(1, 7)])
    kept = hub.recent("a", 0, 6)
    assert kept is not None
    assert [k[0].measurements for k in kept] == [(), (), ()]  # kept without the parsed messages
    assert [unkept(k) for k in kept] == [batch(1), batch(3), batch(5)]


def test_the_slowest_subscription_lag_is_what_it_has_yet_to_send() -> None:
    async def scenario() -> None:
        hub = EventHub(last_seq=0, capacity=3)
        assert hub.slowest_lag() == 0  # nobody subscribed
        a = hub.subscribe("a", lambda e: True)
        b = hub.subscribe("b", lambda e: True)
        _publish(hub, 1, 4)  # a: 1, 3; b: 2, 4
        assert (a.behind(), b.behind()) == (4, 3)  # a's oldest unsent is 1 of head 4
        assert hub.slowest_lag() == 4
        assert (await a.next(0.01), await a.next(0.01)) != (None, None)
        assert (a.behind(), hub.slowest_lag()) == (0, 3)
        _publish(hub, 5, 10)  # b's buffer of 3 overflows: it counts as the bound until cut
        assert b.overflowed
        assert b.behind() == 3
        hub.unsubscribe(b)
        assert hub.slowest_lag() == a.behind() == 10 - 5 + 1

    asyncio.run(scenario())
