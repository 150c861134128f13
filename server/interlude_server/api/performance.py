"""PerformanceService: PM profiles, jobs, tasks, reports (also ad-hoc, and their files) and
tracking (Interlude interaction 8).

Writes are idempotent by request_id and commit their PM events in the same
transaction (so StreamEvents carries them); jobs then progress in the Partner's
PM engine, which each write pokes. The measurement stream is in performance_stream.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.api import paging
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import found, get, required
from interlude_server.api.performance_stream import MeasurementStreamer
from interlude_server.api.principal import BuyerResolver
from interlude_server.api.wire import passthrough_binding
from interlude_server.core import clock
from interlude_server.domain.idempotency import Planned, ready, run_once
from interlude_server.domain.performance import files as pm_files
from interlude_server.domain.performance import jobs as pm_jobs
from interlude_server.domain.performance import profiles as pm_profiles
from interlude_server.domain.performance import query as pm_query
from interlude_server.domain.performance import reports as pm_reports
from interlude_server.domain.performance import subjects as pm_subjects
from interlude_server.domain.performance.validate import check_modification, check_report
from interlude_server.events.hub import MeasurementHub
from interlude_server.partner.performance.engine import PmEngine
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.store import Store, Tx

Pm = performance_pb2
Context = grpc.aio.ServicerContext[Any, Any]
Item = TypeVar("Item")
M = TypeVar("M", bound=Message)
Change = Callable[[Tx, str], M]  # (tx, buyer) -> the response
Check = Callable[[str], Awaitable[M | None]]  # (buyer) -> a dry run's answer, or None to go on
NOT_FOUND = pm_profiles.NOT_FOUND
_CREATED = ("creation_date_time",)
_REPORT_RANGES = ("creation_date_time", "reporting_timeframe_start_date", "reporting_timeframe_end_date")
# How many stored jobs (reports) one Query call examines at most: a page may end short of
# page_size, with a next_page_token, rather than read a buyer's whole history.
QUERY_SCAN_LIMIT = 5000


class PerformanceServicer:
    """Serves the calling buyer's PM resources; never another buyer's. Registered from the
    service descriptor (api/wire.py), so the measurement stream may send shared bytes."""

    def __init__(
        self, store: Store, buyer_of: BuyerResolver, engine: PmEngine, streamer: MeasurementStreamer
    ) -> None:
        self.store = store
        self.buyer_of = buyer_of
        self.engine = engine
        self.streamer = streamer

    async def _get(
        self, context: Context, fetch: Callable[[str, str], Awaitable[Item | None]], kind: str, item_id: str
    ) -> Item:
        """One of the caller's resources by id; NOT_FOUND also when another buyer owns it."""
        return await get(fetch, self.buyer_of(context), item_id, kind, NOT_FOUND)

    # -- profiles -------------------------------------------------------------

    async def CreatePerformanceProfile(
        self, request: Pm.CreatePerformanceProfileRequest, context: Context
    ) -> Pm.CreatePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        response = Pm.CreatePerformanceProfileResponse

        async def prepare() -> Planned[Pm.CreatePerformanceProfileResponse]:
            profile = pm_profiles.new_profile(buyer, request.performance_profile, clock.now())
            if request.validate_only:
                profile.id = ""
                return response(performance_profile=profile)
            return lambda tx: response(
                performance_profile=pm_profiles.create_profile(tx, profile, clock.now())
            )

        return await run_once(self.store, buyer, "CreatePerformanceProfile", request, response, prepare)

    async def GetPerformanceProfile(
        self, request: Pm.GetPerformanceProfileRequest, context: Context
    ) -> Pm.GetPerformanceProfileResponse:
        profile = await self._get(context, self.store.get_pm_profile, "PerformanceProfile", request.id)
        return Pm.GetPerformanceProfileResponse(performance_profile=profile)

    async def ListPerformanceProfiles(
        self, request: Pm.ListPerformanceProfilesRequest, context: Context
    ) -> Pm.ListPerformanceProfilesResponse:
        fetch = functools.partial(self.store.list_pm_profiles, self.buyer_of(context), request.filter)
        response = Pm.ListPerformanceProfilesResponse
        return await paging.listed(request, response, "performance_profiles", fetch, _CREATED)

    async def UpdatePerformanceProfile(
        self, request: Pm.UpdatePerformanceProfileRequest, context: Context
    ) -> Pm.UpdatePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        change = request.performance_profile
        required(change.id, "performance_profile.id")
        response = Pm.UpdatePerformanceProfileResponse

        async def prepare() -> Planned[Pm.UpdatePerformanceProfileResponse]:
            if request.validate_only:
                current = found(
                    await self.store.get_pm_profile(buyer, change.id),
                    "PerformanceProfile",
                    change.id,
                    NOT_FOUND,
                )
                return response(
                    performance_profile=pm_profiles.updated_profile(current, change, request.update_mask)
                )
            pm_profiles.check_mask(request.update_mask)
            mask, etag = request.update_mask, request.etag
            return lambda tx: response(
                performance_profile=pm_profiles.update_profile(tx, buyer, change, mask, etag, clock.now())
            )

        return await run_once(self.store, buyer, "UpdatePerformanceProfile", request, response, prepare)

    async def DeletePerformanceProfile(
        self, request: Pm.DeletePerformanceProfileRequest, context: Context
    ) -> Pm.DeletePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        required(request.id, "id")
        response = Pm.DeletePerformanceProfileResponse

        def effect(tx: Tx) -> Pm.DeletePerformanceProfileResponse:
            pm_profiles.delete_profile(tx, buyer, request.id, request.etag, clock.now())
            return response()

        return await run_once(self.store, buyer, "DeletePerformanceProfile", request, response, ready(effect))

    # -- jobs -------------------------------------------------------------------

    async def CreatePerformanceJob(
        self, request: Pm.CreatePerformanceJobRequest, context: Context
    ) -> Pm.CreatePerformanceJobResponse:
        buyer = self.buyer_of(context)
        response = Pm.CreatePerformanceJobResponse

        async def prepare() -> Planned[Pm.CreatePerformanceJobResponse]:
            job = pm_jobs.new_job(buyer, request.performance_job, clock.now())
            await pm_subjects.check_subjects(self.store, buyer, job)
            if request.validate_only:
                job.id = ""
                return response(performance_job=job)
            return lambda tx: response(performance_job=pm_jobs.create_job(tx, job, clock.now()))

        def committed(created: Pm.CreatePerformanceJobResponse) -> None:
            self.engine.submit(buyer, created.performance_job.id)

        return await run_once(
            self.store, buyer, "CreatePerformanceJob", request, response, prepare, committed
        )

    async def GetPerformanceJob(
        self, request: Pm.GetPerformanceJobRequest, context: Context
    ) -> Pm.GetPerformanceJobResponse:
        job = await self._get(context, self.store.get_pm_job, "PerformanceJob", request.id)
        return Pm.GetPerformanceJobResponse(performance_job=job)

    async def ListPerformanceJobs(
        self, request: Pm.ListPerformanceJobsRequest, context: Context
    ) -> Pm.ListPerformanceJobsResponse:
        fetch = functools.partial(self.store.list_pm_jobs, self.buyer_of(context), request.filter)
        return await paging.listed(
            request, Pm.ListPerformanceJobsResponse, "performance_jobs", fetch, _CREATED
        )

    async def QueryPerformanceJobs(
        self, request: Pm.QueryPerformanceJobsRequest, context: Context
    ) -> Pm.QueryPerformanceJobsResponse:
        query = pm_query.job_query(request)
        items, token = await self._query(context, request, query, self.store.query_pm_jobs, _CREATED)
        return Pm.QueryPerformanceJobsResponse(performance_jobs=items, next_page_token=token)

    async def _query(
        self,
        context: Context,
        request: Any,
        query: pm_query.Query[Any],
        scan: Callable[..., Awaitable[Page[Any]]],
        ranges: tuple[str, ...],
    ) -> tuple[list[Any], str]:
        """One page of a complex query: the store reads under the query's filter and keeps what
        its predicate accepts, examining at most QUERY_SCAN_LIMIT rows; the page token is a
        keyset position tied to the whole query (paging.list_page)."""
        buyer = self.buyer_of(context)
        if query.empty:
            await paging.list_page(request, _no_page, ranges)  # still validates the input
            return [], ""

        async def fetch(page: PageRequest) -> Page[Any]:
            return await scan(buyer, query.filter, query.keep, page, QUERY_SCAN_LIMIT)

        found, token = await paging.list_page(request, fetch, ranges, _query_fingerprint(request))
        return list(found.items), token

    async def _change_job(
        self,
        context: Context,
        method: str,
        request: Any,
        response_type: type[M],
        change: Change[M],
        check: Check[M] | None = None,
    ) -> M:
        """A change to a job (a task, or suspend and resume): `check(buyer)` validates it first
        and returns a dry run's answer, if any; `change(tx, buyer)` commits it and says what to
        answer. The job's engine is woken after the commit."""
        buyer = self.buyer_of(context)
        required(request.id, "id")

        async def prepare() -> Planned[M]:
            if check is not None and (preview := await check(buyer)) is not None:
                return preview
            return lambda tx: change(tx, buyer)

        def committed(_: M) -> None:
            self.engine.submit(buyer, request.id)

        return await run_once(self.store, buyer, method, request, response_type, prepare, committed)

    async def _task(
        self,
        context: Context,
        method: str,
        request: Any,
        task_type: Pm.PerformanceJobTaskType.ValueType,
        modification: Pm.PerformanceJobModification | None = None,
        check: Check[Pm.GetPerformanceJobTaskResponse] | None = None,
    ) -> Pm.PerformanceJobTask:
        def change(tx: Tx, buyer: str) -> Pm.GetPerformanceJobTaskResponse:
            task = pm_jobs.request_task(
                tx, buyer, request.id, task_type, request.etag, request.reason, clock.now(), modification
            )
            return Pm.GetPerformanceJobTaskResponse(performance_job_task=task)

        response = Pm.GetPerformanceJobTaskResponse
        done = await self._change_job(context, method, request, response, change, check)
        return done.performance_job_task

    async def ModifyPerformanceJob(
        self, request: Pm.ModifyPerformanceJobRequest, context: Context
    ) -> Pm.ModifyPerformanceJobResponse:
        check_modification(request.modification)

        async def check(buyer: str) -> Pm.GetPerformanceJobTaskResponse | None:
            job = await get(self.store.get_pm_job, buyer, request.id, "PerformanceJob", NOT_FOUND)
            # The job as modified must still fit its subjects (a new @type's service-type family).
            await pm_subjects.check_modified(self.store, buyer, job, request.modification)
            if not request.validate_only:
                return None
            preview = pm_jobs.modify_preview(job, request.modification, request.reason)
            return Pm.GetPerformanceJobTaskResponse(performance_job_task=preview)

        modify = Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY
        task = await self._task(context, "ModifyPerformanceJob", request, modify, request.modification, check)
        return Pm.ModifyPerformanceJobResponse(performance_job_task=task)

    async def CancelPerformanceJob(
        self, request: Pm.CancelPerformanceJobRequest, context: Context
    ) -> Pm.CancelPerformanceJobResponse:
        task = await self._task(context, "CancelPerformanceJob", request, Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL)
        return Pm.CancelPerformanceJobResponse(performance_job_task=task)

    async def _suspend_or_resume(self, context: Context, action: str, request: Any) -> Pm.PerformanceJob:
        def change(tx: Tx, buyer: str) -> Pm.GetPerformanceJobResponse:
            job = pm_jobs.suspend_or_resume(
                tx, buyer, request.id, action, request.etag, request.reason, clock.now()
            )
            return Pm.GetPerformanceJobResponse(performance_job=job)

        method = f"{action.capitalize()}PerformanceJob"
        done = await self._change_job(context, method, request, Pm.GetPerformanceJobResponse, change)
        return done.performance_job

    async def SuspendPerformanceJob(
        self, request: Pm.SuspendPerformanceJobRequest, context: Context
    ) -> Pm.SuspendPerformanceJobResponse:
        job = await self._suspend_or_resume(context, "suspend", request)
        return Pm.SuspendPerformanceJobResponse(performance_job=job)

    async def ResumePerformanceJob(
        self, request: Pm.ResumePerformanceJobRequest, context: Context
    ) -> Pm.ResumePerformanceJobResponse:
        job = await self._suspend_or_resume(context, "resume", request)
        return Pm.ResumePerformanceJobResponse(performance_job=job)

    async def GetPerformanceJobTask(
        self, request: Pm.GetPerformanceJobTaskRequest, context: Context
    ) -> Pm.GetPerformanceJobTaskResponse:
        task = await self._get(context, self.store.get_pm_task, "PerformanceJobTask", request.id)
        return Pm.GetPerformanceJobTaskResponse(performance_job_task=task)

    async def ListPerformanceJobTasks(
        self, request: Pm.ListPerformanceJobTasksRequest, context: Context
    ) -> Pm.ListPerformanceJobTasksResponse:
        fetch = functools.partial(self.store.list_pm_tasks, self.buyer_of(context), request.filter)
        response = Pm.ListPerformanceJobTasksResponse
        return await paging.listed(request, response, "performance_job_tasks", fetch, _CREATED)

    # -- reports and tracking -----------------------------------------------------

    async def CreatePerformanceReport(
        self, request: Pm.CreatePerformanceReportRequest, context: Context
    ) -> Pm.CreatePerformanceReportResponse:
        buyer = self.buyer_of(context)
        response = Pm.CreatePerformanceReportResponse

        async def prepare() -> Planned[Pm.CreatePerformanceReportResponse]:
            now = clock.now()
            check_report(request.performance_report, now.ToNanoseconds())
            report = pm_reports.new_adhoc(buyer, request.performance_report, now)
            if request.validate_only:
                report.id = ""
                return response(performance_report=report)
            return lambda tx: response(performance_report=pm_reports.create_adhoc(tx, report, clock.now()))

        def committed(created: Pm.CreatePerformanceReportResponse) -> None:
            self.engine.submit_report(buyer, created.performance_report.id)

        return await run_once(
            self.store, buyer, "CreatePerformanceReport", request, response, prepare, committed
        )

    async def GetPerformanceReport(
        self, request: Pm.GetPerformanceReportRequest, context: Context
    ) -> Pm.GetPerformanceReportResponse:
        report = await self._get(context, self.store.get_pm_report, "PerformanceReport", request.id)
        if report.result_format == Pm.PERFORMANCE_RESULT_FORMAT_ATTACHMENT:
            report.ClearField("report_content")  # delivered as the file at report_url
        return Pm.GetPerformanceReportResponse(performance_report=report)

    async def GetPerformanceReportFile(
        self, request: Pm.GetPerformanceReportFileRequest, context: Context
    ) -> Pm.GetPerformanceReportFileResponse:
        report = await self._get(context, self.store.get_pm_report, "PerformanceReport", request.id)
        return pm_files.report_file(report)

    async def ListPerformanceReports(
        self, request: Pm.ListPerformanceReportsRequest, context: Context
    ) -> Pm.ListPerformanceReportsResponse:
        fetch = functools.partial(self.store.list_pm_reports, self.buyer_of(context), request.filter)
        listed = await paging.listed(
            request, Pm.ListPerformanceReportsResponse, "performance_reports", fetch, _REPORT_RANGES
        )
        for report in listed.performance_reports:
            report.ClearField("report_content")  # as MEF PerformanceReport_Find: Get a report for it
        return listed

    async def QueryPerformanceReports(
        self, request: Pm.QueryPerformanceReportsRequest, context: Context
    ) -> Pm.QueryPerformanceReportsResponse:
        query = pm_query.report_query(request)
        items, token = await self._query(context, request, query, self.store.query_pm_reports, _REPORT_RANGES)
        for report in items:
            report.ClearField("report_content")  # as ListPerformanceReports
        return Pm.QueryPerformanceReportsResponse(performance_reports=items, next_page_token=token)

    async def ListPerformanceTrackingRecords(
        self, request: Pm.ListPerformanceTrackingRecordsRequest, context: Context
    ) -> Pm.ListPerformanceTrackingRecordsResponse:
        fetch = functools.partial(self.store.list_pm_tracking, self.buyer_of(context), request.filter)
        response = Pm.ListPerformanceTrackingRecordsResponse
        return await paging.listed(request, response, "performance_tracking_records", fetch, _CREATED)

    # -- the measurement stream ----------------------------------------------------

    async def StreamPerformanceData(
        self, request: Pm.StreamPerformanceDataRequest, context: Context
    ) -> AsyncIterator[bytes | Pm.StreamPerformanceDataResponse]:
        async for response in self.streamer.stream(self.buyer_of(context), request):
            yield response


async def _no_page(_: PageRequest) -> Page[Any]:
    return Page(items=[], total=0)


def _query_fingerprint(request: Message) -> str:
    """The fingerprint of a Query request's clauses: the request without its paging fields."""
    clauses = type(request)()
    clauses.CopyFrom(request)
    clauses.ClearField("page_size")
    clauses.ClearField("page_token")
    return paging.fingerprint(clauses)


def performance_binding(
    store: Store, buyer_of: BuyerResolver, engine: PmEngine, hub: MeasurementHub, log_id: str
) -> ServiceBinding:
    servicer = PerformanceServicer(store, buyer_of, engine, MeasurementStreamer(store, hub, log_id))
    service = Pm.DESCRIPTOR.services_by_name["PerformanceService"]
    return passthrough_binding(service, servicer)
