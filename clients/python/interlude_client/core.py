"""The client core: every inventory, catalog, ordering, event, monitoring and test call of
the contract, written once for both faces (the monitoring calls in `interlude_client.pm_ops`).

Each method builds its request (a `request_id` on every change, filled with a fresh UUID
when the caller leaves it empty, see `builders.with_request_id`) and says how the answer
is unpacked, as a description (`interlude_client.operations`); the sync face
(`interlude_client.client.InterludeClient`) runs it as a blocking call and the asyncio
face (`interlude_client.aio.AsyncInterludeClient`) as an awaited one. What the faces add
themselves is only the call mechanics, closing, and following an order to its end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from google.protobuf import json_format

from interlude_client import builders, streams
from interlude_client.alarms import AlarmCalls
from interlude_client.connection import ChannelT, SleepT
from interlude_client.operations import Call, Listing, Stream, call, change, nothing, paged, streamed, unary
from interlude_client.pm_ops import PerformanceOperations
from interlude_client.streams import ResumeOptions
from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
    service_test_pb2,
)

St = service_test_pb2


class ClientCore(AlarmCalls[ChannelT, SleepT], PerformanceOperations[ChannelT, SleepT]):
    """A client of one Interlude server, acting as one buyer: what both faces share. A face
    runs the described calls (`_unary`, `_pager`, `_stream`; see interlude_client.operations).
    The performance monitoring operations are written in `interlude_client.pm_ops`."""

    # --- inventory ----------------------------------------------------------------------

    @unary
    def get_service(self, service_id: str, *, timeout: float | None = None) -> Call[inventory_pb2.Service]:
        request = inventory_pb2.GetServiceRequest(id=service_id)
        return call(self.inventory.GetService, request, lambda r: r.service, timeout)

    @paged
    def list_services(
        self,
        filter: inventory_pb2.ServiceFilter | None = None,
        *,
        page_size: int = 0,
        order_by: str = "",
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[inventory_pb2.ListServicesResponse, inventory_pb2.Service]:
        request = inventory_pb2.ListServicesRequest(filter=filter, page_size=page_size, order_by=order_by)
        return Listing(self.inventory.ListServices, request, lambda r: r.services, limit, timeout)

    # --- catalog ------------------------------------------------------------------------

    @unary
    def get_service_specification(
        self, specification_id: str, *, timeout: float | None = None
    ) -> Call[catalog_pb2.ServiceSpecification]:
        request = catalog_pb2.GetServiceSpecificationRequest(id=specification_id)
        return call(self.catalog.GetServiceSpecification, request, lambda r: r.service_specification, timeout)

    @unary
    def get_service_schema(self, location: str, *, timeout: float | None = None) -> Call[dict[str, Any]]:
        """The JSON Schema document at a specification's `target_service_schema.schema_location`."""
        request = catalog_pb2.GetServiceSchemaRequest(location=location)
        return call(
            self.catalog.GetServiceSchema, request, lambda r: json_format.MessageToDict(r.schema), timeout
        )

    @paged
    def list_service_specifications(
        self,
        filter: catalog_pb2.ServiceSpecificationFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[catalog_pb2.ListServiceSpecificationsResponse, catalog_pb2.ServiceSpecification]:
        request = catalog_pb2.ListServiceSpecificationsRequest(filter=filter, page_size=page_size)
        method = self.catalog.ListServiceSpecifications
        return Listing(method, request, lambda r: r.service_specifications, limit, timeout)

    @unary
    def get_service_policy(
        self, specification_id: str, *, timeout: float | None = None
    ) -> Call[catalog_pb2.ServicePolicy]:
        request = catalog_pb2.GetServicePolicyRequest(service_specification_id=specification_id)
        return call(self.catalog.GetServicePolicy, request, lambda r: r.service_policy, timeout)

    @paged
    def list_service_policies(
        self,
        filter: catalog_pb2.ServicePolicyFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[catalog_pb2.ListServicePoliciesResponse, catalog_pb2.ServicePolicy]:
        request = catalog_pb2.ListServicePoliciesRequest(filter=filter, page_size=page_size)
        return Listing(
            self.catalog.ListServicePolicies, request, lambda r: r.service_policies, limit, timeout
        )

    # --- ordering: reads ----------------------------------------------------------------

    @unary
    def get_service_order(
        self, order_id: str, *, timeout: float | None = None
    ) -> Call[ordering_pb2.ServiceOrder]:
        request = ordering_pb2.GetServiceOrderRequest(id=order_id)
        return call(self.ordering.GetServiceOrder, request, lambda r: r.service_order, timeout)

    @paged
    def list_service_orders(
        self,
        filter: ordering_pb2.ServiceOrderFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[ordering_pb2.ListServiceOrdersResponse, ordering_pb2.ServiceOrder]:
        request = ordering_pb2.ListServiceOrdersRequest(filter=filter, page_size=page_size)
        return Listing(self.ordering.ListServiceOrders, request, lambda r: r.service_orders, limit, timeout)

    @paged
    def list_service_tracking_records(
        self,
        filter: ordering_pb2.ServiceTrackingRecordFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[ordering_pb2.ListServiceTrackingRecordsResponse, ordering_pb2.ServiceTrackingRecord]:
        request = ordering_pb2.ListServiceTrackingRecordsRequest(filter=filter, page_size=page_size)
        method = self.ordering.ListServiceTrackingRecords
        return Listing(method, request, lambda r: r.service_tracking_records, limit, timeout)

    # --- ordering: changes (each one an order; request_id filled when empty) ------------

    @unary
    def create_service_order(
        self,
        order: ordering_pb2.ServiceOrder,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        request = ordering_pb2.CreateServiceOrderRequest(service_order=order, validate_only=validate_only)
        return change(
            self.ordering.CreateServiceOrder, request, request_id, lambda r: r.service_order, timeout
        )

    @unary
    def cancel_service_order(
        self,
        order_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        request = ordering_pb2.CancelServiceOrderRequest(
            id=order_id, cancellation_reason=reason, etag=etag, validate_only=validate_only
        )
        return change(
            self.ordering.CancelServiceOrder, request, request_id, lambda r: r.service_order, timeout
        )

    @unary
    def provide_order_information(
        self,
        request: ordering_pb2.ProvideOrderInformationRequest,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        """Answer an order item that asks for information (`builders.order_information`)."""
        call = self.ordering.ProvideOrderInformation
        return change(call, request, request_id, lambda r: r.service_order, timeout)

    @unary
    def update_service(
        self,
        request: ordering_pb2.UpdateServiceRequest,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        return change(self.ordering.UpdateService, request, request_id, lambda r: r.service_order, timeout)

    @unary
    def update_configuration(
        self,
        service_id: str,
        values: Mapping[str, Any],
        *,
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        """UpdateService setting configuration attributes by dotted path (see
        `builders.configuration_update`)."""
        request = builders.configuration_update(service_id, values)
        request.etag, request.validate_only = etag, validate_only
        return change(self.ordering.UpdateService, request, request_id, lambda r: r.service_order, timeout)

    @unary
    def set_administrative_state(
        self,
        service_id: str,
        state: common_pb2.AdministrativeState.ValueType,
        *,
        component_id: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        request = ordering_pb2.SetAdministrativeStateRequest(
            service_id=service_id,
            component_id=component_id,
            administrative_state=state,
            etag=etag,
            validate_only=validate_only,
        )
        method = self.ordering.SetAdministrativeState
        return change(method, request, request_id, lambda r: r.service_order, timeout)

    @unary
    def create_connectivity(
        self,
        request: ordering_pb2.CreateConnectivityRequest,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[ordering_pb2.ServiceOrder]:
        return change(
            self.ordering.CreateConnectivity, request, request_id, lambda r: r.service_order, timeout
        )

    # --- service function testing ------------------------------------------------------

    @unary
    def get_test_capabilities(
        self,
        service_types: Sequence[str] = (),
        test_types: Sequence[St.TestType.ValueType] = (),
        *,
        timeout: float | None = None,
    ) -> Call[list[St.TestCapability]]:
        request = St.GetTestCapabilitiesRequest(service_types=service_types, test_types=test_types)
        method = self.service_test.GetTestCapabilities
        return call(method, request, lambda r: list(r.test_capabilities), timeout)

    @unary
    def create_test_profile(
        self,
        profile: St.TestProfile,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[St.TestProfile]:
        request = St.CreateTestProfileRequest(test_profile=profile, validate_only=validate_only)
        method = self.service_test.CreateTestProfile
        return change(method, request, request_id, lambda r: r.test_profile, timeout)

    @unary
    def get_test_profile(self, profile_id: str, *, timeout: float | None = None) -> Call[St.TestProfile]:
        request = St.GetTestProfileRequest(id=profile_id)
        return call(self.service_test.GetTestProfile, request, lambda r: r.test_profile, timeout)

    @paged
    def list_test_profiles(
        self,
        filter: St.TestProfileFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[St.ListTestProfilesResponse, St.TestProfile]:
        request = St.ListTestProfilesRequest(filter=filter, page_size=page_size)
        return Listing(self.service_test.ListTestProfiles, request, lambda r: r.test_profiles, limit, timeout)

    @unary
    def update_test_profile(
        self,
        profile: St.TestProfile,
        paths: Sequence[str],
        *,
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[St.TestProfile]:
        """UpdateTestProfile: change the fields of `profile` (with its id) named in `paths`."""
        request = St.UpdateTestProfileRequest(test_profile=profile, etag=etag, validate_only=validate_only)
        request.update_mask.paths.extend(paths)
        method = self.service_test.UpdateTestProfile
        return change(method, request, request_id, lambda r: r.test_profile, timeout)

    @unary
    def delete_test_profile(
        self, profile_id: str, *, etag: str = "", request_id: str | None = None, timeout: float | None = None
    ) -> Call[None]:
        request = St.DeleteTestProfileRequest(id=profile_id, etag=etag)
        method = self.service_test.DeleteTestProfile
        return change(method, request, request_id, nothing, timeout)

    @unary
    def create_test_job(
        self,
        job: St.TestJob,
        *,
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[St.TestJob]:
        request = St.CreateTestJobRequest(test_job=job, validate_only=validate_only)
        method = self.service_test.CreateTestJob
        return change(method, request, request_id, lambda r: r.test_job, timeout)

    @unary
    def get_test_job(self, job_id: str, *, timeout: float | None = None) -> Call[St.TestJob]:
        request = St.GetTestJobRequest(id=job_id)
        return call(self.service_test.GetTestJob, request, lambda r: r.test_job, timeout)

    @paged
    def list_test_jobs(
        self,
        filter: St.TestJobFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[St.ListTestJobsResponse, St.TestJob]:
        request = St.ListTestJobsRequest(filter=filter, page_size=page_size)
        return Listing(self.service_test.ListTestJobs, request, lambda r: r.test_jobs, limit, timeout)

    @unary
    def change_test_job(
        self, request: builders.TaskRequest, *, request_id: str | None = None, timeout: float | None = None
    ) -> Call[St.TestJobTask]:
        """Cancel, modify, suspend or resume a job (by the request's type; see
        `builders.sft_task_request`); the task that tracks the change."""
        method = getattr(self.service_test, type(request).__name__.removesuffix("Request"))
        return change(method, request, request_id, lambda r: r.test_job_task, timeout)

    @unary
    def cancel_test_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[St.TestJobTask]:
        """Asks to cancel a job (an FM job too); the answer is the cancel task."""
        request = St.CancelTestJobRequest(id=job_id, reason=reason, etag=etag)
        return change(
            self.service_test.CancelTestJob, request, request_id, lambda r: r.test_job_task, timeout
        )

    @unary
    def modify_test_job(
        self,
        job_id: str,
        modification: St.TestJobModification,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Call[St.TestJobTask]:
        """Asks to change a job (the fields set in `modification`); the answer is the modify task."""
        request = St.ModifyTestJobRequest(
            id=job_id, modification=modification, reason=reason, etag=etag, validate_only=validate_only
        )
        return change(
            self.service_test.ModifyTestJob, request, request_id, lambda r: r.test_job_task, timeout
        )

    @unary
    def suspend_test_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[St.TestJobTask]:
        request = St.SuspendTestJobRequest(id=job_id, reason=reason, etag=etag)
        method = self.service_test.SuspendTestJob
        return change(method, request, request_id, lambda r: r.test_job_task, timeout)

    @unary
    def resume_test_job(
        self,
        job_id: str,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Call[St.TestJobTask]:
        request = St.ResumeTestJobRequest(id=job_id, reason=reason, etag=etag)
        method = self.service_test.ResumeTestJob
        return change(method, request, request_id, lambda r: r.test_job_task, timeout)

    @unary
    def get_test_job_task(self, task_id: str, *, timeout: float | None = None) -> Call[St.TestJobTask]:
        request = St.GetTestJobTaskRequest(id=task_id)
        return call(self.service_test.GetTestJobTask, request, lambda r: r.test_job_task, timeout)

    @paged
    def list_test_job_tasks(
        self,
        filter: St.TestJobTaskFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[St.ListTestJobTasksResponse, St.TestJobTask]:
        request = St.ListTestJobTasksRequest(filter=filter, page_size=page_size)
        return Listing(
            self.service_test.ListTestJobTasks, request, lambda r: r.test_job_tasks, limit, timeout
        )

    @unary
    def get_test_result(self, result_id: str, *, timeout: float | None = None) -> Call[St.TestResult]:
        request = St.GetTestResultRequest(id=result_id)
        return call(self.service_test.GetTestResult, request, lambda r: r.test_result, timeout)

    @paged
    def list_test_results(
        self,
        filter: St.TestResultFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[St.ListTestResultsResponse, St.TestResult]:
        request = St.ListTestResultsRequest(filter=filter, page_size=page_size)
        return Listing(self.service_test.ListTestResults, request, lambda r: r.test_results, limit, timeout)

    @streamed
    def stream_test_results(
        self, job_id: str, *, heartbeat_seconds: int = 0, **options: Unpack[ResumeOptions]
    ) -> Stream[St.StreamTestResultsResponse]:
        """Follow one job live (replay, sync marker, then new items) until its final
        state, resuming across reconnects (see interlude_client.streams). Close it to end."""
        return Stream(
            streams.stream_test_results,
            streams.astream_test_results,
            self.service_test,
            builders.sft_results_request(job_id, heartbeat_seconds),
            options,
        )

    # --- events -------------------------------------------------------------------------

    @streamed
    def stream_events(
        self,
        request: events_pb2.StreamEventsRequest | None = None,
        **options: Unpack[ResumeOptions],
    ) -> Stream[events_pb2.StreamEventsResponse]:
        """Every StreamEvents response, resuming from the last token across reconnects
        (see interlude_client.streams). Close it to end the call."""
        return Stream(
            streams.stream_events,
            streams.astream_events,
            self.events,
            request or events_pb2.StreamEventsRequest(),
            options,
        )
