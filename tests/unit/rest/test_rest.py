"""The REST adapter's tables and translations, checked exhaustively where they are finite."""

from __future__ import annotations

import re

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2
from interlude_server.api.errors import FieldViolation, rich_status, status_for
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.core.errors import InvalidArgument, ShuttingDown, StorageUnavailable
from interlude_server.core.text import is_decimal
from interlude_server.domain import jsonptr
from interlude_server.rest.errors import (
    REST_CODES,
    AnswerAs,
    answered_as,
    mef_error,
    property_path,
    rest_code,
)
from interlude_server.rest.hub.subscriptions import event_types
from interlude_server.rest.query import window
from tests.support.paths import README

MEF_CODES = {
    400: {"missingQueryParameter", "missingQueryValue", "invalidQuery", "invalidBody"},
    401: {"missingCredentials", "invalidCredentials"},
    403: {"accessDenied", "forbiddenRequester", "tooManyUsers"},
    404: {"notFound"},
    405: {"notImplemented"},
    409: {"conflict"},
    # MEF defines no 429; shedding sends the standard HTTP status with MEF's own code for
    # "too many simultaneous requests" (an Error422Code in the MEF specs).
    429: {"tooManyRequests"},
    422: {
        "missingProperty",
        "invalidValue",
        "invalidFormat",
        "referenceNotFound",
        "unexpectedProperty",
        "tooManyRecords",
        "otherIssue",
        "performanceProfileInUse",
    },
    500: {"internalError"},
    501: {"notImplemented"},
    503: {"internalError"},
    504: {"internalError"},
}


@pytest.mark.parametrize("name", common_pb2.ErrorReason.keys())
def test_every_error_reason_maps_to_one_mef_code_and_is_documented(name: str) -> None:
    code = REST_CODES[common_pb2.ErrorReason.Value(name)]
    assert code.code in MEF_CODES[code.http]
    reason = name.removeprefix("ERROR_REASON_")
    rows = [line for line in README.read_text().splitlines() if line.startswith(f"| `{reason}` ")]
    assert len(rows) == 1, f"README's REST error table has no single row for {reason}"
    assert re.search(rf"\| {code.http} \| `{code.code}` \|", rows[0]), rows[0]


def test_an_unknown_reason_from_a_newer_upstream_maps_by_its_grpc_code() -> None:
    assert rest_code("SOMETHING_NEW", grpc.StatusCode.NOT_FOUND.value[0]).http == 404
    assert rest_code("SOMETHING_NEW", grpc.StatusCode.DATA_LOSS.value[0]).http == 500


@pytest.mark.parametrize(
    ("field", "root", "pointer"),
    [
        ("service_order.service_order_item[0].service.id", "service_order", "/serviceOrderItem/0/service/id"),
        (
            "service_order.service_order_item[2].service.service_configuration.attributes.cir_x.a_b",
            "service_order",
            "/serviceOrderItem/2/service/serviceConfiguration/cir_x/a_b",
        ),
        ("service_order.service_order_item[0].service.service_configuration.@type", "service_order",
         "/serviceOrderItem/0/service/serviceConfiguration/@type"),
        ("request_id", "service_order", "/requestId"),
        ("/already/a/pointer", "", "/already/a/pointer"),
        ("filter.service_date.before", "", "/filter/serviceDate/before"),
    ],
)  # fmt: skip
def test_grpc_field_paths_become_json_pointers_into_the_body(field: str, root: str, pointer: str) -> None:
    assert property_path(field, root) == pointer


def test_a_422_is_an_array_with_one_entry_per_violation() -> None:
    status = rich_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        common_pb2.ERROR_REASON_INVALID_REQUEST,
        "bad",
        field_violations=[
            FieldViolation(field="service_order.description", description="too long", reason="invalidValue"),
            FieldViolation(
                field="service_order.external_id", description="required", reason="missingProperty"
            ),
        ],
    )
    err = mef_error(status, "service_order")
    assert err.http == 422
    assert [(e["code"], e["propertyPath"], e["reason"]) for e in err.body] == [
        ("invalidValue", "/description", "too long"),
        ("missingProperty", "/externalId", "required"),
    ]
    long = mef_error(
        rich_status(grpc.StatusCode.NOT_FOUND, common_pb2.ERROR_REASON_SERVICE_NOT_FOUND, "x " * 500)
    )
    assert (long.http, long.body["code"], len(long.body["reason"])) == (404, "notFound", 255)


