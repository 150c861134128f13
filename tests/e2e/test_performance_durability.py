"""Measurement streams across restarts and slow consumers: nothing lost, nothing repeated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2, performance_pb2_grpc
from tests.e2e.helpers import ALPHA, rich_error
from tests.e2e.pm_helpers import TIME_SCALE, Pmc, epoch, keys
from tests.server_process import launch

Pm = performance_pb2
PLENTY = 1000  # batches (about 600 KB): far more than the slow client's windows and its buffer of 100 hold
FAST = ("--seed", "demo", "--sim-step-delay", "0.02", "--sim-seed", "11")


def test_a_restart_keeps_the_intervals_and_the_job_measures_on_without_repeating(tmp_path: Path) -> None:
    workdir = tmp_path / "pm"
    server = launch(workdir, *FAST, "--sim-time-scale", TIME_SCALE)
    try:
        with grpc.insecure_channel(server.target) as channel:
            alpha = Pmc(channel)
            _, job = alpha.running_job()
            before = alpha.stream(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch()))
            before.wait_for(lambda: len(before.of_kind("update")) >= 3)
            before.stop()
    finally:
        assert server.stop() == 0
    server = launch(workdir, *FAST, "--sim-time-scale", TIME_SCALE)
    try:
        with grpc.insecure_channel(server.target) as channel:
            alpha = Pmc(channel)
            assert alpha.job(job.id).state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS
            after = alpha.stream(performance_job_ids=[job.id], resume_token=before.last_token())
            after.wait_for(lambda: len(after.of_kind("update")) >= 3)
            after.stop()
            stored = keys(alpha.once(performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch())))
    finally:
        server.stop()
    streamed = keys(before.of_kind("update") + after.of_kind("update"))
    assert streamed == stored[: len(streamed)]
    starts = [start for _, start in stored]
    assert starts == sorted(set(starts)), "an interval was measured twice"


def _drain(responses: Iterator[Pm.StreamPerformanceDataResponse], into: list[Pm.MeasurementUpdate]) -> None:
    for response in responses:
        if response.HasField("update"):
            into.append(response.update)


def test_a_slow_subscriber_is_cut_off_and_resumes_without_loss(tmp_path: Path) -> None:
    server = launch(tmp_path / "slow", *FAST, "--sim-time-scale", "90000", "--event-subscriber-buffer", "100")
    try:
        # Without BDP probing, and with a small socket buffer, the slow client's windows stay
        # small: the server feels back-pressure after a few hundred batches.
        slow_channel = grpc.insecure_channel(
            server.target, options=[("grpc.http2.bdp_probe", 0), ("grpc.tcp_receive_buffer_size", 4096)]
        )
        with grpc.insecure_channel(server.target) as channel, slow_channel:
            alpha = Pmc(channel)
            made = alpha.create_profile()
            slow_call = performance_pb2_grpc.PerformanceServiceStub(slow_channel).StreamPerformanceData(
                Pm.StreamPerformanceDataRequest(), metadata=ALPHA
            )
            slow = iter(slow_call)
            assert next(slow).HasField("sync")
            fast = alpha.stream()
            fast.wait_for(fast.synced)
            jobs = [
                alpha.create_job(
                    Pm.PerformanceJob(
                        performance_profile_ref=Pm.PerformanceProfileRef(id=made.id),
                        monitored_object=Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id=service)),
                    )
                ).id
                for service in ("alpha-uni-1", "alpha-uni-2", "alpha-uni-3", "alpha-evc-1", "alpha-ovc-1")
            ]
            fast.wait_for(lambda: len(fast.of_kind("update")) >= PLENTY)
            got: list[Pm.MeasurementUpdate] = []
            with pytest.raises(grpc.RpcError) as cut:
                _drain(slow, got)  # reads only now that plenty was produced: it must be cut off
            error = rich_error(cut.value)
            resume_from = got[-1].resume_token if got else error.metadata["resume_token"]
            rest = alpha.stream(resume_token=resume_from)
            rest.wait_for(lambda: len(rest.of_kind("update")) >= 10)
            rest.stop()
            for job_id in jobs:
                alpha.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job_id), metadata=ALPHA)
            stored = keys(alpha.once(range=common_pb2.TimeRange(after=epoch())))
            fast.stop()
    finally:
        server.stop()
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "SLOW_CONSUMER"
    streamed = keys(got + rest.of_kind("update"))
    assert streamed == stored[: len(streamed)]
    assert len(set(streamed)) == len(streamed)
    assert fast.error is None or fast.error.code() == grpc.StatusCode.CANCELLED
    assert keys(fast.of_kind("update")) == stored[: len(fast.of_kind("update"))]
