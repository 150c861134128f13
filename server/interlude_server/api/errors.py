"""Rich gRPC errors: one place builds every non-OK status the API sends.

Each error is a google.rpc.Status in the `grpc-status-details-bin` trailer
carrying an ErrorInfo (stable UPPER_SNAKE reason from the contract's
ErrorReason enum, domain `mef.lso.interlude`) and, where relevant, BadRequest
field violations (all of them at once), a PreconditionFailure or a ResourceInfo.
Clients read it with grpc_status.rpc_status.from_call.

Every status is bounded (`rich_status`): ids and values echoed in it are shortened and
violations beyond the budget are counted, not listed, so the trailer stays under 8 KiB
(gRPC clients refuse larger metadata, and would see RESOURCE_EXHAUSTED instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TypeAlias

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.core.errors import (
    DeadlineExceeded,
    DomainError,
    EtagMismatch,
    InUse,
    InvalidArgument,
    InvalidState,
    MissingScope,
    NotFound,
    NotPermitted,
    PolicyViolation,
    RequestIdReused,
    ResumeTokenExpired,
    ShuttingDown,
    SlowConsumer,
    StorageUnavailable,
    Unauthenticated,
)
from interlude_server.core.text import SHORT, shorten, shorten_runs

DOMAIN = "mef.lso.interlude"
_REASON_PREFIX = "ERROR_REASON_"

ErrorReason: TypeAlias = common_pb2.ErrorReason.ValueType

# The google.rpc detail messages callers build; e.g.
# FieldViolation(field="page_size", description="must be between 0 and 1000").
FieldViolation = error_details_pb2.BadRequest.FieldViolation
PreconditionViolation = error_details_pb2.PreconditionFailure.Violation
ResourceInfo = error_details_pb2.ResourceInfo


def reason_name(reason: ErrorReason) -> str:
    """The ErrorInfo reason for an ErrorReason value, e.g. `RPC_NOT_IMPLEMENTED`."""
    return common_pb2.ErrorReason.Name(reason).removeprefix(_REASON_PREFIX)


def _utf8(text: str) -> str:
    """`text` as valid UTF-8: a request may carry lone surrogates (JSON `"\\ud800"`), which a
    proto string cannot hold; they are escaped so the error naming them can still be sent."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# Bytes of grpc-message (percent-encoded) + grpc-status-details-bin (base64) a status may take:
# with grpc-status and the header names, the trailer stays well under 8 KiB.
TRAILER_BUDGET = 6 * 1024
_MESSAGE_BYTES = 1024  # UTF-8 bytes of a status message (at most 3x that percent-encoded)
_METADATA_CHARS = 256  # an ErrorInfo value: server-made tokens and etags are far shorter
_DESCRIPTION_CHARS = 512


def _message(text: str) -> str:
    text = shorten_runs(text)
    raw = text.encode("utf-8")
    if len(raw) <= _MESSAGE_BYTES:
        return text
    return raw[: _MESSAGE_BYTES - 40].decode("utf-8", "ignore") + f"… ({len(text)} characters)"


def _describe(text: str) -> str:
    return shorten(shorten_runs(text), _DESCRIPTION_CHARS)


def _bounded_field(v: error_details_pb2.BadRequest.FieldViolation) -> Message:
    bounded: Message = FieldViolation(
        field=shorten(v.field, 2 * SHORT), description=_describe(v.description), reason=v.reason
    )
    return bounded


def _bounded_rule(v: error_details_pb2.PreconditionFailure.Violation) -> Message:
    bounded: Message = PreconditionViolation(
        type=v.type, subject=shorten(v.subject, 2 * SHORT), description=_describe(v.description)
    )
    return bounded


def wire_size(status: status_pb2.Status) -> int:
    """The bytes `status` takes in a trailer: grpc-message percent-encoded (every byte outside
    printable ASCII, and `%`, as three) plus grpc-status-details-bin in base64."""
    message = sum(1 if 0x20 <= b <= 0x7E and b != 0x25 else 3 for b in status.message.encode("utf-8"))
    details: int = status.ByteSize()
    return message + (details + 2) // 3 * 4


def _kept(violations: Sequence[Message], room: int) -> int:
    """How many of `violations` (in order) fit in `room` wire bytes."""
    used = 0
    for count, v in enumerate(violations):
        used += (v.ByteSize() + 4) * 4 // 3 + 1
        if used > room:
            return count
    return len(violations)


