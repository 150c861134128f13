"""The stages of every call, in their order: shed, then deadline, then authentication, then the
handler; whatever refuses or fails, one `rpc.finished` and a place in the bound given back.

The stages run here on a stand-in for grpc.aio's servicer context (the end-to-end
tests, tests/e2e/grpc/test_rpc_logging.py and tests/e2e/reliability/test_overload.py, run
it in a real server); what these pin down is the order of the checks and what each leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

import grpc
import pytest
from google.protobuf import timestamp_pb2
from structlog.testing import capture_logs
from structlog.typing import EventDict

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, service_test_pb2
from interlude_server.api import stages as api_stages
from interlude_server.api.interceptors import RpcStages
from interlude_server.api.overload import LoadLimiter
from interlude_server.api.principal import AuthGate, CallHeaders
from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.principal import Principal, current_principal
from interlude_server.core.errors import Unauthenticated
from interlude_server.observability.logging import log_context

GET_SERVICE = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


class Context:
    """What the stages use of grpc.aio's servicer context."""

    def __init__(self, time_remaining: float | None = None) -> None:
        self.remaining = time_remaining
        self.status: grpc.StatusCode | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return (("x-request-id", "req-1"),)

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"

    def time_remaining(self) -> float | None:
        return self.remaining

    def code(self) -> grpc.StatusCode | None:
        return self.status

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status.code
        raise grpc.aio.AbortError()


class SpyGate(AuthGate):
    """A gate that records the calls it was asked to admit, and admits or refuses them all."""

    def __init__(self, principal: Principal | None = None, refusal: Exception | None = None) -> None:
        super().__init__(Authenticator("none", default_buyer="sp-alpha"))
        self.principal, self.refusal = principal, refusal
        self.asked: list[str] = []

    def __call__(self, method: str, headers: CallHeaders, context: Any) -> Principal | None:
        self.asked.append(method)
        if self.refusal is not None:
            raise self.refusal
        return self.principal


def _unary(behavior: Callable[..., Any]) -> grpc.RpcMethodHandler[Any, Any]:
    return grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=inventory_pb2.GetServiceRequest.FromString
    )


async def _call(
    stages: RpcStages, context: Any, behavior: Callable[..., Any], method: str = GET_SERVICE
) -> Any:
    handler = stages.wrap(method, _unary(behavior))
    assert handler.unary_unary is not None
    return await handler.unary_unary(inventory_pb2.GetServiceRequest(id="svc-1"), context)


def _finished(logs: list[EventDict]) -> EventDict:
    (entry,) = [e for e in logs if e["event"] == "rpc.finished"]
    return entry


class Handler:
    """A handler behaviour that records the principal it ran as, and its logging context."""

    def __init__(self) -> None:
        self.principals: list[Principal | None] = []
        self.log_contexts: list[dict[str, object]] = []

    async def behavior(self, request: Any, context: Any) -> inventory_pb2.GetServiceResponse:
        self.principals.append(current_principal())
        self.log_contexts.append(log_context())
        return inventory_pb2.GetServiceResponse()


def test_an_overloaded_server_refuses_before_the_deadline_or_authentication() -> None:
    gate, handler, context = SpyGate(), Handler(), Context(time_remaining=0.0)
    interceptor = RpcStages("sp-alpha", gate, LoadLimiter(max_unary=0, max_streams=0, retry_after=1.0))
    with capture_logs() as logs, pytest.raises(grpc.aio.AbortError):
        asyncio.run(_call(interceptor, context, handler.behavior))
    assert context.status == grpc.StatusCode.RESOURCE_EXHAUSTED  # not DEADLINE_EXCEEDED: shed first
    assert gate.asked == []
    assert handler.principals == []
    entry = _finished(logs)
    assert (entry["code"], entry["reason"], entry["request_id"]) == (
        "RESOURCE_EXHAUSTED",
        "OVERLOADED",
        "req-1",
    )


def test_a_call_past_its_deadline_is_refused_before_authentication_and_gives_its_place_back() -> None:
    gate, limiter, context = SpyGate(), LoadLimiter(max_unary=1, max_streams=1, retry_after=1.0), Context(0.0)
    with capture_logs() as logs, pytest.raises(grpc.aio.AbortError):
        asyncio.run(_call(RpcStages("sp-alpha", gate, limiter), context, Handler().behavior))
    assert context.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert gate.asked == []
    assert limiter.counts.unary == 0
    assert _finished(logs)["code"] == "DEADLINE_EXCEEDED"


def test_health_is_served_by_a_server_at_its_bound() -> None:
    handler = Handler()
    interceptor = RpcStages("sp-alpha", SpyGate(), LoadLimiter(max_unary=0, max_streams=0, retry_after=1.0))
    with capture_logs() as logs:
        asyncio.run(_call(interceptor, Context(), handler.behavior, HEALTH_CHECK))
    assert len(handler.principals) == 1
    assert _finished(logs)["code"] == "OK"


