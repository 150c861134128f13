"""The trail every change leaves in its own transaction: tracking records and events.

Every feature emits its events through `emit`: one Event shape for every resource, whose
ResourceRef type and payload field follow from the resource's message type. Service orders
also leave ServiceTrackingRecords (`track`); PM keeps its own MEF tracking records
(domain/performance/audit.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
    performance_pb2,
    service_test_pb2,
)
from interlude_server.core.ids import new_id
from interlude_server.store.interface.store import Tx

Ev = events_pb2
Pm = performance_pb2
St = service_test_pb2
PARTNER = "partner"  # the actor of the changes the Partner makes

# The resources events are about (each has `id` and `buyer_id`).
Resource = (
    inventory_pb2.Service
    | ordering_pb2.ServiceOrder
    | Pm.PerformanceProfile
    | Pm.PerformanceJob
    | Pm.PerformanceJobTask
    | Pm.PerformanceReport
    | St.TestProfile
    | St.TestJob
    | St.TestJobTask
    | St.TestResult
    | alarm_pb2.Alarm
)
# Per resource message: its ResourceRef type and the Event payload field that carries it.
_KINDS: dict[type[Resource], tuple[Ev.ResourceType.ValueType, str]] = {
    inventory_pb2.Service: (Ev.RESOURCE_TYPE_SERVICE, "service"),
    ordering_pb2.ServiceOrder: (Ev.RESOURCE_TYPE_SERVICE_ORDER, "service_order"),
    Pm.PerformanceProfile: (Ev.RESOURCE_TYPE_PERFORMANCE_PROFILE, "performance_profile"),
    Pm.PerformanceJob: (Ev.RESOURCE_TYPE_PERFORMANCE_JOB, "performance_job"),
    Pm.PerformanceJobTask: (Ev.RESOURCE_TYPE_PERFORMANCE_JOB_TASK, "performance_job_task"),
    Pm.PerformanceReport: (Ev.RESOURCE_TYPE_PERFORMANCE_REPORT, "performance_report"),
    St.TestProfile: (Ev.RESOURCE_TYPE_TEST_PROFILE, "test_profile"),
    St.TestJob: (Ev.RESOURCE_TYPE_TEST_JOB, "test_job"),
    St.TestJobTask: (Ev.RESOURCE_TYPE_TEST_JOB_TASK, "test_job_task"),
    St.TestResult: (Ev.RESOURCE_TYPE_TEST_RESULT, "test_result"),
    alarm_pb2.Alarm: (Ev.RESOURCE_TYPE_ALARM, "alarm"),
}
# Delete events carry no payload: the resource is gone.
_DELETES = (
    Ev.EVENT_TYPE_SERVICE_DELETE,
    Ev.EVENT_TYPE_PERFORMANCE_PROFILE_DELETE,
    Ev.EVENT_TYPE_TEST_PROFILE_DELETE,
    Ev.EVENT_TYPE_ALARM_DELETE,
)


def track(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    now: timestamp_pb2.Timestamp,
    attribute: str,
    change: tuple[str, str],
    why: str,
    actor: str,
    item: ordering_pb2.ServiceOrderItem | None = None,
) -> None:
    """Append one state-history record: `attribute` went from change[0] to change[1] in
    `order` (or in `item` of it, and in the service the item is about)."""
    record = ordering_pb2.ServiceTrackingRecord(
        time=now,
        service_order_id=order.id,
        attribute=attribute,
        old_value=change[0],
        new_value=change[1],
        description=why,
        actor=actor,
    )
    if item is not None:
        record.service_id = item.service.id
        record.service_order_item_id = item.id
    tx.add_tracking(order.buyer_id, record)


def emit(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    resource: Resource,
    now: timestamp_pb2.Timestamp,
    *,
    state: str = "",
    reason: str = "",
    order_item_id: str = "",
    report_id: str = "",
    observed: timestamp_pb2.Timestamp | None = None,
    changed: Sequence[str] = (),
) -> None:
    """Log an event carrying `resource` after the change (none for deletes), for its buyer;
    `observed`: when the network observed the change it reported; `changed`: what changed,
    as JSON Pointers into the resource's MEF representation (Event.changed_fields)."""
    resource_type, payload = _KINDS[type(resource)]
    ref = Ev.ResourceRef(
        resource_type=resource_type, id=resource.id, order_item_id=order_item_id, report_id=report_id
    )
    event = Ev.Event(event_id=new_id(), event_type=event_type, event_time=now, resource=ref)
    event.state, event.reason = state, reason
    if observed is not None:
        event.observed_time.CopyFrom(observed)
    event.changed_fields.extend(changed)
    if isinstance(resource, inventory_pb2.Service):
        event.service_configuration_type = resource.service_configuration.type
    if event_type not in _DELETES:
        getattr(event, payload).CopyFrom(resource)
    tx.append_event(resource.buyer_id, event)
