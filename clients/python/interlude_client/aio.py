"""The typed asyncio client: `AsyncInterludeClient`, the twin of `interlude_client.client.InterludeClient`.

    async with AsyncInterludeClient("127.0.0.1:50051", buyer="sp-alpha") as client:
        async for service in client.list_services():
            ...
        order = await client.set_administrative_state("alpha-uni-1", ADMINISTRATIVE_STATE_LOCKED)
        final = await client.wait_for_order(order.id)

Same methods, same behaviour (service config, request_id, paging, typed errors, buyer
and token metadata); the pagers are `AsyncPager`s and the streams async generators.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, Unpack

import grpc

from interlude_client import builders
from interlude_client.channel import CallMetadata, ChannelOptions, Token, create_aio_channel
from interlude_client.client import DEFAULT_TARGET
from interlude_client.errors import from_rpc_error
from interlude_client.paging import AsyncPager, PageT
from interlude_client.streams import (
    ResumeOptions,
    astream_events,
    astream_performance_data,
    astream_test_results,
)
from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
    ordering_pb2,
    ordering_pb2_grpc,
    performance_pb2,
    performance_pb2_grpc,
    service_test_pb2,
    service_test_pb2_grpc,
)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Item = TypeVar("Item")


class AsyncInterludeClient:
    """An asyncio client of one Interlude server, acting as one buyer (grpc.aio channel).

    `credentials` (see `interlude_client.channel.tls_credentials`) make the channel TLS
    or mutual TLS; without them it is plaintext. `buyer` is sent as `x-interlude-buyer`,
    `token` (a string or a callable returning one) as `authorization: Bearer ...`.
    `timeout` on a method overrides the service config's deadline for that call.
    Pass `channel` to use a channel of your own (then the client does not close it).
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        buyer: str | None = None,
        token: Token | None = None,
        server_name: str | None = None,
        config: dict[str, Any] | None = None,
        options: ChannelOptions = (),
        channel: grpc.aio.Channel | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._owns_channel = channel is None
        self.channel = channel or create_aio_channel(
            target, credentials, config=config, server_name=server_name, options=options
        )
        self.metadata = CallMetadata(buyer, token)
        self.inventory = inventory_pb2_grpc.ServiceInventoryServiceStub(self.channel)
        self.catalog = catalog_pb2_grpc.ServiceCatalogServiceStub(self.channel)
        self.ordering = ordering_pb2_grpc.ServiceOrderingServiceStub(self.channel)
        self.events = events_pb2_grpc.EventServiceStub(self.channel)
        self.service_test = service_test_pb2_grpc.ServiceTestServiceStub(self.channel)
        self.performance = performance_pb2_grpc.PerformanceServiceStub(self.channel)
        self._sleep = sleep

    async def __aenter__(self) -> AsyncInterludeClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def _call(
        self, method: grpc.aio.UnaryUnaryMultiCallable[Req, Resp], request: Req, timeout: float | None
    ) -> Resp:
        try:
            return await method(request, timeout=timeout, metadata=self.metadata.pairs())
        except grpc.RpcError as rpc_error:
            raise from_rpc_error(rpc_error) from rpc_error

    def _pager(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[Req, PageT],
        request: Req,
        items_of: Callable[[PageT], Sequence[Item]],
        limit: int | None,
        timeout: float | None,
    ) -> AsyncPager[PageT, Item]:
        async def fetch(token: str) -> PageT:
            page_request: Any = type(request)()
            page_request.CopyFrom(request)
            page_request.page_token = token
            return await self._call(method, page_request, timeout)

        return AsyncPager(fetch, items_of, limit=limit)

    # --- inventory ----------------------------------------------------------------------

    async def get_service(self, service_id: str, *, timeout: float | None = None) -> inventory_pb2.Service:
        request = inventory_pb2.GetServiceRequest(id=service_id)
        return (await self._call(self.inventory.GetService, request, timeout)).service

    def list_services(
        self,
        filter: inventory_pb2.ServiceFilter | None = None,
        *,
        page_size: int = 0,
        order_by: str = "",
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[inventory_pb2.ListServicesResponse, inventory_pb2.Service]:
        request = inventory_pb2.ListServicesRequest(filter=filter, page_size=page_size, order_by=order_by)
        return self._pager(self.inventory.ListServices, request, lambda r: r.services, limit, timeout)

    # --- catalog ------------------------------------------------------------------------

    async def get_service_specification(
        self, specification_id: str, *, timeout: float | None = None
    ) -> catalog_pb2.ServiceSpecification:
        request = catalog_pb2.GetServiceSpecificationRequest(id=specification_id)
        return (
            await self._call(self.catalog.GetServiceSpecification, request, timeout)
        ).service_specification

    def list_service_specifications(
        self,
        filter: catalog_pb2.ServiceSpecificationFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[catalog_pb2.ListServiceSpecificationsResponse, catalog_pb2.ServiceSpecification]:
        request = catalog_pb2.ListServiceSpecificationsRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.catalog.ListServiceSpecifications,
            request,
            lambda r: r.service_specifications,
            limit,
            timeout,
        )

    async def get_service_policy(
        self, specification_id: str, *, timeout: float | None = None
    ) -> catalog_pb2.ServicePolicy:
        request = catalog_pb2.GetServicePolicyRequest(service_specification_id=specification_id)
        return (await self._call(self.catalog.GetServicePolicy, request, timeout)).service_policy

    def list_service_policies(
        self,
        filter: catalog_pb2.ServicePolicyFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[catalog_pb2.ListServicePoliciesResponse, catalog_pb2.ServicePolicy]:
        request = catalog_pb2.ListServicePoliciesRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.catalog.ListServicePolicies, request, lambda r: r.service_policies, limit, timeout
        )

    # --- ordering: reads ----------------------------------------------------------------

    async def get_service_order(
        self, order_id: str, *, timeout: float | None = None
    ) -> ordering_pb2.ServiceOrder:
        request = ordering_pb2.GetServiceOrderRequest(id=order_id)
        return (await self._call(self.ordering.GetServiceOrder, request, timeout)).service_order

    def list_service_orders(
        self,
        filter: ordering_pb2.ServiceOrderFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[ordering_pb2.ListServiceOrdersResponse, ordering_pb2.ServiceOrder]:
        request = ordering_pb2.ListServiceOrdersRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.ordering.ListServiceOrders, request, lambda r: r.service_orders, limit, timeout
        )

    def list_service_tracking_records(
        self,
        filter: ordering_pb2.ServiceTrackingRecordFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[ordering_pb2.ListServiceTrackingRecordsResponse, ordering_pb2.ServiceTrackingRecord]:
        request = ordering_pb2.ListServiceTrackingRecordsRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.ordering.ListServiceTrackingRecords,
            request,
            lambda r: r.service_tracking_records,
            limit,
            timeout,
        )

    # --- ordering: changes (each one an order; request_id filled when empty) ------------

    async def create_service_order(
        self,
        order: ordering_pb2.ServiceOrder,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        request = ordering_pb2.CreateServiceOrderRequest(service_order=order, validate_only=validate_only)
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.ordering.CreateServiceOrder, request, timeout)).service_order

    async def cancel_service_order(
        self,
        order_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        request = ordering_pb2.CancelServiceOrderRequest(
            id=order_id, cancellation_reason=reason, etag=etag, validate_only=validate_only
        )
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.ordering.CancelServiceOrder, request, timeout)).service_order

    async def update_service(
        self,
        request: ordering_pb2.UpdateServiceRequest,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.ordering.UpdateService, request, timeout)).service_order

    async def update_configuration(
        self,
        service_id: str,
        values: Mapping[str, Any],
        *,
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        """UpdateService setting configuration attributes by dotted path (see
        `builders.configuration_update`)."""
        request = builders.configuration_update(service_id, values)
        request.etag, request.validate_only = etag, validate_only
        return await self.update_service(request, request_id=request_id, timeout=timeout)

    async def set_administrative_state(
        self,
        service_id: str,
        state: common_pb2.AdministrativeState.ValueType,
        *,
        component_id: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        request = ordering_pb2.SetAdministrativeStateRequest(
            service_id=service_id,
            component_id=component_id,
            administrative_state=state,
            etag=etag,
            validate_only=validate_only,
        )
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.ordering.SetAdministrativeState, request, timeout)).service_order

    async def create_connectivity(
        self,
        request: ordering_pb2.CreateConnectivityRequest,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> ordering_pb2.ServiceOrder:
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.ordering.CreateConnectivity, request, timeout)).service_order

    # --- performance monitoring: profiles ------------------------------------------------

    async def create_performance_profile(
        self,
        profile: performance_pb2.PerformanceProfile,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> performance_pb2.PerformanceProfile:
        request = performance_pb2.CreatePerformanceProfileRequest(
            performance_profile=profile, validate_only=validate_only
        )
        request = builders.with_request_id(request, request_id)
        return (
            await self._call(self.performance.CreatePerformanceProfile, request, timeout)
        ).performance_profile

    async def get_performance_profile(
        self, profile_id: str, *, timeout: float | None = None
    ) -> performance_pb2.PerformanceProfile:
        request = performance_pb2.GetPerformanceProfileRequest(id=profile_id)
        return (
            await self._call(self.performance.GetPerformanceProfile, request, timeout)
        ).performance_profile

    def list_performance_profiles(
        self,
        filter: performance_pb2.PerformanceProfileFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[performance_pb2.ListPerformanceProfilesResponse, performance_pb2.PerformanceProfile]:
        request = performance_pb2.ListPerformanceProfilesRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.performance.ListPerformanceProfiles,
            request,
            lambda r: r.performance_profiles,
            limit,
            timeout,
        )

    async def delete_performance_profile(
        self,
        profile_id: str,
        *,
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        request = performance_pb2.DeletePerformanceProfileRequest(id=profile_id, etag=etag)
        request = builders.with_request_id(request, request_id)
        await self._call(self.performance.DeletePerformanceProfile, request, timeout)

    # --- performance monitoring: jobs ----------------------------------------------------

    async def create_performance_job(
        self,
        job: performance_pb2.PerformanceJob,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> performance_pb2.PerformanceJob:
        request = performance_pb2.CreatePerformanceJobRequest(
            performance_job=job, validate_only=validate_only
        )
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.performance.CreatePerformanceJob, request, timeout)).performance_job

    async def get_performance_job(
        self, job_id: str, *, timeout: float | None = None
    ) -> performance_pb2.PerformanceJob:
        request = performance_pb2.GetPerformanceJobRequest(id=job_id)
        return (await self._call(self.performance.GetPerformanceJob, request, timeout)).performance_job

    def list_performance_jobs(
        self,
        filter: performance_pb2.PerformanceJobFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[performance_pb2.ListPerformanceJobsResponse, performance_pb2.PerformanceJob]:
        request = performance_pb2.ListPerformanceJobsRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.performance.ListPerformanceJobs, request, lambda r: r.performance_jobs, limit, timeout
        )

    async def suspend_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> performance_pb2.PerformanceJob:
        request = builders.with_request_id(
            performance_pb2.SuspendPerformanceJobRequest(id=job_id, reason=reason, etag=etag), request_id
        )
        return (await self._call(self.performance.SuspendPerformanceJob, request, timeout)).performance_job

    async def resume_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> performance_pb2.PerformanceJob:
        request = builders.with_request_id(
            performance_pb2.ResumePerformanceJobRequest(id=job_id, reason=reason, etag=etag), request_id
        )
        return (await self._call(self.performance.ResumePerformanceJob, request, timeout)).performance_job

    async def cancel_performance_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> performance_pb2.PerformanceJobTask:
        """Asks for the job's cancellation; the answer is the cancel task (MEF
        `cancelPerformanceJob`), the job itself ends cancelled when the task completes."""
        request = builders.with_request_id(
            performance_pb2.CancelPerformanceJobRequest(id=job_id, reason=reason, etag=etag), request_id
        )
        return (
            await self._call(self.performance.CancelPerformanceJob, request, timeout)
        ).performance_job_task

    # --- performance monitoring: reports and measurements ----------------------------------

    async def get_performance_report(
        self, report_id: str, *, timeout: float | None = None
    ) -> performance_pb2.PerformanceReport:
        request = performance_pb2.GetPerformanceReportRequest(id=report_id)
        return (await self._call(self.performance.GetPerformanceReport, request, timeout)).performance_report

    def list_performance_reports(
        self,
        filter: performance_pb2.PerformanceReportFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[performance_pb2.ListPerformanceReportsResponse, performance_pb2.PerformanceReport]:
        request = performance_pb2.ListPerformanceReportsRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.performance.ListPerformanceReports, request, lambda r: r.performance_reports, limit, timeout
        )

    def stream_performance_data(
        self,
        request: performance_pb2.StreamPerformanceDataRequest | None = None,
        **options: Unpack[ResumeOptions],
    ) -> AsyncGenerator[performance_pb2.StreamPerformanceDataResponse, None]:
        """Every StreamPerformanceData response (updates, heartbeats, the sync marker),
        resuming from the last token across reconnects. Close it to end the call."""
        return astream_performance_data(
            self.performance,
            request or performance_pb2.StreamPerformanceDataRequest(),
            self.metadata.pairs(),
            sleep=self._sleep,
            **options,
        )

    # --- service function testing ------------------------------------------------------

    async def get_test_capabilities(
        self,
        service_types: Sequence[str] = (),
        test_types: Sequence[service_test_pb2.TestType.ValueType] = (),
        *,
        timeout: float | None = None,
    ) -> list[service_test_pb2.TestCapability]:
        request = service_test_pb2.GetTestCapabilitiesRequest(
            service_types=service_types, test_types=test_types
        )
        return list(
            (await self._call(self.service_test.GetTestCapabilities, request, timeout)).test_capabilities
        )

    async def create_test_profile(
        self,
        profile: service_test_pb2.TestProfile,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> service_test_pb2.TestProfile:
        request = service_test_pb2.CreateTestProfileRequest(test_profile=profile, validate_only=validate_only)
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.service_test.CreateTestProfile, request, timeout)).test_profile

    async def get_test_profile(
        self, profile_id: str, *, timeout: float | None = None
    ) -> service_test_pb2.TestProfile:
        request = service_test_pb2.GetTestProfileRequest(id=profile_id)
        return (await self._call(self.service_test.GetTestProfile, request, timeout)).test_profile

    def list_test_profiles(
        self,
        filter: service_test_pb2.TestProfileFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[service_test_pb2.ListTestProfilesResponse, service_test_pb2.TestProfile]:
        request = service_test_pb2.ListTestProfilesRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.service_test.ListTestProfiles, request, lambda r: r.test_profiles, limit, timeout
        )

    async def update_test_profile(
        self,
        profile: service_test_pb2.TestProfile,
        paths: Sequence[str],
        *,
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> service_test_pb2.TestProfile:
        """UpdateTestProfile: change the fields of `profile` (with its id) named in `paths`."""
        request = service_test_pb2.UpdateTestProfileRequest(
            test_profile=profile, etag=etag, validate_only=validate_only
        )
        request.update_mask.paths.extend(paths)
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.service_test.UpdateTestProfile, request, timeout)).test_profile

    async def delete_test_profile(
        self, profile_id: str, *, etag: str = "", request_id: str | None = None, timeout: float | None = None
    ) -> None:
        request = service_test_pb2.DeleteTestProfileRequest(id=profile_id, etag=etag)
        await self._call(
            self.service_test.DeleteTestProfile, builders.with_request_id(request, request_id), timeout
        )

    async def create_test_job(
        self,
        job: service_test_pb2.TestJob,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> service_test_pb2.TestJob:
        request = service_test_pb2.CreateTestJobRequest(test_job=job, validate_only=validate_only)
        request = builders.with_request_id(request, request_id)
        return (await self._call(self.service_test.CreateTestJob, request, timeout)).test_job

    async def get_test_job(self, job_id: str, *, timeout: float | None = None) -> service_test_pb2.TestJob:
        request = service_test_pb2.GetTestJobRequest(id=job_id)
        return (await self._call(self.service_test.GetTestJob, request, timeout)).test_job

    def list_test_jobs(
        self,
        filter: service_test_pb2.TestJobFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[service_test_pb2.ListTestJobsResponse, service_test_pb2.TestJob]:
        request = service_test_pb2.ListTestJobsRequest(filter=filter, page_size=page_size)
        return self._pager(self.service_test.ListTestJobs, request, lambda r: r.test_jobs, limit, timeout)

    async def change_test_job(
        self, request: builders.TaskRequest, *, request_id: str | None = None, timeout: float | None = None
    ) -> service_test_pb2.TestJobTask:
        """Cancel, modify, suspend or resume a job (by the request's type; see
        `builders.sft_task_request`); the task that tracks the change."""
        request = builders.with_request_id(request, request_id)
        method = getattr(self.service_test, type(request).__name__.removesuffix("Request"))
        task: service_test_pb2.TestJobTask = (await self._call(method, request, timeout)).test_job_task
        return task

    async def get_test_job_task(
        self, task_id: str, *, timeout: float | None = None
    ) -> service_test_pb2.TestJobTask:
        request = service_test_pb2.GetTestJobTaskRequest(id=task_id)
        return (await self._call(self.service_test.GetTestJobTask, request, timeout)).test_job_task

    def list_test_job_tasks(
        self,
        filter: service_test_pb2.TestJobTaskFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[service_test_pb2.ListTestJobTasksResponse, service_test_pb2.TestJobTask]:
        request = service_test_pb2.ListTestJobTasksRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.service_test.ListTestJobTasks, request, lambda r: r.test_job_tasks, limit, timeout
        )

    async def get_test_result(
        self, result_id: str, *, timeout: float | None = None
    ) -> service_test_pb2.TestResult:
        request = service_test_pb2.GetTestResultRequest(id=result_id)
        return (await self._call(self.service_test.GetTestResult, request, timeout)).test_result

    def list_test_results(
        self,
        filter: service_test_pb2.TestResultFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncPager[service_test_pb2.ListTestResultsResponse, service_test_pb2.TestResult]:
        request = service_test_pb2.ListTestResultsRequest(filter=filter, page_size=page_size)
        return self._pager(
            self.service_test.ListTestResults, request, lambda r: r.test_results, limit, timeout
        )

    def stream_test_results(
        self, job_id: str, *, heartbeat_seconds: int = 0, **options: Unpack[ResumeOptions]
    ) -> AsyncGenerator[service_test_pb2.StreamTestResultsResponse, None]:
        """Follow one job live (replay, sync marker, then new items) until its final
        state, resuming across reconnects (see interlude_client.streams). Close it to end."""
        return astream_test_results(
            self.service_test,
            builders.sft_results_request(job_id, heartbeat_seconds),
            self.metadata.pairs(),
            sleep=self._sleep,
            **options,
        )

    # --- events -------------------------------------------------------------------------

    def stream_events(
        self,
        request: events_pb2.StreamEventsRequest | None = None,
        **options: Unpack[ResumeOptions],
    ) -> AsyncGenerator[events_pb2.StreamEventsResponse, None]:
        """Every StreamEvents response, resuming from the last token across reconnects
        (see interlude_client.streams). Close it to end the call."""
        return astream_events(
            self.events,
            request or events_pb2.StreamEventsRequest(),
            self.metadata.pairs(),
            sleep=self._sleep,
            **options,
        )

    async def follow_order(
        self, order_id: str, *, heartbeat_seconds: int = 5, **options: Unpack[ResumeOptions]
    ) -> AsyncIterator[ordering_pb2.ServiceOrder]:
        """The order as it is now, then each new state of it (order or item), from its
        events, until it is terminal (completed, failed, partial, rejected, cancelled)."""
        follower = builders.OrderFollower()
        stream = self.stream_events(builders.order_events_request(order_id, heartbeat_seconds), **options)
        try:
            async for response in stream:
                if follower.needs_read(response):
                    order = follower.next_order(await self.get_service_order(order_id))
                else:
                    order = follower.next_order(follower.order_of(response))
                if order is not None:
                    yield order
                if follower.done:
                    return
        finally:
            await stream.aclose()

    async def wait_for_order(
        self, order_id: str, **options: Unpack[ResumeOptions]
    ) -> ordering_pb2.ServiceOrder:
        """The order once it is terminal."""
        last = None
        async for last in self.follow_order(order_id, **options):  # noqa: B007 - the last one is the answer
            pass
        assert last is not None  # follow_order yields at least the order as it is now
        return last
