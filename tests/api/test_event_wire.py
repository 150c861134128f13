"""A replayed event's response built from the log's stored bytes equals the one built by parsing."""

from __future__ import annotations

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.api.events import _event_response, _response_from_body


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
