"""A replayed response built from stored bytes (the log's, the measurement tail's) equals the
one built by parsing them."""

from __future__ import annotations

from typing import Any, cast

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.api.events import _event_response, _response_from_body
from interlude_server.api.performance_stream import MeasurementStreamer, _whole_update
from interlude_server.events.hub import MeasurementHub
from interlude_server.store.interface.performance import MeasurementBatch


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
