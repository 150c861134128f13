"""Service Function Testing v3 over REST answers what ServiceTestService answers over gRPC.

One real server process serves both forms; each check asks both for the same thing
and compares, errors included (gRPC reason <-> MEF code and propertyPath). The hub
part delivers the test events of the durable log to a real listener.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, service_test_pb2
from interlude_server.domain.sft.fault import FM_EVENTS
from interlude_server.rest.errors import property_path
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, rich_error
from tests.support.mef_names import (
    ERROR,
    ERROR_422,
    EVENT,
    EVENT_PAYLOAD,
    SFT_CHILDREN,
    TASK,
    TASK_REASONS,
    TEST_JOB,
    TEST_JOB_FIND,
    TEST_PROFILE,
    TEST_RESULT,
    TEST_RESULT_COMMON,
    unknown_in,
)
from tests.support.rest import SFT, Listener, RestClient
from tests.support.server_process import ServerProcess
from tests.support.sft import SftClient, config_type, job
from tests.support.streams import event_log

St = service_test_pb2
LISTENER = "/buyer/mefApi/interlude/serviceFunctionTestingNotification/v3/listener/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_demo(tmp_path_factory.mktemp("rest-sft"), "--rest-listen", "127.0.0.1:0")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def tests(server: ServerProcess) -> Iterator[SftClient]:
    with grpc.insecure_channel(server.target) as channel:
        yield SftClient(channel)


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> RestClient:
    return RestClient(server.rest_url)


def _same_time(text: str, ts: timestamp_pb2.Timestamp) -> bool:
    parsed = timestamp_pb2.Timestamp()
    parsed.FromJsonString(text)
    return parsed == ts


def _job_body(name: str, params: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A MEF `TestJob_Common`: an ethernet loopback between the two ends of alpha's OVC."""
    return {
        "name": name,
        "requestedEndDateTime": "2099-01-01T00:00:00Z",
        "testProfile": {"@type": "TestProfileValue"},
        "relatedServiceFrom": {"id": "alpha-ovc-1-ep-1"},
        "relatedServiceTo": {"id": "alpha-ovc-1-ep-2"},
        "serviceSpecificTestJobConfiguration": {"@type": config_type("ethernet-loopback"), **(params or {})},
        **extra,
    }


