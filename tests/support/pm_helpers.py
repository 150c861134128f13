"""Client-side helpers for PM end-to-end tests: builders, waiting on jobs, measurement streams."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2, performance_pb2_grpc
from tests.support.helpers import ALPHA
from tests.support.server_process import ServerProcess, launch
from tests.support.streams import Metadata, StreamCollector

Pm = performance_pb2
CE_PM = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-configuration:v0.0.1:all"
IP_PM = "urn:mef:lso:spec:legato:ip-performance-monitoring-configuration:v0.0.1:all"
# With --sim-time-scale 9000 a 15-minute bin closes every 0.1 s and an hourly report every 0.4 s.
TIME_SCALE = "9000"


def launch_pm_server(workdir: Path, *extra_args: str, db: str | None = None) -> ServerProcess:
    """A real server with the demo seed, a fast simulator and PM time scaled by TIME_SCALE
    (`db` as in server_process.launch)."""
    fast = ("--seed", "demo", "--sim-step-delay", "0.02", "--sim-time-scale", TIME_SCALE, "--sim-seed", "7")
    return launch(workdir, *fast, *extra_args, db=db)


def profile(**overrides: object) -> Pm.PerformanceProfile:
    value = Pm.PerformanceProfile(
        lifecycle_status=Pm.PERFORMANCE_PROFILE_LIFECYCLE_STATUS_APPROVED,
        job_type=Pm.PERFORMANCE_JOB_TYPE_PROACTIVE,
        output_format=Pm.PERFORMANCE_OUTPUT_FORMAT_JSON,
        result_format=Pm.PERFORMANCE_RESULT_FORMAT_PAYLOAD,
        granularity=Pm.TimeDuration(value=15, units=Pm.TIME_DURATION_UNITS_MIN),
        reporting_period=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_HOUR),
        service_specific_configuration=common_pb2.ExtensionPayload(type=CE_PM),
    )
    for name, given in overrides.items():
        if isinstance(given, Message):
            getattr(value, name).CopyFrom(given)
        else:
            setattr(value, name, given)
    return value


def service_job(profile_id: str, service_id: str) -> Pm.PerformanceJob:
    return Pm.PerformanceJob(
        performance_profile_ref=Pm.PerformanceProfileRef(id=profile_id),
        monitored_object=Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id=service_id)),
    )


class Pmc:
    """The PerformanceService as one buyer."""

    def __init__(self, channel: grpc.Channel, metadata: Metadata = ALPHA) -> None:
        self.channel = channel
        self.stub = performance_pb2_grpc.PerformanceServiceStub(channel)
        self.md = metadata

    def create_profile(self, value: Pm.PerformanceProfile | None = None) -> Pm.PerformanceProfile:
        request = Pm.CreatePerformanceProfileRequest(performance_profile=value or profile())
        return self.stub.CreatePerformanceProfile(request, metadata=self.md).performance_profile

    def create_job(self, job: Pm.PerformanceJob) -> Pm.PerformanceJob:
        request = Pm.CreatePerformanceJobRequest(performance_job=job)
        return self.stub.CreatePerformanceJob(request, metadata=self.md).performance_job

    def job(self, job_id: str) -> Pm.PerformanceJob:
        return self.stub.GetPerformanceJob(
            Pm.GetPerformanceJobRequest(id=job_id), metadata=self.md
        ).performance_job

    def wait_for_job(self, job_id: str, state: int, timeout: float = 10.0) -> Pm.PerformanceJob:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id)).state != state:
            assert time.monotonic() < deadline, f"job {job_id} still {Pm.PerformanceJobState.Name(job.state)}"
            time.sleep(0.02)
        return job

    def running_job(
        self, service_id: str = "alpha-evc-1", value: Pm.PerformanceProfile | None = None
    ) -> tuple[Pm.PerformanceProfile, Pm.PerformanceJob]:
        made = self.create_profile(value)
        job = self.create_job(service_job(made.id, service_id))
        return made, self.wait_for_job(job.id, Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)

    def stream(self, **fields: Any) -> StreamCollector:
        request = Pm.StreamPerformanceDataRequest(
            heartbeat_interval=duration_pb2.Duration(seconds=1), **fields
        )
        return StreamCollector(self.stub.StreamPerformanceData(request, metadata=self.md))

    def once(self, **fields: Any) -> list[Pm.MeasurementUpdate]:
        """A ONCE stream read to its end; its updates (it must end with OK after one sync)."""
        responses = list(
            self.stub.StreamPerformanceData(
                Pm.StreamPerformanceDataRequest(mode=Pm.STREAM_MODE_ONCE, **fields),
                metadata=self.md,
                timeout=10,
            )
        )
        kinds = [r.WhichOneof("kind") for r in responses]
        assert kinds.count("sync") == 1, kinds
        assert kinds[-1] == "sync", kinds
        return [r.update for r in responses if r.HasField("update")]


def keys(updates: Sequence[Pm.MeasurementUpdate]) -> list[tuple[str, int]]:
    """(job, interval start) of each update: what identifies a measured bin."""
    return [
        (u.measurements[0].performance_job_id, u.measurements[0].interval_start_time.ToNanoseconds())
        for u in updates
    ]


def epoch() -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=1)


def inline_job(
    service_id: str, granularity_min: int, buyer_job_id: str = "", execution_hours: int = 0
) -> Pm.PerformanceJob:
    """A job on a service with its settings inline (`granularity_min` minutes) and, when
    `execution_hours` is given, a schedule whose executions last that long."""
    settings = profile(granularity=Pm.TimeDuration(value=granularity_min, units=Pm.TIME_DURATION_UNITS_MIN))
    value = Pm.PerformanceProfileValue(
        job_type=settings.job_type,
        output_format=settings.output_format,
        result_format=settings.result_format,
        granularity=settings.granularity,
        reporting_period=settings.reporting_period,
        service_specific_configuration=settings.service_specific_configuration,
    )
    job = Pm.PerformanceJob(
        performance_profile_value=value,
        monitored_object=Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id=service_id)),
        buyer_job_id=buyer_job_id,
    )
    if execution_hours:
        job.schedule_definition.execution_duration.CopyFrom(
            Pm.TimeDuration(value=execution_hours, units=Pm.TIME_DURATION_UNITS_HOUR)
        )
    return job


def minutes(value: int) -> Pm.TimeDuration:
    return Pm.TimeDuration(value=value, units=Pm.TIME_DURATION_UNITS_MIN)
