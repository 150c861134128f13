"""Service function testing against a real server: every test type to a verdict, faults,
cancel, suspend/resume, modify, late attach and resume, consent and tenancy."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2

from interlude_client.streams import stream_test_results
from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    ordering_pb2,
    service_test_pb2,
)
from tests.e2e.conftest import OUT_OF_PROCESS, PARTNERS
from tests.support.helpers import ALPHA, BETA, EVC, Stubs, rich_error, wait_for_order
from tests.support.network import serve_remote
from tests.support.server_process import ServerProcess, launch
from tests.support.sft import TERMINAL, Followed, SftClient, config_type, in_seconds, job, profile_request

St = service_test_pb2
FAULTS = {
    "testFaults": [
        {
            "jobName": "BREACH-*",
            "effect": "breach",
            "step": "cir-step-*",
            "metric": "frameLossRatio",
            "value": 2.5,
        },
        {"jobName": "BROKEN-*", "effect": "error", "step": "lbm-2", "reason": "the MEP did not answer LBMs"},
    ]
}
# (test, from, to, mode, steps): one service pair of the demo inventory per test type.
RUNS = [
    ("ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2", St.TEST_MODE_IN_SERVICE, 5),
    ("ethernet-link-trace", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2", St.TEST_MODE_IN_SERVICE, 0),
    ("y1564-sat", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2", St.TEST_MODE_IN_SERVICE, 6),
    ("rfc2544-throughput", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2", St.TEST_MODE_OUT_OF_SERVICE, 7),
    ("ip-twamp", "alpha-ipvc-1-ep-1", "alpha-ipvc-1-ep-2", St.TEST_MODE_IN_SERVICE, 3),
    ("ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", St.TEST_MODE_IN_SERVICE, 5),
    ("ip-traceroute", "alpha-ip-uni-1", "alpha-ip-uni-2", St.TEST_MODE_IN_SERVICE, 0),
]


@pytest.fixture(scope="module", params=PARTNERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The suite runs three times: the test heads simulated in the server, and out of process
    behind the southbound contract (`--partner remote` and the simulator as a network worker,
    the Python one and the Node.js one)."""
    workdir = tmp_path_factory.mktemp(f"sft-{request.param}")
    faults = workdir / "faults.json"
    faults.write_text(json.dumps(FAULTS))
    sim = ("--sim-step-delay", "0.02", "--sim-faults", str(faults), "--sim-seed", "7")
    if request.param in OUT_OF_PROCESS:
        yield from serve_remote(
            workdir, "--seed", "demo", worker_args=sim, runtime=OUT_OF_PROCESS[request.param]
        )
        return
    running = launch(workdir, "--seed", "demo", *sim)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        yield ch


@pytest.fixture(scope="module")
def tests(channel: grpc.Channel) -> SftClient:
    return SftClient(channel)


def test_capabilities_describe_every_test_type_with_its_parameters(tests: SftClient) -> None:
    caps = tests.stub.GetTestCapabilities(St.GetTestCapabilitiesRequest(), metadata=ALPHA).test_capabilities
    assert {c.configuration_type for c in caps} == {config_type(run[0]) for run in RUNS}
    sat = next(c for c in caps if c.test_type == St.TEST_TYPE_Y1564_SERVICE_ACTIVATION)
    assert {"/cir", "/eir", "/cirSteps", "/frameDelay", "/frameDelayVariation", "/frameLossRatio"} <= {
        p.name for p in sat.parameters
    }
    ip_only = tests.stub.GetTestCapabilities(
        St.GetTestCapabilitiesRequest(service_types=["urn:mef:lso:spec:legato:ip-uni:v0.0.4:all"]),
        metadata=ALPHA,
    ).test_capabilities
    ip_types = {St.TEST_TYPE_IP_TWAMP, St.TEST_TYPE_IP_PING, St.TEST_TYPE_IP_TRACEROUTE}
    assert {c.test_type for c in ip_only} == ip_types


