"""Request building shared by the sync and asyncio clients (no I/O here).

The clients fill `request_id` of every change with a fresh UUID when the caller leaves
it empty: the server answers a repeated request_id with the first response, so the
retries of the service config (and a caller's own retries with the same request) can
never create an order twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeAlias, TypeVar

from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
    service_test_pb2,
)

ATTRIBUTES = "service_configuration.attributes"
TERMINAL_ORDER_STATES = frozenset(
    {
        ordering_pb2.SERVICE_ORDER_STATE_COMPLETED,
        ordering_pb2.SERVICE_ORDER_STATE_FAILED,
        ordering_pb2.SERVICE_ORDER_STATE_PARTIAL,
        ordering_pb2.SERVICE_ORDER_STATE_REJECTED,
        ordering_pb2.SERVICE_ORDER_STATE_CANCELLED,
    }
)


class Idempotent(Protocol):
    request_id: str


R = TypeVar("R", bound=Idempotent)


def new_request_id() -> str:
    return str(uuid.uuid4())


def with_request_id(request: R, request_id: str | None = None) -> R:
    """`request` with `request_id` set: the given one, the request's own, or a new UUID."""
    request.request_id = request_id or request.request_id or new_request_id()
    return request


def attribute_path(path: str) -> str:
    """An update_mask path: `a.b.c` is an attribute of the service configuration; a path
    that already starts with `service_configuration.` is taken as it is."""
    return path if path.startswith("service_configuration.") else f"{ATTRIBUTES}.{path}"


def configuration_update(service_id: str, values: Mapping[str, Any]) -> ordering_pb2.UpdateServiceRequest:
    """An UpdateService request setting service configuration attributes by dotted path,
    e.g. {"ingressBandwidthProfilePerOvcEndPoint.cir.irValue": 200}."""
    attributes: dict[str, Any] = {}
    paths = []
    for path, value in values.items():
        full = attribute_path(path)
        paths.append(full)
        *parents, leaf = full.removeprefix(f"{ATTRIBUTES}.").split(".")
        node = attributes
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    config = struct_pb2.Struct()
    config.update(attributes)
    return ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )


def order_information(
    order_id: str,
    item_id: str,
    values: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
    *,
    etag: str = "",
    validate_only: bool = False,
) -> ordering_pb2.ProvideOrderInformationRequest:
    """A ProvideOrderInformation request: `values` keyed by the JSON Pointers the item's wait asks
    for (`information_required`, e.g. {"/ingressBandwidthProfilePerOvcEndPoint/cir/irValue": 200}),
    `notes` the texts of the buyer's notes (needed when `/note` is asked)."""
    attributes: dict[str, Any] = {}
    for pointer, value in (values or {}).items():
        *parents, leaf = [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]
        node = attributes
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    request = ordering_pb2.ProvideOrderInformationRequest(
        id=order_id, item_id=item_id, etag=etag, validate_only=validate_only
    )
    request.note.extend(common_pb2.Note(text=text) for text in notes)
    if attributes:
        request.service_configuration.update(attributes)
    return request


def extension(type_: str, attributes: Mapping[str, Any] | None = None) -> common_pb2.ExtensionPayload:
    """A MEF extension payload: `@type` and the document's other properties."""
    payload = common_pb2.ExtensionPayload(type=type_)
    if attributes:
        payload.attributes.update(dict(attributes))
    return payload


def connectivity_request(
    connectivity_type: str,
    interfaces: Iterable[str],
    *,
    attributes: Mapping[str, Any] | None = None,
    external_id: str = "",
    description: str = "",
) -> ordering_pb2.CreateConnectivityRequest:
    """CreateConnectivity between interfaces (UNI/ENNI service ids); the end points take
    the configuration types and defaults the buyer's policy gives them."""
    return ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=extension(connectivity_type, attributes),
        end_points=[ordering_pb2.ConnectivityEndPoint(interface_service_id=i) for i in interfaces],
        external_id=external_id,
        description=description,
    )


def order_events_request(order_id: str, heartbeat_seconds: int = 5) -> events_pb2.StreamEventsRequest:
    """A StreamEvents request (from now) for one order's events."""
    return events_pb2.StreamEventsRequest(
        filter=events_pb2.EventFilter(
            resource_ids=[order_id], resource_types=[events_pb2.RESOURCE_TYPE_SERVICE_ORDER]
        ),
        heartbeat_interval=duration_pb2.Duration(seconds=heartbeat_seconds),
    )


