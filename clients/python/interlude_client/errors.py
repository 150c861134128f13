"""Errors a caller can act on: one exception class per gRPC status code.

Every failed call is turned into an `InterludeError` subclass chosen by its
status code (`NotFound`, `InvalidArgument`, ...), carrying what the server put
in the google.rpc.Status of the `grpc-status-details-bin` trailer: the
ErrorInfo `reason` (a stable UPPER_SNAKE name, e.g. `SERVICE_NOT_FOUND`),
`domain` and `metadata`, every BadRequest field violation, the
PreconditionFailure violations and the ResourceInfo. A status without details
(from a proxy, or grpc itself) gives the same class with empty details.

    try:
        stub.GetService(request)
    except grpc.RpcError as rpc_error:
        error = from_rpc_error(rpc_error)
        if isinstance(error, NotFound): ...
        for field, description in error.field_violations: ...

Some (code, reason) pairs have a class of their own, e.g. `ResumeTokenExpired`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple, Self

import grpc
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_grpc.mef.lso.interlude.v1 import common_pb2

DOMAIN = "mef.lso.interlude"


def _reason(value: common_pb2.ErrorReason.ValueType) -> str:
    return common_pb2.ErrorReason.Name(value).removeprefix("ERROR_REASON_")


# ErrorInfo reasons the client itself acts on (names of the contract's ErrorReason).
RESUME_TOKEN_EXPIRED = _reason(common_pb2.ERROR_REASON_RESUME_TOKEN_EXPIRED)
SLOW_CONSUMER = _reason(common_pb2.ERROR_REASON_SLOW_CONSUMER)
SHUTTING_DOWN = _reason(common_pb2.ERROR_REASON_SHUTTING_DOWN)
OVERLOADED = _reason(common_pb2.ERROR_REASON_OVERLOADED)


class FieldViolation(tuple[str, str]):
    """One bad request field, a `(field, description)` pair; `reason` holds the
    violation's own code when the server sent one (a MEF code such as
    `invalidValue` or `referenceNotFound`)."""

    reason: str

    def __new__(cls, field: str, description: str, reason: str = "") -> Self:
        violation = super().__new__(cls, (field, description))
        violation.reason = reason
        return violation

    @property
    def field(self) -> str:
        return self[0]

    @property
    def description(self) -> str:
        return self[1]

    def __repr__(self) -> str:
        return f"FieldViolation({self.field!r}, {self.description!r}, reason={self.reason!r})"


class PreconditionViolation(NamedTuple):
    """A precondition that failed, e.g. a policy rule (`type` POLICY, `subject` names the rule)."""

    type: str
    subject: str
    description: str


class ResourceInfo(NamedTuple):
    """The resource an error is about (e.g. `Service`, `alpha-uni-9`)."""

    type: str
    name: str


class InterludeError(Exception):
    """A failed call: status `code` and `message`, plus the rich details the server sent.

    `reason`, `domain` and `metadata` come from the ErrorInfo ("" and {} when there
    is none); `field_violations` from BadRequest (all of them, in the server's
    order); `precondition_violations` from PreconditionFailure; `resource_info`
    from ResourceInfo; `retry_delay` (seconds) from RetryInfo: when the same call may
    succeed (e.g. after OVERLOADED), None when the server gave none. `status` is the
    whole google.rpc.Status (None without details) for anything else; `rpc_error` is the original grpc error.
    """

    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[FieldViolation] = (),
        precondition_violations: Iterable[PreconditionViolation] = (),
        resource_info: ResourceInfo | None = None,
        retry_delay: float | None = None,
        status: Any = None,
        rpc_error: grpc.RpcError | None = None,
    ) -> None:
        super().__init__(message)
        self.code: grpc.StatusCode = self.grpc_code if code is None else code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: list[FieldViolation] = list(field_violations)
        self.precondition_violations: list[PreconditionViolation] = list(precondition_violations)
        self.resource_info = resource_info
        self.retry_delay = retry_delay
        self.status = status
        self.rpc_error = rpc_error

    def __str__(self) -> str:
        head = f"{self.code.name} {self.reason}" if self.reason else self.code.name
        text = f"{head}: {self.message}"
        for violation in self.field_violations:
            text += f"\n  {violation.field}: {violation.description}"
        for precondition in self.precondition_violations:
            text += f"\n  {precondition.subject}: {precondition.description}"
        return text


class Cancelled(InterludeError):
    grpc_code = grpc.StatusCode.CANCELLED


class Unknown(InterludeError):
    grpc_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(InterludeError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(InterludeError):
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(InterludeError):
    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(InterludeError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(InterludeError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(InterludeError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(InterludeError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(InterludeError):
    grpc_code = grpc.StatusCode.ABORTED


class OutOfRange(InterludeError):
    grpc_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(InterludeError):
    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(InterludeError):
    grpc_code = grpc.StatusCode.INTERNAL


class Unavailable(InterludeError):
    grpc_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(InterludeError):
    grpc_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(InterludeError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class ResumeTokenExpired(OutOfRange):
    """A stream cannot resume from the token: the events after it are no longer kept
    (older than the server's retention, or the token is from another event log).

    Retrying with the same token can never succeed. Resync instead: open a new
    stream from now (no start point) and keep reading it; re-read the resources you
    follow with ListServices / ListServiceOrders (and Get*) once that stream has sent
    its sync marker; then apply the stream's events on top. Opening the stream
    first means no change made while you re-read is missed.
    """


_BY_CODE: dict[grpc.StatusCode, type[InterludeError]] = {
    cls.grpc_code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}
_BY_REASON: dict[tuple[grpc.StatusCode, str], type[InterludeError]] = {
    (grpc.StatusCode.OUT_OF_RANGE, RESUME_TOKEN_EXPIRED): ResumeTokenExpired,
}


def error_class(code: grpc.StatusCode, reason: str = "") -> type[InterludeError]:
    """The exception class for a status code and ErrorInfo reason."""
    return _BY_REASON.get((code, reason)) or _BY_CODE.get(code, Unknown)


def _rich_status(error: grpc.RpcError) -> Any:
    """The google.rpc.Status in the error's trailers, or None.

    Sync errors are grpc.Call objects; aio errors (grpc.aio.AioRpcError) are not,
    but answer the same methods without awaiting, which is all from_call uses.
    """
    if not callable(getattr(error, "trailing_metadata", None)):
        return None
    try:
        return rpc_status.from_call(error)
    except ValueError:  # the trailer contradicts the status line: trust the status line
        return None


def _details(status: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"field_violations": [], "precondition_violations": []}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found["field_violations"] += [
                FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
            ]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            found["precondition_violations"] += [
                PreconditionViolation(v.type, v.subject, v.description) for v in failure.violations
            ]
        elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            detail.Unpack(resource)
            found["resource_info"] = ResourceInfo(resource.resource_type, resource.resource_name)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            found["retry_delay"] = retry.retry_delay.ToNanoseconds() / 1e9
    return found


def from_status(code: grpc.StatusCode, message: str, status: Any = None) -> InterludeError:
    """The InterludeError for a status code, message and google.rpc.Status (or None)."""
    details = _details(status) if status is not None else {}
    cls = error_class(code, details.get("reason", ""))
    return cls(message, code=code, status=status, **details)


def from_rpc_error(error: grpc.RpcError) -> InterludeError:
    """The InterludeError for a failed sync (grpc.Call) or aio (grpc.aio.AioRpcError) call."""
    code_of = getattr(error, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_of = getattr(error, "details", None)
    message = (details_of() if callable(details_of) else None) or ""
    converted = from_status(code, message, _rich_status(error))
    converted.rpc_error = error
    return converted
