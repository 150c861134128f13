"""One table from every ErrorReason to one REST status and MEF error code.

Every failure reaches the REST client through `mef_error`, from a
google.rpc.Status: in-process the domain error's rich status (the same one
gRPC would send, via api.errors.status_for), in gateway mode the status the
upstream sent. So gRPC and REST can never disagree about an error. A 422 is
an array with one entry per field violation, `propertyPath` a JSON Pointer
into the request body translated from the gRPC field path. Echoed ids and values are
shortened (core.text.shorten_runs), as in every gRPC status.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.core.text import is_decimal, shorten_runs

R = common_pb2.ErrorReason
REFERENCE_PREFIX = "urn:mef:lso:interlude:error:"
REASON_HEADER = "X-Interlude-Reason"
MAX_REASON = 255  # MEF Error.reason maxLength
DEFAULT_RETRY_AFTER_S = 1  # a 503 whose status gave no RetryInfo (shutting down, upstream down)


@dataclass(frozen=True)
class RestCode:
    """The HTTP status and the MEF `code` an error is sent with (for a 422, the code of
    a violation that names none)."""

    http: int
    code: str


# The single source of truth for REST errors; tests/unit/rest checks that every ErrorReason is
# here and that the README's error table says the same.
REST_CODES: dict[int, RestCode] = {
    R.ERROR_REASON_UNSPECIFIED: RestCode(500, "internalError"),
    R.ERROR_REASON_RPC_NOT_IMPLEMENTED: RestCode(501, "notImplemented"),
    R.ERROR_REASON_INVALID_REQUEST: RestCode(422, "invalidValue"),
    R.ERROR_REASON_INVALID_PAGE_TOKEN: RestCode(400, "invalidQuery"),
    R.ERROR_REASON_INVALID_FILTER: RestCode(400, "invalidQuery"),
    R.ERROR_REASON_INVALID_FIELD_MASK: RestCode(400, "invalidQuery"),
    R.ERROR_REASON_SERVICE_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_SERVICE_ORDER_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_SERVICE_SPECIFICATION_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_SERVICE_SCHEMA_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_ALARM_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_PERFORMANCE_RESOURCE_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_TEST_RESOURCE_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_ETAG_MISMATCH: RestCode(409, "conflict"),
    R.ERROR_REASON_REQUEST_ID_REUSED: RestCode(409, "conflict"),
    R.ERROR_REASON_POLICY_VIOLATION: RestCode(422, "invalidValue"),
    R.ERROR_REASON_CONNECTIVITY_NOT_PERMITTED: RestCode(403, "accessDenied"),
    R.ERROR_REASON_INVALID_STATE_TRANSITION: RestCode(409, "conflict"),
    R.ERROR_REASON_ORDER_INFORMATION_NOT_REQUIRED: RestCode(409, "conflict"),
    R.ERROR_REASON_RESUME_TOKEN_EXPIRED: RestCode(400, "invalidQuery"),
    R.ERROR_REASON_INVALID_RESUME_TOKEN: RestCode(400, "invalidQuery"),
    R.ERROR_REASON_PROFILE_IN_USE: RestCode(422, "performanceProfileInUse"),
    R.ERROR_REASON_OUT_OF_SERVICE_CONSENT_REQUIRED: RestCode(422, "otherIssue"),
    R.ERROR_REASON_UNAUTHENTICATED: RestCode(401, "invalidCredentials"),
    R.ERROR_REASON_MISSING_SCOPE: RestCode(403, "accessDenied"),
    R.ERROR_REASON_OVERLOADED: RestCode(429, "tooManyRequests"),
    R.ERROR_REASON_SHUTTING_DOWN: RestCode(503, "internalError"),
    R.ERROR_REASON_INTERNAL: RestCode(500, "internalError"),
    R.ERROR_REASON_SLOW_CONSUMER: RestCode(503, "internalError"),
    R.ERROR_REASON_HUB_SUBSCRIPTION_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_INVALID_BODY: RestCode(400, "invalidBody"),
    R.ERROR_REASON_PATH_NOT_FOUND: RestCode(404, "notFound"),
    R.ERROR_REASON_UPSTREAM_UNAVAILABLE: RestCode(503, "internalError"),
    R.ERROR_REASON_METHOD_NOT_ALLOWED: RestCode(405, "notImplemented"),
    R.ERROR_REASON_STORAGE_UNAVAILABLE: RestCode(503, "internalError"),
    R.ERROR_REASON_DEADLINE_EXCEEDED: RestCode(504, "internalError"),
}

# A reason this table does not know (a newer upstream in gateway mode) maps by its gRPC code.
_BY_GRPC_CODE: dict[int, RestCode] = {
    grpc.StatusCode.INVALID_ARGUMENT.value[0]: RestCode(422, "invalidValue"),
    grpc.StatusCode.NOT_FOUND.value[0]: RestCode(404, "notFound"),
    grpc.StatusCode.ALREADY_EXISTS.value[0]: RestCode(409, "conflict"),
    grpc.StatusCode.ABORTED.value[0]: RestCode(409, "conflict"),
    grpc.StatusCode.FAILED_PRECONDITION.value[0]: RestCode(422, "otherIssue"),
    grpc.StatusCode.OUT_OF_RANGE.value[0]: RestCode(400, "invalidQuery"),
    grpc.StatusCode.PERMISSION_DENIED.value[0]: RestCode(403, "accessDenied"),
    grpc.StatusCode.UNAUTHENTICATED.value[0]: RestCode(401, "invalidCredentials"),
    grpc.StatusCode.UNIMPLEMENTED.value[0]: RestCode(501, "notImplemented"),
    grpc.StatusCode.UNAVAILABLE.value[0]: RestCode(503, "internalError"),
    grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]: RestCode(503, "internalError"),
    grpc.StatusCode.DEADLINE_EXCEEDED.value[0]: RestCode(504, "internalError"),
}


@dataclass(frozen=True)
class MefError:
    """A REST error response: status, MEF body (an object, or an array for 422) and the stable reason."""

    http: int
    body: Any
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


# A query problem names its own Error400 code when it is more precise than `invalidQuery`.
_QUERY_CODES = ("missingQueryParameter", "missingQueryValue")


def rest_code(reason: str, grpc_code: int) -> RestCode:
    """The REST code of an ErrorInfo reason (falling back on the gRPC code for unknown reasons)."""
    try:
        return REST_CODES[R.Value("ERROR_REASON_" + reason)]
    except ValueError:
        return _BY_GRPC_CODE.get(grpc_code, RestCode(500, "internalError"))


_TOKEN = re.compile(r"[^.\[\]]+")


# Contract fields MEF spells otherwise: the members of a oneof that MEF carries as one
# property with an `@type` (a job's `performanceProfile`, ref or value).
_MEF_NAMES = {
    "performance_profile_value": "performanceProfile",
    "performance_profile_ref": "performanceProfile",
}


def _camel(name: str) -> str:
    if name in _MEF_NAMES:
        return _MEF_NAMES[name]
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def property_path(field: str, body_root: str = "") -> str:
    """A JSON Pointer into the REST body for a gRPC field path.

    `service_order.service_order_item[0].service.service_configuration.attributes.cir`
    with body root `service_order` is `/serviceOrderItem/0/service/serviceConfiguration/cir`:
    the root is dropped, proto names become camelCase, and an extension point's
    `attributes` level is flattened (its properties keep their MEF spelling).
    A field that already is a pointer is returned unchanged; one that ends in a pointer
    into a document (`test_job.service_specific_test_job_configuration/cirSteps/0`)
    keeps that pointer as it is.
    """
    if field.startswith("/") or not field:
        return field
    field, _, inner = field.partition("/")
    tokens = _TOKEN.findall(field)
    root = _TOKEN.findall(body_root)
    if root and tokens[: len(root)] == root:
        tokens = tokens[len(root) :]
    out: list[str] = []
    in_document = False
    for token in tokens:
        if in_document or token.startswith("@") or is_decimal(token):
            out.append(token)
        elif token == "attributes":
            in_document = True
        else:
            out.append(_camel(token))
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in out) + (
        f"/{inner}" if inner else ""
    )


def _details(status: status_pb2.Status) -> tuple[str, list[Any], dict[str, str], tuple[tuple[str, str], ...]]:
    reason = ""
    violations: list[Any] = []
    metadata: dict[str, str] = {}
    headers: tuple[tuple[str, str], ...] = ()
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
            metadata = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(bad.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            # RetryInfo's delay as Retry-After (RFC 9110: whole seconds, so rounded up).
            seconds = max(1, math.ceil(retry.retry_delay.ToNanoseconds() / 1e9))
            headers = (("Retry-After", str(seconds)),)
    return reason, violations, metadata, headers


def mef_error(status: status_pb2.Status, body_root: str = "") -> MefError:
    """The MEF error response for a rich gRPC status."""
    reason, violations, metadata, headers = _details(status)
    code = rest_code(reason, status.code)
    if reason == "UNAUTHENTICATED" and metadata.get("cause") == "missing_credentials":
        code = RestCode(401, "missingCredentials")  # MEF tells absent from bad credentials
    message = shorten_runs(status.message or reason or "error")  # an upstream may echo a long id
    reference = REFERENCE_PREFIX + (reason or "INTERNAL")
    if code.http == 422:
        body: Any = [
            {
                "code": v.reason if v.reason and code.code in ("invalidValue", "otherIssue") else code.code,
                "propertyPath": property_path(v.field, body_root),
                "reason": v.description[:MAX_REASON] or message[:MAX_REASON],
                "message": message,
                "referenceError": reference,
            }
            for v in violations
        ] or [
            {
                "code": code.code,
                "reason": message[:MAX_REASON],
                "message": message,
                "referenceError": reference,
            }
        ]
    else:
        mef_code = code.code
        if code.http == 400 and violations and violations[0].reason in _QUERY_CODES:
            mef_code = violations[0].reason
        body = {
            "code": mef_code,
            "reason": message[:MAX_REASON],
            # MEF's Error.message: more detail than `reason`, never cut (each violation when there are any).
            "message": "; ".join(f"{v.field}: {v.description}" for v in violations)
            if violations
            else message,
            "referenceError": reference,
        }
    if code.http == 503 and not headers:
        headers = (("Retry-After", str(DEFAULT_RETRY_AFTER_S)),)  # every 503 is "retry later"
    return MefError(code.http, body, reason or "INTERNAL", headers)


@dataclass(frozen=True)
class AnswerAs:
    """What one operation answers instead of a status its MEF file does not list for it
    (Route.errors): the status and MEF `code` sent, and for a 422 the `propertyPath` of an
    entry made from an error that names no property. The reason (X-Interlude-Reason,
    `referenceError`) stays the one gRPC sends: only the REST form changes."""

    http: int
    code: str
    property_path: str = ""


ANSWER_AS = "answer_as"  # request key: the matched route's {table status: AnswerAs}


def answered_as(err: MefError, instead: dict[int, AnswerAs]) -> MefError:
    """`err` as its operation answers it: unchanged unless `instead` names its status."""
    a = instead.get(err.http)
    if a is None:
        return err
    entries = err.body if isinstance(err.body, list) else [err.body]
    if a.http == 422:
        body: Any = [
            {
                "code": a.code,
                **({"propertyPath": e.get("propertyPath", a.property_path)} if a.property_path else {}),
                "reason": e["reason"],
                **({"message": e["message"]} if "message" in e else {}),
                "referenceError": e["referenceError"],
            }
            for e in entries
        ]
    else:
        first = entries[0]
        body = {"code": a.code, "reason": first.get("message", first["reason"])[:MAX_REASON]}
        if len(entries) > 1 or "propertyPath" in first:
            body["message"] = "; ".join(f"{e.get('propertyPath', '/')}: {e['reason']}" for e in entries)
        else:
            body["message"] = first.get("message", first["reason"])
        body["referenceError"] = first["referenceError"]
    return MefError(a.http, body, err.reason, err.headers)


def request_too_large(http: int, what: str) -> MefError:
    """The MEF error for a request line (414) or header field (431) longer than the REST
    server reads: refused before any handler, reason INVALID_REQUEST."""
    body = {
        "code": "invalidQuery" if http == 414 else "otherIssue",
        "reason": what[:MAX_REASON],
        "message": what,
        "referenceError": REFERENCE_PREFIX + "INVALID_REQUEST",
    }
    return MefError(http, body, "INVALID_REQUEST")


def unparsable_request(what: str) -> MefError:
    """The MEF error for a request that is not HTTP/1.1 aiohttp can parse (a bad method, a
    malformed header): 400 invalidBody, reason INVALID_BODY."""
    said = f"the request is not valid HTTP: {what}"
    body = {
        "code": "invalidBody",
        "reason": said[:MAX_REASON],
        "message": said[:1000],
        "referenceError": REFERENCE_PREFIX + "INVALID_BODY",
    }
    return MefError(400, body, "INVALID_BODY")
