"""Conversions between Struct-backed MEF documents and plain dicts.

An order converts the same few documents several times (the current service's
configuration when it is validated, built, applied and recorded), and the
pure-Python walk of a Struct, either way, was a large part of the server's CPU
per order. So both directions go through a small cache keyed by what they
convert: a Struct's serialized bytes to its JSON text, and a dict's JSON text to
its Struct's bytes. A hit costs one C-speed json.loads or ParseFromString and
always returns a new object, so callers may change what they get.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2

CACHED_DOCUMENTS = 1024  # per direction; a configuration is about 0.5-2 KB


def to_dict(payload: common_pb2.ExtensionPayload) -> dict[str, Any]:
    """The attributes of a MEF document as a plain dict (a new one on every call)."""
    if not payload.HasField("attributes"):
        return {}
    document: dict[str, Any] = json.loads(_json_of(payload.attributes.SerializeToString()))
    return document


@functools.lru_cache(maxsize=CACHED_DOCUMENTS)
def _json_of(serialized: bytes) -> str:
    return json.dumps(struct_to_dict(struct_pb2.Struct.FromString(serialized)), allow_nan=False)


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """What json_format.MessageToDict returns for a Struct, without its generic reflection."""
    fields = struct.fields
    return {key: _value(fields[key]) for key in fields}


def value_to_python(value: struct_pb2.Value) -> Any:
    """What json_format.MessageToDict returns for a Value, without its generic reflection."""
    return _value(value)


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):  # as MessageToDict: JSON has no Infinity or NaN
            raise ValueError("Value.number_value must be finite")
        return number
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)  # string_value, bool_value


def set_attributes(payload: common_pb2.ExtensionPayload, attributes: dict[str, Any]) -> None:
    """Replace the attributes of a MEF document."""
    try:
        text = json.dumps(attributes, allow_nan=False)
    except (TypeError, ValueError):  # not plain JSON: Struct.update says what it makes of it
        struct = struct_pb2.Struct()
        struct.update(attributes)
        payload.attributes.CopyFrom(struct)
        return
    payload.attributes.ParseFromString(_struct_bytes_of(text))


@functools.lru_cache(maxsize=CACHED_DOCUMENTS)
def _struct_bytes_of(text: str) -> bytes:
    struct = struct_pb2.Struct()
    struct.update(json.loads(text))
    return struct.SerializeToString()