def rich_status(
    code: grpc.StatusCode,
    reason: ErrorReason,
    message: str,
    *,
    metadata: Mapping[str, str] | None = None,
    field_violations: Sequence[error_details_pb2.BadRequest.FieldViolation] = (),
    precondition_violations: Sequence[error_details_pb2.PreconditionFailure.Violation] = (),
    resource: error_details_pb2.ResourceInfo | None = None,
    retry_delay: float | None = None,
) -> status_pb2.Status:
    """Build the google.rpc.Status for a grpc.StatusCode `code` (never OK); `retry_delay`
    (seconds) adds a google.rpc.RetryInfo: when the same call may succeed. The status is
    bounded to TRAILER_BUDGET: long texts are shortened, and violations that do not fit are
    left out, the message saying how many."""
    if code == grpc.StatusCode.OK:
        raise ValueError("a rich error needs a non-OK status code")
    fields = [_bounded_field(v) for v in field_violations]
    rules = [_bounded_rule(v) for v in precondition_violations]
    info = error_details_pb2.ErrorInfo(
        reason=reason_name(reason),
        domain=DOMAIN,
        metadata={k: shorten(v, _METADATA_CHARS) for k, v in (metadata or {}).items()},
    )
    head: list[Message] = [info]
    if resource is not None:
        name = shorten(resource.resource_name)
        head.append(ResourceInfo(resource_type=resource.resource_type, resource_name=name))
    if retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(retry_delay * 1e9))
        head.append(error_details_pb2.RetryInfo(retry_delay=delay))
    message = _message(message)
    status = _status(code, message, head, fields, rules)
    if wire_size(status) > TRAILER_BUDGET:
        listed = [*fields, *rules]
        room = TRAILER_BUDGET - wire_size(_status(code, message + " (9999 more not shown)", head, [], []))
        keep = _kept(listed, room)
        while True:
            note = f"{message} ({len(listed) - keep} more not shown)"
            status = _status(code, note, head, fields[:keep], rules[: max(0, keep - len(fields))])
            if wire_size(status) <= TRAILER_BUDGET or keep == 0:
                break
            keep -= 1
    return status


def _status(
    code: grpc.StatusCode,
    message: str,
    head: Sequence[Message],
    fields: Sequence[Message],
    rules: Sequence[Message],
) -> status_pb2.Status:
    details = [_pack(head[0])]
    if fields:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=fields)))
    if rules:
        details.append(_pack(error_details_pb2.PreconditionFailure(violations=rules)))
    details.extend(_pack(m) for m in head[1:])
    status_code: int = code.value[0]
    return status_pb2.Status(code=status_code, message=message, details=details)


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: status_pb2.Status) -> NoReturn:
    """End the RPC served by the grpc.aio `context` with a rich status (always raises)."""
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


_CODES: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PolicyViolation: grpc.StatusCode.FAILED_PRECONDITION,
    NotPermitted: grpc.StatusCode.PERMISSION_DENIED,
    InvalidState: grpc.StatusCode.FAILED_PRECONDITION,
    InUse: grpc.StatusCode.FAILED_PRECONDITION,
    EtagMismatch: grpc.StatusCode.ABORTED,
    RequestIdReused: grpc.StatusCode.ALREADY_EXISTS,
    ResumeTokenExpired: grpc.StatusCode.OUT_OF_RANGE,
    SlowConsumer: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    MissingScope: grpc.StatusCode.PERMISSION_DENIED,
}


# When a call refused for a passing condition may be tried again (google.rpc.RetryInfo;
# REST Retry-After). A full or read-only database needs an operator, so retrying often helps
# nobody. SHUTTING_DOWN carries none: a stream cut by a shutdown should reconnect (to another
# replica) at once, by its client's own backoff.
_RETRY_DELAYS: dict[type[DomainError], float] = {StorageUnavailable: 5.0}


def code_for(exc: DomainError) -> grpc.StatusCode:
    """The status code a domain error is sent with."""
    return next((c for cls, c in _CODES.items() if isinstance(exc, cls)), grpc.StatusCode.INTERNAL)


def status_for(exc: DomainError) -> status_pb2.Status:
    """The rich status a domain error is sent as: the one mapping of domain errors to gRPC."""
    code = code_for(exc)
    violations = [
        FieldViolation(field=_utf8(v.field), description=_utf8(v.description), reason=v.code)
        for v in getattr(exc, "violations", ())
    ]
    rules = [
        PreconditionViolation(type=r.type, subject=_utf8(r.subject), description=_utf8(r.description))
        for r in getattr(exc, "rules", ())
    ]
    metadata: dict[str, str] = {}
    resource = None
    if isinstance(exc, NotFound | InUse):
        resource = ResourceInfo(resource_type=exc.resource.type, resource_name=exc.resource.id)
    if isinstance(exc, InvalidState):
        metadata["current_state"] = exc.current_state
    if isinstance(exc, EtagMismatch):
        metadata["current_etag"] = exc.current_etag
    if isinstance(exc, SlowConsumer):
        metadata["resume_token"] = exc.resume_token
    if isinstance(exc, Unauthenticated):
        metadata["cause"] = exc.cause
    if isinstance(exc, MissingScope):
        metadata["required_scope"] = exc.scope
    return rich_status(
        code,
        common_pb2.ErrorReason.Value(_REASON_PREFIX + exc.reason),
        _utf8(exc.message),
        metadata={k: _utf8(v) for k, v in metadata.items()},
        field_violations=violations,
        precondition_violations=rules,
        resource=resource,
        retry_delay=_RETRY_DELAYS.get(type(exc)),
    )


async def abort_for(context: grpc.aio.ServicerContext[Any, Any], exc: DomainError) -> NoReturn:
    """End the RPC with the rich status of a domain error (always raises)."""
    await abort(context, status_for(exc))