@pytest.mark.parametrize(("test", "source", "target", "mode", "steps"), RUNS, ids=[r[0] for r in RUNS])
def test_each_test_type_runs_to_a_verdict_followed_live(
    tests: SftClient, test: str, source: str, target: str, mode: int, steps: int
) -> None:
    created = tests.create(
        job(f"run {test}", test, source, target, test_mode=mode, out_of_service_consent=True)
    )
    assert created.state == St.TEST_JOB_STATE_ACKNOWLEDGED
    followed = tests.follow(created.id)
    assert followed.states() == [
        St.TEST_JOB_STATE_ACKNOWLEDGED,
        St.TEST_JOB_STATE_IN_PROGRESS,
        St.TEST_JOB_STATE_COMPLETED,
    ]
    kinds = followed.kinds()
    assert kinds.count("sync") == 1
    assert kinds.count("summary") == 1
    assert kinds.index("summary") == len(kinds) - 2, "the summary comes right before the final state change"
    measurements = followed.measurements()
    assert [m.sequence_number for m in measurements] == list(range(1, len(measurements) + 1))
    step_names = list(dict.fromkeys(m.step_name for m in measurements))
    if steps:
        assert len(step_names) == steps
    progress = followed.progress()
    assert [(p.step_name, p.step_number, p.step_count) for p in progress] == [
        (name, n, len(step_names)) for n, name in enumerate(step_names, start=1)
    ]
    assert {p.verdict for p in progress} <= {St.TEST_VERDICT_PASS, St.TEST_VERDICT_UNSPECIFIED}
    for item_at, item in enumerate(followed.items):  # each progress item closes its step
        if item.HasField("step_progress") and item_at + 1 < len(followed.items):
            after = followed.items[item_at + 1]
            assert not (
                after.HasField("measurement") and after.measurement.step_name == item.step_progress.step_name
            )
    assert all(m.verdict == St.TEST_VERDICT_PASS for m in measurements if m.HasField("threshold"))
    (summary,) = followed.summaries()
    assert summary.verdict == St.TEST_VERDICT_PASS, summary.reason
    assert {s.step_name for s in summary.statistics} == set(step_names)
    result = tests.stub.GetTestResult(
        St.GetTestResultRequest(id=summary.test_result_id), metadata=ALPHA
    ).test_result
    assert result.test_job.id == created.id
    assert result.summary == summary
    assert list(result.measurements) == measurements
    assert (
        result.service_specific_test_result_configuration.type == f"urn:interlude-grpc:test-result:{test}:v1"
    )
    assert tests.get(created.id).state == St.TEST_JOB_STATE_COMPLETED


