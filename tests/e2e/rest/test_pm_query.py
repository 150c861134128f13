"""MEF's PM complex queries over REST (`performanceJobComplexQuery`,
`performanceReportComplexQuery`) against a real server: they answer what
QueryPerformanceJobs/QueryPerformanceReports answer over gRPC (every page), with clauses a
list query has not, and only the caller's resources."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from tests.support.helpers import ALPHA, BETA
from tests.support.pm_helpers import CE_PM, Pmc, inline_job, launch_pm_server, minutes
from tests.support.rest import RestClient
from tests.support.server_process import ServerProcess

Pm = performance_pb2
PM = "/mefApi/interlude/performanceMonitoring/v5"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("rest-pm-query"), "--rest-listen", "127.0.0.1:0")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        yield ch


def _grpc_jobs(pmc: Pmc, request: Pm.QueryPerformanceJobsRequest) -> list[str]:
    request.page_size = 1  # walk the keyset pages one job at a time
    out: list[str] = []
    while True:
        r = pmc.stub.QueryPerformanceJobs(request, metadata=pmc.md)
        out += [j.id for j in r.performance_jobs]
        if not r.next_page_token:
            return out
        request.page_token = r.next_page_token


def _minutes(value: int) -> dict[str, Any]:
    return {"timeDurationValue": value, "timeDurationUnits": "MIN"}


def test_job_complex_query_matches_settings_and_schedule_like_the_rpc(
    server: ServerProcess, channel: grpc.Channel
) -> None:
    alpha, beta = Pmc(channel, ALPHA), Pmc(channel, BETA)
    rest, rest_beta = RestClient(server.rest_url), RestClient(server.rest_url, "sp-beta")
    fives = [alpha.create_job(inline_job("alpha-evc-1", 5, "rq-five")).id for _ in range(3)]
    other = alpha.create_job(inline_job("alpha-evc-1", 15, "rq-fifteen", execution_hours=3))
    theirs = beta.create_job(inline_job("beta-ovc-1", 5, "rq-five"))
    by_settings = {
        "performanceProfile": {"@type": "PerformanceProfileValue_Query", "granularity": _minutes(5)}
    }
    found = rest.post(f"{PM}/performanceJobComplexQuery", by_settings)
    assert found.status == 200, found.body
    assert [j["id"] for j in found.body] == fives[::-1]
    rpc = Pm.QueryPerformanceJobsRequest(
        performance_profile_value=Pm.PerformanceProfileValue(granularity=minutes(5))
    )
    assert _grpc_jobs(alpha, rpc) == fives[::-1]
    schedule = {
        "scheduleDefinition": {"executionDuration": {"timeDurationValue": 3, "timeDurationUnits": "HOUR"}}
    }
    assert [j["id"] for j in rest.post(f"{PM}/performanceJobComplexQuery", schedule).body] == [other.id]
    # A list clause and a query clause together; another buyer sees only its own job.
    both = {**by_settings, "buyerJobId": "rq-fifteen"}
    assert rest.post(f"{PM}/performanceJobComplexQuery", both).body == []
    assert [j["id"] for j in rest_beta.post(f"{PM}/performanceJobComplexQuery", by_settings).body] == [
        theirs.id
    ]


def test_report_complex_query_matches_granularity_and_configuration(
    server: ServerProcess, channel: grpc.Channel
) -> None:
    alpha = Pmc(channel, ALPHA)
    rest, rest_beta = RestClient(server.rest_url), RestClient(server.rest_url, "sp-beta")
    job = alpha.create_job(inline_job("alpha-evc-1", 30, "rq-reports"))
    Pmc(channel, BETA).create_job(inline_job("beta-ovc-1", 30, "rq-beta-reports"))
    query = {
        "granularity": _minutes(30),
        "serviceSpecificConfiguration": {"@type": CE_PM},
        "monitoredObject": [{"@type": "ServiceRef", "serviceId": "alpha-evc-1"}],
    }
    deadline = time.monotonic() + 10
    while len(found := rest.post(f"{PM}/performanceReportComplexQuery", query).body) < 2:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    assert {r["performanceJob"]["performanceJobId"] for r in found} == {job.id}
    assert all("reportContent" not in r for r in found)
    assert rest_beta.post(f"{PM}/performanceReportComplexQuery", query).body == []
    elsewhere = {**query, "serviceSpecificConfiguration": {"@type": "urn:nothing:v1"}}
    assert rest.post(f"{PM}/performanceReportComplexQuery", elsewhere).body == []
    mixed = {
        **query,
        "monitoredObject": [
            {"@type": "ServiceRef", "serviceId": "alpha-evc-1"},
            {"@type": "EntityRef", "entityId": "port-1"},
        ],
    }
    refused = rest.post(f"{PM}/performanceReportComplexQuery", mixed)
    assert refused.status in (400, 422), refused.body
