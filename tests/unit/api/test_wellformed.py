"""Regressions found by the fuzzer (tests/contract/test_bad_input.py): inputs that used to end
as INTERNAL, UNKNOWN or REST 500."""

from __future__ import annotations

import math
import struct
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, inventory_pb2, ordering_pb2, service_test_pb2
from interlude_server.api import errors, wellformed
from interlude_server.core.errors import InvalidArgument, NotFound, Violation


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


# -- non-finite numbers (F14): NaN/Infinity in a configuration used to give INTERNAL ------------


def _update_with(config: dict[str, Any]) -> ordering_pb2.UpdateServiceRequest:
    request = ordering_pb2.UpdateServiceRequest()
    request.service.id = "alpha-evc-1"
    request.service.service_configuration.attributes.update(config)
    return request


def test_non_finite_numbers_in_a_configuration_are_each_named() -> None:
    request = _update_with(
        {"cir": math.nan, "ebs": {"amount": math.inf}, "steps": [1, -math.inf], "cbs": 1e308}
    )
    found = _violations(request)
    prefix = "service.service_configuration.attributes"
    assert set(found) == {f"{prefix}.cir", f"{prefix}.ebs.amount", f"{prefix}.steps[1]"}
    assert all("finite" in why for why in found.values())
    assert errors.status_for(_raised(request)).code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_a_finite_configuration_passes() -> None:
    request = _update_with({"cir": 1e308, "nested": {"list": [0.5, -1, None, "NaN"]}})
    assert wellformed.checked(request) is request


def test_a_non_finite_double_field_is_named() -> None:
    spec = service_test_pb2.TestParameterSpec(min=math.nan, max=math.inf)
    assert set(_violations(spec)) == {"min", "max"}
    assert wellformed.checked(service_test_pb2.TestParameterSpec(min=-1.5)) is not None


def _raised(request: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        wellformed.checked(request)
    return raised.value


# -- bounded errors (F14): a 6,000-character id made the trailer exceed gRPC's metadata limit ---


def test_a_not_found_for_a_huge_id_stays_small_and_keeps_its_meaning() -> None:
    huge = "x" * 6000
    status = errors.status_for(NotFound("service", huge, "SERVICE_NOT_FOUND"))
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert errors.wire_size(status) <= errors.TRAILER_BUDGET < 8 * 1024
    assert status.message.startswith("service 'xxx")
    assert status.message.endswith("not found")
    assert "6002 characters" in status.message  # the quoted id: its length is still told
    resource = error_details_pb2.ResourceInfo()
    assert status.details[1].Unpack(resource)
    assert resource.resource_name.startswith("x" * 128)
    assert "6000 characters" in resource.resource_name


def test_many_long_violations_are_cut_to_the_budget_and_counted() -> None:
    violations = [Violation(f"field_{i}_" + "é" * 900, "bad " + "😀" * 900) for i in range(300)]
    status = errors.status_for(InvalidArgument("bad " + "💥" * 5000, violations))
    assert errors.wire_size(status) <= errors.TRAILER_BUDGET
    bad = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad)
    shown = len(bad.field_violations)
    assert 0 < shown < 300
    assert f"({300 - shown} more not shown)" in status.message
    assert bad.field_violations[0].field.startswith("field_0_")


def test_a_small_error_is_unchanged() -> None:
    status = errors.status_for(InvalidArgument("bad", [Violation("a.b", "must be set")]))
    bad = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad)
    assert (status.message, bad.field_violations[0].field, bad.field_violations[0].description) == (
        "bad",
        "a.b",
        "must be set",
    )


def test_only_a_message_type_nothing_can_make_bad_is_always_usable() -> None:
    assert wellformed.always_usable(inventory_pb2.GetServiceRequest)  # ids and a field mask
    assert not wellformed.always_usable(inventory_pb2.ListServicesRequest)  # Timestamps in its filter
    assert not wellformed.always_usable(events_pb2.StreamEventsRequest)  # a Duration
    assert not wellformed.always_usable(None)  # no known type: every request is checked
    assert not wellformed.always_usable(bytes)


