"""ServiceTestService: test capabilities, profiles, jobs and their tasks, results (interaction 9).

Jobs run in the Partner after the RPC returns (partner/sft/runner.py).
StreamTestResults follows one job from its durable stream items: it replays
what the job produced so far (or after a resume token), sends the sync marker,
then re-reads and delivers new items each time a commit touches the job, and
ends after the job's terminal state change.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2, service_test_pb2_grpc
from interlude_server.api import paging, streaming
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.principal import BuyerResolver
from interlude_server.core import clock
from interlude_server.core.errors import InvalidArgument, NotFound, ShuttingDown, Violation
from interlude_server.domain import idempotency
from interlude_server.domain.sft import catalog as test_catalog
from interlude_server.domain.sft import jobs as test_jobs
from interlude_server.domain.sft import profiles as test_profiles
from interlude_server.domain.sft.states import TEST_JOB
from interlude_server.events import tokens
from interlude_server.events.hub import Wakeups
from interlude_server.partner.sft.runner import SftRunner
from interlude_server.store.interface.store import Store, Tx

St = service_test_pb2
Context = grpc.aio.ServicerContext[Any, Any]
M = TypeVar("M", bound=Message)
Response = St.StreamTestResultsResponse
REPLAY_PAGE = 500
NOT_FOUND = test_jobs.NOT_FOUND
_REQUESTED_RANGES = ("requested_start_date_time", "requested_end_date_time")


def _required(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", [Violation(field, "required", "missingProperty")])


async def _get(
    fetch: Callable[[str, str], Awaitable[M | None]], buyer: str, item_id: str, kind: str, field: str = "id"
) -> M:
    """One of the buyer's test resources; a missing or foreign id is NOT_FOUND."""
    _required(item_id, field)
    return _found(await fetch(buyer, item_id), kind, item_id)


