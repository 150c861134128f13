"""The trail every PM change leaves in its own transaction: tracking records and events."""

from __future__ import annotations

import uuid

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.store.interface.store import Tx

Ev = events_pb2
Pm = performance_pb2
CLIENT = Pm.PERFORMANCE_TRACKING_SOURCE_CLIENT
SERVER = Pm.PERFORMANCE_TRACKING_SOURCE_SERVER
PROFILE = Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_PROFILE
JOB = Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_JOB
REPORT = Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_REPORT


def track(
    tx: Tx,
    buyer_id: str,
    now: timestamp_pb2.Timestamp,
    object_type: Pm.PerformanceTrackingObjectType.ValueType,
    object_id: str,
    source: Pm.PerformanceTrackingSource.ValueType,
    description: str,
    request: str = "",
) -> None:
    """Append one MEF PmTrackingRecord."""
    tx.add_pm_tracking(
        buyer_id,
        Pm.PerformanceTrackingRecord(
            creation_date_time=now,
            related_object_type=object_type,
            related_object_id=object_id,
            source=source,
            description=description,
            request=request,
        ),
    )


def _event(
    event_type: Ev.EventType.ValueType,
    now: timestamp_pb2.Timestamp,
    resource_type: Ev.ResourceType.ValueType,
    resource_id: str,
    *,
    state: str = "",
    reason: str = "",
    report_id: str = "",
) -> Ev.Event:
    """A PM event without its payload (the resource after the change, set by the caller)."""
    return Ev.Event(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        event_time=now,
        resource=Ev.ResourceRef(resource_type=resource_type, id=resource_id, report_id=report_id),
        state=state,
        reason=reason,
    )


def profile_event(
    tx: Tx, event_type: Ev.EventType.ValueType, profile: Pm.PerformanceProfile, now: timestamp_pb2.Timestamp
) -> None:
    e = _event(event_type, now, Ev.RESOURCE_TYPE_PERFORMANCE_PROFILE, profile.id)
    if event_type != Ev.EVENT_TYPE_PERFORMANCE_PROFILE_DELETE:
        e.performance_profile.CopyFrom(profile)
    tx.append_event(profile.buyer_id, e)


def job_event(
    tx: Tx,
    event_type: Ev.EventType.ValueType,
    job: Pm.PerformanceJob,
    now: timestamp_pb2.Timestamp,
    *,
    state: str = "",
    reason: str = "",
    report_id: str = "",
) -> None:
    e = _event(
        event_type,
        now,
        Ev.RESOURCE_TYPE_PERFORMANCE_JOB,
        job.id,
        state=state,
        reason=reason,
        report_id=report_id,
    )
    e.performance_job.CopyFrom(job)
    tx.append_event(job.buyer_id, e)


def task_event(tx: Tx, task: Pm.PerformanceJobTask, now: timestamp_pb2.Timestamp, state: str) -> None:
    event_type = (
        Ev.EVENT_TYPE_MODIFY_PERFORMANCE_JOB_STATE_CHANGE
        if task.task_type == Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY
        else Ev.EVENT_TYPE_CANCEL_PERFORMANCE_JOB_STATE_CHANGE
    )
    e = _event(event_type, now, Ev.RESOURCE_TYPE_PERFORMANCE_JOB_TASK, task.id, state=state)
    e.performance_job_task.CopyFrom(task)
    tx.append_event(task.buyer_id, e)


def report_event(
    tx: Tx,
    event_type: Ev.EventType.ValueType,
    report: Pm.PerformanceReport,
    now: timestamp_pb2.Timestamp,
    state: str,
) -> None:
    e = _event(event_type, now, Ev.RESOURCE_TYPE_PERFORMANCE_REPORT, report.id, state=state)
    e.performance_report.CopyFrom(report)
    e.performance_report.ClearField("report_content")  # events stay small; Get the report for it
    tx.append_event(report.buyer_id, e)
