"""Test capabilities, plans, measurements and verdicts (pure domain, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core import clock
from interlude_server.core.errors import Errors, InvalidState
from interlude_server.domain.sft.catalog import BY_TYPE, CAPABILITIES, Capability, Resolved, resolve
from interlude_server.domain.sft.plan import RunEnd, measure, measurement, plan, summarize
from interlude_server.domain.sft.states import TEST_JOB
from interlude_server.partner.sft.simulator import load_test_faults

St = service_test_pb2
SAT = BY_TYPE[St.TEST_TYPE_Y1564_SERVICE_ACTIVATION]
EVC_EP = {"ingressBandwidthProfilePerEvcEndPoint": {"cir": {"irValue": 250}, "eir": {"irValue": 50}}}


def _resolved(capability_type: int, params: dict[str, object] | None = None) -> Resolved:
    errors = Errors()
    resolved = resolve(BY_TYPE[capability_type], [("job", params or {})], EVC_EP, errors)
    assert not errors.items
    return resolved


def _values(resolved: Resolved, seed: int) -> list[float]:
    steps = plan(resolved, seed, 1)
    return [value for i, step in enumerate(steps) for _, value in measure(resolved, seed, 1, i, step)]


@pytest.mark.parametrize("capability", CAPABILITIES, ids=lambda c: c.name)
def test_the_same_seed_measures_the_same_values_and_another_seed_others(capability: Capability) -> None:
    resolved = _resolved(capability.test_type)
    assert _values(resolved, 0) == _values(_resolved(capability.test_type), 0)
    assert _values(resolved, 0) != _values(resolved, 1)


def test_a_sat_plan_has_cir_steps_an_eir_step_and_a_performance_phase_at_the_services_rates() -> None:
    steps = plan(_resolved(St.TEST_TYPE_Y1564_SERVICE_ACTIVATION), 0, 1)
    assert [s.name for s in steps] == [
        "cir-step-1",
        "cir-step-2",
        "cir-step-3",
        "cir-step-4",
        "eir-step",
        "performance-phase",
    ]
    rate = {s.name: s.metrics[0] for s in steps}
    assert rate["cir-step-1"].nominal == pytest.approx(62.5)
    assert rate["eir-step"].nominal == pytest.approx(300)
    threshold = rate["performance-phase"].threshold
    assert threshold is not None
    assert threshold[0] == pytest.approx(247.5)
    assert threshold[1] == St.TEST_THRESHOLD_COMPARISON_AT_LEAST


def test_every_bad_parameter_is_reported_at_once() -> None:
    errors = Errors()
    bad = {"cirSteps": [0, "x"], "frameDelay": -1, "cosName": "Z", "stepDuration": 1.5, "extra": True}
    resolve(SAT, [("cfg", bad)], {}, errors)
    assert {v.field for v in errors.items} == {
        "cfg/cirSteps/0",
        "cfg/cirSteps/1",
        "cfg/frameDelay",
        "cfg/cosName",
        "cfg/stepDuration",
        "cfg/extra",
    }


def test_the_job_overrides_the_profile_which_overrides_the_defaults() -> None:
    errors = Errors()
    resolved = resolve(SAT, [("profile", {"cir": 10, "eir": 5}), ("job", {"cir": 20})], EVC_EP, errors)
    assert (resolved.values["cir"], resolved.values["eir"], resolved.values["frameLossRatio"]) == (
        20,
        5,
        0.01,
    )


def _measured(resolved: Resolved, breach: str = "") -> list[service_test_pb2.TestMeasurement]:
    out: list[service_test_pb2.TestMeasurement] = []
    for i, step in enumerate(plan(resolved, 0, 1)):
        for metric, value in measure(resolved, 0, 1, i, step):
            v = 9.0 if metric.name == breach else value
            out.append(measurement(metric, v, step, 1, len(out) + 1, clock.now()))
    return out


def test_verdicts_pass_fail_with_reasons_inconclusive_and_error() -> None:
    resolved = _resolved(St.TEST_TYPE_IP_PING)
    passed = summarize("r", 1, _measured(resolved), 5)
    assert passed.verdict == St.TEST_VERDICT_PASS
    assert {s.step_name for s in passed.statistics} == {f"echo-{i}" for i in range(1, 6)}
    failed = summarize("r", 1, _measured(_resolved(St.TEST_TYPE_IP_TWAMP), "packetLossRatio"), 3)
    assert failed.verdict == St.TEST_VERDICT_FAIL
    assert "interval-1: packetLossRatio 9 % is above the threshold 0.1" in failed.reason
    stopped = summarize("r", 1, _measured(resolved)[:2], 5, RunEnd(St.TEST_VERDICT_INCONCLUSIVE, "cancelled"))
    assert (stopped.verdict, stopped.reason) == (St.TEST_VERDICT_INCONCLUSIVE, "cancelled")
    broken = summarize("r", 1, [], 5, RunEnd(St.TEST_VERDICT_ERROR, "no answer", "FAR_END_UNREACHABLE"))
    assert (broken.verdict, broken.error_code) == (St.TEST_VERDICT_ERROR, "FAR_END_UNREACHABLE")


def test_suspend_is_only_allowed_in_progress_and_says_what_is_allowed() -> None:
    with pytest.raises(InvalidState) as refused:
        TEST_JOB.next(St.TEST_JOB_STATE_SCHEDULED, "suspend")
    assert refused.value.current_state == "scheduled"
    assert "allowed now: cancel, modify, start" in refused.value.message


def test_bad_test_fault_rules_are_all_named(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(
        json.dumps(
            {
                "faults": [],
                "testFaults": [
                    {"jobName": "A*", "effect": "explode"},
                    {"jobName": "B*", "effect": "breach", "value": "high"},
                    {"jobName": "C*", "effect": "error", "errorCode": "OOPS"},
                    {
                        "jobName": "D*",
                        "effect": "breach",
                        "step": "cir-*",
                        "metric": "frameDelay",
                        "value": 50,
                    },
                ],
            }
        )
    )
    with pytest.raises(
        ValueError, match=r"testFaults\[0\].*testFaults\[1\]\.value.*testFaults\[2\]\.errorCode"
    ):
        load_test_faults(path)
    path.write_text(json.dumps({"testFaults": [{"jobName": "D*", "effect": "breach", "value": 50}]}))
    (rule,) = load_test_faults(path)
    assert (rule.job_name, rule.step, rule.value) == ("D*", "*", 50.0)
