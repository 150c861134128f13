"""The PM part of the store interface (profiles, jobs, tasks, reports, tracking, measurements).

Kept apart from interface/store.py so the PM feature reads as one piece; `Tx` and `Store`
extend these protocols. Measurement batches are an append-only log of their own
(sequence per batch), fanned out after commit like events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.store.interface.paging import Page, PageRequest

Pm = performance_pb2


@dataclass(frozen=True)
class MeasurementBatch:
    """The measurements of one job for one interval, recorded together and delivered whole.

    `sequence` is the batch's position in the measurement log (0 until appended);
    `service_ids` are the services its subject involves (stream filters)."""

    job_id: str
    service_ids: tuple[str, ...]
    interval_start_key: str
    measurements: tuple[Pm.Measurement, ...]
    sequence: int = 0


@dataclass(frozen=True)
class MeasurementRange:
    """Which stored batches to read: sequence window plus an optional interval-start window
    (exclusive timestamp keys, '' for unbounded)."""

    after_seq: int
    up_to_seq: int
    start_after_key: str = ""
    start_before_key: str = ""

    def covers(self, batch: MeasurementBatch) -> bool:
        """Whether the batch's interval start is inside the window (as the store filters it)."""
        key = batch.interval_start_key
        return (not self.start_after_key or key > self.start_after_key) and (
            not self.start_before_key or key < self.start_before_key
        )


class PmTx(Protocol):
    """PM writes inside one transaction."""

    def get_pm_profile(self, buyer_id: str, profile_id: str) -> Pm.PerformanceProfile | None: ...

    def put_pm_profile(self, profile: Pm.PerformanceProfile) -> None: ...

    def delete_pm_profile(self, buyer_id: str, profile_id: str) -> None: ...

    def count_pm_jobs_using(self, buyer_id: str, profile_id: str, live_states: tuple[int, ...]) -> int:
        """Jobs in `live_states` that reference the profile."""

    def get_pm_job(self, buyer_id: str, job_id: str) -> Pm.PerformanceJob | None: ...

    def put_pm_job(self, job: Pm.PerformanceJob) -> None: ...

    def get_pm_task(self, buyer_id: str, task_id: str) -> Pm.PerformanceJobTask | None: ...

    def put_pm_task(self, task: Pm.PerformanceJobTask) -> None: ...

    def open_pm_tasks(self, buyer_id: str, job_id: str) -> list[Pm.PerformanceJobTask]:
        """The job's tasks that are not final, oldest first."""

    def get_pm_report(self, buyer_id: str, report_id: str) -> Pm.PerformanceReport | None: ...

    def put_pm_report(self, report: Pm.PerformanceReport) -> None: ...

    def add_pm_tracking(self, buyer_id: str, record: Pm.PerformanceTrackingRecord) -> None:
        """Append a tracking record; the store assigns record.id if empty."""

    def append_measurements(self, buyer_id: str, batch: MeasurementBatch) -> int:
        """Append a batch to the measurement log in this transaction; returns its sequence."""

    def job_measurements(
        self, buyer_id: str, job_id: str, start_after_key: str, start_before_key: str
    ) -> list[MeasurementBatch]:
        """The job's batches whose interval starts in [after, before), oldest first (reports)."""

    def last_interval_end_key(self, buyer_id: str, job_id: str) -> str:
        """The end key of the job's newest interval ('' if none): the engine never measures twice."""


class PmStore(Protocol):
    """PM reads."""

    async def get_pm_profile(self, buyer_id: str, profile_id: str) -> Pm.PerformanceProfile | None: ...

    async def list_pm_profiles(
        self, buyer_id: str, query: Pm.PerformanceProfileFilter, page: PageRequest
    ) -> Page[Pm.PerformanceProfile]: ...

    async def get_pm_job(self, buyer_id: str, job_id: str) -> Pm.PerformanceJob | None: ...

    async def list_pm_jobs(
        self, buyer_id: str, query: Pm.PerformanceJobFilter, page: PageRequest
    ) -> Page[Pm.PerformanceJob]: ...

    async def query_pm_jobs(
        self,
        buyer_id: str,
        query: Pm.PerformanceJobFilter,
        keep: Callable[[Pm.PerformanceJob], bool],
        page: PageRequest,
        scan_limit: int,
    ) -> Page[Pm.PerformanceJob]:
        """A page of the jobs under `query` that `keep` accepts, newest first, examining at most
        `scan_limit` jobs: it may be short (even empty) with a `last_key` to go on from. Not
        counted (`total` -1)."""
        ...

    async def open_pm_reports(self, open_states: tuple[int, ...]) -> list[Pm.PerformanceReport]:
        """Every buyer's reports in `open_states` (ad-hoc reports still being prepared)."""
        ...

    async def live_pm_jobs(self, live_states: tuple[int, ...]) -> list[Pm.PerformanceJob]:
        """Every buyer's jobs in `live_states`, oldest first (engine resume)."""

    async def get_pm_task(self, buyer_id: str, task_id: str) -> Pm.PerformanceJobTask | None: ...

    async def list_pm_tasks(
        self, buyer_id: str, query: Pm.PerformanceJobTaskFilter, page: PageRequest
    ) -> Page[Pm.PerformanceJobTask]: ...

    async def get_pm_report(self, buyer_id: str, report_id: str) -> Pm.PerformanceReport | None: ...

    async def list_pm_reports(
        self, buyer_id: str, query: Pm.PerformanceReportFilter, page: PageRequest
    ) -> Page[Pm.PerformanceReport]: ...

    async def query_pm_reports(
        self,
        buyer_id: str,
        query: Pm.PerformanceReportFilter,
        keep: Callable[[Pm.PerformanceReport], bool],
        page: PageRequest,
        scan_limit: int,
    ) -> Page[Pm.PerformanceReport]:
        """As query_pm_jobs, for reports."""
        ...

    async def list_pm_tracking(
        self, buyer_id: str, query: Pm.PerformanceTrackingRecordFilter, page: PageRequest
    ) -> Page[Pm.PerformanceTrackingRecord]: ...

    async def measurement_log_last_seq(self) -> int: ...

    async def sim_clock_origin_ns(self) -> int:
        """When the simulator's scaled clock started (fixed when the store was created)."""

    async def read_measurements(
        self, buyer_id: str, where: MeasurementRange, limit: int
    ) -> list[MeasurementBatch]:
        """The buyer's batches in the range, by sequence, at most `limit`."""
