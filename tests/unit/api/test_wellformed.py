"""Regressions found by the fuzzer (tests/contract/test_bad_input.py): inputs that used to end
as INTERNAL, UNKNOWN or REST 500."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, inventory_pb2
from interlude_server.api import errors, wellformed
from interlude_server.core.errors import InvalidArgument, Violation


def _violations(request: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        wellformed.checked(request)
    return {v.field: v.description for v in raised.value.violations}


def test_an_out_of_range_timestamp_is_named_not_an_internal_error() -> None:
    # nanos -1 and year 10000 used to raise ValueError inside ListServices (INTERNAL).
    request = inventory_pb2.ListServicesRequest()
    request.filter.start_date.before.CopyFrom(timestamp_pb2.Timestamp(seconds=1, nanos=-1))
    request.filter.start_date.after.CopyFrom(timestamp_pb2.Timestamp(seconds=253402300800))
    found = _violations(request)
    assert set(found) == {"filter.start_date.before", "filter.start_date.after"}
    assert "nanos" in found["filter.start_date.before"]


def test_a_duration_with_mixed_signs_is_refused() -> None:
    request = events_pb2.StreamEventsRequest(heartbeat_interval=duration_pb2.Duration(seconds=5, nanos=-1))
    assert "heartbeat_interval" in _violations(request)


def test_valid_requests_pass_unchanged() -> None:
    request = events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=0))
    assert wellformed.checked(request) is request


def test_bytes_that_do_not_parse_are_invalid_argument_naming_the_request() -> None:
    # grpc answered UNKNOWN ("Exception deserializing request") before.
    parse = wellformed.lenient(inventory_pb2.GetServiceRequest.FromString, "GetServiceRequest")
    assert parse is not None
    undecodable = parse(b"\x0a\xff\xff\xff\xff\x0f")
    assert isinstance(undecodable, wellformed.Undecodable)
    assert set(_violations(undecodable)) == {"request"}
    assert parse(b"\x0a\x01x").id == "x"


def test_an_error_naming_a_lone_surrogate_can_still_be_sent() -> None:
    # A JSON key "\ud800" made building the REST 400 body fail (REST 500).
    exc = InvalidArgument("bad \ud800", [Violation("body.\ud800", "unknown field \ud800")])
    status = errors.status_for(exc)
    assert status.message == "bad \\ud800"
    assert status.SerializeToString()