def test_an_operation_answers_a_status_its_file_does_not_list_as_the_one_it_lists() -> None:
    missing = mef_error(
        rich_status(grpc.StatusCode.NOT_FOUND, common_pb2.ERROR_REASON_TEST_RESOURCE_NOT_FOUND, "no job x")
    )
    task = {404: AnswerAs(422, "referenceNotFound", "/testJob/id")}
    as_422 = answered_as(missing, task)
    assert (as_422.http, as_422.reason) == (422, "TEST_RESOURCE_NOT_FOUND")
    assert as_422.body == [
        {
            "code": "referenceNotFound",
            "propertyPath": "/testJob/id",
            "reason": "no job x",
            "message": "no job x",
            "referenceError": "urn:mef:lso:interlude:error:TEST_RESOURCE_NOT_FOUND",
        }
    ]
    invalid = mef_error(
        rich_status(
            grpc.StatusCode.INVALID_ARGUMENT,
            common_pb2.ERROR_REASON_INVALID_REQUEST,
            "the body is not valid",
            field_violations=[
                FieldViolation(field="/x", description="not a property here", reason="unexpectedProperty"),
                FieldViolation(field="/name", description="must be a string", reason="invalidValue"),
            ],
        )
    )
    as_400 = answered_as(invalid, {422: AnswerAs(400, "invalidBody")})
    assert (as_400.http, as_400.reason) == (400, "INVALID_REQUEST")
    assert as_400.body == {
        "code": "invalidBody",
        "reason": "the body is not valid",
        "message": "/x: not a property here; /name: must be a string",
        "referenceError": "urn:mef:lso:interlude:error:INVALID_REQUEST",
    }
    assert answered_as(invalid, task) is invalid  # a status the operation lists is unchanged


@pytest.mark.parametrize(
    "query",
    [
        "eventType=serviceOrderStateChangeEvent,serviceOrderCreateEvent",
        "eventType=serviceOrderStateChangeEvent&eventType=serviceOrderCreateEvent",
        "eventType = serviceOrderStateChangeEvent , serviceOrderCreateEvent",
    ],
)
def test_both_hub_query_syntaxes_select_the_same_event_types(query: str) -> None:
    assert event_types(query, "serviceOrdering") == (
        events_pb2.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE,
        events_pb2.EVENT_TYPE_SERVICE_ORDER_CREATE,
    )


def test_an_empty_hub_query_selects_every_type_and_a_foreign_type_is_refused() -> None:
    assert event_types("", "serviceInventory") == ()
    with pytest.raises(InvalidArgument) as caught:
        event_types("eventType=serviceOrderCreateEvent&colour=red", "serviceInventory")
    assert [v.field for v in caught.value.violations] == ["/query", "/query"]


def test_a_shed_request_is_429_with_retry_after_rounded_up_and_every_503_says_when_to_retry() -> None:
    limiter = LoadLimiter(max_unary=0, max_streams=0, retry_after=1.2)
    with pytest.raises(Overloaded) as shed:
        limiter.enter(streaming=False)
    overloaded = mef_error(shed.value.status)
    assert (overloaded.http, overloaded.body["code"], overloaded.reason) == (
        429,
        "tooManyRequests",
        "OVERLOADED",
    )
    assert dict(overloaded.headers) == {"Retry-After": "2"}
    storage = mef_error(status_for(StorageUnavailable("the database takes no writes now")))
    assert (storage.http, dict(storage.headers)) == (503, {"Retry-After": "5"})
    stopping = mef_error(status_for(ShuttingDown("the server is shutting down")))
    assert (stopping.http, dict(stopping.headers)) == (503, {"Retry-After": "1"})


@pytest.mark.parametrize("text", ["²", "١٢", "\U0001d7d9", "-1", "1.0", " 1", "2147483648"])
def test_a_paging_number_that_is_not_plain_ascii_digits_is_a_field_violation_not_a_crash(text: str) -> None:
    # Found by the fuzzer: "²".isdigit() is True but int("²") raises ValueError (a 500).
    with pytest.raises(InvalidArgument) as raised:
        window({"limit": [text], "offset": [text]})
    assert sorted(v.field for v in raised.value.violations) == ["limit", "offset"]


def test_is_decimal_accepts_only_what_int_accepts() -> None:
    for text in ["0", "42", "007"]:
        assert is_decimal(text)
        assert int(text) >= 0
    for text in ["", "²", "٣", "+1", "1_000"]:
        assert not is_decimal(text)


def test_a_json_pointer_with_a_unicode_digit_index_is_simply_absent() -> None:
    assert jsonptr.get({"a": [1, 2]}, "/a/1") == 2
    assert jsonptr.get({"a": [1, 2]}, "/a/¹", "missing") == "missing"
