"""The performance monitoring operations of the client core (PerformanceService, MEF PM v5):
profiles, jobs and their modify/cancel tasks, reports (job and ad-hoc) and their files,
tracking records, and the measurement stream.

Written once, as descriptions (`interlude_client.operations`), like every operation of
`interlude_client.core.ClientCore`, which inherits them: the sync face runs each as a
blocking call, the asyncio face as an awaited one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from interlude_client import streams
from interlude_client.connection import ChannelT, Connection, SleepT
from interlude_client.operations import Call, Listing, Stream, call, change, nothing, paged, streamed, unary
from interlude_client.streams import ResumeOptions
from interlude_grpc.mef.lso.interlude.v1 import performance_pb2

Pm = performance_pb2


class PerformanceOperations(Connection[ChannelT, SleepT]):
    """Every PerformanceService call, as described operations (see ClientCore)."""

    # --- performance monitoring: profiles ------------------------------------------------

    @unary
    def create_performance_profile(
        self,
        profile: Pm.PerformanceProfile,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceProfile]:
        request = Pm.CreatePerformanceProfileRequest(performance_profile=profile, validate_only=validate_only)
        method = self.performance.CreatePerformanceProfile
        return change(method, request, request_id, lambda r: r.performance_profile, timeout)

    @unary
    def get_performance_profile(
        self, profile_id: str, *, timeout: float | None = None
    ) -> Call[Pm.PerformanceProfile]:
        request = Pm.GetPerformanceProfileRequest(id=profile_id)
        method = self.performance.GetPerformanceProfile
        return call(method, request, lambda r: r.performance_profile, timeout)

    @paged
    def list_performance_profiles(
        self,
        filter: Pm.PerformanceProfileFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.ListPerformanceProfilesResponse, Pm.PerformanceProfile]:
        request = Pm.ListPerformanceProfilesRequest(filter=filter, page_size=page_size)
        method = self.performance.ListPerformanceProfiles
        return Listing(method, request, lambda r: r.performance_profiles, limit, timeout)

    @unary
    def update_performance_profile(
        self,
        profile: Pm.PerformanceProfile,
        paths: Sequence[str],
        *,
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceProfile]:
        """UpdatePerformanceProfile: change the fields of `profile` (with its id) named in
        `paths` (e.g. `description`, `granularity`, `lifecycle_status`)."""
        request = Pm.UpdatePerformanceProfileRequest(
            performance_profile=profile, etag=etag, validate_only=validate_only
        )
        request.update_mask.paths.extend(paths)
        method = self.performance.UpdatePerformanceProfile
        return change(method, request, request_id, lambda r: r.performance_profile, timeout)

    @unary
    def delete_performance_profile(
        self,
        profile_id: str,
        *,
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[None]:
        request = Pm.DeletePerformanceProfileRequest(id=profile_id, etag=etag)
        method = self.performance.DeletePerformanceProfile
        return change(method, request, request_id, nothing, timeout)

    # --- performance monitoring: jobs ----------------------------------------------------

    @unary
    def create_performance_job(
        self,
        job: Pm.PerformanceJob,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceJob]:
        request = Pm.CreatePerformanceJobRequest(performance_job=job, validate_only=validate_only)
        method = self.performance.CreatePerformanceJob
        return change(method, request, request_id, lambda r: r.performance_job, timeout)

    @unary
    def get_performance_job(self, job_id: str, *, timeout: float | None = None) -> Call[Pm.PerformanceJob]:
        request = Pm.GetPerformanceJobRequest(id=job_id)
        return call(self.performance.GetPerformanceJob, request, lambda r: r.performance_job, timeout)

    @paged
    def list_performance_jobs(
        self,
        filter: Pm.PerformanceJobFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.ListPerformanceJobsResponse, Pm.PerformanceJob]:
        request = Pm.ListPerformanceJobsRequest(filter=filter, page_size=page_size)
        method = self.performance.ListPerformanceJobs
        return Listing(method, request, lambda r: r.performance_jobs, limit, timeout)

    @paged
    def query_performance_jobs(
        self,
        query: Pm.QueryPerformanceJobsRequest,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.QueryPerformanceJobsResponse, Pm.PerformanceJob]:
        """The jobs matching a complex query (its filter, schedule and settings clauses; its
        paging fields are set from `page_size`), page by page."""
        request = Pm.QueryPerformanceJobsRequest()
        request.CopyFrom(query)
        request.page_size, request.page_token = page_size, ""
        method = self.performance.QueryPerformanceJobs
        return Listing(method, request, lambda r: r.performance_jobs, limit, timeout)

    @unary
    def suspend_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceJob]:
        request = Pm.SuspendPerformanceJobRequest(id=job_id, reason=reason, etag=etag)
        method = self.performance.SuspendPerformanceJob
        return change(method, request, request_id, lambda r: r.performance_job, timeout)

    @unary
    def resume_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceJob]:
        request = Pm.ResumePerformanceJobRequest(id=job_id, reason=reason, etag=etag)
        method = self.performance.ResumePerformanceJob
        return change(method, request, request_id, lambda r: r.performance_job, timeout)

    @unary
    def cancel_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceJobTask]:
        """Asks for the job's cancellation; the answer is the cancel task (MEF
        `cancelPerformanceJob`), the job itself ends cancelled when the task completes."""
        request = Pm.CancelPerformanceJobRequest(id=job_id, reason=reason, etag=etag)
        method = self.performance.CancelPerformanceJob
        return change(method, request, request_id, lambda r: r.performance_job_task, timeout)

    @unary
    def modify_performance_job(
        self,
        job_id: str,
        modification: Pm.PerformanceJobModification,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceJobTask]:
        """Asks to change a scheduled or suspended job; the answer is the modify task (MEF
        `modifyPerformanceJob`), the job changes when the task completes."""
        request = Pm.ModifyPerformanceJobRequest(
            id=job_id, modification=modification, reason=reason, etag=etag, validate_only=validate_only
        )
        method = self.performance.ModifyPerformanceJob
        return change(method, request, request_id, lambda r: r.performance_job_task, timeout)

    @unary
    def get_performance_job_task(
        self, task_id: str, *, timeout: float | None = None
    ) -> Call[Pm.PerformanceJobTask]:
        request = Pm.GetPerformanceJobTaskRequest(id=task_id)
        method = self.performance.GetPerformanceJobTask
        return call(method, request, lambda r: r.performance_job_task, timeout)

    @paged
    def list_performance_job_tasks(
        self,
        filter: Pm.PerformanceJobTaskFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.ListPerformanceJobTasksResponse, Pm.PerformanceJobTask]:
        request = Pm.ListPerformanceJobTasksRequest(filter=filter, page_size=page_size)
        method = self.performance.ListPerformanceJobTasks
        return Listing(method, request, lambda r: r.performance_job_tasks, limit, timeout)

    # --- performance monitoring: reports and measurements ----------------------------------

    @unary
    def create_performance_report(
        self,
        report: Pm.PerformanceReport,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[Pm.PerformanceReport]:
        """An ad-hoc report over a past time frame (MEF `createPerformanceReport`), answered
        acknowledged; it completes on its own (follow it with its events or by polling)."""
        request = Pm.CreatePerformanceReportRequest(performance_report=report, validate_only=validate_only)
        method = self.performance.CreatePerformanceReport
        return change(method, request, request_id, lambda r: r.performance_report, timeout)

    @unary
    def get_performance_report_file(
        self, report_id: str, *, timeout: float | None = None
    ) -> Call[Pm.GetPerformanceReportFileResponse]:
        """A completed report's results as the file its output format names: `data` (bytes),
        `content_type` (`application/json` or `text/csv`) and a `file_name`."""
        request = Pm.GetPerformanceReportFileRequest(id=report_id)
        return call(self.performance.GetPerformanceReportFile, request, lambda r: r, timeout)

    @paged
    def list_performance_tracking_records(
        self,
        filter: Pm.PerformanceTrackingRecordFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.ListPerformanceTrackingRecordsResponse, Pm.PerformanceTrackingRecord]:
        """The audit trail of the buyer's profiles, jobs and reports, oldest first."""
        request = Pm.ListPerformanceTrackingRecordsRequest(filter=filter, page_size=page_size)
        method = self.performance.ListPerformanceTrackingRecords
        return Listing(method, request, lambda r: r.performance_tracking_records, limit, timeout)

    @unary
    def get_performance_report(
        self, report_id: str, *, timeout: float | None = None
    ) -> Call[Pm.PerformanceReport]:
        request = Pm.GetPerformanceReportRequest(id=report_id)
        return call(self.performance.GetPerformanceReport, request, lambda r: r.performance_report, timeout)

    @paged
    def list_performance_reports(
        self,
        filter: Pm.PerformanceReportFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.ListPerformanceReportsResponse, Pm.PerformanceReport]:
        request = Pm.ListPerformanceReportsRequest(filter=filter, page_size=page_size)
        method = self.performance.ListPerformanceReports
        return Listing(method, request, lambda r: r.performance_reports, limit, timeout)

    @paged
    def query_performance_reports(
        self,
        query: Pm.QueryPerformanceReportsRequest,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[Pm.QueryPerformanceReportsResponse, Pm.PerformanceReport]:
        """The reports matching a complex query (its filter, subjects, granularity and
        configuration clauses), page by page."""
        request = Pm.QueryPerformanceReportsRequest()
        request.CopyFrom(query)
        request.page_size, request.page_token = page_size, ""
        method = self.performance.QueryPerformanceReports
        return Listing(method, request, lambda r: r.performance_reports, limit, timeout)

    @streamed
    def stream_performance_data(
        self,
        request: Pm.StreamPerformanceDataRequest | None = None,
        **options: Unpack[ResumeOptions],
    ) -> Stream[Pm.StreamPerformanceDataResponse]:
        """Every StreamPerformanceData response (updates, heartbeats, the sync marker),
        resuming from the last token across reconnects. Close it to end the call."""
        return Stream(
            streams.stream_performance_data,
            streams.astream_performance_data,
            self.performance,
            request or Pm.StreamPerformanceDataRequest(),
            options,
        )
