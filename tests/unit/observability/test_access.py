"""Which finished calls the access log keeps (observability/access.py)."""

from __future__ import annotations

import pytest

from interlude_server.observability.access import AccessPolicy, rpc_changes

GET = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
ORDER = "/mef.lso.interlude.v1.ServiceOrderingService/CreateServiceOrder"
STREAM = "/mef.lso.interlude.v1.EventService/StreamEvents"
HEALTH = "/grpc.health.v1.Health/Check"


def test_changes_are_contract_rpcs_that_are_not_reads() -> None:
    assert rpc_changes(ORDER)
    assert rpc_changes("/mef.lso.interlude.v1.PerformanceService/CancelPerformanceJob")
    assert not rpc_changes(GET)
    assert not rpc_changes(STREAM)
    assert not rpc_changes("/mef.lso.interlude.v1.PerformanceService/QueryPerformanceJobs")
    assert not rpc_changes(HEALTH)
    assert not rpc_changes("/interlude.network.v1.NetworkService/Attach")


@pytest.mark.parametrize(
    ("mode", "method", "failed", "seconds", "streaming", "kept"),
    [
        ("all", GET, False, 0.001, False, True),
        ("changes", GET, False, 0.001, False, False),
        ("changes", ORDER, False, 0.001, False, True),
        ("changes", GET, True, 0.001, False, True),
        ("changes", GET, False, 0.6, False, True),  # slow
        ("changes", STREAM, False, 30.0, True, False),  # a stream is meant to last
        ("errors", ORDER, False, 0.001, False, False),
        ("errors", ORDER, True, 0.001, False, True),
        ("errors", GET, False, 0.6, False, True),
    ],
)
def test_rpc_policy(
    mode: str, method: str, failed: bool, seconds: float, streaming: bool, kept: bool
) -> None:
    policy = AccessPolicy(mode, 0.5)  # type: ignore[arg-type]
    assert policy.rpc(method, failed, seconds, streaming) is kept


@pytest.mark.parametrize(
    ("mode", "method", "status", "seconds", "kept"),
    [
        ("all", "GET", 200, 0.001, True),
        ("changes", "GET", 200, 0.001, False),
        ("changes", "POST", 201, 0.001, True),
        ("changes", "DELETE", 204, 0.001, True),
        ("changes", "GET", 404, 0.001, True),
        ("changes", "GET", 200, 0.7, True),
        ("errors", "POST", 201, 0.001, False),
        ("errors", "POST", 422, 0.001, True),
    ],
)
def test_rest_policy(mode: str, method: str, status: int, seconds: float, kept: bool) -> None:
    assert AccessPolicy(mode, 0.5).rest(method, status, seconds) is kept  # type: ignore[arg-type]
