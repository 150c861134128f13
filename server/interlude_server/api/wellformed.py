"""Requests the protobuf runtime accepts but the server cannot use, refused before any handler.

Two kinds of bad input get past grpc into a handler, and ended as INTERNAL or UNKNOWN before
this check (found by tests/contract/test_bad_input.py):
- bytes that are not a serialized request at all: grpc's own deserializer error is UNKNOWN;
- Timestamps and Durations outside the range the well-known types define (e.g. nanos -1 or
  year 10000): well-formed on the wire, but every conversion of them raises ValueError;
- non-finite numbers (NaN, +-Infinity) in a double or float field or in a Struct/Value
  payload: valid IEEE 754, but no JSON, schema or range check can hold them.
All are answered INVALID_ARGUMENT (INVALID_REQUEST) naming the field, every one at once.
(A lone surrogate cannot arrive: protobuf refuses a string that is not UTF-8 when it parses,
which makes the request Undecodable. The REST edge refuses both in rest.common.json_body.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.core.text import NOT_FINITE

# The ranges google/protobuf/timestamp.proto and duration.proto define.
_MIN_TIMESTAMP_S = -62_135_596_800  # 0001-01-01T00:00:00Z
_MAX_TIMESTAMP_S = 253_402_300_799  # 9999-12-31T23:59:59Z
_MAX_DURATION_S = 315_576_000_000  # 10,000 years
_MAX_NANOS = 999_999_999


class Undecodable:
    """Stands in for a request whose bytes did not parse; the handler is never called with it."""

    def __init__(self, type_name: str, error: Exception) -> None:
        self.type_name = type_name
        self.error = error


def lenient(deserializer: Callable[[bytes], Any] | None, type_name: str) -> Callable[[bytes], Any] | None:
    """`deserializer`, except that bytes it cannot parse become an Undecodable request."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, or anything the runtime raises on garbage
            return Undecodable(type_name, exc)

    return parse


def _timestamp_problem(seconds: int, nanos: int) -> str:
    if not _MIN_TIMESTAMP_S <= seconds <= _MAX_TIMESTAMP_S:
        return "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
    if not 0 <= nanos <= _MAX_NANOS:
        return f"nanos must be between 0 and {_MAX_NANOS}"
    return ""


def _duration_problem(seconds: int, nanos: int) -> str:
    if not -_MAX_DURATION_S <= seconds <= _MAX_DURATION_S:
        return f"seconds must be between -{_MAX_DURATION_S} and {_MAX_DURATION_S}"
    if not -_MAX_NANOS <= nanos <= _MAX_NANOS or (seconds > 0 > nanos) or (seconds < 0 < nanos):
        return f"nanos must be between -{_MAX_NANOS} and {_MAX_NANOS}, with the sign of seconds"
    return ""


_CHECKS = {
    "google.protobuf.Timestamp": _timestamp_problem,
    "google.protobuf.Duration": _duration_problem,
}


_FLOATS = (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT)
_JSON = ("google.protobuf.Struct", "google.protobuf.ListValue", "google.protobuf.Value")
# A non-finite `Value.number_value` as it is serialized: its tag (field 2, 64-bit: 0x11), then
# the little-endian IEEE 754 double whose 11 exponent bits are all ones (NaN or an infinity).
# Every number in a Struct, ListValue or Value is so written, at any depth, so bytes without
# this pattern hold none; bytes with it may (a string can hold the same bytes) and are walked.
_NON_FINITE_NUMBER = re.compile(rb"\x11.{6}[\xf0-\xff][\x7f\xff]", re.DOTALL)


def _may_hold_non_finite(message: Any) -> bool:
    """False if the Struct/ListValue/Value `message` surely holds no NaN or infinity: one scan
    of its serialized bytes (C), instead of a walk over every value in Python."""
    return _NON_FINITE_NUMBER.search(message.SerializeToString()) is not None


