"""Fault Management v3 (Mplify 148) over REST, on the test engine: link trace and loopback
jobs to their reports on both forms, MEF's schemas for jobs, reports and notifications,
subject checks, cancel, and what is not an FM resource.

A real server process (demo seed, simulated test heads); bodies are validated against the
schemas of MEF's FM files when those files are beside the checkout (tests.support.paths).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import fault_management_pb2, performance_pb2, service_test_pb2
from tests.conftest import DbFor
from tests.e2e.conftest import launch_demo
from tests.support.mef_notification_files import component_problems
from tests.support.paths import REFERENCE
from tests.support.rest import Listener, RestClient
from tests.support.server_process import ServerProcess
from tests.support.sft import SftClient, config_type, job

pytestmark = pytest.mark.stores("sqlite", "postgresql")  # F16: both stores
St = service_test_pb2
Pm = performance_pb2
FM = "/mefApi/interlude/faultManagement/v3"
OPENAPI = REFERENCE / "mef" / "interlude-sdk-kylie-copy" / "openapi"
FM_FILE = OPENAPI / "mef-lso-interlude-fault-management-openapi.yml"
NOTIFICATION_FILE = OPENAPI / "mef-lso-interlude-fault-notification-openapi.yml"
needs_mef = pytest.mark.skipif(not FM_FILE.is_file(), reason="MEF's FM files are not beside the checkout")
TERMINAL = ("completed", "cancelled", "rejected")
TO = "/monitoredObject/serviceTo/serviceToId"
FROM = "/monitoredObject/serviceFrom/serviceFromId"
EVC = ("alpha-evc-1-ep-1", "alpha-evc-1-ep-2")


def check(path: Any, name: str, body: Any) -> None:
    if not path.is_file():
        return
    problems = component_problems(path, name, body)
    assert not problems, f"{name}: {problems}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("rest-fm")
    running = launch_demo(workdir, "--rest-listen", "127.0.0.1:0", db=db_for(workdir))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> RestClient:
    return RestClient(server.rest_url)


@pytest.fixture(scope="module")
def tests(server: ServerProcess) -> Iterator[SftClient]:
    with grpc.insecure_channel(server.target) as channel:
        yield SftClient(channel)


def fm_job(procedure: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    """A MEF `FaultManagementJob_Create` of `procedure` from `start` to `end`."""
    return {
        "description": f"{procedure} {start} to {end}",
        "jobType": "on-demand",
        "granularity": {"timeDurationValue": 1, "timeDurationUnits": "SEC"},
        "reportingPeriod": {"timeDurationValue": 15, "timeDurationUnits": "MIN"},
        "outputFormat": "json",
        "resultFormat": "payload",
        "monitoredObject": {
            "@type": "ServiceFromToRef",
            "serviceFrom": {"serviceFromId": start},
            "serviceTo": {"serviceToId": end},
        },
        "scheduleDefinition": {},
        "serviceSpecificConfiguration": {"@type": config_type(procedure)},
        **extra,
    }


def finished(rest: RestClient, job_id: str) -> dict[str, Any]:
    """Poll the job until it reaches a terminal state (bounded)."""
    deadline = time.monotonic() + 30
    while True:
        body = rest.get(f"{FM}/faultManagementJob/{job_id}").body
        if body["state"] in TERMINAL:
            return dict(body)
        assert time.monotonic() < deadline, f"job {job_id} still {body['state']}"
        time.sleep(0.05)


def report_of(rest: RestClient, job_id: str) -> dict[str, Any]:
    listed = rest.get(f"{FM}/faultManagementReport?faultManagementJobId={job_id}")
    assert listed.status == 200
    assert len(listed.body) == 1, listed.body
    check(FM_FILE, "FaultManagementReport_Find", listed.body[0])
    got = rest.get(f"{FM}/faultManagementReport/{listed.body[0]['id']}")
    assert got.status == 200
    check(FM_FILE, "FaultManagementReport", got.body)
    return dict(got.body)


def test_link_trace_job_over_rest_reports_every_hop(rest: RestClient, tests: SftClient) -> None:
    created = rest.post(
        f"{FM}/faultManagementJob", fm_job("ethernet-link-trace", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2")
    )
    assert created.status == 201, created.body
    check(FM_FILE, "FaultManagementJob", created.body)
    assert created.headers["Location"] == created.body["href"]
    assert created.body["state"] == "acknowledged"
    done = finished(rest, created.body["id"])
    assert done["state"] == "completed"
    assert done["reportingPeriod"] == {"timeDurationValue": 15, "timeDurationUnits": "MIN"}
    report = report_of(rest, done["id"])
    assert report["state"] == "completed"
    assert report["faultManagementJob"]["faultManagementJobId"] == done["id"]
    assert report["monitoredObject"]["serviceTo"] == {"serviceToId": "alpha-evc-1-ep-2"}
    data = report["reportContent"][0]["measurementData"][0]
    assert data["@type"] == "urn:interlude-grpc:test-result:ethernet-link-trace:v1"
    assert data["verdict"] == "pass"
    hops = [m for m in data["measurements"] if m["metric"] == "responseTime"]
    assert hops
    assert all("macAddress" in m["details"] for m in hops)
    assert hops[-1]["details"]["relayAction"] == "RlyHit"
    # The same job over gRPC: a link trace test job carrying the FM settings it was given.
    over_grpc = tests.get(done["id"])
    assert over_grpc.test_type == St.TEST_TYPE_ETHERNET_LINK_TRACE
    assert over_grpc.fault_management.reporting_period == Pm.TimeDuration(
        value=15, units=Pm.TIME_DURATION_UNITS_MIN
    )


def test_loopback_job_over_grpc_is_an_fm_job_with_its_report(rest: RestClient, tests: SftClient) -> None:
    request = job("fm loopback", "ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2", {"count": 3})
    request.fault_management.CopyFrom(
        fault_management_pb2.FaultManagementSettings(
            job_type=Pm.PERFORMANCE_JOB_TYPE_ON_DEMAND,
            granularity=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_SEC),
        )
    )
    created = tests.create(request)
    followed = tests.follow(created.id)
    assert followed.states()[-1] == St.TEST_JOB_STATE_COMPLETED
    seen = rest.get(f"{FM}/faultManagementJob/{created.id}")
    assert seen.status == 200
    check(FM_FILE, "FaultManagementJob", seen.body)
    assert seen.body["serviceSpecificConfiguration"]["count"] == 3
    report = report_of(rest, created.id)
    data = report["reportContent"][0]["measurementData"][0]
    lbrs = [m for m in data["measurements"] if m["metric"] == "roundTripTime"]
    assert [m["step"] for m in lbrs] == ["lbm-1", "lbm-2", "lbm-3"]
    assert report["granularity"] == {"timeDurationValue": 1, "timeDurationUnits": "SEC"}
    records = rest.get(f"{FM}/trackingRecord?relatedFaultManagementJobId={created.id}")
    assert records.status == 200
    for record in records.body:
        check(FM_FILE, "FmTrackingRecord", record)
    assert [r["description"] for r in records.body][-1].startswith("state completed")
    assert records.body[0]["source"] == "client"
    listed = rest.get(f"{FM}/faultManagementJob?serviceFromId=alpha-ovc-1-ep-1&state=completed")
    assert created.id in [j["id"] for j in listed.body]
    assert listed.headers["X-Total-Count"] == str(len(listed.body))


@pytest.mark.parametrize(
    ("procedure", "start", "end", "pointer", "words"),
    [
        ("ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-1", TO, "must differ"),
        ("ip-ping", *EVC, FROM, "does not apply"),
        ("ethernet-link-trace", EVC[0], "alpha-ovc-1-ep-2", TO, "one connectivity service"),
        ("ip-traceroute", "alpha-ip-uni-1", "alpha-ovc-1-ep-1", TO, "does not apply"),
    ],
)
def test_subjects_are_checked(
    rest: RestClient, procedure: str, start: str, end: str, pointer: str, words: str
) -> None:
    refused = rest.post(f"{FM}/faultManagementJob", fm_job(procedure, start, end))
    assert refused.status == 422, refused.body
    check(FM_FILE, "Error422", refused.body[0])
    assert any(e["propertyPath"] == pointer and words in e["reason"] for e in refused.body), refused.body


def test_subjects_fm_cannot_run_on_are_refused(rest: RestClient) -> None:
    single = fm_job(
        "ethernet-loopback", "a", "b", monitoredObject={"@type": "ServiceRef", "serviceId": "alpha-evc-1"}
    )
    refused = rest.post(f"{FM}/faultManagementJob", single)
    assert refused.status == 422
    assert refused.body[0]["propertyPath"] == "/monitoredObject/@type"
    assert "ServiceFromToRef" in refused.body[0]["reason"]
    missing = rest.post(
        f"{FM}/faultManagementJob", fm_job("ethernet-loopback", "alpha-ovc-1-ep-1", "no-such")
    )
    assert missing.status == 422
    assert missing.body[0]["code"] == "referenceNotFound", missing.body
    csv = rest.post(
        f"{FM}/faultManagementJob", fm_job("ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", outputFormat="csv")
    )
    assert csv.status == 422
    assert csv.body[0]["propertyPath"] == "/outputFormat"


def test_cancel_a_scheduled_job(rest: RestClient) -> None:
    later = {"scheduleDefinitionStartTime": "2098-01-01T00:00:00Z"}
    body = fm_job("ip-traceroute", "alpha-ip-uni-1", "alpha-ip-uni-2", scheduleDefinition=later)
    created = rest.post(f"{FM}/faultManagementJob", body).body
    # Acknowledged first, then scheduled by the runner a moment later: cancel a scheduled job.
    deadline = time.monotonic() + 15
    while rest.get(f"{FM}/faultManagementJob/{created['id']}").body["state"] != "scheduled":
        assert time.monotonic() < deadline, "the job was never scheduled"
        time.sleep(0.05)
    ref = {"@type": "FaultManagementJobRef", "faultManagementJobId": created["id"]}
    cancel = rest.post(f"{FM}/cancelFaultManagementJob", {"faultManagementJob": ref})
    assert cancel.status == 201, cancel.body
    check(FM_FILE, "CancelFaultManagementJob", cancel.body)
    assert finished(rest, created["id"])["state"] == "cancelled"
    task = rest.get(f"{FM}/cancelFaultManagementJob/{cancel.body['id']}").body
    assert task["state"] == "completed"
    listed = rest.get(f"{FM}/cancelFaultManagementJob?faultManagementJobId={created['id']}").body
    assert [t["id"] for t in listed] == [cancel.body["id"]]
    assert rest.get(f"{FM}/modifyFaultManagementJob/{cancel.body['id']}").status == 404
    gone = rest.post(
        f"{FM}/cancelFaultManagementJob", {"faultManagementJob": {"faultManagementJobId": "nope"}}
    )
    assert gone.status == 422
    assert gone.body[0]["code"] == "referenceNotFound"


def test_other_tests_are_no_fm_resources(rest: RestClient, tests: SftClient) -> None:
    sat = tests.create(job("not fm", "y1564-sat", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2"))
    assert rest.get(f"{FM}/faultManagementJob/{sat.id}").status == 404
    assert sat.id not in [j["id"] for j in rest.get(f"{FM}/faultManagementJob?limit=1000").body]
    assert rest.post(f"{FM}/faultManagementJob/{sat.id}/suspend", {}).status == 404
    assert rest.get(f"{FM}/faultManagementJob?serviceId=alpha-evc-1").body == []
    assert rest.get(f"{FM}/trackingRecord?relatedFaultManagementJobId={sat.id}").status == 422


@needs_mef
def test_hub_notifications_follow_mef_fm_notification_file(rest: RestClient) -> None:
    listener = Listener()
    try:
        hub = rest.post(f"{FM}/hub", {"callback": listener.url})
        assert hub.status == 201, hub.body
        created = rest.post(
            f"{FM}/faultManagementJob", fm_job("ethernet-link-trace", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2")
        )
        job_id = created.body["id"]
        broken = rest.post(
            f"{FM}/faultManagementJob",
            fm_job("ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", description="BROKEN-FM-ping"),
        )
        assert broken.status == 201, broken.body
        wanted = {"faultManagementJobCreateEvent", "faultManagementJobStateChangeEvent",
                  "faultManagementJobReportReadyEvent", "faultManagementReportCreateEvent",
                  "faultManagementReportStateChangeEvent",
                  "faultManagementJobReportPreparationErrorEvent"}  # fmt: skip

        def mine(bodies: list[dict[str, Any]]) -> set[str]:
            return {
                b["eventType"]
                for b in bodies
                if b["event"].get("id") == job_id or b["event"].get("href", "").endswith(job_id)
            }

        listener.wait_for(lambda bodies: {"faultManagementJobReportReadyEvent"} <= mine(bodies))
        listener.wait_for(
            lambda bodies: any(b["eventType"] == "faultManagementReportCreateEvent" for b in bodies)
        )
        listener.wait_for(
            lambda bodies: any(
                b["eventType"] == "faultManagementJobReportPreparationErrorEvent"
                and b["event"]["id"] == broken.body["id"]
                for b in bodies
            )
        )
        deliveries = listener.deliveries()
        assert wanted <= {d.body["eventType"] for d in deliveries}
        for d in deliveries:
            name = d.body["eventType"]
            assert d.path.endswith(f"/mefApi/interlude/faultNotification/v3/listener/{name}")
            check(NOTIFICATION_FILE, name[0].upper() + name[1:], d.body)
        ready = next(
            d.body for d in deliveries if d.body["eventType"] == "faultManagementJobReportReadyEvent"
        )
        assert rest.get(f"{FM}/faultManagementReport/{ready['event']['reportId']}").status == 200
        states = [
            d.body["event"].get("state")
            for d in deliveries
            if d.body["eventType"] == "faultManagementJobStateChangeEvent"
        ]
        assert "inProgress" in states
        assert "completed" in states
        # Each run's report is announced in its final state: the link trace's completed (and
        # ready), the broken ping's failed (a preparation error on its job, no report ready).
        reports = {
            d.body["event"]["id"]: d.body["event"]["state"]
            for d in deliveries
            if d.body["eventType"] == "faultManagementReportStateChangeEvent"
        }
        assert reports[ready["event"]["reportId"]] == "completed"
        failed = rest.get(f"{FM}/faultManagementReport?faultManagementJobId={broken.body['id']}").body
        assert [reports[r["id"]] for r in failed] == ["failed"]
        assert failed[0]["state"] == "failed"
        assert not [
            d
            for d in deliveries
            if d.body["eventType"] == "faultManagementJobReportReadyEvent"
            and d.body["event"]["id"] == broken.body["id"]
        ]
        error = next(
            d.body
            for d in deliveries
            if d.body["eventType"] == "faultManagementJobReportPreparationErrorEvent"
        )
        assert error["event"]["href"].endswith(f"/faultManagementJob/{broken.body['id']}")
        assert rest.delete(f"{FM}/hub/{hub.body['id']}").status == 204
    finally:
        listener.close()