def test_a_refused_credential_is_unauthenticated_and_gives_its_place_back() -> None:
    gate = SpyGate(refusal=Unauthenticated("no credentials", "missing_credentials"))
    limiter, context, handler = LoadLimiter(max_unary=1, max_streams=1, retry_after=1.0), Context(), Handler()
    with capture_logs() as logs, pytest.raises(grpc.aio.AbortError):
        asyncio.run(_call(RpcStages("sp-alpha", gate, limiter), context, handler.behavior))
    assert context.status == grpc.StatusCode.UNAUTHENTICATED
    assert gate.asked == [GET_SERVICE]
    assert handler.principals == []
    assert limiter.counts.unary == 0
    assert _finished(logs)["code"] == "UNAUTHENTICATED"


def test_the_handler_runs_as_the_admitted_principal_and_the_log_names_its_buyer() -> None:
    principal = Principal("sp-beta", frozenset(), "subject", "token")
    handler, limiter = Handler(), LoadLimiter(max_unary=1, max_streams=1, retry_after=1.0)
    with capture_logs() as logs:
        asyncio.run(_call(RpcStages("sp-alpha", SpyGate(principal), limiter), Context(), handler.behavior))
    assert handler.principals == [principal]
    assert current_principal() is None  # only while the handler runs
    assert limiter.counts.unary == 0
    entry = _finished(logs)
    assert (entry["code"], entry["buyer"]) == ("OK", "sp-beta")
    (seen,) = handler.log_contexts  # what the handler logs names the admitted buyer too
    assert (seen["buyer"], seen["request_id"], seen["method"]) == ("sp-beta", "req-1", GET_SERVICE)


def test_a_handler_fault_is_internal_with_the_request_id_as_incident() -> None:
    async def failing(request: Any, context: Any) -> None:
        raise RuntimeError("probe failure")

    context = Context()
    with capture_logs() as logs, pytest.raises(grpc.aio.AbortError):
        asyncio.run(_call(RpcStages("sp-alpha", SpyGate(), None), context, failing))
    assert context.status == grpc.StatusCode.INTERNAL
    entry = _finished(logs)
    assert (entry["code"], entry["incident"], entry["log_level"]) == ("INTERNAL", "req-1", "error")


class Unnamed(Context):
    """A call whose metadata names no request id."""

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return ()


@pytest.mark.parametrize(
    ("request_message", "logged"),
    [
        (service_test_pb2.CreateTestProfileRequest(request_id="req-in-body"), "req-in-body"),
        (service_test_pb2.CreateTestProfileRequest(), ""),
        (inventory_pb2.GetServiceRequest(id="svc-1"), ""),  # a type without the field
    ],
)
def test_without_metadata_the_request_id_is_the_request_field(request_message: Any, logged: str) -> None:
    async def behavior(request: Any, context: Any) -> inventory_pb2.GetServiceResponse:
        return inventory_pb2.GetServiceResponse()

    handler = RpcStages("sp-alpha").wrap(
        GET_SERVICE,
        grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=type(request_message).FromString),
    )
    assert handler.unary_unary is not None
    call = handler.unary_unary
    context: Any = Unnamed()
    with capture_logs() as logs:
        for _ in range(2):  # the second call of the type decides from what the first learnt
            asyncio.run(call(request_message, context))
    assert [e["request_id"] for e in logs if e["event"] == "rpc.finished"] == [logged, logged]


def test_an_object_that_is_no_message_is_asked_for_its_request_id() -> None:
    class Plain:
        def __init__(self, request_id: object) -> None:
            self.request_id = request_id

    assert api_stages._request_id_field(Plain("req-plain")) == "req-plain"
    assert api_stages._request_id_field(Plain(7)) == ""  # not text
    assert api_stages._request_id_field(object()) == ""


def test_a_request_of_a_type_that_can_be_bad_is_still_checked_and_a_plain_one_served() -> None:
    async def behavior(request: Any, context: Any) -> inventory_pb2.GetServiceResponse:
        return inventory_pb2.GetServiceResponse()

    def call(request: Any) -> Context:
        handler = RpcStages("sp-alpha").wrap(
            GET_SERVICE,
            grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=type(request).FromString),
        )
        assert handler.unary_unary is not None
        context = Context()
        with contextlib.suppress(grpc.aio.AbortError):
            asyncio.run(handler.unary_unary(request, cast(Any, context)))
        return context

    bad = inventory_pb2.ListServicesRequest()
    bad.filter.start_date.before.CopyFrom(timestamp_pb2.Timestamp(seconds=1, nanos=-1))
    with capture_logs():
        assert call(bad).status == grpc.StatusCode.INVALID_ARGUMENT
        assert call(inventory_pb2.ListServicesRequest()).status is None  # served
        assert call(inventory_pb2.GetServiceRequest(id="svc-1")).status is None