def _found(item: M | None, kind: str, item_id: str) -> M:
    if item is None:
        raise NotFound(kind, item_id, NOT_FOUND)
    return item


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

    async def _once(
        self, buyer: str, method: str, request: Any, response_type: type[M], effect: Callable[[Tx], M]
    ) -> M:
        return await idempotency.run_once(self.store, buyer, method, request, response_type, effect)

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
        profile = St.TestProfile()
        profile.CopyFrom(request.test_profile)
        await test_profiles.validate_profile(self.store, profile)
        if request.validate_only:
            return St.CreateTestProfileResponse(test_profile=profile)
        now = clock.now()
        return await self._once(
            buyer,
            "CreateTestProfile",
            request,
            St.CreateTestProfileResponse,
            lambda tx: St.CreateTestProfileResponse(
                test_profile=test_profiles.create(tx, buyer, profile, now)
            ),
        )

    async def GetTestProfile(
        self, request: St.GetTestProfileRequest, context: Context
    ) -> St.GetTestProfileResponse:
        profile = await _get(self.store.get_test_profile, self.buyer_of(context), request.id, "TestProfile")
        return St.GetTestProfileResponse(test_profile=profile)

    async def ListTestProfiles(
        self, request: St.ListTestProfilesRequest, context: Context
    ) -> St.ListTestProfilesResponse:
        buyer = self.buyer_of(context)
        page, token = await paging.list_page(
            request,
            lambda p: self.store.list_test_profiles(buyer, request.filter, p),
            ("creation_date", "last_update"),
        )
        return St.ListTestProfilesResponse(
            test_profiles=page.items, next_page_token=token, total_size=page.total
        )

    async def UpdateTestProfile(
        self, request: St.UpdateTestProfileRequest, context: Context
    ) -> St.UpdateTestProfileResponse:
        buyer = self.buyer_of(context)
        profile_id = request.test_profile.id
        current = await _get(self.store.get_test_profile, buyer, profile_id, "TestProfile", "test_profile.id")
        test_profiles.check_mask(request.update_mask)
        preview = test_profiles.merged(current, request.test_profile, request.update_mask)
        await test_profiles.validate_profile(self.store, preview)
        if request.validate_only:
            return St.UpdateTestProfileResponse(test_profile=preview)
        desired = St.TestProfile()
        desired.CopyFrom(request.test_profile)
        if "service_specific_test_profile_configuration" in request.update_mask.paths:
            desired.test_type = preview.test_type
            request.update_mask.paths.append("test_type")
        mask, etag, now = request.update_mask, request.etag, clock.now()
        return await self._once(
            buyer,
            "UpdateTestProfile",
            request,
            St.UpdateTestProfileResponse,
            lambda tx: St.UpdateTestProfileResponse(
                test_profile=test_profiles.update(tx, buyer, desired, mask, etag, now)
            ),
        )

    async def DeleteTestProfile(
        self, request: St.DeleteTestProfileRequest, context: Context
    ) -> St.DeleteTestProfileResponse:
        buyer = self.buyer_of(context)
        _required(request.id, "id")
        now = clock.now()

        def effect(tx: Tx) -> St.DeleteTestProfileResponse:
            test_profiles.delete(tx, buyer, request.id, request.etag, now)
            return St.DeleteTestProfileResponse()

        return await self._once(buyer, "DeleteTestProfile", request, St.DeleteTestProfileResponse, effect)

    # -- jobs -----------------------------------------------------------------

    async def CreateTestJob(
        self, request: St.CreateTestJobRequest, context: Context
    ) -> St.CreateTestJobResponse:
        buyer = self.buyer_of(context)
        now = clock.now()
        prepared = await test_jobs.prepare_job(self.store, buyer, request.test_job, now)
        if request.validate_only:
            preview = prepared.job
            preview.state = St.TEST_JOB_STATE_ACKNOWLEDGED
            return St.CreateTestJobResponse(test_job=preview)
        response = await self._once(
            buyer,
            "CreateTestJob",
            request,
            St.CreateTestJobResponse,
            lambda tx: St.CreateTestJobResponse(test_job=test_jobs.commit_new_job(tx, buyer, prepared, now)),
        )
        self.runner.submit(buyer, response.test_job.id)
        return response

    async def GetTestJob(self, request: St.GetTestJobRequest, context: Context) -> St.GetTestJobResponse:
        job = await _get(self.store.get_test_job, self.buyer_of(context), request.id, "TestJob")
        return St.GetTestJobResponse(test_job=job)

    async def ListTestJobs(
        self, request: St.ListTestJobsRequest, context: Context
    ) -> St.ListTestJobsResponse:
        buyer = self.buyer_of(context)
        page, token = await paging.list_page(
            request, lambda p: self.store.list_test_jobs(buyer, request.filter, p), _REQUESTED_RANGES
        )
        return St.ListTestJobsResponse(test_jobs=page.items, next_page_token=token, total_size=page.total)

    async def _task(
        self,
        context: Context,
        method: str,
        request: Any,
        response_type: type[M],
        wrap: Callable[[St.TestJobTask], M],
        task_type: int,
        modification: St.TestJobModification | None = None,
    ) -> M:
        buyer = self.buyer_of(context)
        _required(request.id, "id")
        now = clock.now()
        response = await self._once(
            buyer,
            method,
            request,
            response_type,
            lambda tx: wrap(
                test_jobs.request_task(
                    tx, buyer, request.id, task_type, request.reason, request.etag, now, modification
                )
            ),
        )
        self.wakeups.notify(request.id)
        self.runner.submit(buyer, request.id)
        return response

    async def CancelTestJob(
        self, request: St.CancelTestJobRequest, context: Context
    ) -> St.CancelTestJobResponse:
        return await self._task(
            context,
            "CancelTestJob",
            request,
            St.CancelTestJobResponse,
            lambda task: St.CancelTestJobResponse(test_job_task=task),
            St.TEST_JOB_TASK_TYPE_CANCEL,
        )

    async def SuspendTestJob(
        self, request: St.SuspendTestJobRequest, context: Context
    ) -> St.SuspendTestJobResponse:
        return await self._task(
            context,
            "SuspendTestJob",
            request,
            St.SuspendTestJobResponse,
            lambda task: St.SuspendTestJobResponse(test_job_task=task),
            St.TEST_JOB_TASK_TYPE_SUSPEND,
        )

    async def ResumeTestJob(
        self, request: St.ResumeTestJobRequest, context: Context
    ) -> St.ResumeTestJobResponse:
        return await self._task(
            context,
            "ResumeTestJob",
            request,
            St.ResumeTestJobResponse,
            lambda task: St.ResumeTestJobResponse(test_job_task=task),
            St.TEST_JOB_TASK_TYPE_RESUME,
        )

    async def ModifyTestJob(
        self, request: St.ModifyTestJobRequest, context: Context
    ) -> St.ModifyTestJobResponse:
        buyer = self.buyer_of(context)
        job = await _get(self.store.get_test_job, buyer, request.id, "TestJob")
        TEST_JOB.next(job.state, "modify")
        changed = St.TestJob()
        changed.CopyFrom(job)
        test_jobs.apply_modification(changed, request.modification)
        await test_jobs.prepare_job(self.store, buyer, changed, clock.now())
        if request.validate_only:
            preview = St.TestJobTask(
                task_type=St.TEST_JOB_TASK_TYPE_MODIFY,
                state=St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED,
                test_job=St.TestJobRef(id=job.id),
                modification=request.modification,
                reason=request.reason,
                buyer_id=buyer,
            )
            return St.ModifyTestJobResponse(test_job_task=preview)
        return await self._task(
            context,
            "ModifyTestJob",
            request,
            St.ModifyTestJobResponse,
            lambda task: St.ModifyTestJobResponse(test_job_task=task),
            St.TEST_JOB_TASK_TYPE_MODIFY,
            request.modification,
        )

    async def GetTestJobTask(
        self, request: St.GetTestJobTaskRequest, context: Context
    ) -> St.GetTestJobTaskResponse:
        task = await _get(self.store.get_test_job_task, self.buyer_of(context), request.id, "TestJobTask")
        return St.GetTestJobTaskResponse(test_job_task=task)

    async def ListTestJobTasks(
        self, request: St.ListTestJobTasksRequest, context: Context
    ) -> St.ListTestJobTasksResponse:
        buyer = self.buyer_of(context)
        page, token = await paging.list_page(
            request, lambda p: self.store.list_test_job_tasks(buyer, request.filter, p), ("creation_date",)
        )
        return St.ListTestJobTasksResponse(
            test_job_tasks=page.items, next_page_token=token, total_size=page.total
        )

    # -- results ----------------------------------------------------------------

    async def GetTestResult(
        self, request: St.GetTestResultRequest, context: Context
    ) -> St.GetTestResultResponse:
        result = await _get(self.store.get_test_result, self.buyer_of(context), request.id, "TestResult")
        return St.GetTestResultResponse(test_result=result)

    async def ListTestResults(
        self, request: St.ListTestResultsRequest, context: Context
    ) -> St.ListTestResultsResponse:
        buyer = self.buyer_of(context)
        page, token = await paging.list_page(
            request, lambda p: self.store.list_test_results(buyer, request.filter, p), _REQUESTED_RANGES
        )
        for result in page.items:
            result.ClearField("measurements")
        return St.ListTestResultsResponse(
            test_results=page.items, next_page_token=token, total_size=page.total
        )

    def _cursor(self, request: St.StreamTestResultsRequest, log_id: str) -> int:
        if not request.resume_token:
            return 0
        point = tokens.decode(request.resume_token)
        if point.log_id != log_id:
            raise InvalidArgument(
                "resume_token belongs to another job or server",
                [Violation("resume_token", "not a token of this job's stream")],
                reason="INVALID_RESUME_TOKEN",
            )
        return point.seq

    async def StreamTestResults(
        self, request: St.StreamTestResultsRequest, context: Context
    ) -> AsyncIterator[Response]:
        buyer = self.buyer_of(context)
        job_id = request.test_job_id
        await _get(self.store.get_test_job, buyer, job_id, "TestJob", "test_job_id")
        interval = streaming.heartbeat_seconds(request)
        log_id = f"{self.log_id}/test-job/{job_id}"
        cursor = self._cursor(request, log_id)
        waiter = self.wakeups.waiter(job_id)
        synced = ended = False
        quiet_since = time.monotonic()  # when the last item or heartbeat was sent
        try:
            while True:
                waiter.clear()
                items = await self.store.read_test_items(buyer, job_id, cursor, REPLAY_PAGE)
                for seq, item in items:
                    cursor = seq
                    item.resume_token = streaming.token(log_id, seq)
                    yield item
                    ended = ended or (
                        item.HasField("state_change") and item.state_change.state in TEST_JOB.terminal
                    )
                if len(items) == REPLAY_PAGE and not ended:
                    continue
                if not synced:
                    synced = True
                    yield Response(
                        resume_token=streaming.token(log_id, cursor), sync=streaming.sync(log_id, cursor)
                    )
                if ended:
                    return
                if items:
                    quiet_since = time.monotonic()
                quiet = time.monotonic() - quiet_since
                if quiet >= interval or not await Wakeups.wait(waiter, interval - quiet):
                    beat = streaming.heartbeat(log_id, cursor)
                    yield Response(resume_token=beat.resume_token, heartbeat=beat)
                    quiet_since = time.monotonic()
                if self.wakeups.closed:
                    raise ShuttingDown("the server is shutting down; resume from your last token")
        finally:
            self.wakeups.release(job_id, waiter)


def service_test_binding(
    store: Store, buyer_of: BuyerResolver, runner: SftRunner, wakeups: Wakeups, log_id: str
) -> ServiceBinding:
    servicer = ServiceTestServicer(store, buyer_of, runner, wakeups, log_id)
    return ServiceBinding(
        "mef.lso.interlude.v1.ServiceTestService",
        lambda server: service_test_pb2_grpc.add_ServiceTestServiceServicer_to_server(servicer, server),
        servicer,
    )