def _mef_error(reply: Any, status: int, code: str, reason: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["X-Interlude-Reason"] == reason
    for entry in reply.body if status == 422 else [reply.body]:
        assert not code or entry["code"] == code
        assert entry["referenceError"].endswith(reason)


def _grpc_error(call: Any) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return rich_error(caught.value)


def assert_same_job(got: dict[str, Any], j: St.TestJob, base: str) -> None:
    assert got["id"] == j.id
    assert got["href"] == f"{base}{SFT}/testJob/{j.id}"
    assert got["name"] == j.name
    assert got["state"] == _state(St.TestJobState, j.state, "TEST_JOB_STATE_")
    for key, ts in (
        ("creationDate", j.creation_date),
        ("lastModifiedDate", j.last_modified_date),
        ("requestedEndDateTime", j.requested_end_date_time),
        ("actualStartDateTime", j.actual_start_date_time),
        ("actualEndDateTime", j.actual_end_date_time),
    ):
        assert (key in got) == (ts.ByteSize() > 0), key
        if key in got:
            assert _same_time(got[key], ts), key
    assert got["relatedServiceFrom"]["id"] == j.related_service_from.id
    assert got["relatedServiceTo"]["id"] == j.related_service_to.id
    config = j.service_specific_test_job_configuration
    assert got["serviceSpecificTestJobConfiguration"] == {
        "@type": config.type,
        **json_format.MessageToDict(config.attributes),
    }
    assert unknown_in(got, TEST_JOB, SFT_CHILDREN) == []


def _state(enum: Any, value: int, prefix: str) -> str:
    name: str = enum.Name(value)
    words = name.removeprefix(prefix).lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def test_a_job_run_over_rest_is_the_job_and_result_grpc_sees(
    rest: RestClient, tests: SftClient, server: ServerProcess
) -> None:
    reply = rest.post(f"{SFT}/testJob", _job_body("rest loopback", {"count": 3}))
    assert reply.status == 201, reply.body
    created = reply.body
    assert reply.headers["Location"] == created["href"] == f"{server.rest_url}{SFT}/testJob/{created['id']}"
    assert created["state"] == "acknowledged"
    assert unknown_in(created, TEST_JOB, SFT_CHILDREN) == []
    tests.follow(created["id"])
    final = tests.get(created["id"])
    got = rest.get(f"{SFT}/testJob/{created['id']}")
    assert got.headers["ETag"] == f'"{final.etag}"'
    assert got.body["state"] == _state(St.TestJobState, final.state, "TEST_JOB_STATE_") == "completed"
    assert_same_job(got.body, final, server.rest_url)

    want = tests.stub.ListTestJobs(
        St.ListTestJobsRequest(filter=St.TestJobFilter(name="rest loopback"), page_size=1000), metadata=ALPHA
    )
    listed = rest.get(f"{SFT}/testJob?name=rest%20loopback&limit=1000")
    assert [j["id"] for j in listed.body] == [j.id for j in want.test_jobs] == [created["id"]]
    assert listed.headers["X-Total-Count"] == str(want.total_size)
    assert unknown_in(listed.body, TEST_JOB_FIND, SFT_CHILDREN) == []
    assert _same_time(listed.body[0]["requestedStartDateTime"], final.creation_date)  # immediate job

    results = tests.stub.ListTestResults(
        St.ListTestResultsRequest(filter=St.TestResultFilter(test_job_id=created["id"])), metadata=ALPHA
    ).test_results
    rest_results = rest.get(f"{SFT}/testResult?testJobId={created['id']}")
    assert [r["id"] for r in rest_results.body] == [r.id for r in results]
    assert unknown_in(rest_results.body, TEST_RESULT_COMMON, SFT_CHILDREN) == []
    full = tests.stub.GetTestResult(St.GetTestResultRequest(id=results[0].id), metadata=ALPHA).test_result
    one = rest.get(f"{SFT}/testResult/{full.id}").body
    assert one["testJob"] == {"id": created["id"], "href": created["href"]}
    assert _same_time(one["actualStartDateTime"], full.actual_start_date_time)
    assert _same_time(one["actualEndDateTime"], full.actual_end_date_time)
    document = full.service_specific_test_result_configuration
    assert one["serviceSpecificTestResultConfiguration"] == {
        "@type": document.type,
        **json_format.MessageToDict(document.attributes),
    }
    assert unknown_in(one, TEST_RESULT, SFT_CHILDREN) == []


def test_profiles_over_rest_match_grpc_create_get_list_patch_delete(
    rest: RestClient, tests: SftClient
) -> None:
    body: dict[str, Any] = {
        "name": "rest ping",
        "isBundled": False,
        "lifecycleStatus": "pending",
        "validFor": "2099-01-01T00:00:00Z",
        "relatedServiceSpecification": {"id": "ip-uni"},
        "serviceSpecificTestProfileConfiguration": {"@type": config_type("ip-ping"), "count": 500},
        "relatedContact": [{"name": "NOC", "emailAddress": "noc@example.com", "phoneNumber": "+1 555"}],
    }
    proto = St.TestProfile()
    json_format.ParseDict(
        {
            "name": "rest ping",
            "lifecycleStatus": "TEST_PROFILE_LIFECYCLE_STATUS_PENDING",
            "validFor": "2099-01-01T00:00:00Z",
            "relatedServiceSpecificationId": "ip-uni",
            "serviceSpecificTestProfileConfiguration": {
                "type": config_type("ip-ping"),
                "attributes": {"count": 500},
            },
        },
        proto,
    )
    err = _grpc_error(
        lambda: tests.stub.CreateTestProfile(St.CreateTestProfileRequest(test_profile=proto), metadata=ALPHA)
    )
    refused = rest.post(f"{SFT}/testProfile", body)
    _mef_error(refused, 422, "", err.reason)
    assert {e["propertyPath"] for e in refused.body} == {
        property_path(f, "test_profile") for f in err.violations
    }
    assert {e["propertyPath"] for e in refused.body} == {"/serviceSpecificTestProfileConfiguration/count"}

    body["serviceSpecificTestProfileConfiguration"]["count"] = 3
    created = rest.post(f"{SFT}/testProfile", body)
    assert created.status == 201, created.body
    profile = created.body
    assert unknown_in(profile, TEST_PROFILE, SFT_CHILDREN) == []
    grpc_view = tests.stub.GetTestProfile(
        St.GetTestProfileRequest(id=profile["id"]), metadata=ALPHA
    ).test_profile
    assert profile["lifecycleState"] == "available"
    assert profile["relatedContact"] == [
        {"name": "NOC", "emailAddress": "noc@example.com", "phoneNumber": "+1 555"}
    ]
    assert [c.number for c in grpc_view.related_contact] == ["+1 555"]
    assert rest.get(f"{SFT}/testProfile/{profile['id']}").body == profile
    want = tests.stub.ListTestProfiles(
        St.ListTestProfilesRequest(filter=St.TestProfileFilter(related_service_specification_id="ip-uni")),
        metadata=ALPHA,
    ).test_profiles
    listed = rest.get(f"{SFT}/testProfile?relatedServiceSpecificationId=ip-uni")
    assert [p["id"] for p in listed.body] == [p.id for p in want]

    stale = rest.call(
        "PATCH", f"{SFT}/testProfile/{profile['id']}", {"lifecycleStatus": "approved"}, {"If-Match": '"0"'}
    )
    _mef_error(stale, 409, "conflict", "ETAG_MISMATCH")
    patched = rest.call("PATCH", f"{SFT}/testProfile/{profile['id']}", {"lifecycleStatus": "approved"})
    assert patched.status == 200, patched.body
    assert (patched.body["lifecycleStatus"], patched.body["name"]) == ("approved", "rest ping")
    after = tests.stub.GetTestProfile(St.GetTestProfileRequest(id=profile["id"]), metadata=ALPHA).test_profile
    assert after.lifecycle_status == St.TEST_PROFILE_LIFECYCLE_STATUS_APPROVED

    assert rest.delete(f"{SFT}/testProfile/{profile['id']}").status == 204
    gone = _grpc_error(
        lambda: tests.stub.GetTestProfile(St.GetTestProfileRequest(id=profile["id"]), metadata=ALPHA)
    )
    _mef_error(rest.get(f"{SFT}/testProfile/{profile['id']}"), 404, "notFound", gone.reason)


def test_task_resources_cancel_suspend_resume_modify_match_grpc(
    rest: RestClient, tests: SftClient, server: ServerProcess
) -> None:
    slow = rest.post(f"{SFT}/testJob", _job_body("rest pause", {"count": 60})).body
    tests.wait_for(slow["id"], {St.TEST_JOB_STATE_IN_PROGRESS})
    ref = {"id": slow["id"]}
    suspend = rest.post(f"{SFT}/suspendTestJob", {"testJob": ref, "suspensionReason": "maintenance"})
    assert suspend.status == 201, suspend.body
    assert suspend.body["href"] == f"{server.rest_url}{SFT}/suspendTestJob/{suspend.body['id']}"
    assert (suspend.body["state"], suspend.body["suspensionReason"]) == ("acknowledged", "maintenance")
    assert unknown_in(suspend.body, TASK | TASK_REASONS["suspendTestJob"], SFT_CHILDREN) == []
    tests.wait_for(slow["id"], {St.TEST_JOB_STATE_SUSPENDED})
    task = tests.wait_for_task(suspend.body["id"])
    got = rest.get(f"{SFT}/suspendTestJob/{task.id}").body
    assert got["state"] == _state(St.TestJobProcessState, task.state, "TEST_JOB_PROCESS_STATE_") == "accepted"
    assert got["testJob"] == {"id": slow["id"], "href": slow["href"]}
    wrong_kind = rest.get(f"{SFT}/cancelTestJob/{task.id}")  # a suspend task is no cancel task
    _mef_error(wrong_kind, 404, "notFound", "TEST_RESOURCE_NOT_FOUND")

    twice = _grpc_error(
        lambda: tests.stub.SuspendTestJob(St.SuspendTestJobRequest(id=slow["id"]), metadata=ALPHA)
    )
    # gRPC FAILED_PRECONDITION (REST's table: 409); a task POST lists no 409, so: 422 otherIssue.
    assert twice.code == grpc.StatusCode.FAILED_PRECONDITION
    refused = rest.post(f"{SFT}/suspendTestJob", {"testJob": ref})
    _mef_error(refused, 422, "otherIssue", twice.reason)
    assert unknown_in(refused.body[0], ERROR) == []
    assert rest.post(f"{SFT}/resumeTestJob", {"testJob": ref, "resumptionReason": "done"}).status == 201
    tests.wait_for(slow["id"], {St.TEST_JOB_STATE_IN_PROGRESS, St.TEST_JOB_STATE_COMPLETED})
    cancel = rest.post(f"{SFT}/cancelTestJob", {"testJob": ref, "cancellationReason": "enough"})
    assert cancel.status == 201, cancel.body
    tests.follow(slow["id"])
    for kind, field in (("suspendTestJob", "suspensionReason"), ("resumeTestJob", "resumptionReason")):
        listed = rest.get(f"{SFT}/{kind}?testJobId={slow['id']}&state=accepted")
        assert [t["testJob"]["id"] for t in listed.body] == [slow["id"]]
        assert field in listed.body[0]
    want = tests.stub.ListTestJobTasks(
        St.ListTestJobTasksRequest(
            filter=St.TestJobTaskFilter(test_job_id=slow["id"], task_type=[St.TEST_JOB_TASK_TYPE_CANCEL])
        ),
        metadata=ALPHA,
    ).test_job_tasks
    assert [t["id"] for t in rest.get(f"{SFT}/cancelTestJob?testJobId={slow['id']}").body] == [
        t.id for t in want
    ]

    later = rest.post(
        f"{SFT}/testJob", _job_body("rest later", {"count": 2}, requestedStartDateTime="2098-01-01T00:00:00Z")
    ).body
    tests.wait_for(later["id"], {St.TEST_JOB_STATE_SCHEDULED})
    modify = rest.post(
        f"{SFT}/modifyTestJob",
        {"testJob": {"id": later["id"]}, "name": "renamed", "modificationReason": "typo"},
    )
    assert modify.status == 201, modify.body
    assert (modify.body["name"], modify.body["modificationReason"]) == ("renamed", "typo")
    assert unknown_in(modify.body, TASK | TASK_REASONS["modifyTestJob"], SFT_CHILDREN) == []
    assert tests.wait_for_task(modify.body["id"]).state == St.TEST_JOB_PROCESS_STATE_ACCEPTED
    assert rest.get(f"{SFT}/testJob/{later['id']}").body["name"] == tests.get(later["id"]).name == "renamed"


def test_errors_of_the_sft_api_carry_the_grpc_reasons(rest: RestClient, tests: SftClient) -> None:
    for path, call in (
        ("testJob/nope", lambda: tests.stub.GetTestJob(St.GetTestJobRequest(id="nope"), metadata=ALPHA)),
        (
            "testResult/nope",
            lambda: tests.stub.GetTestResult(St.GetTestResultRequest(id="nope"), metadata=ALPHA),
        ),
        (
            "cancelTestJob/nope",
            lambda: tests.stub.GetTestJobTask(St.GetTestJobTaskRequest(id="nope"), metadata=ALPHA),
        ),
    ):
        err = _grpc_error(call)
        assert err.code == grpc.StatusCode.NOT_FOUND
        _mef_error(rest.get(f"{SFT}/{path}"), 404, "notFound", err.reason)
    _mef_error(rest.get(f"{SFT}/testJob?colour=red"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(
        rest.get(f"{SFT}/testResult?requestedStartDateTime.gt=soon"), 400, "invalidQuery", "INVALID_FILTER"
    )
    _mef_error(rest.get(f"{SFT}/suspendTestJob?state=done"), 400, "invalidQuery", "INVALID_FILTER")

    bad = job("bad", "y1564-sat", "alpha-ip-uni-1", "alpha-ip-uni-2", {"cirSteps": [0, 50], "nope": 1})
    err = _grpc_error(lambda: tests.create(bad))
    body = {
        "name": "bad",
        "requestedEndDateTime": "2099-01-01T00:00:00Z",
        "testProfile": {"@type": "TestProfileValue"},
        "relatedServiceFrom": {"id": "alpha-ip-uni-1"},
        "relatedServiceTo": {"id": "alpha-ip-uni-2"},
        "serviceSpecificTestJobConfiguration": {
            "@type": config_type("y1564-sat"),
            "cirSteps": [0, 50],
            "nope": 1,
        },
    }
    reply = rest.post(f"{SFT}/testJob", body)
    _mef_error(reply, 422, "", err.reason)
    assert {e["propertyPath"]: e["reason"] for e in reply.body} == {
        property_path(f, "test_job"): d for f, d in err.violations.items()
    }
    assert "/serviceSpecificTestJobConfiguration/nope" in {e["propertyPath"] for e in reply.body}

    shape = rest.post(f"{SFT}/testJob", {"testProfile": {"@type": "Other"}, "testMode": "sideways", "x": 1})
    _mef_error(shape, 422, "", "INVALID_REQUEST")
    assert {(e["code"], e["propertyPath"]) for e in shape.body} == {
        ("invalidValue", "/testProfile/@type"),
        ("invalidValue", "/testMode"),
        ("unexpectedProperty", "/x"),
    }
    no_job = rest.post(f"{SFT}/cancelTestJob", {"testJob": {"id": ""}})
    _mef_error(no_job, 422, "missingProperty", "INVALID_REQUEST")
    assert [e["propertyPath"] for e in no_job.body] == ["/testJob/id"]  # gRPC: the request's `id`
    profile = rest.post(
        f"{SFT}/testProfile", {"name": "p", "isBundled": False, "lifecycleStatus": "approved"}
    )
    _mef_error(profile, 422, "", "INVALID_REQUEST")
    paths = {e["propertyPath"] for e in profile.body}
    assert {"/validFor", "/relatedServiceSpecification/id"} <= paths  # MEF's reference, not the proto name
    oos = job(
        "oos",
        "rfc2544-throughput",
        "alpha-ovc-1-ep-1",
        "alpha-ovc-1-ep-2",
        test_mode=St.TEST_MODE_OUT_OF_SERVICE,
    )
    consent = _grpc_error(lambda: tests.create(oos))
    oos_body = _job_body("oos", testMode="outOfService")
    oos_body["serviceSpecificTestJobConfiguration"]["@type"] = config_type("rfc2544-throughput")
    _mef_error(rest.post(f"{SFT}/testJob", oos_body), 422, "otherIssue", consent.reason)
    assert consent.reason == "OUT_OF_SERVICE_CONSENT_REQUIRED"


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("cancelTestJob", {"cancellationReason": "x"}),
        ("suspendTestJob", {"suspensionReason": "x"}),
        ("resumeTestJob", {"resumptionReason": "x"}),
        ("modifyTestJob", {"name": "x"}),
    ],
)
def test_a_task_for_a_job_that_does_not_exist_is_422_reference_not_found(
    rest: RestClient, tests: SftClient, server: ServerProcess, kind: str, extra: dict[str, Any]
) -> None:
    """gRPC says NOT_FOUND; the file lists only 422 for a task POST: `referenceNotFound` at the job."""
    beta_job = {
        **_job_body("beta's"),
        "relatedServiceFrom": {"id": "beta-ovc-1-ep-1"},
        "relatedServiceTo": {"id": "beta-ovc-1-ep-2"},
    }
    theirs = RestClient(server.rest_url, "sp-beta").post(f"{SFT}/testJob", beta_job).body
    assert "id" in theirs, theirs  # so that alpha's task names a real job of another buyer
    method = "Cancel" if kind == "cancelTestJob" else kind.removesuffix("TestJob").capitalize()
    request = getattr(St, f"{method}TestJobRequest")(id="no-such-job")
    err = _grpc_error(lambda: getattr(tests.stub, f"{method}TestJob")(request, metadata=ALPHA))
    assert (err.code, err.reason) == (grpc.StatusCode.NOT_FOUND, "TEST_RESOURCE_NOT_FOUND")
    for job_id in ("no-such-job", theirs["id"]):
        reply = rest.post(f"{SFT}/{kind}", {"testJob": {"id": job_id}, **extra})
        _mef_error(reply, 422, "referenceNotFound", err.reason)
        assert [e["propertyPath"] for e in reply.body] == ["/testJob/id"]
        assert all(unknown_in(e, ERROR_422) == [] for e in reply.body)


def test_a_profile_patch_that_cannot_apply_is_400_invalid_body(rest: RestClient) -> None:
    """gRPC says INVALID_ARGUMENT (REST's table: 422); modifyTestProfile lists 400, not 422."""
    created = rest.post(
        f"{SFT}/testProfile",
        {
            "name": "patch me",
            "isBundled": False,
            "lifecycleStatus": "pending",
            "validFor": "2099-01-01T00:00:00Z",
            "relatedServiceSpecification": {"id": "ip-uni"},
            "serviceSpecificTestProfileConfiguration": {"@type": config_type("ip-ping"), "count": 3},
        },
    )
    assert created.status == 201, created.body
    target = f"{SFT}/testProfile/{created.body['id']}"
    for body, pointer in (
        ({"relatedContact": [{"name": "n", "postalAddress": {}}]}, "/relatedContact/0/postalAddress"),
        ({"lifecycleStatus": "sideways"}, "/lifecycleStatus"),
    ):
        reply = rest.call("PATCH", target, body)
        _mef_error(reply, 400, "invalidBody", "INVALID_REQUEST")
        assert unknown_in(reply.body, ERROR) == []
        assert pointer in reply.body["message"]
    assert rest.get(target).body == created.body  # nothing was applied
    _mef_error(
        rest.call("PATCH", f"{SFT}/testProfile/nope", {"name": "x"}),
        404,
        "notFound",
        "TEST_RESOURCE_NOT_FOUND",
    )


def _test_events(server: ServerProcess, job_id: str) -> list[events_pb2.Event]:
    """The job's test events in the durable log, in log order (without the FM twins of a
    loopback's events: the SFT hub does not carry them)."""
    ours = [e for e in event_log(server.target) if job_id in (e.resource.id, e.test_result.test_job.id)]
    return [e for e in ours if e.event_type not in FM_EVENTS]


def test_the_sft_hub_delivers_test_events_in_log_order(
    rest: RestClient, tests: SftClient, server: ServerProcess
) -> None:
    listener = Listener()
    try:
        registered = rest.post(f"{SFT}/hub", {"callback": listener.url})
        assert registered.status == 201, registered.body
        only = rest.post(
            f"{SFT}/hub", {"callback": listener.url + "/only", "query": "eventType=testResultCreateEvent"}
        ).body
        bad = rest.post(f"{SFT}/hub", {"callback": listener.url, "query": "eventType=serviceCreateEvent"})
        _mef_error(bad, 400, "invalidBody", "INVALID_REQUEST")  # the file lists no 422 for POST /hub
        assert bad.body["message"].startswith("/query: ")
        created = rest.post(f"{SFT}/testJob", _job_body("hub job", {"count": 2})).body
        tests.follow(created["id"])
        log = _test_events(server, created["id"])
        assert [e.event_type for e in log][:2] == [
            events_pb2.EVENT_TYPE_TEST_JOB_CREATE,
            events_pb2.EVENT_TYPE_TEST_JOB_STATE_CHANGE,
        ]
        ids = {e.event_id for e in log}
        # every event on the catch-all registration, plus the result event on the filtered one
        listener.wait_for(lambda bodies: sum(b["eventId"] in ids for b in bodies) >= len(log) + 1)
        deliveries = [d for d in listener.deliveries() if d.body["eventId"] in ids]
        everything = [d for d in deliveries if "/only/" not in d.path]
        assert [d.body["eventId"] for d in everything] == [e.event_id for e in log]
        for d, event in zip(everything, log, strict=True):
            assert d.path == LISTENER + d.body["eventType"]
            assert unknown_in(d.body, EVENT) == []
            assert unknown_in(d.body["event"], EVENT_PAYLOAD) == []
            assert d.body["event"]["id"] == event.resource.id
        result = next(d for d in everything if d.body["eventType"] == "testResultCreateEvent")
        assert result.body["event"]["href"].startswith(f"{server.rest_url}{SFT}/testResult/")
        assert everything[0].body["event"]["href"] == created["href"]
        filtered = [d.body["eventType"] for d in deliveries if "/only/" in d.path]
        assert filtered == ["testResultCreateEvent"]
        assert rest.get(f"{SFT}/hub/{only['id']}").body["query"] == "eventType=testResultCreateEvent"
        assert rest.delete(f"{SFT}/hub/{only['id']}").status == 204
    finally:
        listener.close()
