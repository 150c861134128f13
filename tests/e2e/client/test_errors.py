"""`from_rpc_error` on real failed calls: rich statuses built by the server's own error code
(interlude_server.api.errors), sent by a real grpc.aio server, read by sync and aio clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from interlude_client import errors as ce
from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import rich_status, status_for
from interlude_server.core import errors as de
from tests.support.probe import FAIL_METHOD, ProbeServer

POLICY_RULE = "policy:ovc-end-point:/ingressBandwidthProfilePerOvcEndPoint/cir/irValue"
ALL_CODES = [c for c in grpc.StatusCode if c != grpc.StatusCode.OK]


@pytest.fixture(scope="module")
def channel(probe: ProbeServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(probe.target) as ch:
        yield ch


def _fail_sync(probe: ProbeServer, channel: grpc.Channel, name: str, status: Any) -> ce.InterludeError:
    probe.fail_with[name] = status
    fail: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(FAIL_METHOD)
    with pytest.raises(grpc.RpcError) as raised:
        fail(name.encode())
    return ce.from_rpc_error(raised.value)


async def _fail_aio(probe: ProbeServer, name: str, status: Any) -> ce.InterludeError:
    probe.fail_with[name] = status
    async with grpc.aio.insecure_channel(probe.target) as channel:
        fail: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(FAIL_METHOD)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await fail(name.encode())
    return ce.from_rpc_error(raised.value)


def test_bad_input_gives_invalid_argument_with_every_field_violation(
    probe: ProbeServer, channel: grpc.Channel
) -> None:
    status = status_for(
        de.InvalidArgument(
            "2 invalid fields",
            [
                de.Violation("service.id", "no such service", "referenceNotFound"),
                de.Violation("update_mask", "unknown path", "invalidValue"),
            ],
        )
    )
    error = _fail_sync(probe, channel, "bad-input", status)
    assert type(error) is ce.InvalidArgument
    assert (error.code, error.message) == (grpc.StatusCode.INVALID_ARGUMENT, "2 invalid fields")
    assert (error.reason, error.domain) == ("INVALID_REQUEST", "mef.lso.interlude")
    assert error.field_violations == [("service.id", "no such service"), ("update_mask", "unknown path")]
    assert [v.reason for v in error.field_violations] == ["referenceNotFound", "invalidValue"]
    assert [v.field for v in error.field_violations] == ["service.id", "update_mask"]
    assert isinstance(error.rpc_error, grpc.Call)
    assert str(error).splitlines() == [
        "INVALID_ARGUMENT INVALID_REQUEST: 2 invalid fields",
        "  service.id: no such service",
        "  update_mask: unknown path",
    ]


def test_a_policy_refusal_names_each_rule_and_field(probe: ProbeServer, channel: grpc.Channel) -> None:
    status = status_for(
        de.PolicyViolation(
            "the policy does not allow this change",
            [de.PolicyRule(POLICY_RULE, "allowed range is [10, 1000]")],
            [de.Violation("service.service_configuration", "2000 is out of range")],
        )
    )
    error = _fail_sync(probe, channel, "policy", status)
    assert type(error) is ce.FailedPrecondition
    assert error.reason == "POLICY_VIOLATION"
    assert error.precondition_violations == [("POLICY", POLICY_RULE, "allowed range is [10, 1000]")]
    assert error.precondition_violations[0].subject == POLICY_RULE
    assert error.field_violations == [("service.service_configuration", "2000 is out of range")]


def test_not_found_carries_the_resource(probe: ProbeServer, channel: grpc.Channel) -> None:
    error = _fail_sync(
        probe, channel, "not-found", status_for(de.NotFound("Service", "alpha-uni-9", "SERVICE_NOT_FOUND"))
    )
    assert type(error) is ce.NotFound
    assert error.reason == "SERVICE_NOT_FOUND"
    assert error.resource_info == ("Service", "alpha-uni-9")
    assert error.resource_info is not None
    assert error.resource_info.name == "alpha-uni-9"
    assert error.field_violations == []
    assert error.precondition_violations == []


@pytest.mark.parametrize(
    ("exc", "cls", "metadata"),
    [
        (de.EtagMismatch("Service", "s1", "W/7"), ce.Aborted, {"current_etag": "W/7"}),
        (de.RequestIdReused("request_id r1 was used for another request"), ce.AlreadyExists, {}),
        (de.NotPermitted("not through this ENNI", [de.PolicyRule("rule", "d")]), ce.PermissionDenied, {}),
        (
            de.InvalidState("the order is completed", "completed"),
            ce.FailedPrecondition,
            {"current_state": "completed"},
        ),
        (de.SlowConsumer("you fell behind", "tok-42"), ce.ResourceExhausted, {"resume_token": "tok-42"}),
        (de.ShuttingDown("the server is shutting down"), ce.Unavailable, {}),
        (de.ResumeTokenExpired("the events after this token are gone"), ce.ResumeTokenExpired, {}),
    ],
)
def test_each_domain_error_becomes_its_class_with_reason_and_metadata(
    probe: ProbeServer,
    channel: grpc.Channel,
    exc: de.DomainError,
    cls: type[ce.InterludeError],
    metadata: dict[str, str],
) -> None:
    error = _fail_sync(probe, channel, exc.reason, status_for(exc))
    assert type(error) is cls
    assert (error.reason, error.message, error.metadata) == (exc.reason, exc.message, metadata)


def test_an_expired_resume_token_is_out_of_range_and_says_how_to_resync(
    probe: ProbeServer, channel: grpc.Channel
) -> None:
    error = _fail_sync(probe, channel, "expired", status_for(de.ResumeTokenExpired("gone")))
    assert isinstance(error, ce.ResumeTokenExpired)
    assert isinstance(error, ce.OutOfRange)
    assert error.code == grpc.StatusCode.OUT_OF_RANGE
    assert "from now" in (ce.ResumeTokenExpired.__doc__ or "")
    other = rich_status(
        grpc.StatusCode.OUT_OF_RANGE, common_pb2.ERROR_REASON_INVALID_PAGE_TOKEN, "page past end"
    )
    assert type(_fail_sync(probe, channel, "other-out-of-range", other)) is ce.OutOfRange


def test_unauthenticated_and_a_status_without_details(probe: ProbeServer, channel: grpc.Channel) -> None:
    status = rich_status(
        grpc.StatusCode.UNAUTHENTICATED, common_pb2.ERROR_REASON_UNAUTHENTICATED, "no credentials"
    )
    assert type(_fail_sync(probe, channel, "unauthenticated", status)) is ce.Unauthenticated
    plain = _fail_sync(probe, channel, "plain", (grpc.StatusCode.INTERNAL, "proxy said no"))
    assert type(plain) is ce.Internal
    assert (plain.message, plain.reason, plain.domain, plain.metadata) == ("proxy said no", "", "", {})
    assert plain.status is None
    assert str(plain) == "INTERNAL: proxy said no"


@pytest.mark.parametrize("code", ALL_CODES, ids=lambda c: c.name)
def test_every_status_code_has_its_own_class(
    probe: ProbeServer, channel: grpc.Channel, code: grpc.StatusCode
) -> None:
    error = _fail_sync(probe, channel, f"plain-{code.name}", (code, f"plain {code.name}"))
    assert error.code == code
    assert type(error).grpc_code == code
    assert type(error) is ce.error_class(code)


def test_an_unknown_method_is_unimplemented(channel: grpc.Channel) -> None:
    nothing: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/interlude.test.Probe/No")
    with pytest.raises(grpc.RpcError) as raised:
        nothing(b"")
    error = ce.from_rpc_error(raised.value)
    assert type(error) is ce.Unimplemented
    assert error.reason == ""


async def test_aio_errors_are_read_the_same_way(probe: ProbeServer) -> None:
    status = status_for(de.InvalidArgument("1 invalid field", [de.Violation("page_size", "must be <= 1000")]))
    error = await _fail_aio(probe, "aio-bad-input", status)
    assert type(error) is ce.InvalidArgument
    assert error.reason == "INVALID_REQUEST"
    assert error.field_violations == [("page_size", "must be <= 1000")]
    assert isinstance(error.rpc_error, grpc.aio.AioRpcError)
    expired = await _fail_aio(probe, "aio-expired", status_for(de.ResumeTokenExpired("gone")))
    assert isinstance(expired, ce.ResumeTokenExpired)
    plain = await _fail_aio(probe, "aio-plain", (grpc.StatusCode.UNAVAILABLE, "down"))
    assert (type(plain), plain.reason, plain.message) == (ce.Unavailable, "", "down")