def _json_violations(message: Any, prefix: str) -> Iterator[Violation]:
    """Non-finite numbers in a Struct/ListValue/Value, named as the REST adapter names a
    document's members (`....attributes.cir`, `....values[2]`)."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        for key, value in message.fields.items():
            yield from _json_violations(value, f"{prefix}.{key}" if prefix else key)
    elif name == "google.protobuf.ListValue":
        for index, value in enumerate(message.values):
            yield from _json_violations(value, f"{prefix}[{index}]")
    else:
        kind = message.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(message.number_value):
            yield Violation(prefix, NOT_FINITE)
        elif kind in ("struct_value", "list_value"):
            yield from _json_violations(getattr(message, kind), prefix)


def _scalar_violations(field: FieldDescriptor, value: Any, path: str) -> Iterator[Violation]:
    if field.cpp_type not in _FLOATS:
        return
    if field.is_repeated:
        for index, item in enumerate(value):
            if not math.isfinite(item):
                yield Violation(f"{path}[{index}]", NOT_FINITE)
    elif not math.isfinite(value):
        yield Violation(path, NOT_FINITE)


def _collect(message: Message, prefix: str, out: list[Violation]) -> None:
    """Append to `out` what `checked` refuses in `message` (named from `prefix`); only the
    fields whose type can hold such a value are visited (`_plan`)."""
    descriptor = message.DESCRIPTOR
    name = descriptor.full_name
    check = _CHECKS.get(name)
    if check is not None:
        problem = check(getattr(message, "seconds"), getattr(message, "nanos"))  # noqa: B009
        if problem:
            out.append(Violation(prefix, problem))
        return
    if name in _JSON:
        if _may_hold_non_finite(message):
            out.extend(_json_violations(message, prefix))
        return
    plan = _plans.get(name)
    if plan is None:
        plan = _plans[name] = _plan(cast(Descriptor, descriptor))
    for field_name, kind, field in plan:
        if kind == _MESSAGE:
            if message.HasField(field_name):
                _collect(
                    getattr(message, field_name), f"{prefix}.{field_name}" if prefix else field_name, out
                )
            continue
        value = getattr(message, field_name)
        if not value and kind != _SCALAR:
            continue
        path = f"{prefix}.{field_name}" if prefix else field_name
        if kind in (_SCALAR, _SCALARS):
            out.extend(_scalar_violations(field, value, path))
        elif kind == _MESSAGES:
            for index, item in enumerate(value):
                _collect(item, f"{path}[{index}]", out)
        elif kind == _MAP_MESSAGES:
            for key, item in value.items():
                _collect(item, f"{path}[{key!r}]", out)
        else:  # _MAP_SCALARS: `field` is the map entry's value field
            for key, item in value.items():
                out.extend(_scalar_violations(field, item, f"{path}[{key!r}]"))


# How `_collect` visits a field: a float (or repeated floats), a message (or repeated
# messages), a map to messages or to floats.
_SCALAR, _SCALARS, _MESSAGE, _MESSAGES, _MAP_MESSAGES, _MAP_SCALARS = range(6)
# Per message type: the fields that can hold what `checked` refuses, in field-number order
# (that of ListFields), each with how to visit it; worked out once per type.
_plans: dict[str, tuple[tuple[str, int, FieldDescriptor], ...]] = {}


def _plan(message: Descriptor) -> tuple[tuple[str, int, FieldDescriptor], ...]:
    steps: list[tuple[str, int, FieldDescriptor]] = []
    for field in sorted(message.fields, key=lambda f: f.number):
        sub = field.message_type
        if sub is None:
            if field.cpp_type in _FLOATS:
                steps.append((field.name, _SCALARS if field.is_repeated else _SCALAR, field))
        elif sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            if value_field.message_type is not None:
                if _may_hold_bad_values(value_field.message_type):
                    steps.append((field.name, _MAP_MESSAGES, field))
            elif value_field.cpp_type in _FLOATS:
                steps.append((field.name, _MAP_SCALARS, value_field))
        elif _may_hold_bad_values(sub):
            steps.append((field.name, _MESSAGES if field.is_repeated else _MESSAGE, field))
    return tuple(steps)


_CHECKED_NAMES = frozenset((*_CHECKS, *_JSON))
_checkable: dict[str, bool] = {}


def _may_hold_bad_values(message: Descriptor, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a message of this type can hold anything `_violations` refuses: a float or
    double, a Timestamp, Duration or Struct, at any depth (worked out once per type)."""
    name = message.full_name
    if name in _CHECKED_NAMES:
        return True
    known = _checkable.get(name)
    if known is not None:
        return known
    if name in seen:  # a recursive type: its other fields decide
        return False
    found = any(
        field.cpp_type in _FLOATS
        or (field.message_type is not None and _may_hold_bad_values(field.message_type, seen | {name}))
        for field in message.fields
    )
    if not seen:
        _checkable[name] = found
    return found


def checked(request: Any) -> Any:
    """`request`, if the server can use it; else InvalidArgument naming every bad field."""
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            f"the request is not a serialized {request.type_name}",
            [Violation("request", f"cannot be parsed as {request.type_name}: {request.error}")],
        )
    if isinstance(request, Message) and _may_hold_bad_values(cast(Descriptor, request.DESCRIPTOR)):
        violations: list[Violation] = []
        _collect(request, "", violations)
        if violations:
            raise InvalidArgument(
                "the request has out-of-range timestamps, durations or non-finite numbers", violations
            )
    return request


def always_usable(message_type: object) -> bool:
    """Whether every parsed message of `message_type` passes `checked` unchanged: a protobuf
    message type with nothing `checked` refuses at any depth (so a caller that knows a request
    is of this type need not ask, ~0.3 µs a call). False for anything else."""
    if not (isinstance(message_type, type) and issubclass(message_type, Message)):
        return False
    return not _may_hold_bad_values(cast(Descriptor, message_type.DESCRIPTOR))
