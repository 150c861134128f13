"""The service-function-testing part of the store interface: its Tx and its reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.store.interface.paging import Page, PageRequest


@dataclass(frozen=True)
class SftRun:
    """Where the current run of a test job stands: the runner's durable progress."""

    run_number: int
    next_step: int  # index of the next step of the run's plan to execute
    started: timestamp_pb2.Timestamp | None
    result_id: str  # the id the run's result gets when it ends


class SftTx(Protocol):
    """The service-function-testing part of a write transaction (store/sql/sft/tx.py)."""

    def get_test_profile(self, buyer_id: str, profile_id: str) -> service_test_pb2.TestProfile | None: ...

    def put_test_profile(self, p: service_test_pb2.TestProfile) -> None: ...

    def delete_test_profile(self, buyer_id: str, profile_id: str) -> None: ...

    def get_test_job(self, buyer_id: str, job_id: str) -> service_test_pb2.TestJob | None: ...

    def put_test_job(self, j: service_test_pb2.TestJob) -> None: ...

    def get_test_run(self, buyer_id: str, job_id: str) -> SftRun | None: ...

    def put_test_run(self, buyer_id: str, job_id: str, run: SftRun) -> None: ...

    def get_test_job_task(self, buyer_id: str, task_id: str) -> service_test_pb2.TestJobTask | None: ...

    def put_test_job_task(self, t: service_test_pb2.TestJobTask) -> None: ...

    def open_test_job_tasks(self, buyer_id: str, job_id: str) -> list[service_test_pb2.TestJobTask]:
        """The job's tasks still ACKNOWLEDGED, oldest first."""

    def put_test_result(
        self,
        r: service_test_pb2.TestResult,
        job: service_test_pb2.TestJob,
        profile: service_test_pb2.TestProfileValue,
    ) -> None:
        """Store a result; `profile` gives the specification and contacts lists filter on."""

    def append_test_item(
        self, buyer_id: str, job_id: str, run_number: int, item: service_test_pb2.StreamTestResultsResponse
    ) -> int:
        """Append a stream item of the job (run 0: not part of a run); returns its sequence."""

    def sft_measurements(
        self, buyer_id: str, job_id: str, run_number: int
    ) -> list[service_test_pb2.TestMeasurement]: ...


class SftReads(Protocol):
    """The service-function-testing reads of the store (store/sql/sft/reads.py)."""

    async def get_test_profile(
        self, buyer_id: str, profile_id: str
    ) -> service_test_pb2.TestProfile | None: ...

    async def list_test_profiles(
        self, buyer_id: str, f: service_test_pb2.TestProfileFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestProfile]: ...

    async def get_test_job(self, buyer_id: str, job_id: str) -> service_test_pb2.TestJob | None: ...

    async def list_test_jobs(
        self, buyer_id: str, f: service_test_pb2.TestJobFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestJob]: ...

    async def active_test_jobs(self) -> list[service_test_pb2.TestJob]:
        """Every buyer's jobs not in a terminal state, oldest first (runner resume)."""

    async def get_test_job_task(self, buyer_id: str, task_id: str) -> service_test_pb2.TestJobTask | None: ...

    async def list_test_job_tasks(
        self, buyer_id: str, f: service_test_pb2.TestJobTaskFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestJobTask]: ...

    async def get_test_result(self, buyer_id: str, result_id: str) -> service_test_pb2.TestResult | None: ...

    async def list_test_results(
        self, buyer_id: str, f: service_test_pb2.TestResultFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestResult]: ...

    async def read_test_items(
        self, buyer_id: str, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, service_test_pb2.StreamTestResultsResponse]]:
        """The job's stream items with sequence > after_seq, oldest first, at most `limit`."""