# -- the scan that spares the walk (F17): a configuration is walked only if its bytes may hold
# a non-finite number --------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(config=st.dictionaries(st.text(max_size=6), _json, max_size=5))
@settings(max_examples=300, deadline=None)
def test_the_scan_finds_every_non_finite_number_the_walk_finds(config: dict[str, Any]) -> None:
    request = _update_with(config)
    attributes = request.service.service_configuration.attributes
    prefix = "service.service_configuration.attributes"
    walked = {prefix + v.field[1:] for v in wellformed._json_violations(attributes, "a")}
    if not walked:
        assert wellformed.checked(request) is request
        return
    assert wellformed._may_hold_non_finite(attributes), "the scan would have missed one"
    assert set(_violations(request)) == walked


def test_finite_numbers_whose_bytes_look_non_finite_are_walked_and_pass() -> None:
    # In a list the first number's last byte (0x11) and the second's bytes 3-4 (0xf0 0x7f)
    # make the pattern across the two values; both are finite (strings cannot: in UTF-8 no
    # 0xf0-0xff byte is followed by 0x7f or 0xff).
    first = struct.unpack("<d", bytes(7) + b"\x11")[0]
    second = struct.unpack("<d", bytes.fromhex("000000f07f00f03f"))[0]
    assert math.isfinite(first)
    assert math.isfinite(second)
    request = _update_with({"pair": [first, second]})
    assert wellformed._may_hold_non_finite(request.service.service_configuration.attributes)
    assert wellformed.checked(request) is request


# -- the walk visits only the fields that can hold a bad value: it must still find each one --

_BAD_SECONDS = 253402300800  # year 10000


def _plant(message: Any, path: str, depth: int, planted: set[str]) -> None:
    """Set every Timestamp, Duration and float field reachable from `message` (to depth) to a
    value `checked` refuses, recording each one's path as the walk names it."""
    for field in message.DESCRIPTOR.fields:
        name = f"{path}.{field.name}" if path else field.name
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            if sub.fields_by_name["key"].type != field.TYPE_STRING:
                continue
            mapping = getattr(message, field.name)
            if value_field.message_type is None and value_field.cpp_type in (
                value_field.CPPTYPE_DOUBLE,
                value_field.CPPTYPE_FLOAT,
            ):
                mapping["k"] = math.nan
                planted.add(f"{name}['k']")
            elif value_field.message_type is not None and depth > 0:
                _plant_message(mapping["k"], f"{name}['k']", depth, planted)
        elif sub is None:
            if field.cpp_type in (field.CPPTYPE_DOUBLE, field.CPPTYPE_FLOAT):
                if field.is_repeated:
                    getattr(message, field.name).append(math.inf)
                    planted.add(f"{name}[0]")
                else:
                    setattr(message, field.name, math.nan)
                    planted.add(name)
        elif depth > 0 and sub.full_name not in wellformed._JSON:
            if field.is_repeated:
                _plant_message(getattr(message, field.name).add(), f"{name}[0]", depth, planted)
            elif field.containing_oneof is None or message.WhichOneof(field.containing_oneof.name) is None:
                _plant_message(getattr(message, field.name), name, depth, planted)


def _plant_message(message: Any, path: str, depth: int, planted: set[str]) -> None:
    kind = message.DESCRIPTOR.full_name
    if kind in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        message.seconds = _BAD_SECONDS if kind.endswith("Timestamp") else 10**12
        planted.add(path)
    else:
        _plant(message, path, depth - 1, planted)


def _request_types() -> list[Any]:
    from google.protobuf import message_factory

    from interlude_server.api import contract

    return [
        message_factory.GetMessageClass(method.input_type)
        for service in contract.services()
        for method in service.methods
    ]


@pytest.mark.parametrize("request_type", _request_types(), ids=lambda t: t.DESCRIPTOR.name)
def test_every_bad_value_planted_in_a_request_is_named(request_type: Any) -> None:
    request = request_type()
    planted: set[str] = set()
    _plant(request, "", 5, planted)
    if not planted:
        assert wellformed.checked(request) is request
        return
    assert set(_violations(request)) == planted
