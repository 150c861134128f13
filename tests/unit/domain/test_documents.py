"""documents.struct_to_dict: the same plain dict json_format.MessageToDict makes, faster."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.domain.documents import set_attributes, struct_to_dict, to_dict, value_to_python

DOCUMENT: dict[str, Any] = {
    "maximumFrameSize": 1522,
    "ratio": 0.25,
    "enabled": False,
    "name": "UNI 1",
    "nothing": None,
    "links": [{"id": "l1", "speed": 10000, "tags": ["a", 2, True, None, [1.5]]}, {}],
    "nested": {"cir": {"irValue": 100, "irUnits": "MBPS"}, "empty": {}},
    "empty_list": [],
}


def test_a_struct_becomes_the_dict_messagetodict_makes() -> None:
    struct = struct_pb2.Struct()
    struct.update(DOCUMENT)
    assert struct_to_dict(struct) == json_format.MessageToDict(struct)
    assert struct_to_dict(struct)["links"][0]["tags"] == ["a", 2.0, True, None, [1.5]]
    for value in struct.fields.values():  # each Value alone too, type for type (2.0 is no 2)
        as_python, expected = value_to_python(value), json_format.MessageToDict(value)
        assert (as_python, repr(as_python)) == (expected, repr(expected))


def test_a_document_round_trips_and_an_empty_one_is_an_empty_dict() -> None:
    payload = common_pb2.ExtensionPayload(type="urn:x")
    assert to_dict(payload) == {}
    set_attributes(payload, DOCUMENT)
    assert to_dict(payload) == DOCUMENT


def test_a_value_left_unset_is_null_and_infinity_is_refused() -> None:
    struct = struct_pb2.Struct()
    struct.fields["unset"].CopyFrom(struct_pb2.Value())
    assert struct_to_dict(struct) == {"unset": None} == json_format.MessageToDict(struct)
    struct.fields["big"].number_value = float("inf")
    with pytest.raises(ValueError, match="finite"):
        struct_to_dict(struct)


def test_every_conversion_gives_a_new_object_that_callers_may_change() -> None:
    payload = common_pb2.ExtensionPayload(type="urn:x")
    set_attributes(payload, DOCUMENT)
    first = to_dict(payload)
    first["nested"]["cir"]["irValue"] = 1
    first["added"] = True
    assert to_dict(payload) == DOCUMENT  # the cached conversion is untouched
    changed = to_dict(payload)
    changed["name"] = "UNI 2"
    set_attributes(payload, changed)
    changed["name"] = "UNI 3"  # the document keeps what it was given
    assert to_dict(payload)["name"] == "UNI 2"


def test_what_json_cannot_say_is_converted_as_struct_update_converts_it() -> None:
    payload = common_pb2.ExtensionPayload(type="urn:x")
    set_attributes(payload, {"odd": float("nan"), "pair": (1, "a")})
    assert math.isnan(payload.attributes.fields["odd"].number_value)
    pair = payload.attributes.fields["pair"].list_value.values
    assert [pair[0].number_value, pair[1].string_value] == [1.0, "a"]
    with pytest.raises(ValueError, match="Unexpected type"):
        set_attributes(payload, {"not json": {1, 2}})
