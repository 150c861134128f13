"""Performance monitoring against a real, time-scaled server (Interlude interaction 8)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2
from tests.support.helpers import ALPHA, BETA, rich_error
from tests.support.pm_helpers import IP_PM, Pmc, epoch, keys, launch_pm_server, profile, service_job
from tests.support.server_process import ServerProcess
from tests.support.streams import Collector

Pm = performance_pb2
Ev = events_pb2
BIN_S = 0.1  # a 15-minute bin at TIME_SCALE


@pytest.fixture(scope="module")
def pm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("pm"))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def channel(pm_server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(pm_server.target) as ch:
        yield ch


@pytest.fixture(scope="module")
def alpha(channel: grpc.Channel) -> Pmc:
    return Pmc(channel, ALPHA)


@pytest.fixture(scope="module")
def beta(channel: grpc.Channel) -> Pmc:
    return Pmc(channel, BETA)


def _updates_after_sync(stream: object) -> int:
    responses = list(stream.responses)  # type: ignore[attr-defined]
    kinds = [r.WhichOneof("kind") for r in responses]
    return kinds[kinds.index("sync") + 1 :].count("update") if "sync" in kinds else 0


def test_job_streams_live_goes_quiet_when_suspended_and_resumes_then_cancels(
    alpha: Pmc, channel: grpc.Channel
) -> None:
    start = timestamp_pb2.Timestamp()
    start.GetCurrentTime()
    events = Collector(
        channel,
        Ev.StreamEventsRequest(
            filter=Ev.EventFilter(resource_types=[Ev.RESOURCE_TYPE_PERFORMANCE_JOB]), start_time=start
        ),
    )
    _, job = alpha.running_job()
    live = alpha.stream(performance_job_ids=[job.id], mode=Pm.STREAM_MODE_STREAM)
    try:
        live.wait_for(lambda: _updates_after_sync(live) >= 3)
        update = live.of_kind("update")[-1]
        assert {m.metric_name for m in update.measurements} == {
            "oneWayFrameDelay",
            "interFrameDelayVariation",
            "frameLossRatio",
            "availability",
        }
        for m in update.measurements:
            assert m.performance_job_id == job.id
            assert m.monitored_object.service.id == "alpha-evc-1"
            assert m.HasField("sls_objective")
            assert m.value >= 0
            assert (
                m.interval_end_time.ToNanoseconds() - m.interval_start_time.ToNanoseconds() == 15 * 60 * 10**9
            )

        events.wait_for(lambda: any(e.event_type in _REPORT_EVENTS for e in events.events()))  # hourly

        suspended = alpha.stub.SuspendPerformanceJob(
            Pm.SuspendPerformanceJobRequest(id=job.id, reason="maintenance"), metadata=ALPHA
        ).performance_job
        assert suspended.state == Pm.PERFORMANCE_JOB_STATE_SUSPENDED
        assert alpha.job(job.id).state == Pm.PERFORMANCE_JOB_STATE_SUSPENDED
        quiet_from = len(live.of_kind("update"))
        beats = len(live.of_kind("heartbeat"))
        live.wait_for(lambda: len(live.of_kind("heartbeat")) >= beats + 1)  # >= 1 s of quiet: ~10 bins
        # At most the one batch committed just before the suspension may still have been on its way.
        assert len(live.of_kind("update")) <= quiet_from + 1, "measurements arrived while suspended"
        quiet_from = len(live.of_kind("update"))

        resumed = alpha.stub.ResumePerformanceJob(Pm.ResumePerformanceJobRequest(id=job.id), metadata=ALPHA)
        assert resumed.performance_job.state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS
        live.wait_for(lambda: len(live.of_kind("update")) >= quiet_from + 2)

        task = alpha.stub.CancelPerformanceJob(
            Pm.CancelPerformanceJobRequest(id=job.id, reason="done"), metadata=ALPHA
        ).performance_job_task
        assert task.task_type == Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL
        assert task.state == Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED
        cancelled = alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_CANCELLED)
        done = alpha.stub.GetPerformanceJobTask(Pm.GetPerformanceJobTaskRequest(id=task.id), metadata=ALPHA)
        assert done.performance_job_task.state == Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED
        history = [
            Pm.PerformanceJobState.Name(h.state).removeprefix("PERFORMANCE_JOB_STATE_")
            for h in cancelled.state_history
        ]
        assert history == [
            "ACKNOWLEDGED",
            "IN_PROGRESS",
            "SUSPENDED",
            "IN_PROGRESS",
            "PENDING_CANCEL",
            "CANCELLED",
        ]
        after_cancel = len(live.of_kind("update"))
        beats = len(live.of_kind("heartbeat"))
        live.wait_for(lambda: len(live.of_kind("heartbeat")) >= beats + 1)
        assert len(live.of_kind("update")) <= after_cancel + 1, "measurements arrived after the cancellation"

        # The same transactions logged the PM events that StreamEvents carries.
        events.wait_for(lambda: any(e.state == "cancelled" for e in events.events()))
        mine = [e for e in events.events() if e.resource.id == job.id]
        changes = [e.state for e in mine if e.event_type == Ev.EVENT_TYPE_PERFORMANCE_JOB_STATE_CHANGE]
        assert changes == ["inProgress", "suspended", "inProgress", "pendingCancel", "cancelled"]
        assert mine[0].event_type == Ev.EVENT_TYPE_PERFORMANCE_JOB_CREATE
        reported = {e.resource.report_id for e in mine if e.event_type in _REPORT_EVENTS}
        assert reported, "no report-ready or report-preparation-error event"
        for report_id in reported:
            report = alpha.stub.GetPerformanceReport(
                Pm.GetPerformanceReportRequest(id=report_id), metadata=ALPHA
            ).performance_report
            assert report.performance_job.id == job.id
            assert report.state in (Pm.PERFORMANCE_REPORT_STATE_COMPLETED, Pm.PERFORMANCE_REPORT_STATE_FAILED)
    finally:
        live.stop()
        events.stop()


_REPORT_EVENTS = (
    Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_READY,
    Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_PREPARATION_ERROR,
)


def test_invalid_transitions_are_refused_naming_the_current_state(alpha: Pmc) -> None:
    _, job = alpha.running_job()
    with pytest.raises(grpc.RpcError) as resume:
        alpha.stub.ResumePerformanceJob(Pm.ResumePerformanceJobRequest(id=job.id), metadata=ALPHA)
    error = rich_error(resume.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INVALID_STATE_TRANSITION"
    assert error.metadata["current_state"] == "inProgress"
    assert "inProgress" in error.message

    with pytest.raises(grpc.RpcError) as modify:
        alpha.stub.ModifyPerformanceJob(
            Pm.ModifyPerformanceJobRequest(
                id=job.id, modification=Pm.PerformanceJobModification(description="new")
            ),
            metadata=ALPHA,
        )
    assert rich_error(modify.value).metadata["current_state"] == "inProgress"

    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)
    alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_CANCELLED)
    with pytest.raises(grpc.RpcError) as suspend:
        alpha.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job.id), metadata=ALPHA)
    assert rich_error(suspend.value).metadata["current_state"] == "cancelled"


def test_modifying_a_suspended_job_runs_a_task_and_applies_it(alpha: Pmc) -> None:
    _, job = alpha.running_job()
    alpha.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job.id), metadata=ALPHA)
    change = Pm.PerformanceJobModification(
        description="hourly now",
        performance_profile_value=Pm.PerformanceProfileValue(
            granularity=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_HOUR)
        ),
    )
    task = alpha.stub.ModifyPerformanceJob(
        Pm.ModifyPerformanceJobRequest(id=job.id, modification=change, reason="coarser"), metadata=ALPHA
    ).performance_job_task
    modified = alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    assert modified.description == "hourly now"
    assert modified.performance_profile_value.granularity.units == Pm.TIME_DURATION_UNITS_HOUR
    assert modified.performance_profile_value.job_type == Pm.PERFORMANCE_JOB_TYPE_PROACTIVE  # kept
    tasks = alpha.stub.ListPerformanceJobTasks(
        Pm.ListPerformanceJobTasksRequest(filter=Pm.PerformanceJobTaskFilter(performance_job_id=job.id)),
        metadata=ALPHA,
    ).performance_job_tasks
    assert [(t.id, t.state) for t in tasks] == [(task.id, Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED)]
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_deleting_a_profile_in_use_is_refused_until_its_jobs_end(alpha: Pmc) -> None:
    used, job = alpha.running_job()
    assert alpha.stub.GetPerformanceProfile(
        Pm.GetPerformanceProfileRequest(id=used.id), metadata=ALPHA
    ).performance_profile.is_assigned
    with pytest.raises(grpc.RpcError) as refused:
        alpha.stub.DeletePerformanceProfile(Pm.DeletePerformanceProfileRequest(id=used.id), metadata=ALPHA)
    error = rich_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PROFILE_IN_USE")

    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)
    alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_CANCELLED)
    alpha.stub.DeletePerformanceProfile(Pm.DeletePerformanceProfileRequest(id=used.id), metadata=ALPHA)
    with pytest.raises(grpc.RpcError) as gone:
        alpha.stub.GetPerformanceProfile(Pm.GetPerformanceProfileRequest(id=used.id), metadata=ALPHA)
    assert rich_error(gone.value).reason == "PERFORMANCE_RESOURCE_NOT_FOUND"


def test_stream_resume_loses_nothing_and_repeats_nothing(alpha: Pmc) -> None:
    ip = profile(service_specific_configuration=common_pb2.ExtensionPayload(type=IP_PM))
    _, job = alpha.running_job("alpha-ipvc-1", ip)
    first = alpha.stream(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch()))
    first.wait_for(lambda: len(first.of_kind("update")) >= 3)
    first.stop()
    token = first.last_token()
    seen = first.of_kind("update")
    time.sleep(3 * BIN_S)  # bins recorded while nobody listens
    second = alpha.stream(performance_job_ids=[job.id], resume_token=token)
    try:
        second.wait_for(lambda: len(second.of_kind("update")) >= 4)
    finally:
        second.stop()
    streamed = keys(seen + second.of_kind("update"))
    assert len(set(streamed)) == len(streamed), "a bin was delivered twice"
    stored = keys(alpha.once(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch())))
    assert streamed == stored[: len(streamed)], "a bin was lost across the resume"
    assert {m.metric_name for m in second.of_kind("update")[0].measurements} == {
        "oneWayPacketDelay",
        "packetLossRatio",
        "jitter",
    }
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_once_mode_returns_exactly_the_stored_range_then_ends(alpha: Pmc) -> None:
    _, job = alpha.running_job("alpha-evc-1-ep-1")
    watch = alpha.stream(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch()))
    watch.wait_for(lambda: len(watch.of_kind("update")) >= 6)
    watch.stop()
    everything = alpha.once(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch()))
    starts = [k[1] for k in keys(everything)]
    assert starts == sorted(starts)
    assert len(starts) >= 6
    after, before = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    after.FromNanoseconds(starts[1])  # exclusive: the bin starting here is out
    before.FromNanoseconds(starts[4])  # exclusive: so is this one
    ranged = alpha.once(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=after, before=before))
    assert keys(ranged) == keys(everything)[2:4]
    only_delay = alpha.once(
        performance_job_ids=[job.id],
        range=common_pb2.TimeRange(after=after, before=before),
        metric_names=["oneWayFrameDelay"],
    )
    assert [[m.metric_name for m in u.measurements] for u in only_delay] == [["oneWayFrameDelay"]] * 2
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_another_buyer_sees_nothing_of_alphas_pm(alpha: Pmc, beta: Pmc) -> None:
    used, job = alpha.running_job("alpha-evc-1-ep-2")
    alpha_stream = alpha.stream(performance_job_ids=[job.id])
    alpha_stream.wait_for(lambda: len(alpha_stream.of_kind("update")) >= 1)
    alpha_stream.stop()
    calls: list[Callable[[], object]] = [
        lambda: beta.stub.GetPerformanceJob(Pm.GetPerformanceJobRequest(id=job.id), metadata=BETA),
        lambda: beta.stub.GetPerformanceProfile(Pm.GetPerformanceProfileRequest(id=used.id), metadata=BETA),
        lambda: beta.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job.id), metadata=BETA),
        lambda: beta.stub.DeletePerformanceProfile(
            Pm.DeletePerformanceProfileRequest(id=used.id), metadata=BETA
        ),
        lambda: beta.once(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch())),
        lambda: beta.once(service_ids=["alpha-evc-1-ep-2"], range=common_pb2.TimeRange(after=epoch())),
        lambda: beta.create_job(service_job(used.id, "beta-uni-1")),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as refused:
            call()
        error = rich_error(refused.value)
        assert error.code == grpc.StatusCode.NOT_FOUND, error
        assert error.reason in ("PERFORMANCE_RESOURCE_NOT_FOUND", "SERVICE_NOT_FOUND")
    assert beta.once(range=common_pb2.TimeRange(after=epoch())) == []
    jobs = beta.stub.ListPerformanceJobs(Pm.ListPerformanceJobsRequest(), metadata=BETA)
    assert jobs.total_size == 0
    assert not jobs.performance_jobs
    reports = beta.stub.ListPerformanceReports(Pm.ListPerformanceReportsRequest(), metadata=BETA)
    assert reports.total_size == 0
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_invalid_profile_reports_every_violation_at_once(alpha: Pmc) -> None:
    bad = profile(
        lifecycle_status=0,
        job_type=0,
        job_priority=42,
        service_specific_configuration=common_pb2.ExtensionPayload(),
    )
    bad.granularity.value = 0
    with pytest.raises(grpc.RpcError) as refused:
        alpha.create_profile(bad)
    error = rich_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert set(error.violations) == {
        "performance_profile.lifecycle_status",
        "performance_profile.job_type",
        "performance_profile.job_priority",
        "performance_profile.granularity.value",
        "performance_profile.service_specific_configuration.type",
    }


def test_a_job_on_an_inactive_service_gets_no_resources(beta: Pmc) -> None:
    made = beta.create_profile(
        profile(service_specific_configuration=common_pb2.ExtensionPayload(type=IP_PM))
    )
    job = beta.create_job(service_job(made.id, "beta-ip-uni-1"))
    ended = beta.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_RESOURCES_UNAVAILABLE)
    assert "not active" in ended.state_history[-1].reason
    assert not beta.stub.GetPerformanceProfile(
        Pm.GetPerformanceProfileRequest(id=made.id), metadata=BETA
    ).performance_profile.is_assigned


def test_reports_list_and_page_by_job(alpha: Pmc) -> None:
    _, job = alpha.running_job("alpha-uni-1")
    deadline = time.monotonic() + 10
    request = Pm.ListPerformanceReportsRequest(
        filter=Pm.PerformanceReportFilter(performance_job_id=job.id), page_size=1
    )
    while (page := alpha.stub.ListPerformanceReports(request, metadata=ALPHA)).total_size < 2:
        assert time.monotonic() < deadline, "no two reports in time"
        time.sleep(0.1)
    assert len(page.performance_reports) == 1
    assert page.next_page_token
    assert not page.performance_reports[0].report_content  # lists leave the content out
    second = alpha.stub.ListPerformanceReports(
        Pm.ListPerformanceReportsRequest(filter=request.filter, page_size=1, page_token=page.next_page_token),
        metadata=ALPHA,
    )
    assert second.performance_reports[0].id != page.performance_reports[0].id
    full = alpha.stub.GetPerformanceReport(
        Pm.GetPerformanceReportRequest(id=page.performance_reports[0].id), metadata=ALPHA
    ).performance_report
    if full.state == Pm.PERFORMANCE_REPORT_STATE_COMPLETED:
        items = full.report_content[0].report_content_item
        assert items
        assert all(
            i.measurement_data[0].type.endswith("performance-monitoring-results:v0.0.1:all") for i in items
        )
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_a_scheduled_job_starts_at_its_start_time_and_completes_at_its_end(alpha: Pmc) -> None:
    made = alpha.create_profile()
    now = time.time_ns()
    job = service_job(made.id, "alpha-uni-2")
    job.schedule_definition.schedule_definition_start_time.FromNanoseconds(now + 600_000_000)
    job.schedule_definition.schedule_definition_end_time.FromNanoseconds(now + 1_500_000_000)
    created = alpha.create_job(job)
    scheduled = alpha.wait_for_job(created.id, Pm.PERFORMANCE_JOB_STATE_SCHEDULED)
    assert scheduled.state_history[-1].reason.startswith("valid")
    completed = alpha.wait_for_job(created.id, Pm.PERFORMANCE_JOB_STATE_COMPLETED)
    assert [Pm.PerformanceJobState.Name(h.state) for h in completed.state_history][1:] == [
        "PERFORMANCE_JOB_STATE_SCHEDULED",
        "PERFORMANCE_JOB_STATE_IN_PROGRESS",
        "PERFORMANCE_JOB_STATE_COMPLETED",
    ]
    assert alpha.once(performance_job_ids=[created.id], range=common_pb2.TimeRange(after=epoch()))
    profile_now = alpha.stub.GetPerformanceProfile(
        Pm.GetPerformanceProfileRequest(id=made.id), metadata=ALPHA
    )
    assert not profile_now.performance_profile.is_assigned  # its only job ended


def test_modifying_a_scheduled_job_applies_the_new_schedule(alpha: Pmc) -> None:
    made = alpha.create_profile()
    job = service_job(made.id, "alpha-uni-3")
    job.schedule_definition.schedule_definition_start_time.FromNanoseconds(time.time_ns() + 3600 * 10**9)
    created = alpha.create_job(job)
    alpha.wait_for_job(created.id, Pm.PERFORMANCE_JOB_STATE_SCHEDULED)
    sooner = Pm.PerformanceJobModification(schedule_definition=Pm.ScheduleDefinition())
    sooner.schedule_definition.schedule_definition_start_time.GetCurrentTime()
    alpha.stub.ModifyPerformanceJob(
        Pm.ModifyPerformanceJobRequest(id=created.id, modification=sooner), metadata=ALPHA
    )
    started = alpha.wait_for_job(created.id, Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    assert [Pm.PerformanceJobState.Name(h.state) for h in started.state_history][-2:] == [
        "PERFORMANCE_JOB_STATE_PENDING",
        "PERFORMANCE_JOB_STATE_IN_PROGRESS",
    ]
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=created.id), metadata=ALPHA)


def _pair_job(profile_id: str, a: str, b: str) -> Pm.PerformanceJob:
    pair = Pm.ServiceFromToRef(
        service_from=common_pb2.ServiceRef(id=a), service_to=common_pb2.ServiceRef(id=b)
    )
    return Pm.PerformanceJob(
        performance_profile_ref=Pm.PerformanceProfileRef(id=profile_id),
        monitored_object=Pm.MonitoredObjectRef(service_from_to=pair),
    )


def _refused(alpha: Pmc, job: Pm.PerformanceJob) -> dict[str, str]:
    """The violations of a refused job; the dry run and the real request refuse it alike."""
    found: list[dict[str, str]] = []
    for validate_only in (True, False):
        with pytest.raises(grpc.RpcError) as refused:
            alpha.stub.CreatePerformanceJob(
                Pm.CreatePerformanceJobRequest(performance_job=job, validate_only=validate_only),
                metadata=ALPHA,
            )
        error = rich_error(refused.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        found.append(error.violations)
    assert found[0] == found[1]
    return found[0]


PAIR_TO = "performance_job.monitored_object.service_from_to.service_to.id"


def test_a_pm_pair_across_unrelated_services_is_refused(alpha: Pmc) -> None:
    made = alpha.create_profile()
    violations = _refused(alpha, _pair_job(made.id, "alpha-evc-1-ep-1", "alpha-ovc-1-ep-2"))
    assert set(violations) == {PAIR_TO}
    assert "do not belong to one connectivity service" in violations[PAIR_TO]


def test_a_pm_pair_of_one_end_point_with_itself_is_refused(alpha: Pmc) -> None:
    made = alpha.create_profile()
    violations = _refused(alpha, _pair_job(made.id, "alpha-evc-1-ep-1", "alpha-evc-1-ep-1"))
    assert set(violations) == {PAIR_TO}


def test_a_pm_pair_of_one_evc_is_accepted(alpha: Pmc) -> None:
    made = alpha.create_profile()
    job = alpha.create_job(_pair_job(made.id, "alpha-evc-1-ep-1", "alpha-evc-1-ep-2"))
    assert job.monitored_object.service_from_to.service_to.id == "alpha-evc-1-ep-2"


def test_an_ip_pm_configuration_on_a_carrier_ethernet_evc_is_refused(alpha: Pmc) -> None:
    ip = alpha.create_profile(profile(service_specific_configuration=common_pb2.ExtensionPayload(type=IP_PM)))
    violations = _refused(alpha, service_job(ip.id, "alpha-evc-1"))
    assert set(violations) == {"performance_job.monitored_object.service.id"}
    assert "IP services" in violations["performance_job.monitored_object.service.id"]
    ce = alpha.create_profile()
    violations = _refused(alpha, service_job(ce.id, "alpha-ipvc-1"))
    assert set(violations) == {"performance_job.monitored_object.service.id"}


MODIFIED_TYPE = "modification.performance_profile_value.service_specific_configuration.@type"


def test_modifying_a_job_to_another_family_is_refused_and_the_job_is_unchanged(alpha: Pmc) -> None:
    made = alpha.create_profile()  # Carrier Ethernet PM
    job = service_job(made.id, "alpha-evc-1")
    job.schedule_definition.schedule_definition_start_time.FromNanoseconds(time.time_ns() + 3600 * 10**9)
    created = alpha.create_job(job)
    alpha.wait_for_job(created.id, Pm.PERFORMANCE_JOB_STATE_SCHEDULED)

    def modify(config_type: str, validate_only: bool) -> Pm.ModifyPerformanceJobResponse:
        value = Pm.PerformanceProfileValue(
            service_specific_configuration=common_pb2.ExtensionPayload(type=config_type)
        )
        request = Pm.ModifyPerformanceJobRequest(
            id=created.id,
            modification=Pm.PerformanceJobModification(performance_profile_value=value),
            validate_only=validate_only,
        )
        response: Pm.ModifyPerformanceJobResponse = alpha.stub.ModifyPerformanceJob(request, metadata=ALPHA)
        return response

    for validate_only in (True, False):  # the dry run and the real request refuse it alike
        with pytest.raises(grpc.RpcError) as refused:
            modify(IP_PM, validate_only)
        error = rich_error(refused.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert set(error.violations) == {MODIFIED_TYPE}
        assert "IP services" in error.violations[MODIFIED_TYPE]
    # Nothing was asked of the job: no task, and it still measures Carrier Ethernet.
    tasks = alpha.stub.ListPerformanceJobTasks(
        Pm.ListPerformanceJobTasksRequest(filter=Pm.PerformanceJobTaskFilter(performance_job_id=created.id)),
        metadata=ALPHA,
    ).performance_job_tasks
    assert list(tasks) == []
    kept = alpha.job(created.id)
    assert kept.performance_profile_ref.id == made.id
    assert not kept.HasField("performance_profile_value")
    # The same family passes the same check.
    preview = modify(made.service_specific_configuration.type, True).performance_job_task
    assert preview.performance_job.id == created.id
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=created.id), metadata=ALPHA)