class OrderFollower:
    """Turns an order's event stream into the order's successive states.

    Fed the StreamEvents responses of `order_events_request`: at the first sync marker it
    asks for the order as it is now (the stream was open before, so no later change is
    missed); then every event's order. `advance` (or `next_order`) answers what to yield
    (None: nothing new); `done` tells when the last one yielded was terminal."""

    def __init__(self) -> None:
        self.synced = False
        self.last: ordering_pb2.ServiceOrder | None = None

    def needs_read(self, response: events_pb2.StreamEventsResponse) -> bool:
        if response.HasField("sync") and not self.synced:
            self.synced = True
            return True
        return False

    def next_order(self, order: ordering_pb2.ServiceOrder | None) -> ordering_pb2.ServiceOrder | None:
        if order is None or order == self.last:
            return None
        self.last = order
        return order

    def advance(
        self, response: events_pb2.StreamEventsResponse, read: ordering_pb2.ServiceOrder | None
    ) -> ordering_pb2.ServiceOrder | None:
        """What to yield for `response` (None: nothing new): `read` is the order as read
        when `needs_read(response)` asked for it, else the event's own order counts."""
        return self.next_order(read if read is not None else self.order_of(response))

    @staticmethod
    def order_of(response: events_pb2.StreamEventsResponse) -> ordering_pb2.ServiceOrder | None:
        if response.HasField("event") and response.event.HasField("service_order"):
            return response.event.service_order
        return None

    @property
    def done(self) -> bool:
        return self.last is not None and self.last.state in TERMINAL_ORDER_STATES


def last_order(orders: Iterable[ordering_pb2.ServiceOrder]) -> ordering_pb2.ServiceOrder:
    """The last of an order's states (`follow_order` yields at least the order as it is now)."""
    last = None
    for last in orders:  # noqa: B007 - the last one is the answer
        pass
    assert last is not None
    return last


# --- service function testing --------------------------------------------------------

St = service_test_pb2
TaskRequest: TypeAlias = (
    St.CancelTestJobRequest | St.ModifyTestJobRequest | St.SuspendTestJobRequest | St.ResumeTestJobRequest
)
TASK_REQUESTS: dict[str, type[TaskRequest]] = {
    "cancel": St.CancelTestJobRequest,
    "suspend": St.SuspendTestJobRequest,
    "resume": St.ResumeTestJobRequest,
}
TERMINAL_TEST_JOB_STATES = frozenset(
    {St.TEST_JOB_STATE_COMPLETED, St.TEST_JOB_STATE_CANCELLED, St.TEST_JOB_STATE_REJECTED}
)


def sft_configuration_type(test: str) -> str:
    """The configuration `@type` of a test: a URN as given, or a short name (`y1564-sat`)
    as `urn:interlude-grpc:test:y1564-sat:v1` (see GetTestCapabilities)."""
    return test if test.startswith("urn:") else f"urn:interlude-grpc:test:{test}:v1"


def sft_job(
    test: str,
    source: str,
    target: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    name: str = "",
    profile_id: str = "",
    mode: St.TestMode.ValueType = St.TEST_MODE_UNSPECIFIED,
    consent: bool = False,
    end_after: duration_pb2.Duration | None = None,
) -> St.TestJob:
    """A job running `test` from service end point `source` to `target` now, with the given
    configuration parameters, settings from profile `profile_id` (else none inline), and
    an end `end_after` from now (default one hour)."""
    job = St.TestJob(
        name=name or f"{test.split(':')[-2] if test.startswith('urn:') else test} {source} -> {target}",
        related_service_from=common_pb2.ServiceRef(id=source),
        related_service_to=common_pb2.ServiceRef(id=target),
        test_mode=mode,
        out_of_service_consent=consent,
    )
    job.service_specific_test_job_configuration.type = sft_configuration_type(test)
    job.service_specific_test_job_configuration.attributes.update(dict(parameters or {}))
    if profile_id:
        job.test_profile_ref.id = profile_id
    else:
        job.test_profile_value.SetInParent()
    job.requested_end_date_time.GetCurrentTime()
    job.requested_end_date_time.seconds += (end_after or duration_pb2.Duration(seconds=3600)).seconds
    return job


def sft_task_request(action: str, job_id: str, *, reason: str = "", etag: str = "") -> TaskRequest:
    """The request that cancels, suspends or resumes job `job_id` (`action` names which)."""
    return TASK_REQUESTS[action](id=job_id, reason=reason, etag=etag)


def sft_results_request(job_id: str, heartbeat_seconds: int = 0) -> St.StreamTestResultsRequest:
    """A StreamTestResults request for one job (heartbeat 0: the server's default)."""
    request = St.StreamTestResultsRequest(test_job_id=job_id)
    if heartbeat_seconds:
        request.heartbeat_interval.seconds = heartbeat_seconds
    return request
