"""A replayed response built from stored bytes (the log's, the measurement tail's) equals the
one built by parsing them, and a live one is built from the same bytes: an item is not
serialized again on its way to a subscriber."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.api.events import EventsServicer, _event_response, _response_from_body
from interlude_server.api.performance_stream import MeasurementStreamer, _whole_update
from interlude_server.events.hub import EventHub, MeasurementHub, Published, Subscription, route_commits
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.interface.store import LoggedEvent


def _event(description_size: int) -> events_pb2.Event:
    event = events_pb2.Event(
        event_type=events_pb2.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE,
        sequence=123_456,
    )
    event.resource.id = "svc-1"
    event.service_configuration_type = "urn:mef:lso:spec:uni:v1" + "x" * description_size
    return event


@pytest.mark.parametrize("size", [0, 100, 300, 20_000])  # one-, two- and three-byte lengths
def test_the_response_from_stored_bytes_is_the_parsed_response(size: int) -> None:
    event = _event(size)
    stored = event.SerializeToString()  # what the log keeps: no resume token
    built = _response_from_body(stored, "token-at-123456")
    expected = _event_response(events_pb2.Event.FromString(stored), "token-at-123456")
    assert events_pb2.StreamEventsResponse.FromString(built) == expected
    assert expected.event.resume_token == "token-at-123456"
    assert expected.event.sequence == 123_456


def test_a_whole_measurement_batch_from_the_tail_bytes_is_the_parsed_response() -> None:
    measurements = tuple(
        performance_pb2.Measurement(performance_job_id="job-1", metric_name=name, value=value)
        for name, value in (("oneWayFrameDelay", 1.25), ("oneWayFrameLossRatio", 0.001))
    )
    batch = MeasurementBatch("job-1", ("svc-1",), "k001", measurements, 42)
    hub = MeasurementHub(last_seq=0, tail=10)
    hub.publish([("a", batch)])
    (kept,) = hub.recent("a", 0, 42) or []
    streamer = MeasurementStreamer(cast(Any, None), hub, "log-1")
    built = streamer._kept_update(42, kept[1])
    expected = _whole_update(batch, streamer._token(42))
    assert performance_pb2.StreamPerformanceDataResponse.FromString(built) == expected
    assert len(expected.update.measurements) == 2
    assert expected.update.resume_token


def _next(subscription: Subscription[Any, Any]) -> Published[Any, Any]:
    published = asyncio.run(subscription.next(0.01))
    assert published is not None
    return published


def _events(hub: EventHub) -> EventsServicer:
    return EventsServicer(cast(Any, None), hub, cast(Any, None), "log-1")


def test_a_live_event_is_sent_from_the_bytes_the_hub_kept_when_it_was_published() -> None:
    hub = EventHub(last_seq=123_455, tail=10)
    subscription = hub.subscribe("a", lambda e: True)
    event = _event(100)
    hub.publish([("a", event)])
    published = _next(subscription)
    event.resource.id = "changed after publishing"  # were it serialized again, this would show
    sent = _events(hub)._live(published)
    _, kept = published.kept
    assert kept in sent  # the kept bytes, spliced with the token
    assert (hub.recent("a", 123_455, 123_456) or [])[0][1] is kept  # the tail's very bytes
    expected = _event_response(events_pb2.Event.FromString(kept), _events(hub)._token(123_456))
    assert events_pb2.StreamEventsResponse.FromString(sent) == expected
    assert expected.event.resource.id == "svc-1"


def test_an_event_read_back_from_the_log_is_sent_as_the_log_stored_it() -> None:
    """The cross-process follower publishes the log's bytes: nothing serializes the event."""
    hub = EventHub(last_seq=123_455, tail=10)
    subscription = hub.subscribe("a", lambda e: e.resource.id == "svc-1")
    stored = _event(100).SerializeToString()
    (logged,) = hub.publish_stored([("a", 123_456, stored)])
    assert logged == ("a", LoggedEvent(_event(100), stored))
    published = _next(subscription)
    assert published.kept[1] is stored
    assert stored in _events(hub)._live(published)


def test_a_live_whole_measurement_batch_is_sent_from_the_bytes_the_hub_kept() -> None:
    measurements = tuple(
        performance_pb2.Measurement(performance_job_id="job-1", metric_name=name, value=value)
        for name, value in (("oneWayFrameDelay", 1.25), ("oneWayFrameLossRatio", 0.001))
    )
    batch = MeasurementBatch("job-1", ("svc-1",), "k001", measurements, 42)
    hub = MeasurementHub(last_seq=0, tail=10)
    subscription = hub.subscribe("a", lambda b: True)
    hub.publish([("a", batch)])
    published = _next(subscription)
    streamer = MeasurementStreamer(cast(Any, None), hub, "log-1")
    sent = streamer._live(frozenset(), published)
    assert isinstance(sent, bytes)
    assert published.kept[1] in sent
    expected = _whole_update(batch, streamer._token(42))
    assert performance_pb2.StreamPerformanceDataResponse.FromString(sent) == expected
    chosen = streamer._live(frozenset({"oneWayFrameDelay"}), published)  # a metric filter
    assert isinstance(chosen, performance_pb2.StreamPerformanceDataResponse)
    assert [m.metric_name for m in chosen.update.measurements] == ["oneWayFrameDelay"]


def test_an_event_committed_in_this_process_is_sent_with_the_bytes_its_commit_stored() -> None:
    """The store's commit listener hands the hub the bytes the Tx wrote: nothing serializes
    the event again between the log and the subscriber."""
    hub = EventHub(last_seq=99, tail=10)
    subscription = hub.subscribe("a", lambda e: True)
    event = _event(100)
    stored = event.SerializeToString()
    route_commits(hub, MeasurementHub(0))([("a", LoggedEvent(event, stored))])
    published = _next(subscription)
    assert published.kept[1] is stored
    assert published.item is event
    assert stored in _events(hub)._live(published)
