"""The F3 events of service function testing that say more than the resource: a task's
state change (which event depends on its type) and a profile's lifecycle state.

Appended in the transaction of the change, as every feature's events are (domain/audit.py).
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, service_test_pb2
from interlude_server.core.mef import mef_name
from interlude_server.domain import audit
from interlude_server.domain.sft import fault
from interlude_server.domain.sft.states import TEST_JOB_TASK
from interlude_server.store.interface.store import Tx

Ev = events_pb2
St = service_test_pb2
_TASK_EVENTS: dict[int, events_pb2.EventType.ValueType] = {
    St.TEST_JOB_TASK_TYPE_CANCEL: Ev.EVENT_TYPE_CANCEL_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_MODIFY: Ev.EVENT_TYPE_MODIFY_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_SUSPEND: Ev.EVENT_TYPE_SUSPEND_TEST_JOB_STATE_CHANGE,
    St.TEST_JOB_TASK_TYPE_RESUME: Ev.EVENT_TYPE_RESUME_TEST_JOB_STATE_CHANGE,
}


def task_event(tx: Tx, task: service_test_pb2.TestJobTask, now: timestamp_pb2.Timestamp) -> None:
    """The task's state change, as the event of its type, with why it was denied (if it was)."""
    state = TEST_JOB_TASK.state_name(task.state)
    job = tx.get_test_job(task.buyer_id, task.test_job.id)
    test_type = job.test_type if job is not None else St.TEST_TYPE_UNSPECIFIED
    fault.emit(tx, _TASK_EVENTS[task.task_type], task, now, test_type, state=state, reason=task.denied_reason)


def profile_event(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    profile: service_test_pb2.TestProfile,
    now: timestamp_pb2.Timestamp,
) -> None:
    """A profile event, whose state is the profile's lifecycle state."""
    state = mef_name(St.TestProfileLifecycleState, profile.lifecycle_state) if profile.lifecycle_state else ""
    audit.emit(tx, event_type, profile, now, state=state)
