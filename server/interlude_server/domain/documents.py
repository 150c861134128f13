"""Conversions between Struct-backed MEF documents and plain dicts."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2


def to_dict(payload: common_pb2.ExtensionPayload) -> dict[str, Any]:
    """The attributes of a MEF document as a plain dict."""
    return struct_to_dict(payload.attributes) if payload.HasField("attributes") else {}


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """What json_format.MessageToDict returns for a Struct, without its generic reflection:
    every order converts documents several times, and MessageToDict was a tenth of the
    server's CPU under CreateServiceOrder load (bench/README.md)."""
    return {key: _value(value) for key, value in struct.fields.items()}


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
    struct = struct_pb2.Struct()
    struct.update(attributes)
    payload.attributes.CopyFrom(struct)
