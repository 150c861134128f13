"""Measurement streams across restarts and slow consumers: nothing lost, nothing repeated."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from interlude_client.streams import Backoff, stream_performance_data
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2, performance_pb2_grpc
from tests.support.helpers import ALPHA, rich_error
from tests.support.pm_helpers import TIME_SCALE, Pmc, epoch, keys
from tests.support.server_process import launch

Pm = performance_pb2
PLENTY = 1000  # batches (about 600 KB): far more than the slow client's windows and its buffer of 100 hold
QUICK_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 300),
]
FAST = ("--seed", "demo", "--sim-step-delay", "0.02", "--sim-seed", "11")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Follower:
    """Reads interlude_client's resumable measurement stream on a thread."""

    def __init__(self, channel: grpc.Channel, job_id: str) -> None:
        request = Pm.StreamPerformanceDataRequest(
            performance_job_ids=[job_id],
            range=common_pb2.TimeRange(after=epoch()),
            heartbeat_interval=duration_pb2.Duration(seconds=1),
        )
        stub = performance_pb2_grpc.PerformanceServiceStub(channel)
        self.responses = stream_performance_data(stub, request, ALPHA, backoff=Backoff(initial=0.05))
        self.updates: list[Pm.MeasurementUpdate] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self.responses:
                if response.HasField("update"):
                    self.updates.append(response.update)
                if self._stop.is_set():  # checked at least every heartbeat
                    break
        except BaseException as error:
            self.error = error
        finally:
            self.responses.close()  # cancels the call, on the thread that iterates it

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.updates) < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"only {len(self.updates)} updates"
            time.sleep(0.02)


def test_a_restart_keeps_the_intervals_and_the_client_stream_resumes_without_loss(tmp_path: Path) -> None:
    workdir = tmp_path / "pm"
    flags = (*FAST, "--sim-time-scale", TIME_SCALE, "--grpc-listen", f"127.0.0.1:{_free_port()}")
    servers = [launch(workdir, *flags)]
    try:
        with grpc.insecure_channel(servers[0].target, options=QUICK_RECONNECT) as channel:
            alpha = Pmc(channel)
            _, job = alpha.running_job()
            follower = Follower(channel, job.id)
            follower.wait_for(3)
            assert servers[0].stop() == 0  # SIGTERM while the client follows the job
            (workdir / "ready").unlink(missing_ok=True)
            servers.append(launch(workdir, *flags))
            with grpc.insecure_channel(servers[1].target) as fresh:
                again = Pmc(fresh)
                resumed = again.job(job.id)  # the engine picked the job up again
                assert resumed.state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS
                follower.wait_for(len(follower.updates) + 5)
                again.stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job.id), metadata=ALPHA)
                time.sleep(0.3)  # a batch committed just before the suspension lands
                everything = common_pb2.TimeRange(after=epoch())
                stored = keys(again.once(performance_job_ids=[job.id], range=everything))
            follower.wait_for(len(stored))
            follower.stop()
    finally:
        for server in servers:
            server.stop()
    assert keys(follower.updates) == stored, "the client lost or repeated a bin across the restart"
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
