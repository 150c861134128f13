"""performanceMonitoring v5 over REST answers what PerformanceService answers over gRPC:
same profiles and jobs (spelled as MEF spells them), same errors (reason <-> MEF code).

Expectations are computed here from the gRPC messages and the spec's spellings, not from
the adapter's mapping code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2
from tests.support.helpers import ALPHA, BETA, rich_error
from tests.support.mef_names import ERROR, ERROR_422, EVENT, unknown_in
from tests.support.mef_pm_names import (
    unknown_in_cancel_task,
    unknown_in_job,
    unknown_in_profile,
    unknown_in_report,
)
from tests.support.pm_helpers import CE_PM, IP_PM, Pmc, launch_pm_server, profile, service_job
from tests.support.rest import Delivery, Listener, RestClient
from tests.support.server_process import ServerProcess
from tests.support.streams import Collector

Pm = performance_pb2
PM = "/mefApi/interlude/performanceMonitoring/v5"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("rest-pm"), "--rest-listen", "127.0.0.1:0")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def alpha(server: ServerProcess) -> Iterator[Pmc]:
    with grpc.insecure_channel(server.target) as channel:
        yield Pmc(channel, ALPHA)


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> RestClient:
    return RestClient(server.rest_url)


def _camel(name: str, prefix: str) -> str:
    words = name.removeprefix(prefix).lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _time(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToJsonString()


def _duration(d: Pm.TimeDuration) -> dict[str, Any]:
    units = Pm.TimeDurationUnits.Name(d.units).removeprefix("TIME_DURATION_UNITS_")
    return {"timeDurationValue": d.value, "timeDurationUnits": units}


# The spec's JobType enum: proactive, on-demand, passive.
_JOB_TYPE = {
    Pm.PERFORMANCE_JOB_TYPE_PROACTIVE: "proactive",
    Pm.PERFORMANCE_JOB_TYPE_ON_DEMAND: "on-demand",
    Pm.PERFORMANCE_JOB_TYPE_PASSIVE: "passive",
}


def _settings(p: Pm.PerformanceProfile | Pm.PerformanceProfileValue) -> dict[str, Any]:
    out: dict[str, Any] = {
        "granularity": _duration(p.granularity),
        "jobType": _JOB_TYPE[p.job_type],
        "outputFormat": _camel(
            Pm.PerformanceOutputFormat.Name(p.output_format), "PERFORMANCE_OUTPUT_FORMAT_"
        ),
        "reportingPeriod": _duration(p.reporting_period),
        "resultFormat": _camel(
            Pm.PerformanceResultFormat.Name(p.result_format), "PERFORMANCE_RESULT_FORMAT_"
        ),
        "serviceSpecificConfiguration": {"@type": p.service_specific_configuration.type},
    }
    if p.HasField("job_priority"):
        out["jobPriority"] = p.job_priority
    return out


def assert_same_profile(got: dict[str, Any], p: Pm.PerformanceProfile, base: str) -> None:
    assert unknown_in_profile(got) == []
    status = Pm.PerformanceProfileLifecycleStatus.Name(p.lifecycle_status)
    expected = {
        "id": p.id,
        "href": f"{base}{PM}/performanceProfile/{p.id}",
        "creationDateTime": _time(p.creation_date_time),
        "isAssigned": p.is_assigned,
        "lifecycleStatus": _camel(status, "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_"),
        **_settings(p),
    }
    if p.description:
        expected["description"] = p.description
    if p.HasField("last_time_modified"):
        expected["lastTimeModified"] = _time(p.last_time_modified)
    assert got == expected


def assert_same_job(got: dict[str, Any], j: Pm.PerformanceJob, base: str) -> None:
    assert unknown_in_job(got) == []
    assert got["id"] == j.id
    assert got["href"] == f"{base}{PM}/performanceJob/{j.id}"
    assert got["creationDateTime"] == _time(j.creation_date_time)
    assert got["state"] == _camel(Pm.PerformanceJobState.Name(j.state), "PERFORMANCE_JOB_STATE_")
    if j.HasField("performance_profile_ref"):
        ref = j.performance_profile_ref.id
        assert got["performanceProfile"] == {
            "@type": "PerformanceProfileRef",
            "performanceProfileId": ref,
            "performanceProfileHref": f"{base}{PM}/performanceProfile/{ref}",
        }
    else:
        assert got["performanceProfile"] == {
            "@type": "PerformanceProfileValue",
            **_settings(j.performance_profile_value),
        }
    subject = j.monitored_object
    if subject.HasField("service"):
        assert got["monitoredObject"] == {
            "@type": "ServiceRef",
            "serviceId": subject.service.id,
            "serviceHref": f"{base}/mefApi/interlude/serviceInventory/v2/service/{subject.service.id}",
        }
    else:
        assert got["monitoredObject"] == {
            "@type": "ServiceFromToRef",
            "serviceFrom": {"serviceFromId": subject.service_from_to.service_from.id},
            "serviceTo": {"serviceToId": subject.service_from_to.service_to.id},
        }
    schedule = j.schedule_definition
    expected_schedule = {}
    if schedule.HasField("schedule_definition_start_time"):
        expected_schedule["scheduleDefinitionStartTime"] = _time(schedule.schedule_definition_start_time)
    if schedule.HasField("schedule_definition_end_time"):
        expected_schedule["scheduleDefinitionEndTime"] = _time(schedule.schedule_definition_end_time)
    assert got["scheduleDefinition"] == expected_schedule
    assert got.get("buyerJobId", "") == j.buyer_job_id
    assert got.get("description", "") == j.description


def _mef_404(reply: Any, reason: str) -> None:
    assert reply.status == 404, reply.body
    assert reply.headers["X-Interlude-Reason"] == reason
    assert reply.body["code"] == "notFound"
    assert reply.body["referenceError"].endswith(reason)
    assert unknown_in(reply.body, ERROR) == []


def test_profiles_over_rest_are_the_profiles_grpc_returns(alpha: Pmc, rest: RestClient) -> None:
    made = [
        alpha.create_profile(profile(description="rest parity", job_priority=3)),
        alpha.create_profile(
            profile(
                job_type=Pm.PERFORMANCE_JOB_TYPE_ON_DEMAND,
                output_format=Pm.PERFORMANCE_OUTPUT_FORMAT_CSV,
                result_format=Pm.PERFORMANCE_RESULT_FORMAT_ATTACHMENT,
                service_specific_configuration=common_pb2.ExtensionPayload(type=IP_PM),
            )
        ),
    ]
    alpha.create_job(service_job(made[0].id, "alpha-evc-1"))  # makes the first one assigned
    for p in made:
        now = alpha.stub.GetPerformanceProfile(
            Pm.GetPerformanceProfileRequest(id=p.id), metadata=ALPHA
        ).performance_profile
        reply = rest.get(f"{PM}/performanceProfile/{p.id}")
        assert reply.status == 200, reply.body
        assert_same_profile(reply.body, now, rest.base_url)
    assert rest.get(f"{PM}/performanceProfile/{made[0].id}").body["isAssigned"] is True

    listed = alpha.stub.ListPerformanceProfiles(Pm.ListPerformanceProfilesRequest(), metadata=ALPHA)
    reply = rest.get(f"{PM}/performanceProfile")
    assert reply.status == 200
    assert reply.headers["X-Total-Count"] == str(listed.total_size)
    assert len(reply.body) == len(listed.performance_profiles)
    for got, p in zip(reply.body, listed.performance_profiles, strict=True):
        assert_same_profile(got, p, rest.base_url)


def test_jobs_over_rest_are_the_jobs_grpc_returns(alpha: Pmc, rest: RestClient) -> None:
    made = alpha.create_profile()
    start = timestamp_pb2.Timestamp(seconds=4_000_000_000)
    end = timestamp_pb2.Timestamp(seconds=4_000_086_400)
    jobs = [
        alpha.create_job(service_job(made.id, "alpha-evc-1")),
        alpha.create_job(
            Pm.PerformanceJob(
                performance_profile_value=Pm.PerformanceProfileValue(
                    job_type=made.job_type,
                    output_format=made.output_format,
                    result_format=made.result_format,
                    granularity=made.granularity,
                    reporting_period=made.reporting_period,
                    service_specific_configuration=made.service_specific_configuration,
                ),
                monitored_object=Pm.MonitoredObjectRef(
                    service_from_to=Pm.ServiceFromToRef(
                        service_from=common_pb2.ServiceRef(id="alpha-evc-1-ep-1"),
                        service_to=common_pb2.ServiceRef(id="alpha-evc-1-ep-2"),
                    )
                ),
                schedule_definition=Pm.ScheduleDefinition(
                    schedule_definition_start_time=start, schedule_definition_end_time=end
                ),
                buyer_job_id="buyer-7",
                description="a pair, inline settings, scheduled",
            )
        ),
    ]
    for j in jobs:
        now = alpha.job(j.id)
        reply = rest.get(f"{PM}/performanceJob/{j.id}")
        assert reply.status == 200, reply.body
        assert_same_job(reply.body, now, rest.base_url)

    listed = alpha.stub.ListPerformanceJobs(Pm.ListPerformanceJobsRequest(), metadata=ALPHA)
    total = listed.total_size
    seen: list[str] = []
    for offset in range(0, total + 2, 2):
        reply = rest.get(f"{PM}/performanceJob?offset={offset}&limit=2")
        assert reply.status == 200
        assert reply.headers["X-Total-Count"] == str(total)
        assert reply.headers["X-Result-Count"] == str(len(reply.body))
        seen.extend(job["id"] for job in reply.body)
    assert seen == [j.id for j in listed.performance_jobs]


def test_not_found_and_other_buyers_are_404_where_grpc_says_not_found(
    alpha: Pmc, server: ServerProcess, rest: RestClient
) -> None:
    made = alpha.create_profile()
    job = alpha.create_job(service_job(made.id, "alpha-evc-1"))
    for method, request, path in (
        ("GetPerformanceProfile", Pm.GetPerformanceProfileRequest(id="nope"), "performanceProfile/nope"),
        ("GetPerformanceJob", Pm.GetPerformanceJobRequest(id="nope"), "performanceJob/nope"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            getattr(alpha.stub, method)(request, metadata=ALPHA)
        error = rich_error(caught.value)
        assert error.code == grpc.StatusCode.NOT_FOUND
        _mef_404(rest.get(f"{PM}/{path}"), error.reason)

    beta = RestClient(server.rest_url, buyer="sp-beta")
    with pytest.raises(grpc.RpcError) as caught:
        alpha.stub.GetPerformanceJob(Pm.GetPerformanceJobRequest(id=job.id), metadata=BETA)
    _mef_404(beta.get(f"{PM}/performanceJob/{job.id}"), rich_error(caught.value).reason)
    _mef_404(beta.get(f"{PM}/performanceProfile/{made.id}"), rich_error(caught.value).reason)
    assert beta.get(f"{PM}/performanceJob").body == []


def test_list_filters_filter_and_an_unknown_parameter_is_refused(alpha: Pmc, rest: RestClient) -> None:
    job = service_job(alpha.create_profile(profile()).id, "alpha-evc-1")
    job.buyer_job_id = "filter-me"
    made = alpha.create_job(job)
    listed = rest.get(f"{PM}/performanceJob?state=completed,cancelled&limit=1000").body
    assert made.id not in [j["id"] for j in listed]  # acknowledged or later, never finished yet
    assert all(j["state"] in ("completed", "cancelled") for j in listed)
    mine = rest.get(f"{PM}/performanceJob?buyerJobId=filter-me&serviceId=alpha-evc-1").body
    assert made.id in [j["id"] for j in mine]
    assert rest.get(f"{PM}/performanceJob?state=bogus").status == 400
    reply = rest.get(f"{PM}/performanceJob?color=red")
    assert reply.status == 400, reply.body
    assert reply.body["code"] == "invalidQuery"
    assert unknown_in(reply.body, ERROR) == []


CE_BODY = {
    "lifecycleStatus": "approved",
    "jobType": "proactive",
    "outputFormat": "json",
    "resultFormat": "payload",
    "granularity": {"timeDurationValue": 15, "timeDurationUnits": "MIN"},
    "reportingPeriod": {"timeDurationValue": 1, "timeDurationUnits": "HOUR"},
    "jobPriority": 2,
    "description": "made over REST",
    "serviceSpecificConfiguration": {"@type": CE_PM},
}


def _job_body(profile_id: str) -> dict[str, Any]:
    return {
        "performanceProfile": {"@type": "PerformanceProfileRef", "performanceProfileId": profile_id},
        "monitoredObject": {"@type": "ServiceRef", "serviceId": "alpha-evc-1"},
        "scheduleDefinition": {},
        "buyerJobId": "rest-job",
    }


def _grpc_error(call: Callable[[], object]) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return rich_error(caught.value)


def test_created_over_rest_is_what_grpc_sees(alpha: Pmc, rest: RestClient) -> None:
    made = rest.post(f"{PM}/performanceProfile", CE_BODY)
    assert made.status == 201, made.body
    assert made.headers["Location"] == made.body["href"]
    stored = alpha.stub.GetPerformanceProfile(
        Pm.GetPerformanceProfileRequest(id=made.body["id"]), metadata=ALPHA
    ).performance_profile
    assert_same_profile(made.body, stored, rest.base_url)
    assert stored.job_priority == 2

    created = rest.post(f"{PM}/performanceJob", _job_body(stored.id))
    assert created.status == 201, created.body
    assert unknown_in_job(created.body) == []
    assert created.headers["Location"] == created.body["href"]
    job = alpha.wait_for_job(created.body["id"], Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    assert job.buyer_job_id == "rest-job"
    assert job.performance_profile_ref.id == stored.id
    assert job.monitored_object.service.id == "alpha-evc-1"
    assert_same_job(rest.get(f"{PM}/performanceJob/{job.id}").body, job, rest.base_url)


def test_invalid_bodies_are_one_422_entry_per_problem(alpha: Pmc, rest: RestClient) -> None:
    grpc_error = _grpc_error(
        lambda: alpha.stub.CreatePerformanceProfile(
            Pm.CreatePerformanceProfileRequest(performance_profile=Pm.PerformanceProfile()), metadata=ALPHA
        )
    )
    assert grpc_error.code == grpc.StatusCode.INVALID_ARGUMENT
    bad = {**CE_BODY, "jobType": "sometimes", "colour": "red"}
    del bad["granularity"]
    reply = rest.post(f"{PM}/performanceProfile", bad)
    assert reply.status == 422, reply.body
    assert reply.headers["X-Interlude-Reason"] == grpc_error.reason
    paths = {entry["propertyPath"] for entry in reply.body}
    assert paths == {"/jobType", "/colour", "/granularity"}
    assert all(unknown_in(entry, ERROR_422) == [] for entry in reply.body)

    job = {"performanceProfile": {"@type": "Nope"}, "monitoredObject": {"@type": "ServiceRef"}}
    reply = rest.post(f"{PM}/performanceJob", job)
    assert reply.status == 422, reply.body
    assert {e["propertyPath"] for e in reply.body} == {
        "/scheduleDefinition",
        "/performanceProfile/@type",
        "/monitoredObject/serviceId",
    }


def test_job_actions_and_cancel_task_match_grpc(alpha: Pmc, rest: RestClient) -> None:
    _, job = alpha.running_job()
    path = f"{PM}/performanceJob/{job.id}"
    assert rest.post(f"{path}/suspend", None).status == 204
    assert alpha.job(job.id).state == Pm.PERFORMANCE_JOB_STATE_SUSPENDED
    grpc_error = _grpc_error(
        lambda: alpha.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job.id), metadata=ALPHA)
    )
    again = rest.post(f"{path}/suspend", None)
    # MEF's file lists no 409 for the job actions: the state conflict is a 422 otherIssue.
    assert (again.status, again.body[0]["code"]) == (422, "otherIssue"), again.body
    assert again.headers["X-Interlude-Reason"] == grpc_error.reason == "INVALID_STATE_TRANSITION"
    assert rest.post(f"{path}/resume", None).status == 204
    assert alpha.job(job.id).state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS

    cancel = rest.post(
        f"{PM}/cancelPerformanceJob",
        {"performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": job.id}},
    )
    assert cancel.status == 201, cancel.body
    assert unknown_in_cancel_task(cancel.body) == []
    assert cancel.body["performanceJob"]["performanceJobId"] == job.id
    assert cancel.headers["Location"] == f"{rest.base_url}{PM}/cancelPerformanceJob/{cancel.body['id']}"
    alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_CANCELLED)
    task = alpha.stub.GetPerformanceJobTask(
        Pm.GetPerformanceJobTaskRequest(id=cancel.body["id"]), metadata=ALPHA
    ).performance_job_task
    got = rest.get(f"{PM}/cancelPerformanceJob/{task.id}")
    assert got.status == 200
    assert got.body == {
        "id": task.id,
        "href": cancel.headers["Location"],
        "creationDateTime": _time(task.creation_date_time),
        "state": _camel(Pm.PerformanceJobProcessState.Name(task.state), "PERFORMANCE_JOB_PROCESS_STATE_"),
        "performanceJob": {
            "@type": "PerformanceJobRef",
            "performanceJobId": job.id,
            "performanceJobHref": f"{rest.base_url}{path}",
        },
    }
    assert got.body["state"] == "completed"
    grpc_error = _grpc_error(
        lambda: alpha.stub.ResumePerformanceJob(Pm.ResumePerformanceJobRequest(id=job.id), metadata=ALPHA)
    )
    resumed = rest.post(f"{path}/resume", None)
    assert (resumed.status, resumed.headers["X-Interlude-Reason"]) == (422, grpc_error.reason)


def test_profile_delete_matches_grpc(alpha: Pmc, rest: RestClient) -> None:
    made, job = alpha.running_job()
    grpc_error = _grpc_error(
        lambda: alpha.stub.DeletePerformanceProfile(
            Pm.DeletePerformanceProfileRequest(id=made.id), metadata=ALPHA
        )
    )
    refused = rest.delete(f"{PM}/performanceProfile/{made.id}")
    assert refused.status == 422, refused.body  # MEF's Error422 code performanceProfileInUse
    assert refused.headers["X-Interlude-Reason"] == grpc_error.reason == "PROFILE_IN_USE"
    assert [entry["code"] for entry in refused.body] == ["performanceProfileInUse"]
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)
    alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_CANCELLED)
    assert rest.delete(f"{PM}/performanceProfile/{made.id}").status == 204
    assert rest.get(f"{PM}/performanceProfile/{made.id}").status == 404


def test_reports_over_rest_are_the_reports_grpc_returns(alpha: Pmc, rest: RestClient) -> None:
    _, job = alpha.running_job()
    listing = Pm.ListPerformanceReportsRequest(filter=Pm.PerformanceReportFilter(performance_job_id=job.id))
    deadline = time.monotonic() + 10
    completed = Pm.PERFORMANCE_REPORT_STATE_COMPLETED
    while True:
        listed = alpha.stub.ListPerformanceReports(listing, metadata=ALPHA)
        if any(r.state == completed for r in listed.performance_reports):
            break
        assert time.monotonic() < deadline, "no completed report in time"
        time.sleep(0.05)
    every = alpha.stub.ListPerformanceReports(Pm.ListPerformanceReportsRequest(), metadata=ALPHA)
    reply = rest.get(f"{PM}/performanceReport")
    assert reply.status == 200
    by_id = {r["id"]: r for r in reply.body}
    assert set(by_id) >= {r.id for r in listed.performance_reports}
    assert len(reply.body) >= len(every.performance_reports)
    for r in listed.performance_reports:
        full = alpha.stub.GetPerformanceReport(
            Pm.GetPerformanceReportRequest(id=r.id), metadata=ALPHA
        ).performance_report
        got = rest.get(f"{PM}/performanceReport/{r.id}").body
        assert unknown_in_report(got) == []
        assert unknown_in_report(by_id[r.id]) == []
        assert "reportContent" not in by_id[r.id]
        assert got["state"] == _camel(Pm.PerformanceReportState.Name(full.state), "PERFORMANCE_REPORT_STATE_")
        assert got["performanceJob"]["performanceJobId"] == job.id
        assert got["granularity"] == _duration(full.granularity)
        assert got["reportingTimeframe"] == {
            "reportingStartDate": _time(full.reporting_timeframe.reporting_start_date),
            "reportingEndDate": _time(full.reporting_timeframe.reporting_end_date),
        }
        assert len(got.get("reportContent", [])) == len(full.report_content)
        assert full.report_content or full.state != completed
        for content, expected in zip(got.get("reportContent", []), full.report_content, strict=True):
            assert content["monitoredObject"]["serviceId"] == expected.monitored_object.service.id
            items = content["reportContentItem"]
            assert len(items) == len(expected.report_content_item)
            for item, want in zip(items, expected.report_content_item, strict=True):
                start = want.measurement_time.measurement_start_date
                assert item["measurementTime"]["measurementStartDate"] == _time(start)
                assert [d["@type"] for d in item["measurementData"]] == [
                    d.type for d in want.measurement_data
                ]
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)


def test_pm_hub_delivers_the_jobs_events_in_log_order(
    alpha: Pmc, rest: RestClient, server: ServerProcess
) -> None:
    listener = Listener()
    try:
        wanted = "performanceJobCreateEvent,performanceJobStateChangeEvent,performanceJobReportReadyEvent"
        hub = rest.post(f"{PM}/hub", {"callback": listener.url, "query": f"eventType={wanted}"})
        assert hub.status == 201, hub.body
        made = alpha.create_profile()
        job = alpha.create_job(service_job(made.id, "alpha-evc-1"))

        def mine() -> list[Delivery]:
            return [d for d in listener.deliveries() if d.body["event"]["id"] == job.id]

        listener.wait_for(
            lambda _: any(d.body["eventType"] == "performanceJobReportReadyEvent" for d in mine())
        )
        got = mine()
        with grpc.insecure_channel(server.target) as channel:
            request = events_pb2.StreamEventsRequest(
                filter=events_pb2.EventFilter(
                    resource_ids=[job.id],
                    event_types=[
                        events_pb2.EVENT_TYPE_PERFORMANCE_JOB_CREATE,
                        events_pb2.EVENT_TYPE_PERFORMANCE_JOB_STATE_CHANGE,
                        events_pb2.EVENT_TYPE_PERFORMANCE_JOB_REPORT_READY,
                    ],
                ),
                start_time=timestamp_pb2.Timestamp(seconds=1),
            )
            collector = Collector(channel, request, ALPHA)
            collector.wait_for(lambda: len(collector.events()) >= len(got))
            log = collector.events()
            collector.stop()
        assert [d.body["eventId"] for d in got] == [e.event_id for e in log[: len(got)]]
        assert {d.path.rsplit("/", 1)[1] for d in got} <= set(wanted.split(","))
        assert all(
            d.path.startswith("/buyer/mefApi/interlude/performanceNotification/v5/listener/") for d in got
        )
        assert got[0].body["eventType"] == "performanceJobCreateEvent"
        for d in got:  # MEF names of the notification and of its PerformanceJob*EventPayload
            assert unknown_in(d.body, EVENT) == []
            assert unknown_in(d.body["event"], {"id", "href", "state", "reportId", "reportHref"}) == []
        assert got[0].body["event"]["href"] == f"{rest.base_url}{PM}/performanceJob/{job.id}"
        states = [
            d.body["event"]["state"] for d in got if d.body["eventType"] == "performanceJobStateChangeEvent"
        ]
        assert "inProgress" in states
        ready = next(d.body["event"] for d in got if d.body["eventType"] == "performanceJobReportReadyEvent")
        assert ready["reportHref"] == f"{rest.base_url}{PM}/performanceReport/{ready['reportId']}"
        assert rest.get(f"{PM}/performanceReport/{ready['reportId']}").status == 200
        alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)
        assert rest.delete(f"{PM}/hub/{hub.body['id']}").status == 204
    finally:
        listener.close()


def test_modify_task_over_rest_matches_grpc(alpha: Pmc, rest: RestClient) -> None:
    _, job = alpha.running_job()
    body = {
        "performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": job.id},
        "description": "hourly now",
        "performanceProfile": {"granularity": {"timeDurationValue": 1, "timeDurationUnits": "HOUR"}},
    }
    grpc_error = _grpc_error(
        lambda: alpha.stub.ModifyPerformanceJob(
            Pm.ModifyPerformanceJobRequest(
                id=job.id, modification=Pm.PerformanceJobModification(description="x")
            ),
            metadata=ALPHA,
        )
    )
    refused = rest.post(f"{PM}/modifyPerformanceJob", body)  # only scheduled or suspended jobs
    assert (refused.status, refused.headers["X-Interlude-Reason"]) == (422, grpc_error.reason)  # MEF: no 409

    assert rest.post(f"{PM}/performanceJob/{job.id}/suspend", None).status == 204
    made = rest.post(f"{PM}/modifyPerformanceJob", body)
    assert made.status == 201, made.body
    assert made.headers["Location"] == f"{rest.base_url}{PM}/modifyPerformanceJob/{made.body['id']}"
    assert made.body["description"] == "hourly now"
    assert made.body["performanceProfile"] == {
        "granularity": {"timeDurationValue": 1, "timeDurationUnits": "HOUR"}
    }
    modified = alpha.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    assert modified.description == "hourly now"
    assert modified.performance_profile_value.granularity.units == Pm.TIME_DURATION_UNITS_HOUR
    task = alpha.stub.GetPerformanceJobTask(
        Pm.GetPerformanceJobTaskRequest(id=made.body["id"]), metadata=ALPHA
    ).performance_job_task
    got = rest.get(f"{PM}/modifyPerformanceJob/{task.id}")
    assert got.status == 200
    assert got.body["state"] == _camel(
        Pm.PerformanceJobProcessState.Name(task.state), "PERFORMANCE_JOB_PROCESS_STATE_"
    )
    assert got.body["performanceJob"]["performanceJobId"] == job.id
    assert got.body["creationDateTime"] == _time(task.creation_date_time)
    assert rest.get(f"{PM}/cancelPerformanceJob/{task.id}").status == 404  # a modify task is not a cancel
    bad = rest.post(f"{PM}/modifyPerformanceJob", {"description": 7})
    assert bad.status == 422
    assert {e["propertyPath"] for e in bad.body} == {"/performanceJob", "/description"}
    alpha.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=job.id), metadata=ALPHA)
