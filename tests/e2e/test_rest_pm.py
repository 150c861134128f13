"""performanceMonitoring v5 over REST answers what PerformanceService answers over gRPC:
same profiles and jobs (spelled as MEF spells them), same errors (reason <-> MEF code).

Expectations are computed here from the gRPC messages and the spec's spellings, not from
the adapter's mapping code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from tests.e2e.helpers import ALPHA, BETA, rich_error
from tests.e2e.mef_names import ERROR, unknown_in
from tests.e2e.mef_pm_names import unknown_in_job, unknown_in_profile
from tests.e2e.pm_helpers import IP_PM, Pmc, launch_pm_server, profile, service_job
from tests.e2e.rest import RestClient
from tests.server_process import ServerProcess

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


def test_an_unsupported_list_filter_is_refused_not_ignored(rest: RestClient) -> None:
    reply = rest.get(f"{PM}/performanceJob?state=inProgress")
    assert reply.status == 400, reply.body
    assert reply.body["code"] == "invalidQuery"
    assert unknown_in(reply.body, ERROR) == []
