"""PM rules that need no server: the state tables and the simulated measurements."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.core.errors import InvalidState
from interlude_server.domain.performance.model import CE_CONFIG, IP_CONFIG
from interlude_server.domain.performance.states import JOB, TASK
from interlude_server.partner.performance.measure import BREACH_RATE, SUSPECT_RATE, measure

Pm = performance_pb2
BIN_S = 900


def _job(service_id: str = "evc-1") -> Pm.PerformanceJob:
    return Pm.PerformanceJob(
        id="job-1",
        monitored_object=Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id=service_id)),
    )


def _settings(config_type: str = CE_CONFIG) -> Pm.PerformanceProfileValue:
    return Pm.PerformanceProfileValue(
        service_specific_configuration=common_pb2.ExtensionPayload(type=config_type)
    )


def _bin(i: int) -> tuple[timestamp_pb2.Timestamp, timestamp_pb2.Timestamp]:
    return timestamp_pb2.Timestamp(seconds=1_800_000_000 + i * BIN_S), timestamp_pb2.Timestamp(
        seconds=1_800_000_000 + (i + 1) * BIN_S
    )


def test_suspend_is_only_for_in_progress_jobs_and_names_the_state() -> None:
    assert JOB.next(Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS, "suspend") == Pm.PERFORMANCE_JOB_STATE_SUSPENDED
    with pytest.raises(InvalidState) as refused:
        JOB.next(Pm.PERFORMANCE_JOB_STATE_SCHEDULED, "suspend")
    assert refused.value.current_state == "scheduled"


def test_cancel_passes_through_pending_cancel_and_modify_through_pending() -> None:
    for state in (
        Pm.PERFORMANCE_JOB_STATE_SCHEDULED,
        Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS,
        Pm.PERFORMANCE_JOB_STATE_SUSPENDED,
    ):
        assert JOB.next(state, "cancel") == Pm.PERFORMANCE_JOB_STATE_PENDING_CANCEL
    assert not JOB.can(Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS, "modify")  # v5: scheduled or suspended only
    assert JOB.next(Pm.PERFORMANCE_JOB_STATE_SUSPENDED, "modify") == Pm.PERFORMANCE_JOB_STATE_PENDING
    assert all(not JOB.can(s, a) for s in JOB.terminal for a in ("cancel", "suspend", "resume", "modify"))


def test_a_task_is_rejected_or_accepted_only_while_acknowledged() -> None:
    acked = Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED
    assert TASK.next(acked, "accept") == Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS
    assert not TASK.can(Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS, "reject")


def test_measurements_are_deterministic_per_seed() -> None:
    start, end = _bin(0)
    same = measure(3, _job(), _settings(), start, end), measure(3, _job(), _settings(), start, end)
    other = measure(4, _job(), _settings(), start, end)
    assert same[0].measurements == same[1].measurements
    assert [m.value for m in other.measurements] != [m.value for m in same[0].measurements]


def test_measurements_are_bounded_with_occasional_breaches_and_suspects() -> None:
    batches = [measure(0, _job(), _settings(IP_CONFIG), *_bin(i)) for i in range(2000)]
    values = [m for b in batches for m in b.measurements]
    assert {m.metric_name for m in values} == {"oneWayPacketDelay", "packetLossRatio", "jitter"}
    assert all(m.value >= 0 and (m.unit != "%" or m.value <= 100) for m in values)
    breach_rate = sum(m.breached for m in values) / len(values)
    suspect_rate = sum(b.measurements[0].suspect for b in batches) / len(batches)
    assert 0.3 * BREACH_RATE < breach_rate < 3 * BREACH_RATE
    assert 0.3 * SUSPECT_RATE < suspect_rate < 3 * SUSPECT_RATE
    assert all(m.suspect_reason for m in values if m.suspect)
    assert all(m.breached == (m.value > m.sls_objective) for m in values)


def test_buyer_objectives_replace_the_defaults() -> None:
    settings = _settings()
    settings.service_specific_configuration.attributes.update({"slsObjectives": {"oneWayFrameDelay": 2.0}})
    batch = measure(0, _job(), settings, *_bin(0))
    delay = next(m for m in batch.measurements if m.metric_name == "oneWayFrameDelay")
    assert delay.sls_objective == 2.0
    assert delay.breached == (delay.value > 2.0)
