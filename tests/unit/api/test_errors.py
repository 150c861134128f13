"""Rich error statuses: ErrorInfo reasons come from the contract's ErrorReason enum."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api import errors
from interlude_server.core import errors as de

M = TypeVar("M", bound=Message)


def _unpack(status: Any, cls: type[M], index: int) -> M:
    detail = cls()
    assert status.details[index].Unpack(detail), f"detail {index} is not {cls.__name__}"
    return detail


def test_every_error_reason_is_its_enum_name_without_the_prefix() -> None:
    names = {errors.reason_name(v) for v in common_pb2.ErrorReason.values()}
    assert "RPC_NOT_IMPLEMENTED" in names
    assert len(names) == len(common_pb2.ErrorReason.values())
    assert all(name.isupper() and not name.startswith("ERROR_REASON_") for name in names)


def test_rich_status_carries_error_info_then_all_requested_details() -> None:
    status: Any = errors.rich_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        common_pb2.ERROR_REASON_INVALID_REQUEST,
        "2 invalid fields",
        metadata={"rpc": "ListServices"},
        field_violations=[
            errors.FieldViolation(field="page_size", description="must be <= 1000"),
            errors.FieldViolation(field="filter", description="unknown field"),
        ],
        precondition_violations=[errors.PreconditionViolation(type="POLICY", subject="svc-1")],
        resource=errors.ResourceInfo(resource_type="Service", resource_name="svc-1"),
    )
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info = _unpack(status, error_details_pb2.ErrorInfo, 0)
    assert (info.reason, info.domain) == ("INVALID_REQUEST", "mef.lso.interlude")
    assert dict(info.metadata) == {"rpc": "ListServices"}
    bad_request = _unpack(status, error_details_pb2.BadRequest, 1)
    assert [v.field for v in bad_request.field_violations] == ["page_size", "filter"]
    assert _unpack(status, error_details_pb2.PreconditionFailure, 2).violations[0].subject == "svc-1"
    assert _unpack(status, error_details_pb2.ResourceInfo, 3).resource_name == "svc-1"


def test_a_rich_error_is_never_ok() -> None:
    with pytest.raises(ValueError, match="non-OK"):
        errors.rich_status(grpc.StatusCode.OK, common_pb2.ERROR_REASON_INTERNAL, "fine")


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (
            de.InvalidArgument("bad", [de.Violation("a", "x"), de.Violation("b", "y")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_REQUEST",
        ),
        (de.NotFound("Service", "s1", "SERVICE_NOT_FOUND"), grpc.StatusCode.NOT_FOUND, "SERVICE_NOT_FOUND"),
        (
            de.PolicyViolation(
                "no", [de.PolicyRule("spec:x/path:/cir", "max 1000")], [de.Violation("f", "d")]
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "POLICY_VIOLATION",
        ),
        (
            de.NotPermitted("no", [de.PolicyRule("rule", "d")]),
            grpc.StatusCode.PERMISSION_DENIED,
            "CONNECTIVITY_NOT_PERMITTED",
        ),
        (de.InvalidState("no", "completed"), grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION"),
        (de.EtagMismatch("Service", "s1", "7"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
        (de.RequestIdReused("used"), grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED"),
    ],
)
def test_each_domain_error_maps_to_one_status_code_and_reason(
    exc: de.DomainError, code: grpc.StatusCode, reason: str
) -> None:
    status = errors.status_for(exc)
    assert status.code == code.value[0]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == reason
    violations = getattr(exc, "violations", ())
    if violations:
        bad = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad) for d in status.details)
        assert [v.field for v in bad.field_violations] == [v.field for v in violations]
    if getattr(exc, "rules", ()):
        pre = error_details_pb2.PreconditionFailure()
        assert any(d.Unpack(pre) for d in status.details)
        assert pre.violations[0].subject == exc.rules[0].subject  # type: ignore[attr-defined]
