"""The trail every PM change leaves in its own transaction: MEF tracking records, task events.

Events are emitted as every feature emits them (domain/audit.py); what is PM's own is the
MEF PmTrackingRecord and which event a task's state change is.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.domain import audit
from interlude_server.store.interface.store import Tx

Ev = events_pb2
Pm = performance_pb2
CLIENT = Pm.PERFORMANCE_TRACKING_SOURCE_CLIENT
SERVER = Pm.PERFORMANCE_TRACKING_SOURCE_SERVER
Tracked = Pm.PerformanceProfile | Pm.PerformanceJob | Pm.PerformanceReport
# The MEF `relatedObjectType` of each tracked resource.
_OBJECT_TYPES: dict[type[Tracked], Pm.PerformanceTrackingObjectType.ValueType] = {
    Pm.PerformanceProfile: Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_PROFILE,
    Pm.PerformanceJob: Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_JOB,
    Pm.PerformanceReport: Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_REPORT,
}


def track(
    tx: Tx,
    tracked: Tracked,
    now: timestamp_pb2.Timestamp,
    source: Pm.PerformanceTrackingSource.ValueType,
    description: str,
    request: str = "",
) -> None:
    """Append one MEF PmTrackingRecord about `tracked`, for its buyer."""
    record = Pm.PerformanceTrackingRecord(
        creation_date_time=now,
        related_object_type=_OBJECT_TYPES[type(tracked)],
        related_object_id=tracked.id,
        source=source,
        description=description,
        request=request,
    )
    tx.add_pm_tracking(tracked.buyer_id, record)


def task_event(tx: Tx, task: Pm.PerformanceJobTask, now: timestamp_pb2.Timestamp, state: str) -> None:
    """A modify or cancel task's state change, as the event of its task type."""
    event_type = (
        Ev.EVENT_TYPE_MODIFY_PERFORMANCE_JOB_STATE_CHANGE
        if task.task_type == Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY
        else Ev.EVENT_TYPE_CANCEL_PERFORMANCE_JOB_STATE_CHANGE
    )
    audit.emit(tx, event_type, task, now, state=state)
