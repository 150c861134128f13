"""Hypothesis strategies for bad input: any message of the contract, garbage bytes, bad JSON.

`messages(descriptor)` fills a protobuf message field by field from its descriptor, so every
request type of every RPC is covered without a hand-written strategy per RPC: random and huge
strings, ids that exist and ids that do not, malformed page/resume tokens, filters and field
masks naming nothing, enum numbers the contract does not define, timestamps and durations at
and beyond their valid range, and arbitrary JSON inside Struct payloads, non-finite numbers
(NaN, +-Infinity) included. Very long ids (6,000 characters: their echo in an error once blew
gRPC's trailer limit) are among the strings. Lone surrogates cannot be put in a protobuf
string, so gRPC gets them as raw UTF-8-encoded surrogate bytes (`garbage`) and REST gets them
in JSON bodies, paths and queries (`rest_json_values`, `rest_texts`).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import any_pb2, duration_pb2, field_mask_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf import descriptor as d
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

HUGE = 200_000  # characters: far over any limit the server applies, under the message size limit
LONG_ID = "z" * 6000  # an id whose echo in an error once made the trailer exceed 16 KiB
NON_FINITE = [float("nan"), float("inf"), float("-inf")]
LONE_SURROGATES = ["\ud800", "a\udc00b", "\udfff" * 3, "\ude00\ud83d"]  # reversed pair: two lone halves
KNOWN_IDS = [
    "alpha-uni-1",
    "alpha-ovc-1-ep-1",
    "alpha-enni-1",
    "beta-uni-1",
    "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all",
]
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%",
    "*",
    "😀" * 10,
    "a" * 1025,
    "state=in_progress",
    "service_configuration.attributes",
    "service_configuration.attributes.",
    "..",
    "a..b",
    "YWJj",  # base64 of "abc": a plausible-looking token
    "eyJ2IjoxfQ",  # base64 JSON without padding
    "v1.0.0",
    LONG_ID,
    LONG_ID + "/x",
]

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64),
    st.floats(),  # NaN and +-Infinity included
    st.sampled_from(NON_FINITE),
    st.text(max_size=20),
)


def _json_tree(leaf: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
        max_leaves=12,
    )


json_values = _json_tree(_json_leaf, st.text(max_size=12))
# What only a REST body can carry: text with lone surrogates, as values and as property names.
rest_texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(LONE_SURROGATES),
    st.text(st.characters(codec=None, categories=["Cs"]), min_size=1, max_size=4),
)
rest_json_values = _json_tree(st.one_of(_json_leaf, rest_texts), st.one_of(st.text(max_size=12), rest_texts))

strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(KNOWN_IDS + ODD_STRINGS),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "\x00", "/"]), st.sampled_from([HUGE, 70_000])),
)

_INT_RANGES = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    small = st.integers(max(lo, -3), min(hi, 1100))
    return st.one_of(small, st.sampled_from([lo, hi, 0, -1 if lo < 0 else 1]), st.integers(lo, hi))


def _enum(field: d.FieldDescriptor) -> st.SearchStrategy[int]:
    assert field.enum_type is not None
    defined = [v.number for v in field.enum_type.values]
    return st.one_of(st.sampled_from(defined), st.integers(-5, 300), st.sampled_from([2**31 - 1, -(2**31)]))


def _scalar(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t == d.FieldDescriptor.TYPE_STRING:
        return strings
    if t == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if t == d.FieldDescriptor.TYPE_FLOAT else 64)
    if t == d.FieldDescriptor.TYPE_ENUM:
        return _enum(field)
    lo, hi = _INT_RANGES[t]
    return _ints(lo, hi)


def _well_known(descriptor: d.Descriptor) -> st.SearchStrategy[Message] | None:
    name = descriptor.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        # Valid ranges and well beyond them (e.g. year 10000, negative nanos).
        cls = timestamp_pb2.Timestamp if name == "google.protobuf.Timestamp" else duration_pb2.Duration
        seconds = st.one_of(st.integers(-(2**40), 2**40), st.sampled_from([0, 253402300800, -62135596801]))
        return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, _ints(-(2**31), 2**31 - 1))
    if name == "google.protobuf.FieldMask":
        return st.builds(lambda paths: field_mask_pb2.FieldMask(paths=paths), st.lists(strings, max_size=4))
    if name == "google.protobuf.Struct":
        return st.builds(_struct, st.dictionaries(st.text(max_size=16), json_values, max_size=5))
    if name == "google.protobuf.Value":
        return st.builds(_value, json_values)
    if name == "google.protobuf.Any":
        return st.builds(
            lambda url, value: any_pb2.Any(type_url=url, value=value), strings, st.binary(max_size=32)
        )
    return None


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(data, struct)
    return struct


def _value(data: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    json_format.ParseDict(data, value)
    return value


@st.composite
def _message(draw: st.DrawFn, descriptor: d.Descriptor, depth: int) -> Message:
    special = _well_known(descriptor)
    if special is not None:
        return draw(special)
    message = GetMessageClass(descriptor)()
    if depth <= 0:
        return message
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        repeated = field.is_repeated
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            entries = draw(st.dictionaries(_scalar(key_field), _value_of(value_field, depth - 1), max_size=3))
            target = getattr(message, field.name)
            for key, value in entries.items():
                if value_field.message_type is not None:
                    target[key].CopyFrom(value)
                else:
                    target[key] = value
            continue
        values = draw(st.lists(_value_of(field, depth - 1), min_size=1, max_size=3 if repeated else 1))
        if repeated:
            container = getattr(message, field.name)
            for value in values:
                if field.message_type is not None:
                    container.add().CopyFrom(value)
                else:
                    container.append(value)
        elif field.message_type is not None:
            getattr(message, field.name).CopyFrom(values[0])
        else:
            setattr(message, field.name, values[0])
    return message


def _value_of(field: d.FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        return _message(field.message_type, depth)
    return _scalar(field)


def messages(descriptor: d.Descriptor, depth: int = 4) -> st.SearchStrategy[Message]:
    """Any message of type `descriptor`, every field independently present or not."""
    return _message(descriptor, depth)


garbage = st.one_of(
    st.binary(max_size=256),
    # Valid wire tags with lying lengths, wrong wire types and truncated varints.
    st.sampled_from(
        [
            b"\x0a\xff\xff\xff\xff\x0f",
            b"\x0a\x05ab",
            b"\x08\x80\x80\x80",
            b"\xff" * 12,
            b"\x12\x00" * 50,
            b"\x0a\x03\xed\xa0\x80",  # field 1 (most often an id) holding a UTF-8-encoded lone surrogate
            b"\x0a\x04a\xed\xb0\x80",
        ]
    ),
)

json_bodies = st.one_of(
    st.binary(max_size=128),  # not JSON, not even UTF-8
    st.sampled_from(
        [
            b"{",
            b"[]",
            b"null",
            b"1e999999",
            b'{"a":',
            b'"x"',
            b"{}" * 2,
            b'{"\\ud800": 1}',
            b'{"externalId": "\\ud800", "serviceOrderItem": [{"service": {"serviceConfiguration":'
            b' {"cir": 1e400}}}]}',
            b'{"callback": "http://127.0.0.1:9/\\udc00", "description": NaN, "name": -Infinity}',
        ]
    ),
    rest_json_values.map(lambda v: json.dumps(v).encode()),
)

# Keys of MEF bodies (order, item, service, hub) with values of any JSON type: wrong types
# in the right places, which the REST adapter must answer with 400/422 naming the field.
MEF_KEYS = [
    "serviceOrderItem",
    "action",
    "service",
    "id",
    "externalId",
    "serviceConfiguration",
    "@type",
    "serviceSpecification",
    "relatedContactInformation",
    "requestedCompletionDate",
    "callback",
    "query",
    "state",
    "cancellationReason",
    "serviceOrderItemRelationship",
    "serviceRelationship",
    "place",
    "note",
    "modifyPath",
    "value",
    "op",
    "path",
    "name",
    "description",
    "jobPriority",
    "reportingPeriod",
    "timeDurationValue",
]
mef_shaped = st.recursive(
    st.dictionaries(st.sampled_from(MEF_KEYS), rest_json_values, max_size=6),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(MEF_KEYS), st.one_of(inner, st.lists(inner, max_size=3)), max_size=6)
    ),
    max_leaves=10,
).map(lambda v: json.dumps(v).encode())
