"""Conversions between Struct-backed MEF documents and plain dicts."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2


def to_dict(payload: common_pb2.ExtensionPayload) -> dict[str, Any]:
    """The attributes of a MEF document as a plain dict."""
    return json_format.MessageToDict(payload.attributes) if payload.HasField("attributes") else {}


def set_attributes(payload: common_pb2.ExtensionPayload, attributes: dict[str, Any]) -> None:
    """Replace the attributes of a MEF document."""
    struct = struct_pb2.Struct()
    struct.update(attributes)
    payload.attributes.CopyFrom(struct)