def test_the_same_test_measures_the_same_values_for_the_same_seed(tests: SftClient) -> None:
    runs = [
        tests.follow(tests.create(job(f"twice {i}", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2")).id)
        for i in range(2)
    ]
    values = [[(m.step_name, m.metric_name, m.value) for m in run.measurements()] for run in runs]
    assert values[0] == values[1]
    assert len(values[0]) == 5


def test_a_y1564_test_uses_the_services_cir_by_default(tests: SftClient) -> None:
    followed = tests.follow(
        tests.create(job("sat cir", "y1564-sat", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2")).id
    )
    rates = {m.step_name: m for m in followed.measurements() if m.metric_name == "informationRate"}
    # alpha-evc-1-ep-1 has CIR 250 Mbps and EIR 50 Mbps in the demo inventory.
    assert rates["cir-step-4"].threshold.value == pytest.approx(0.99 * 250)
    assert rates["eir-step"].value > 250
    assert rates["cir-step-1"].value <= 250 * 0.25


def test_an_injected_breach_gives_verdict_fail_with_reasons(tests: SftClient) -> None:
    created = tests.create(job("BREACH-sat", "y1564-sat", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2"))
    followed = tests.follow(created.id)
    (summary,) = followed.summaries()
    assert summary.verdict == St.TEST_VERDICT_FAIL
    assert "cir-step-1: frameLossRatio 2.5 % is above the threshold 0.01" in summary.reason
    failed = {s.step_name for s in summary.statistics if s.verdict == St.TEST_VERDICT_FAIL}
    assert failed == {"cir-step-1", "cir-step-2", "cir-step-3", "cir-step-4"}
    assert [p.verdict for p in followed.progress()] == [St.TEST_VERDICT_FAIL] * 4 + [St.TEST_VERDICT_PASS]
    result = tests.stub.ListTestResults(
        St.ListTestResultsRequest(filter=St.TestResultFilter(test_job_id=created.id)), metadata=ALPHA
    ).test_results
    assert [r.summary.verdict for r in result] == [St.TEST_VERDICT_FAIL]
    assert not result[0].measurements, "list items carry no measurements"


def test_a_test_that_cannot_run_ends_with_an_error_code_and_reason(tests: SftClient) -> None:
    created = tests.create(job("BROKEN-lb", "ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2"))
    followed = tests.follow(created.id)
    (summary,) = followed.summaries()
    assert summary.verdict == St.TEST_VERDICT_ERROR
    assert summary.error_code == "TEST_HEAD_UNAVAILABLE"
    assert "lbm-2: the MEP did not answer LBMs" in summary.reason
    assert {m.step_name for m in followed.measurements()} == {"lbm-1"}
    final = tests.get(created.id)
    assert final.state == St.TEST_JOB_STATE_COMPLETED
    assert "TEST_HEAD_UNAVAILABLE" in final.termination_error[0].reason


def _slow(name: str, count: int = 100) -> St.TestJob:
    """A loopback of `count` LBMs: count x 20 ms at the test server's step delay."""
    return job(name, "ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2", {"count": count})


def test_cancel_mid_run_ends_the_job_with_an_inconclusive_result(tests: SftClient) -> None:
    created = tests.create(_slow("cancel me"))
    tests.wait_for(created.id, {St.TEST_JOB_STATE_IN_PROGRESS})
    tests.wait_measured(created.id, 3)
    task = tests.stub.CancelTestJob(
        St.CancelTestJobRequest(id=created.id, reason="wrong window"), metadata=ALPHA
    ).test_job_task
    assert task.task_type == St.TEST_JOB_TASK_TYPE_CANCEL
    assert task.state == St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED
    followed = tests.follow(created.id)
    assert followed.states()[-2:] == [St.TEST_JOB_STATE_ASSESSING_CANCELLATION, St.TEST_JOB_STATE_CANCELLED]
    (summary,) = followed.summaries()
    assert summary.verdict == St.TEST_VERDICT_INCONCLUSIVE
    assert "cancelled" in summary.reason
    assert 3 <= len(followed.measurements()) < 100
    assert tests.wait_for_task(task.id).state == St.TEST_JOB_PROCESS_STATE_ACCEPTED
    with pytest.raises(grpc.RpcError) as again:
        tests.stub.CancelTestJob(St.CancelTestJobRequest(id=created.id), metadata=ALPHA)
    error = rich_error(again.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INVALID_STATE_TRANSITION"


def test_suspend_stops_measuring_and_resume_finishes_every_step(tests: SftClient) -> None:
    created = tests.create(_slow("pause me", 50))
    tests.wait_for(created.id, {St.TEST_JOB_STATE_IN_PROGRESS})
    tests.stub.SuspendTestJob(St.SuspendTestJobRequest(id=created.id, reason="maintenance"), metadata=ALPHA)
    tests.wait_for(created.id, {St.TEST_JOB_STATE_SUSPENDED})
    before = tests.measured(created.id)
    threading.Event().wait(0.3)  # 15 step delays: a running job would have measured more
    assert tests.measured(created.id) == before < 50
    tests.stub.ResumeTestJob(St.ResumeTestJobRequest(id=created.id), metadata=ALPHA)
    followed = tests.follow(created.id)
    assert St.TEST_JOB_STATE_SUSPENDED in followed.states()
    assert [m.step_name for m in followed.measurements()] == [f"lbm-{i}" for i in range(1, 51)]
    assert followed.summaries()[0].verdict == St.TEST_VERDICT_PASS
    tasks = tests.stub.ListTestJobTasks(
        St.ListTestJobTasksRequest(filter=St.TestJobTaskFilter(test_job_id=created.id)), metadata=ALPHA
    ).test_job_tasks
    assert {(t.task_type, t.state) for t in tasks} == {
        (St.TEST_JOB_TASK_TYPE_SUSPEND, St.TEST_JOB_PROCESS_STATE_ACCEPTED),
        (St.TEST_JOB_TASK_TYPE_RESUME, St.TEST_JOB_PROCESS_STATE_ACCEPTED),
    }


def test_a_scheduled_job_can_be_modified_before_it_starts(tests: SftClient) -> None:
    created = tests.create(
        job("later", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", requested_start_date_time=in_seconds(600))
    )
    tests.wait_for(created.id, {St.TEST_JOB_STATE_SCHEDULED})
    modification = St.TestJobModification(name="now", requested_start_date_time=in_seconds(0))
    task = tests.stub.ModifyTestJob(
        St.ModifyTestJobRequest(id=created.id, modification=modification), metadata=ALPHA
    ).test_job_task
    followed = tests.follow(created.id)
    assert followed.states() == [
        St.TEST_JOB_STATE_ACKNOWLEDGED,
        St.TEST_JOB_STATE_SCHEDULED,
        St.TEST_JOB_STATE_ASSESSING_MODIFICATION,
        St.TEST_JOB_STATE_SCHEDULED,
        St.TEST_JOB_STATE_IN_PROGRESS,
        St.TEST_JOB_STATE_COMPLETED,
    ]
    assert tests.get(created.id).name == "now"
    assert tests.wait_for_task(task.id).state == St.TEST_JOB_PROCESS_STATE_ACCEPTED


def test_attaching_late_replays_every_step_then_goes_live(tests: SftClient) -> None:
    created = tests.create(_slow("attach late", 50))
    early = tests.stream(created.id)
    tests.wait_for(created.id, {St.TEST_JOB_STATE_IN_PROGRESS})
    tests.wait_measured(created.id, 10)
    late = tests.follow(created.id)
    from_start = [i for i in early]
    assert late.measurements() == [i.measurement for i in from_start if i.HasField("measurement")]
    assert len(late.measurements()) == 50
    sync_at = late.kinds().index("sync")
    assert late.kinds()[:sync_at].count("measurement") >= 10, "what was produced before attaching is replayed"
    # Resuming from a token mid-stream delivers exactly the rest.
    tenth = next(i for i in late.items if i.HasField("measurement") and i.measurement.sequence_number == 10)
    rest = tests.follow(created.id, resume_token=tenth.resume_token)
    assert [m.sequence_number for m in rest.measurements()] == list(range(11, 51))
    assert (
        late.payload()[late.payload().index(tenth.SerializeToString(deterministic=True)) + 1 :]
        == rest.payload()
    )


def test_out_of_service_without_consent_is_refused(tests: SftClient) -> None:
    request = job(
        "oos",
        "rfc2544-throughput",
        "alpha-ovc-1-ep-1",
        "alpha-ovc-1-ep-2",
        test_mode=St.TEST_MODE_OUT_OF_SERVICE,
    )
    with pytest.raises(grpc.RpcError) as refused:
        tests.create(request)
    error = rich_error(refused.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "OUT_OF_SERVICE_CONSENT_REQUIRED"
    assert set(error.rules) == {"service:alpha-ovc-1-ep-1", "service:alpha-ovc-1-ep-2"}
    request.out_of_service_consent = True
    assert tests.create(request, validate_only=True).state == St.TEST_JOB_STATE_ACKNOWLEDGED


def test_another_buyer_can_neither_run_nor_see_tests_on_a_service_it_does_not_own(tests: SftClient) -> None:
    with pytest.raises(grpc.RpcError) as foreign:
        tests.create(job("steal", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"), metadata=BETA)
    assert rich_error(foreign.value).code == grpc.StatusCode.NOT_FOUND
    assert rich_error(foreign.value).reason == "SERVICE_NOT_FOUND"
    mine = tests.create(job("private", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
    tests.follow(mine.id)
    calls: list[Callable[[], object]] = [
        lambda: tests.get(mine.id, metadata=BETA),
        lambda: list(tests.stream(mine.id, metadata=BETA)),
        lambda: tests.stub.CancelTestJob(St.CancelTestJobRequest(id=mine.id), metadata=BETA),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as hidden:
            call()
        assert (rich_error(hidden.value).code, rich_error(hidden.value).reason) == (
            grpc.StatusCode.NOT_FOUND,
            "TEST_RESOURCE_NOT_FOUND",
        )
    assert tests.stub.ListTestJobTasks(St.ListTestJobTasksRequest(), metadata=BETA).total_size == 0
    assert tests.stub.ListTestJobs(St.ListTestJobsRequest(), metadata=BETA).total_size == 0
    assert tests.stub.ListTestResults(St.ListTestResultsRequest(), metadata=BETA).total_size == 0


def test_a_bad_job_reports_every_violation_at_once(tests: SftClient) -> None:
    request = job(
        "bad",
        "y1564-sat",
        "alpha-ip-uni-1",
        "alpha-ip-uni-2",
        {"cirSteps": [0, 50], "frameDelay": "x", "nope": 1},
    )
    with pytest.raises(grpc.RpcError) as bad:
        tests.create(request)
    error = rich_error(bad.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    where = "test_job.service_specific_test_job_configuration"
    assert {
        f"{where}/cirSteps/0",
        f"{where}/frameDelay",
        f"{where}/nope",
        "test_job.related_service_from.id",
    } <= set(error.violations)


def test_a_profile_in_use_cannot_be_deleted(tests: SftClient) -> None:
    profile = profile_request(
        "sat defaults", "carrier-ethernet-evc-end-point", "y1564-sat", {"cirSteps": [50, 100]}
    )
    created = tests.stub.CreateTestProfile(St.CreateTestProfileRequest(test_profile=profile), metadata=ALPHA)
    ref = St.TestProfileRef(id=created.test_profile.id)
    run = tests.follow(
        tests.create(
            job("by profile", "y1564-sat", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2", test_profile_ref=ref)
        ).id
    )
    assert [s for s in dict.fromkeys(m.step_name for m in run.measurements())] == [
        "cir-step-1",
        "cir-step-2",
        "eir-step",
        "performance-phase",
    ]
    by_spec = St.TestResultFilter(related_service_specification_id="carrier-ethernet-evc-end-point")
    results = tests.stub.ListTestResults(
        St.ListTestResultsRequest(filter=by_spec), metadata=ALPHA
    ).test_results
    assert run.summaries()[0].test_result_id in {r.id for r in results}
    got = tests.stub.GetTestProfile(St.GetTestProfileRequest(id=ref.id), metadata=ALPHA).test_profile
    assert got.lifecycle_state == St.TEST_PROFILE_LIFECYCLE_STATE_ASSIGNED
    with pytest.raises(grpc.RpcError) as in_use:
        tests.stub.DeleteTestProfile(St.DeleteTestProfileRequest(id=ref.id), metadata=ALPHA)
    assert rich_error(in_use.value).reason == "PROFILE_IN_USE"


def test_job_state_changes_and_results_are_events(tests: SftClient, channel: grpc.Channel) -> None:
    events = events_pb2_grpc.EventServiceStub(channel)
    created = tests.create(job("evented", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
    tests.follow(created.id)
    result_id = (
        tests.stub.ListTestResults(
            St.ListTestResultsRequest(filter=St.TestResultFilter(test_job_id=created.id)), metadata=ALPHA
        )
        .test_results[0]
        .id
    )
    request = events_pb2.StreamEventsRequest(
        filter=events_pb2.EventFilter(resource_ids=[created.id, result_id]), start_time=created.creation_date
    )
    seen: list[events_pb2.Event] = []
    call = events.StreamEvents(request, metadata=ALPHA, timeout=10)
    for response in call:
        if response.HasField("sync"):
            break
        seen.append(response.event)
    call.cancel()
    # A ping is a Fault Management procedure: each test event is followed by its FM twin.
    ev = events_pb2
    assert [(e.event_type, e.state) for e in seen] == [
        (ev.EVENT_TYPE_TEST_JOB_CREATE, "acknowledged"),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_CREATE, "acknowledged"),
        (ev.EVENT_TYPE_TEST_JOB_STATE_CHANGE, "inProgress"),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_STATE_CHANGE, "inProgress"),
        (ev.EVENT_TYPE_TEST_RESULT_CREATE, ""),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_REPORT_CREATE, "completed"),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_REPORT_STATE_CHANGE, "completed"),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_REPORT_READY, ""),
        (ev.EVENT_TYPE_TEST_JOB_STATE_CHANGE, "completed"),
        (ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_STATE_CHANGE, "completed"),
    ]
    assert seen[4].test_result.summary.verdict == St.TEST_VERDICT_PASS
    assert seen[5].test_result.id == seen[4].test_result.id
    assert seen[6].test_result.id == result_id
    assert seen[7].resource.report_id == result_id
    assert seen[8].test_job.state in TERMINAL


def test_readme_walkthrough_a_cir_change_then_a_service_activation_test(
    tests: SftClient, channel: grpc.Channel
) -> None:
    """README "Walk-through": modify a CIR (F2), run a Y.1564 SAT on the service, read the verdict."""
    stubs = Stubs.on(channel)
    attributes = struct_pb2.Struct()
    attributes.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 200}}})
    update = ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id="alpha-ovc-1-ep-2", service_configuration=common_pb2.ExtensionPayload(attributes=attributes)
        ),
        update_mask=field_mask_pb2.FieldMask(
            paths=["service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"]
        ),
    )
    order = stubs.ordering.UpdateService(update, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    created = tests.create(job("after CIR change", "y1564-sat", "alpha-ovc-1-ep-2", "alpha-ovc-1-ep-1"))
    followed = tests.follow(created.id)
    (summary,) = followed.summaries()
    assert summary.verdict == St.TEST_VERDICT_PASS
    rate = next(
        s
        for s in summary.statistics
        if s.step_name == "performance-phase" and s.metric_name == "informationRate"
    )
    assert rate.threshold.value == pytest.approx(0.99 * 200), "the test ran at the new CIR"
    result = tests.stub.GetTestResult(St.GetTestResultRequest(id=summary.test_result_id), metadata=ALPHA)
    document = json_format.MessageToDict(
        result.test_result.service_specific_test_result_configuration.attributes
    )
    assert document["verdict"] == "pass"
    assert document["parameters"]["cir"] == 200


def _new_evc(channel: grpc.Channel, a: str, b: str, state: int) -> list[str]:
    """Order an EVC between the UNIs `a` and `b` in `state`; the ids of its two end points."""
    stubs = Stubs.on(channel)
    request = ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[ordering_pb2.ConnectivityEndPoint(interface_service_id=i) for i in (a, b)],
        desired_state=state,  # type: ignore[arg-type]
    )
    order = stubs.ordering.CreateConnectivity(request, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    return [item.service.id for item in order.service_order_item[1:]]


def test_a_test_of_an_inactive_service_ends_with_service_not_active(
    tests: SftClient, channel: grpc.Channel
) -> None:
    first, second = _new_evc(channel, "alpha-uni-1", "alpha-uni-3", common_pb2.SERVICE_STATE_INACTIVE)
    created = tests.create(job("inactive", "ethernet-loopback", first, second))
    (summary,) = tests.follow(created.id).summaries()
    assert summary.verdict == St.TEST_VERDICT_ERROR
    assert summary.error_code == "SERVICE_NOT_ACTIVE"
    assert first in summary.reason


@pytest.mark.parametrize(
    ("test", "a", "b", "refused"),
    [
        # end points of two different connectivity services (an EVC and an OVC)
        ("y1564-sat", "alpha-evc-1-ep-1", "alpha-ovc-1-ep-2", "do not belong to one connectivity service"),
        # interfaces no end point of one connectivity attaches to both
        ("y1564-sat", "alpha-uni-2", "alpha-uni-1", "do not belong to one connectivity service"),
        # an end point to itself
        ("y1564-sat", "alpha-evc-1-ep-1", "alpha-evc-1-ep-1", "must differ from"),
        ("ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-1", "must differ from"),
    ],
)
def test_a_test_between_services_of_no_one_connectivity_is_refused(
    tests: SftClient, test: str, a: str, b: str, refused: str
) -> None:
    for validate_only in (True, False):
        with pytest.raises(grpc.RpcError) as bad:
            tests.stub.CreateTestJob(
                St.CreateTestJobRequest(test_job=job("pair", test, a, b), validate_only=validate_only),
                metadata=ALPHA,
            )
        error = rich_error(bad.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert refused in error.violations["test_job.related_service_to.id"]


def test_a_test_between_the_interfaces_of_one_evc_is_accepted(tests: SftClient) -> None:
    """alpha-uni-2 and alpha-uni-3 are where the two end points of alpha-evc-1 attach."""
    reply = tests.stub.CreateTestJob(
        St.CreateTestJobRequest(
            test_job=job("by interfaces", "ethernet-loopback", "alpha-uni-2", "alpha-uni-3"),
            validate_only=True,
        ),
        metadata=ALPHA,
    )
    assert reply.test_job.related_service_to.id == "alpha-uni-3"


def test_a_test_family_must_fit_the_service_type(tests: SftClient) -> None:
    with pytest.raises(grpc.RpcError) as bad:
        tests.create(job("ip on ethernet", "ip-twamp", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2"))
    error = rich_error(bad.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {"test_job.related_service_from.id", "test_job.related_service_to.id"} <= set(error.violations)


def test_a_job_followed_across_a_server_restart_delivers_every_step_exactly_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The job resumes where it stood, and the client's resumable iterator reconnects from
    its last token: no item lost, none repeated."""
    workdir = tmp_path_factory.mktemp("sft-restart")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ("--seed", "demo", "--sim-step-delay", "0.02", "--grpc-listen", f"127.0.0.1:{port}")
    quick = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 300)]
    server = launch(workdir, *args)
    items: list[St.StreamTestResultsResponse] = []
    try:
        with grpc.insecure_channel(server.target, options=quick) as ch:
            client = SftClient(ch)
            created = client.create(_slow("survivor", 40))
            request = St.StreamTestResultsRequest(test_job_id=created.id)
            follower = threading.Thread(
                target=lambda: items.extend(stream_test_results(client.stub, request, ALPHA)), daemon=True
            )
            follower.start()
            client.wait_measured(created.id, 5)
            assert server.stop() == 0
            server = launch(workdir, *args)
            assert '"test_jobs_resumed": 1' in server.logs(), "the job was still running at the restart"
            follower.join(timeout=30)
            assert not follower.is_alive(), "the iterator did not reach the end of the job"
    finally:
        assert server.stop() == 0
    followed = Followed([i for i in items if not i.HasField("sync")])
    assert [m.sequence_number for m in followed.measurements()] == list(range(1, 41))
    assert [m.step_name for m in followed.measurements()] == [f"lbm-{i}" for i in range(1, 41)]
    assert [p.step_number for p in followed.progress()] == list(range(1, 41))
    assert followed.states()[-1] == St.TEST_JOB_STATE_COMPLETED
    assert [s.verdict for s in followed.summaries()] == [St.TEST_VERDICT_PASS]


def test_a_quiet_stream_sends_heartbeats_and_a_foreign_token_is_refused(tests: SftClient) -> None:
    later = tests.create(
        job("quiet", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", requested_start_date_time=in_seconds(600))
    )
    request = St.StreamTestResultsRequest(
        test_job_id=later.id, heartbeat_interval=duration_pb2.Duration(seconds=1)
    )
    call = tests.stub.StreamTestResults(request, metadata=ALPHA, timeout=10)
    kinds = []
    for item in call:
        kinds.append(item.WhichOneof("kind"))
        assert item.resume_token
        if kinds[-1] == "heartbeat":
            break
    call.cancel()
    assert kinds[-1] == "heartbeat"
    assert "sync" in kinds, "the heartbeat follows the replay and its sync marker"
    other = tests.create(job("other", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
    token = next(iter(tests.stream(later.id))).resume_token
    with pytest.raises(grpc.RpcError) as foreign:
        list(tests.stream(other.id, resume_token=token))
    assert rich_error(foreign.value).reason == "INVALID_RESUME_TOKEN"
    tests.stub.CancelTestJob(St.CancelTestJobRequest(id=later.id), metadata=ALPHA)
    assert tests.follow(later.id).states()[-1] == St.TEST_JOB_STATE_CANCELLED
    assert not tests.follow(later.id).summaries(), "a job cancelled before it ran has no result"


def test_a_retried_create_returns_the_first_job_and_lists_filter_by_state_and_type(tests: SftClient) -> None:
    request = job("retried", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2")
    first = tests.create(request, request_id="sft-retry-1")
    again = tests.create(request, request_id="sft-retry-1")
    assert again.id == first.id
    tests.follow(first.id)
    listed = tests.stub.ListTestJobs(
        St.ListTestJobsRequest(
            filter=St.TestJobFilter(
                name="retried", state=[St.TEST_JOB_STATE_COMPLETED], test_type=[St.TEST_TYPE_IP_PING]
            )
        ),
        metadata=ALPHA,
    )
    assert [j.id for j in listed.test_jobs] == [first.id]
    none = tests.stub.ListTestJobs(
        St.ListTestJobsRequest(filter=St.TestJobFilter(name="retried", test_type=[St.TEST_TYPE_IP_TWAMP])),
        metadata=ALPHA,
    )
    assert none.total_size == 0


def test_profiles_are_validated_updated_with_a_mask_and_guarded_by_etag(tests: SftClient) -> None:
    profile = profile_request(
        "ping", "ip-uni", "ip-ping", {"count": 500}, St.TEST_PROFILE_LIFECYCLE_STATUS_PENDING
    )
    with pytest.raises(grpc.RpcError) as bad:
        tests.stub.CreateTestProfile(St.CreateTestProfileRequest(test_profile=profile), metadata=ALPHA)
    assert set(rich_error(bad.value).violations) == {
        "test_profile.service_specific_test_profile_configuration/count"
    }
    profile.service_specific_test_profile_configuration.attributes.update({"count": 3})
    created = tests.stub.CreateTestProfile(
        St.CreateTestProfileRequest(test_profile=profile), metadata=ALPHA
    ).test_profile
    assert created.test_type == St.TEST_TYPE_IP_PING
    assert created.lifecycle_state == St.TEST_PROFILE_LIFECYCLE_STATE_AVAILABLE
    change = St.TestProfile(id=created.id, lifecycle_status=St.TEST_PROFILE_LIFECYCLE_STATUS_APPROVED)
    mask = field_mask_pb2.FieldMask(paths=["lifecycle_status"])
    updated = tests.stub.UpdateTestProfile(
        St.UpdateTestProfileRequest(test_profile=change, update_mask=mask, etag=created.etag), metadata=ALPHA
    ).test_profile
    assert (updated.lifecycle_status, updated.name, updated.etag) == (
        St.TEST_PROFILE_LIFECYCLE_STATUS_APPROVED,
        "ping",
        "2",
    )
    with pytest.raises(grpc.RpcError) as stale:
        tests.stub.UpdateTestProfile(
            St.UpdateTestProfileRequest(test_profile=change, update_mask=mask, etag=created.etag),
            metadata=ALPHA,
        )
    assert rich_error(stale.value).reason == "ETAG_MISMATCH"
    listed = tests.stub.ListTestProfiles(
        St.ListTestProfilesRequest(filter=St.TestProfileFilter(related_service_specification_id="ip-uni")),
        metadata=ALPHA,
    ).test_profiles
    assert [p.id for p in listed] == [created.id]
    tests.stub.DeleteTestProfile(St.DeleteTestProfileRequest(id=created.id), metadata=ALPHA)
    with pytest.raises(grpc.RpcError) as gone:
        tests.stub.GetTestProfile(St.GetTestProfileRequest(id=created.id), metadata=ALPHA)
    assert rich_error(gone.value).reason == "TEST_RESOURCE_NOT_FOUND"
