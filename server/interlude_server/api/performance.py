"""PerformanceService: PM profiles, jobs, tasks, reports and tracking (Interlude interaction 8).

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

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.api import errors, paging
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.performance_stream import MeasurementStreamer
from interlude_server.api.principal import BuyerResolver
from interlude_server.api.wire import passthrough_handler
from interlude_server.core import clock
from interlude_server.core.errors import InvalidArgument, NotFound, Violation
from interlude_server.domain import idempotency
from interlude_server.domain.performance import jobs as pm_jobs
from interlude_server.domain.performance import profiles as pm_profiles
from interlude_server.domain.performance.model import subject_ids
from interlude_server.domain.performance.states import JOB
from interlude_server.domain.performance.validate import check_modification
from interlude_server.events.hub import MeasurementHub
from interlude_server.partner.performance.engine import PmEngine
from interlude_server.store.interface.store import Store, Tx

Pm = performance_pb2
Context = grpc.aio.ServicerContext[Any, Any]
M = TypeVar("M", bound=Message)
NOT_FOUND = pm_profiles.NOT_FOUND


def _required(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", [Violation(field, "required", "missingProperty")])


def _found(item: M | None, kind: str, item_id: str) -> M:
    if item is None:
        raise NotFound(kind, item_id, NOT_FOUND)
    return item


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
        self, context: Context, fetch: Callable[[str, str], Awaitable[M | None]], kind: str, item_id: str
    ) -> M:
        """One of the caller's resources by id; NOT_FOUND also when another buyer owns it."""
        _required(item_id, "id")
        return _found(await fetch(self.buyer_of(context), item_id), kind, item_id)

    async def _once(
        self, buyer: str, method: str, request: Any, response_type: type[M], effect: Callable[[Tx], M]
    ) -> M:
        return await idempotency.run_once(self.store, buyer, method, request, response_type, effect)

    # -- profiles -------------------------------------------------------------

    async def CreatePerformanceProfile(
        self, request: Pm.CreatePerformanceProfileRequest, context: Context
    ) -> Pm.CreatePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        profile = pm_profiles.new_profile(buyer, request.performance_profile, clock.now())
        response = Pm.CreatePerformanceProfileResponse
        if request.validate_only:
            profile.id = ""
            return response(performance_profile=profile)
        return await self._once(
            buyer,
            "CreatePerformanceProfile",
            request,
            response,
            lambda tx: response(performance_profile=pm_profiles.create_profile(tx, profile, clock.now())),
        )

    async def GetPerformanceProfile(
        self, request: Pm.GetPerformanceProfileRequest, context: Context
    ) -> Pm.GetPerformanceProfileResponse:
        found = await self._get(context, self.store.get_pm_profile, "PerformanceProfile", request.id)
        return Pm.GetPerformanceProfileResponse(performance_profile=found)

    async def ListPerformanceProfiles(
        self, request: Pm.ListPerformanceProfilesRequest, context: Context
    ) -> Pm.ListPerformanceProfilesResponse:
        page, token = await paging.list_page(
            request,
            functools.partial(self.store.list_pm_profiles, self.buyer_of(context), request.filter),
            ("creation_date_time",),
        )
        return Pm.ListPerformanceProfilesResponse(
            performance_profiles=page.items, next_page_token=token, total_size=page.total
        )

    async def UpdatePerformanceProfile(
        self, request: Pm.UpdatePerformanceProfileRequest, context: Context
    ) -> Pm.UpdatePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        change = request.performance_profile
        _required(change.id, "performance_profile.id")
        response = Pm.UpdatePerformanceProfileResponse
        if request.validate_only:
            current = _found(
                await self.store.get_pm_profile(buyer, change.id), "PerformanceProfile", change.id
            )
            return response(
                performance_profile=pm_profiles.updated_profile(current, change, request.update_mask)
            )
        pm_profiles.check_mask(request.update_mask)
        return await self._once(
            buyer,
            "UpdatePerformanceProfile",
            request,
            response,
            lambda tx: response(
                performance_profile=pm_profiles.update_profile(
                    tx, buyer, change, request.update_mask, request.etag, clock.now()
                )
            ),
        )

    async def DeletePerformanceProfile(
        self, request: Pm.DeletePerformanceProfileRequest, context: Context
    ) -> Pm.DeletePerformanceProfileResponse:
        buyer = self.buyer_of(context)
        _required(request.id, "id")
        response = Pm.DeletePerformanceProfileResponse

        def effect(tx: Tx) -> Pm.DeletePerformanceProfileResponse:
            pm_profiles.delete_profile(tx, buyer, request.id, request.etag, clock.now())
            return response()

        return await self._once(buyer, "DeletePerformanceProfile", request, response, effect)

    # -- jobs -------------------------------------------------------------------

    async def _check_references(self, buyer: str, job: Pm.PerformanceJob) -> None:
        """validate_only: what create_job checks in its transaction, read outside one."""
        profile_id = job.performance_profile_ref.id
        if profile_id and await self.store.get_pm_profile(buyer, profile_id) is None:
            raise NotFound("PerformanceProfile", profile_id, NOT_FOUND)
        for service_id in subject_ids(job.monitored_object):
            if await self.store.get_service(buyer, service_id) is None:
                raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")

    async def CreatePerformanceJob(
        self, request: Pm.CreatePerformanceJobRequest, context: Context
    ) -> Pm.CreatePerformanceJobResponse:
        buyer = self.buyer_of(context)
        job = pm_jobs.new_job(buyer, request.performance_job, clock.now())
        response = Pm.CreatePerformanceJobResponse
        if request.validate_only:
            await self._check_references(buyer, job)
            job.id = ""
            return response(performance_job=job)
        created = await self._once(
            buyer,
            "CreatePerformanceJob",
            request,
            response,
            lambda tx: response(performance_job=pm_jobs.create_job(tx, job, clock.now())),
        )
        self.engine.submit(buyer, created.performance_job.id)
        return created

    async def GetPerformanceJob(
        self, request: Pm.GetPerformanceJobRequest, context: Context
    ) -> Pm.GetPerformanceJobResponse:
        found = await self._get(context, self.store.get_pm_job, "PerformanceJob", request.id)
        return Pm.GetPerformanceJobResponse(performance_job=found)

    async def ListPerformanceJobs(
        self, request: Pm.ListPerformanceJobsRequest, context: Context
    ) -> Pm.ListPerformanceJobsResponse:
        page, token = await paging.list_page(
            request,
            functools.partial(self.store.list_pm_jobs, self.buyer_of(context), request.filter),
            ("creation_date_time",),
        )
        return Pm.ListPerformanceJobsResponse(
            performance_jobs=page.items, next_page_token=token, total_size=page.total
        )

    async def _task(
        self,
        context: Context,
        method: str,
        request: Any,
        task_type: Pm.PerformanceJobTaskType.ValueType,
        modification: Pm.PerformanceJobModification | None = None,
    ) -> Pm.PerformanceJobTask:
        buyer = self.buyer_of(context)
        _required(request.id, "id")

        def effect(tx: Tx) -> Pm.GetPerformanceJobTaskResponse:
            task = pm_jobs.request_task(
                tx, buyer, request.id, task_type, request.etag, request.reason, clock.now(), modification
            )
            return Pm.GetPerformanceJobTaskResponse(performance_job_task=task)

        done = await self._once(buyer, method, request, Pm.GetPerformanceJobTaskResponse, effect)
        self.engine.submit(buyer, request.id)
        return done.performance_job_task

    async def ModifyPerformanceJob(
        self, request: Pm.ModifyPerformanceJobRequest, context: Context
    ) -> Pm.ModifyPerformanceJobResponse:
        check_modification(request.modification)
        if request.validate_only:
            buyer = self.buyer_of(context)
            job = _found(await self.store.get_pm_job(buyer, request.id), "PerformanceJob", request.id)
            JOB.next(job.state, "modify")
            preview = Pm.PerformanceJobTask(
                task_type=Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY,
                state=Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED,
                performance_job=Pm.PerformanceJobRef(id=job.id),
                modification=request.modification,
                reason=request.reason,
                buyer_id=buyer,
            )
            return Pm.ModifyPerformanceJobResponse(performance_job_task=preview)
        task = await self._task(
            context,
            "ModifyPerformanceJob",
            request,
            Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY,
            request.modification,
        )
        return Pm.ModifyPerformanceJobResponse(performance_job_task=task)

    async def CancelPerformanceJob(
        self, request: Pm.CancelPerformanceJobRequest, context: Context
    ) -> Pm.CancelPerformanceJobResponse:
        task = await self._task(context, "CancelPerformanceJob", request, Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL)
        return Pm.CancelPerformanceJobResponse(performance_job_task=task)

    async def _suspend_or_resume(self, context: Context, action: str, request: Any) -> Pm.PerformanceJob:
        buyer = self.buyer_of(context)
        _required(request.id, "id")

        def effect(tx: Tx) -> Pm.GetPerformanceJobResponse:
            job = pm_jobs.suspend_or_resume(
                tx, buyer, request.id, action, request.etag, request.reason, clock.now()
            )
            return Pm.GetPerformanceJobResponse(performance_job=job)

        method = f"{action.capitalize()}PerformanceJob"
        done = await self._once(buyer, method, request, Pm.GetPerformanceJobResponse, effect)
        self.engine.submit(buyer, request.id)
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
        found = await self._get(context, self.store.get_pm_task, "PerformanceJobTask", request.id)
        return Pm.GetPerformanceJobTaskResponse(performance_job_task=found)

    async def ListPerformanceJobTasks(
        self, request: Pm.ListPerformanceJobTasksRequest, context: Context
    ) -> Pm.ListPerformanceJobTasksResponse:
        page, token = await paging.list_page(
            request,
            functools.partial(self.store.list_pm_tasks, self.buyer_of(context), request.filter),
            ("creation_date_time",),
        )
        return Pm.ListPerformanceJobTasksResponse(
            performance_job_tasks=page.items, next_page_token=token, total_size=page.total
        )

    # -- reports and tracking -----------------------------------------------------

    async def CreatePerformanceReport(
        self, request: Pm.CreatePerformanceReportRequest, context: Context
    ) -> Pm.CreatePerformanceReportResponse:
        await errors.abort(
            context,
            errors.rich_status(
                grpc.StatusCode.UNIMPLEMENTED,
                common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED,
                "ad-hoc reports are not built yet; jobs produce reports every reporting period "
                "(ListPerformanceReports), and StreamPerformanceData replays any stored range",
                metadata={"method": "/mef.lso.interlude.v1.PerformanceService/CreatePerformanceReport"},
            ),
        )

    async def GetPerformanceReport(
        self, request: Pm.GetPerformanceReportRequest, context: Context
    ) -> Pm.GetPerformanceReportResponse:
        found = await self._get(context, self.store.get_pm_report, "PerformanceReport", request.id)
        return Pm.GetPerformanceReportResponse(performance_report=found)

    async def ListPerformanceReports(
        self, request: Pm.ListPerformanceReportsRequest, context: Context
    ) -> Pm.ListPerformanceReportsResponse:
        f = request.filter
        page, token = await paging.list_page(
            request,
            functools.partial(self.store.list_pm_reports, self.buyer_of(context), f),
            ("creation_date_time", "reporting_timeframe_start_date", "reporting_timeframe_end_date"),
        )
        for report in page.items:
            report.ClearField("report_content")  # as MEF PerformanceReport_Find: Get a report for it
        return Pm.ListPerformanceReportsResponse(
            performance_reports=page.items, next_page_token=token, total_size=page.total
        )

    async def ListPerformanceTrackingRecords(
        self, request: Pm.ListPerformanceTrackingRecordsRequest, context: Context
    ) -> Pm.ListPerformanceTrackingRecordsResponse:
        page, token = await paging.list_page(
            request,
            functools.partial(self.store.list_pm_tracking, self.buyer_of(context), request.filter),
            ("creation_date_time",),
        )
        return Pm.ListPerformanceTrackingRecordsResponse(
            performance_tracking_records=page.items,
            next_page_token=token,
            total_size=page.total,
        )

    # -- the measurement stream ----------------------------------------------------

    async def StreamPerformanceData(
        self, request: Pm.StreamPerformanceDataRequest, context: Context
    ) -> AsyncIterator[bytes | Pm.StreamPerformanceDataResponse]:
        async for response in self.streamer.stream(self.buyer_of(context), request):
            yield response


def performance_binding(
    store: Store, buyer_of: BuyerResolver, engine: PmEngine, hub: MeasurementHub, log_id: str
) -> ServiceBinding:
    servicer = PerformanceServicer(store, buyer_of, engine, MeasurementStreamer(store, hub, log_id))
    service = Pm.DESCRIPTOR.services_by_name["PerformanceService"]
    handler = passthrough_handler(service, servicer)
    return ServiceBinding(
        service.full_name, lambda server: server.add_generic_rpc_handlers((handler,)), servicer
    )
