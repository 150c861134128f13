"""ServiceTestService: test capabilities, profiles, jobs and their tasks, results (interaction 9).

Jobs run in the Partner after the RPC returns (partner/sft/runner.py). Writes
are idempotent by request_id (domain/idempotency.run_once). StreamTestResults
follows one job from its durable stream items (service_testing_stream.py).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import field_mask_pb2

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2, service_test_pb2_grpc
from interlude_server.api import paging
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import get, required
from interlude_server.api.principal import BuyerResolver
from interlude_server.api.service_testing_stream import stream_test_results
from interlude_server.core import clock
from interlude_server.domain.idempotency import Planned, ready, run_once
from interlude_server.domain.sft import catalog as test_catalog
from interlude_server.domain.sft import jobs as test_jobs
from interlude_server.domain.sft import profiles as test_profiles
from interlude_server.domain.sft.states import TEST_JOB
from interlude_server.events.hub import Wakeups
from interlude_server.partner.sft.runner import SftRunner
from interlude_server.store.interface.store import Store, Tx

St = service_test_pb2
Context = grpc.aio.ServicerContext[Any, Any]
T = TypeVar(
    "T",
    St.CancelTestJobResponse,
    St.SuspendTestJobResponse,
    St.ResumeTestJobResponse,
    St.ModifyTestJobResponse,
)
Item = TypeVar("Item")
Response = St.StreamTestResultsResponse
NOT_FOUND = test_jobs.NOT_FOUND
_REQUESTED_RANGES = ("requested_start_date_time", "requested_end_date_time")


class ServiceTestServicer(service_test_pb2_grpc.ServiceTestServiceServicer):
    """Scopes everything to the calling buyer; a foreign id is NOT_FOUND like a missing one."""

    def __init__(
        self, store: Store, buyer_of: BuyerResolver, runner: SftRunner, wakeups: Wakeups, log_id: str
    ) -> None:
        self.store = store
        self.buyer_of = buyer_of
        self.runner = runner
        self.wakeups = wakeups
        self.log_id = log_id

    async def _get(
        self, context: Context, fetch: Callable[[str, str], Awaitable[Item | None]], item_id: str, kind: str
    ) -> Item:
        """One of the caller's test resources; a missing or foreign id is NOT_FOUND."""
        return await get(fetch, self.buyer_of(context), item_id, kind, NOT_FOUND)

    # -- capabilities and profiles ------------------------------------------

    async def GetTestCapabilities(
        self, request: St.GetTestCapabilitiesRequest, context: Context
    ) -> St.GetTestCapabilitiesResponse:
        found = test_catalog.capabilities(
            list(request.service_types), [int(t) for t in request.test_types if t]
        )
        return St.GetTestCapabilitiesResponse(test_capabilities=found)

    async def CreateTestProfile(
        self, request: St.CreateTestProfileRequest, context: Context
    ) -> St.CreateTestProfileResponse:
        buyer = self.buyer_of(context)
        response = St.CreateTestProfileResponse

        async def prepare() -> Planned[St.CreateTestProfileResponse]:
            profile = St.TestProfile()
            profile.CopyFrom(request.test_profile)
            await test_profiles.validate_profile(self.store, profile)
            if request.validate_only:
                return response(test_profile=profile)
            now = clock.now()
            return lambda tx: response(test_profile=test_profiles.create(tx, buyer, profile, now))

        return await run_once(self.store, buyer, "CreateTestProfile", request, response, prepare)

    async def GetTestProfile(
        self, request: St.GetTestProfileRequest, context: Context
    ) -> St.GetTestProfileResponse:
        profile = await self._get(context, self.store.get_test_profile, request.id, "TestProfile")
        return St.GetTestProfileResponse(test_profile=profile)

    async def ListTestProfiles(
        self, request: St.ListTestProfilesRequest, context: Context
    ) -> St.ListTestProfilesResponse:
        fetch = functools.partial(self.store.list_test_profiles, self.buyer_of(context), request.filter)
        ranges = ("creation_date", "last_update")
        return await paging.listed(request, St.ListTestProfilesResponse, "test_profiles", fetch, ranges)

    async def UpdateTestProfile(
        self, request: St.UpdateTestProfileRequest, context: Context
    ) -> St.UpdateTestProfileResponse:
        buyer = self.buyer_of(context)
        response = St.UpdateTestProfileResponse

        async def prepare() -> Planned[St.UpdateTestProfileResponse]:
            profile_id = request.test_profile.id
            current = await get(
                self.store.get_test_profile, buyer, profile_id, "TestProfile", NOT_FOUND, "test_profile.id"
            )
            test_profiles.check_mask(request.update_mask)
            preview = test_profiles.merged(current, request.test_profile, request.update_mask)
            await test_profiles.validate_profile(self.store, preview)
            if request.validate_only:
                return response(test_profile=preview)
            desired = St.TestProfile()
            desired.CopyFrom(request.test_profile)
            mask = field_mask_pb2.FieldMask()
            mask.CopyFrom(request.update_mask)
            if "service_specific_test_profile_configuration" in mask.paths:
                desired.test_type = preview.test_type
                mask.paths.append("test_type")
            etag, now = request.etag, clock.now()
            return lambda tx: response(test_profile=test_profiles.update(tx, buyer, desired, mask, etag, now))

        return await run_once(self.store, buyer, "UpdateTestProfile", request, response, prepare)

    async def DeleteTestProfile(
        self, request: St.DeleteTestProfileRequest, context: Context
    ) -> St.DeleteTestProfileResponse:
        buyer = self.buyer_of(context)
        required(request.id, "id")
        now = clock.now()

        def effect(tx: Tx) -> St.DeleteTestProfileResponse:
            test_profiles.delete(tx, buyer, request.id, request.etag, now)
            return St.DeleteTestProfileResponse()

        return await run_once(
            self.store, buyer, "DeleteTestProfile", request, St.DeleteTestProfileResponse, ready(effect)
        )

    # -- jobs -----------------------------------------------------------------

    async def CreateTestJob(
        self, request: St.CreateTestJobRequest, context: Context
    ) -> St.CreateTestJobResponse:
        buyer = self.buyer_of(context)
        response = St.CreateTestJobResponse

        async def prepare() -> Planned[St.CreateTestJobResponse]:
            now = clock.now()
            prepared = await test_jobs.prepare_job(self.store, buyer, request.test_job, now)
            if request.validate_only:
                preview = prepared.job
                preview.state = St.TEST_JOB_STATE_ACKNOWLEDGED
                return response(test_job=preview)
            return lambda tx: response(test_job=test_jobs.commit_new_job(tx, buyer, prepared, now))

        def committed(created: St.CreateTestJobResponse) -> None:
            self.runner.submit(buyer, created.test_job.id)

        return await run_once(self.store, buyer, "CreateTestJob", request, response, prepare, committed)

    async def GetTestJob(self, request: St.GetTestJobRequest, context: Context) -> St.GetTestJobResponse:
        job = await self._get(context, self.store.get_test_job, request.id, "TestJob")
        return St.GetTestJobResponse(test_job=job)

    async def ListTestJobs(
        self, request: St.ListTestJobsRequest, context: Context
    ) -> St.ListTestJobsResponse:
        fetch = functools.partial(self.store.list_test_jobs, self.buyer_of(context), request.filter)
        return await paging.listed(request, St.ListTestJobsResponse, "test_jobs", fetch, _REQUESTED_RANGES)

    async def _task(
        self,
        context: Context,
        method: str,
        request: Any,
        response_type: type[T],
        task_type: int,
        check: Callable[[str], Awaitable[T | None]] | None = None,
    ) -> T:
        """Request a task on a job: `check` (given the buyer) validates the request first and
        returns a dry run's response, if any."""
        buyer = self.buyer_of(context)
        required(request.id, "id")
        modification = request.modification if task_type == St.TEST_JOB_TASK_TYPE_MODIFY else None

        async def prepare() -> Planned[T]:
            if check is not None and (preview := await check(buyer)) is not None:
                return preview
            now = clock.now()
            return lambda tx: response_type(
                test_job_task=test_jobs.request_task(
                    tx, buyer, request.id, task_type, request.reason, request.etag, now, modification
                )
            )

        def committed(_: T) -> None:
            self.wakeups.notify(request.id)
            self.runner.submit(buyer, request.id)

        return await run_once(self.store, buyer, method, request, response_type, prepare, committed)

    async def CancelTestJob(
        self, request: St.CancelTestJobRequest, context: Context
    ) -> St.CancelTestJobResponse:
        cancel = St.TEST_JOB_TASK_TYPE_CANCEL
        return await self._task(context, "CancelTestJob", request, St.CancelTestJobResponse, cancel)

    async def SuspendTestJob(
        self, request: St.SuspendTestJobRequest, context: Context
    ) -> St.SuspendTestJobResponse:
        suspend = St.TEST_JOB_TASK_TYPE_SUSPEND
        return await self._task(context, "SuspendTestJob", request, St.SuspendTestJobResponse, suspend)

    async def ResumeTestJob(
        self, request: St.ResumeTestJobRequest, context: Context
    ) -> St.ResumeTestJobResponse:
        resume = St.TEST_JOB_TASK_TYPE_RESUME
        return await self._task(context, "ResumeTestJob", request, St.ResumeTestJobResponse, resume)

    async def ModifyTestJob(
        self, request: St.ModifyTestJobRequest, context: Context
    ) -> St.ModifyTestJobResponse:
        async def check(buyer: str) -> St.ModifyTestJobResponse | None:
            job = await get(self.store.get_test_job, buyer, request.id, "TestJob", NOT_FOUND)
            TEST_JOB.check(job.state, "modify")
            changed = St.TestJob()
            changed.CopyFrom(job)
            test_jobs.apply_modification(changed, request.modification)
            await test_jobs.prepare_job(self.store, buyer, changed, clock.now())
            if not request.validate_only:
                return None
            preview = test_jobs.modify_preview(job, request.modification, request.reason)
            return St.ModifyTestJobResponse(test_job_task=preview)

        modify = St.TEST_JOB_TASK_TYPE_MODIFY
        return await self._task(context, "ModifyTestJob", request, St.ModifyTestJobResponse, modify, check)

    async def GetTestJobTask(
        self, request: St.GetTestJobTaskRequest, context: Context
    ) -> St.GetTestJobTaskResponse:
        task = await self._get(context, self.store.get_test_job_task, request.id, "TestJobTask")
        return St.GetTestJobTaskResponse(test_job_task=task)

    async def ListTestJobTasks(
        self, request: St.ListTestJobTasksRequest, context: Context
    ) -> St.ListTestJobTasksResponse:
        fetch = functools.partial(self.store.list_test_job_tasks, self.buyer_of(context), request.filter)
        ranges = ("creation_date",)
        return await paging.listed(request, St.ListTestJobTasksResponse, "test_job_tasks", fetch, ranges)

    # -- results ----------------------------------------------------------------

    async def GetTestResult(
        self, request: St.GetTestResultRequest, context: Context
    ) -> St.GetTestResultResponse:
        result = await self._get(context, self.store.get_test_result, request.id, "TestResult")
        return St.GetTestResultResponse(test_result=result)

    async def ListTestResults(
        self, request: St.ListTestResultsRequest, context: Context
    ) -> St.ListTestResultsResponse:
        fetch = functools.partial(self.store.list_test_results, self.buyer_of(context), request.filter)
        listed = await paging.listed(
            request, St.ListTestResultsResponse, "test_results", fetch, _REQUESTED_RANGES
        )
        for result in listed.test_results:
            result.ClearField("measurements")
        return listed

    async def StreamTestResults(
        self, request: St.StreamTestResultsRequest, context: Context
    ) -> AsyncIterator[Response]:
        buyer = self.buyer_of(context)
        await get(self.store.get_test_job, buyer, request.test_job_id, "TestJob", NOT_FOUND, "test_job_id")
        async for response in stream_test_results(self.store, self.wakeups, buyer, request, self.log_id):
            yield response


def service_test_binding(
    store: Store, buyer_of: BuyerResolver, runner: SftRunner, wakeups: Wakeups, log_id: str
) -> ServiceBinding:
    servicer = ServiceTestServicer(store, buyer_of, runner, wakeups, log_id)
    return ServiceBinding(
        "mef.lso.interlude.v1.ServiceTestService",
        lambda server: service_test_pb2_grpc.add_ServiceTestServiceServicer_to_server(servicer, server),
        servicer,
    )
