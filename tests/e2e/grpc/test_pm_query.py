"""QueryPerformanceJobs and QueryPerformanceReports (MEF's PM complex queries) against a real
server: clauses a List filter has not, keyset pages, and only the caller's resources."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from tests.support.helpers import ALPHA, BETA, rich_error
from tests.support.pm_helpers import Pmc, inline_job, launch_pm_server, minutes
from tests.support.server_process import ServerProcess

Pm = performance_pb2


@pytest.fixture(scope="module")
def pm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("pm-query"))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def channel(pm_server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(pm_server.target) as ch:
        yield ch


def _all_pages(pmc: Pmc, request: Pm.QueryPerformanceJobsRequest) -> list[list[str]]:
    """The job ids of every page of a query, page by page."""
    request = Pm.QueryPerformanceJobsRequest.FromString(request.SerializeToString())
    pages: list[list[str]] = []
    while True:
        r = pmc.stub.QueryPerformanceJobs(request, metadata=pmc.md)
        pages.append([j.id for j in r.performance_jobs])
        if not r.next_page_token:
            return pages
        request.page_token = r.next_page_token


def test_a_job_query_matches_inline_settings_and_schedules_page_by_page(channel: grpc.Channel) -> None:
    alpha, beta = Pmc(channel, ALPHA), Pmc(channel, BETA)
    fives = [alpha.create_job(inline_job("alpha-evc-1", 5, "q-five")).id for _ in range(3)]
    alpha.create_job(inline_job("alpha-evc-1", 15, "q-fifteen"))
    long_run = alpha.create_job(inline_job("alpha-evc-1", 15, "q-long", execution_hours=2))
    # Another buyer's jobs with the same settings never match alpha's query.
    beta.create_job(inline_job("beta-ovc-1", 5, "q-five"))
    five = Pm.PerformanceProfileValue(granularity=minutes(5))

    pages = _all_pages(alpha, Pm.QueryPerformanceJobsRequest(performance_profile_value=five, page_size=2))
    assert [i for p in pages for i in p] == fives[::-1]  # newest first, each once
    assert len(pages) >= 2
    assert all(len(p) <= 2 for p in pages)

    by_schedule = Pm.QueryPerformanceJobsRequest(
        schedule_definition=Pm.ScheduleDefinition(
            execution_duration=Pm.TimeDuration(value=2, units=Pm.TIME_DURATION_UNITS_HOUR)
        )
    )
    assert [i for p in _all_pages(alpha, by_schedule) for i in p] == [long_run.id]
    # A filter clause and a query clause together (AND).
    both = Pm.QueryPerformanceJobsRequest(
        filter=Pm.PerformanceJobFilter(buyer_job_id="q-fifteen"), performance_profile_value=five
    )
    assert _all_pages(alpha, both) == [[]]
    beta_pages = _all_pages(beta, Pm.QueryPerformanceJobsRequest(performance_profile_value=five))
    assert len([i for p in beta_pages for i in p]) == 1
    assert not set(fives) & {i for p in beta_pages for i in p}


def test_a_page_token_belongs_to_its_query(channel: grpc.Channel) -> None:
    alpha = Pmc(channel, ALPHA)
    for _ in range(2):
        alpha.create_job(inline_job("alpha-evc-1", 10, "q-token"))
    ten = Pm.PerformanceProfileValue(granularity=minutes(10))
    first = alpha.stub.QueryPerformanceJobs(
        Pm.QueryPerformanceJobsRequest(performance_profile_value=ten, page_size=1), metadata=ALPHA
    )
    assert len(first.performance_jobs) == 1
    assert first.next_page_token
    other = Pm.QueryPerformanceJobsRequest(
        performance_profile_value=Pm.PerformanceProfileValue(granularity=minutes(5)),
        page_token=first.next_page_token,
    )
    with pytest.raises(grpc.RpcError) as refused:
        alpha.stub.QueryPerformanceJobs(other, metadata=ALPHA)
    assert rich_error(refused.value).reason == "INVALID_PAGE_TOKEN"


def _reports(pmc: Pmc, request: Pm.QueryPerformanceReportsRequest) -> list[Pm.PerformanceReport]:
    request = Pm.QueryPerformanceReportsRequest.FromString(request.SerializeToString())
    out: list[Pm.PerformanceReport] = []
    while True:
        r = pmc.stub.QueryPerformanceReports(request, metadata=pmc.md)
        out += r.performance_reports
        if not r.next_page_token:
            return out
        request.page_token = r.next_page_token


def test_a_report_query_matches_granularity_and_every_subject(channel: grpc.Channel) -> None:
    alpha, beta = Pmc(channel, ALPHA), Pmc(channel, BETA)
    job = alpha.create_job(inline_job("alpha-evc-1", 30, "q-reports"))
    alpha.create_job(inline_job("alpha-evc-1", 15, "q-other-reports"))
    beta.create_job(inline_job("beta-ovc-1", 30, "q-beta-reports"))
    thirty = Pm.QueryPerformanceReportsRequest(granularity=minutes(30), page_size=1)
    deadline = time.monotonic() + 10
    while len(found := _reports(alpha, thirty)) < 2:  # the engine produces hourly reports
        assert time.monotonic() < deadline, f"only {len(found)} reports of 30 minutes"
        time.sleep(0.05)
    assert {r.performance_job.id for r in found} == {job.id}
    assert all(not r.report_content for r in found)
    service = Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="alpha-evc-1"))
    elsewhere = Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="alpha-evc-2"))
    on_it = Pm.QueryPerformanceReportsRequest(granularity=minutes(30), monitored_object=[service])
    assert {r.performance_job.id for r in _reports(alpha, on_it)} == {job.id}
    both = Pm.QueryPerformanceReportsRequest(granularity=minutes(30), monitored_object=[service, elsewhere])
    assert _reports(alpha, both) == []
    assert {
        r.buyer_id for r in _reports(beta, Pm.QueryPerformanceReportsRequest(granularity=minutes(30)))
    } <= {"sp-beta"}


def test_a_report_query_refuses_mixed_subjects(channel: grpc.Channel) -> None:
    mixed = Pm.QueryPerformanceReportsRequest(
        monitored_object=[
            Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="alpha-evc-1")),
            Pm.MonitoredObjectRef(entity=Pm.EntityRef(id="port-1")),
        ]
    )
    with pytest.raises(grpc.RpcError) as refused:
        Pmc(channel, ALPHA).stub.QueryPerformanceReports(mixed, metadata=ALPHA)
    error = rich_error(refused.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_FILTER"
    assert "monitored_object" in error.violations
