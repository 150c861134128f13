"""Client-side helpers for service function testing end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, service_test_pb2, service_test_pb2_grpc
from tests.support.helpers import ALPHA

St = service_test_pb2
Metadata = tuple[tuple[str, str], ...]
TERMINAL = {St.TEST_JOB_STATE_COMPLETED, St.TEST_JOB_STATE_CANCELLED, St.TEST_JOB_STATE_REJECTED}


def config_type(name: str) -> str:
    return f"urn:interlude-grpc:test:{name}:v1"


def in_seconds(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int((time.time() + seconds) * 1e9))
    return ts


def job(
    name: str,
    test: str,
    source: str,
    target: str,
    params: dict[str, Any] | None = None,
    **fields: Any,
) -> service_test_pb2.TestJob:
    """A job request with an inline (empty) profile value and the given parameters."""
    attributes = struct_pb2.Struct()
    attributes.update(params or {})
    if "test_profile_ref" not in fields:
        fields.setdefault("test_profile_value", St.TestProfileValue())
    return St.TestJob(
        name=name,
        requested_end_date_time=in_seconds(3600),
        related_service_from=common_pb2.ServiceRef(id=source),
        related_service_to=common_pb2.ServiceRef(id=target),
        service_specific_test_job_configuration=common_pb2.ExtensionPayload(
            type=config_type(test), attributes=attributes
        ),
        **fields,
    )


def profile_request(
    name: str,
    spec_id: str,
    test: str,
    params: dict[str, Any],
    status: int = St.TEST_PROFILE_LIFECYCLE_STATUS_APPROVED,
) -> service_test_pb2.TestProfile:
    """A profile valid for a day with the given test parameters."""
    profile = St.TestProfile(
        name=name,
        lifecycle_status=status,  # type: ignore[arg-type]
        valid_for=in_seconds(86400),
        related_service_specification_id=spec_id,
    )
    profile.service_specific_test_profile_configuration.type = config_type(test)
    profile.service_specific_test_profile_configuration.attributes.update(params)
    return profile


@dataclass
class Followed:
    """Everything a StreamTestResults call delivered, in order."""

    items: list[service_test_pb2.StreamTestResultsResponse] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [str(i.WhichOneof("kind")) for i in self.items]

    def states(self) -> list[int]:
        return [i.state_change.state for i in self.items if i.HasField("state_change")]

    def measurements(self) -> list[service_test_pb2.TestMeasurement]:
        return [i.measurement for i in self.items if i.HasField("measurement")]

    def progress(self) -> list[service_test_pb2.TestStepProgress]:
        return [i.step_progress for i in self.items if i.HasField("step_progress")]

    def summaries(self) -> list[service_test_pb2.TestSummary]:
        return [i.summary for i in self.items if i.HasField("summary")]

    def payload(self) -> list[bytes]:
        """The delivered items without heartbeats and sync markers, for comparing streams."""
        return [
            i.SerializeToString(deterministic=True)
            for i in self.items
            if i.WhichOneof("kind") not in ("heartbeat", "sync")
        ]


class SftClient:
    """The ServiceTestService stub with the calls the tests repeat."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.stub = service_test_pb2_grpc.ServiceTestServiceStub(channel)

    def create(
        self, test_job: service_test_pb2.TestJob, metadata: Metadata = ALPHA, **kw: Any
    ) -> service_test_pb2.TestJob:
        request = St.CreateTestJobRequest(test_job=test_job, **kw)
        return self.stub.CreateTestJob(request, metadata=metadata).test_job

    def get(self, job_id: str, metadata: Metadata = ALPHA) -> service_test_pb2.TestJob:
        return self.stub.GetTestJob(St.GetTestJobRequest(id=job_id), metadata=metadata).test_job

    def stream(
        self, job_id: str, metadata: Metadata = ALPHA, resume_token: str = ""
    ) -> Iterable[service_test_pb2.StreamTestResultsResponse]:
        request = St.StreamTestResultsRequest(test_job_id=job_id, resume_token=resume_token)
        return self.stub.StreamTestResults(request, metadata=metadata, timeout=30)

    def follow(self, job_id: str, metadata: Metadata = ALPHA, resume_token: str = "") -> Followed:
        """Read the job's stream until the server ends it (after the terminal state)."""
        return Followed(list(self.stream(job_id, metadata, resume_token)))

    def wait_for(self, job_id: str, states: set[int], timeout: float = 20.0) -> service_test_pb2.TestJob:
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(job_id)
            if current.state in states:
                return current
            assert time.monotonic() < deadline, f"job {job_id} still {current.state} after {timeout}s"
            time.sleep(0.02)

    def wait_for_task(self, task_id: str, timeout: float = 20.0) -> service_test_pb2.TestJobTask:
        deadline = time.monotonic() + timeout
        while True:
            task = self.stub.GetTestJobTask(
                St.GetTestJobTaskRequest(id=task_id), metadata=ALPHA
            ).test_job_task
            if task.state != St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED:
                return task
            assert time.monotonic() < deadline, f"task {task_id} still acknowledged after {timeout}s"
            time.sleep(0.02)

    def wait_measured(self, job_id: str, at_least: int, timeout: float = 20.0) -> int:
        """Wait (bounded) until the job has produced `at_least` measurements; how many it has."""
        deadline = time.monotonic() + timeout
        while (count := self.measured(job_id)) < at_least:
            assert time.monotonic() < deadline, f"job {job_id} measured only {count} after {timeout}s"
            time.sleep(0.02)
        return count

    def measured(self, job_id: str) -> int:
        """How many measurements the job has produced so far (reads the stream's replay)."""
        count = 0
        call = self.stream(job_id)
        try:
            for item in call:
                if item.HasField("sync"):
                    break
                count += item.HasField("measurement")
        finally:
            call.cancel()  # type: ignore[attr-defined]
        return count
