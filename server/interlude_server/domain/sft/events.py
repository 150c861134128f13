"""The F3 events of service function testing, appended in the transaction of the change."""

from __future__ import annotations

import uuid

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, service_test_pb2
from interlude_server.core.mef import mef_name
from interlude_server.store.interface.store import Tx

Ev = events_pb2
St = service_test_pb2
_TASK_EVENTS: dict[int, events_pb2.EventType.ValueType] = {
    St.TEST_JOB_TASK_TYPE_CANCEL: Ev.EVENT_TYPE_CANCEL_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_MODIFY: Ev.EVENT_TYPE_MODIFY_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_SUSPEND: Ev.EVENT_TYPE_SUSPEND_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_RESUME: Ev.EVENT_TYPE_RESUME_TEST_JOB_STATE_CHANGE,
}


def _event(
    event_type: events_pb2.EventType.ValueType,
    now: timestamp_pb2.Timestamp,
    resource_type: events_pb2.ResourceType.ValueType,
    resource_id: str,
    state: str = "",
) -> events_pb2.Event:
    return Ev.Event(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        event_time=now,
        resource=Ev.ResourceRef(resource_type=resource_type, id=resource_id),
        state=state,
    )


def job_event(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    job: service_test_pb2.TestJob,
    now: timestamp_pb2.Timestamp,
    state: str = "",
) -> None:
    event = _event(event_type, now, Ev.RESOURCE_TYPE_TEST_JOB, job.id, state)
    event.test_job.CopyFrom(job)
    tx.append_event(job.buyer_id, event)


def task_event(tx: Tx, task: service_test_pb2.TestJobTask, now: timestamp_pb2.Timestamp) -> None:
    state = mef_name(St.TestJobProcessState, task.state)
    event = _event(_TASK_EVENTS[task.task_type], now, Ev.RESOURCE_TYPE_TEST_JOB_TASK, task.id, state)
    event.reason = task.denied_reason
    event.test_job_task.CopyFrom(task)
    tx.append_event(task.buyer_id, event)


def result_event(tx: Tx, result: service_test_pb2.TestResult, now: timestamp_pb2.Timestamp) -> None:
    event = _event(Ev.EVENT_TYPE_TEST_RESULT_CREATE, now, Ev.RESOURCE_TYPE_TEST_RESULT, result.id)
    event.test_result.CopyFrom(result)
    tx.append_event(result.buyer_id, event)


def profile_event(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    profile: service_test_pb2.TestProfile,
    now: timestamp_pb2.Timestamp,
) -> None:
    state = mef_name(St.TestProfileLifecycleState, profile.lifecycle_state) if profile.lifecycle_state else ""
    event = _event(event_type, now, Ev.RESOURCE_TYPE_TEST_PROFILE, profile.id, state)
    if event_type != Ev.EVENT_TYPE_TEST_PROFILE_DELETE:
        event.test_profile.CopyFrom(profile)
    tx.append_event(profile.buyer_id, event)
