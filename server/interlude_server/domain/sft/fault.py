"""Fault Management (Mplify 148) on the test engine: which test types are FM procedures, the
FM names of job and task states, and the FM twins of the test events.

An FM job is a test job whose type is an FM procedure; MEF's FM file is served over the
test RPCs (README "Fault Management"). Every test event about such a job (its creation,
state and attribute changes, its cancel and modify tasks, its results) is logged together
with its FM twin in the same transaction, so StreamEvents and the FM `/hub` carry FM events.
A run's end also says how its report came out (`report_done`): the report's state change
(into completed or failed), then either that the report is ready or, when the run could
not be carried out, a report preparation error on the job.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, service_test_pb2
from interlude_server.domain import audit
from interlude_server.store.interface.store import Tx

Ev = events_pb2
St = service_test_pb2

# The test types that are Fault Management procedures.
FM_TYPES: tuple[St.TestType.ValueType, ...] = (
    St.TEST_TYPE_ETHERNET_LOOPBACK,
    St.TEST_TYPE_ETHERNET_LINK_TRACE,
    St.TEST_TYPE_IP_PING,
    St.TEST_TYPE_IP_TRACEROUTE,
)
# A test job state -> its MEF `FaultManagementJobStateType` name.
FM_JOB_STATE: dict[int, str] = {
    St.TEST_JOB_STATE_ACKNOWLEDGED: "acknowledged",
    St.TEST_JOB_STATE_ASSESSING_CANCELLATION: "pendingCancel",
    St.TEST_JOB_STATE_ASSESSING_MODIFICATION: "pending",
    St.TEST_JOB_STATE_CANCELLED: "cancelled",
    St.TEST_JOB_STATE_COMPLETED: "completed",
    St.TEST_JOB_STATE_IN_PROGRESS: "inProgress",
    St.TEST_JOB_STATE_REJECTED: "rejected",
    St.TEST_JOB_STATE_SCHEDULED: "scheduled",
    St.TEST_JOB_STATE_SUSPENDED: "suspended",
}
# A task state -> its MEF `FaultManagementJobProcessStateType` name (an accepted task is done).
FM_TASK_STATE: dict[int, str] = {
    St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED: "acknowledged",
    St.TEST_JOB_PROCESS_STATE_ACCEPTED: "completed",
    St.TEST_JOB_PROCESS_STATE_REJECTED: "rejected",
}
# A test event -> its FM twin (suspend and resume are no FM task resources: no twin).
_TWINS: dict[int, Ev.EventType.ValueType] = {
    Ev.EVENT_TYPE_TEST_JOB_CREATE: Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_CREATE,
    Ev.EVENT_TYPE_TEST_JOB_ATTRIBUTE_VALUE_CHANGE: Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_ATTRIBUTE_VALUE_CHANGE,
    Ev.EVENT_TYPE_TEST_JOB_STATE_CHANGE: Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_STATE_CHANGE,
    Ev.EVENT_TYPE_CANCEL_TEST_JOB_STATE_CHANGE: Ev.EVENT_TYPE_CANCEL_FAULT_MANAGEMENT_JOB_STATE_CHANGE,
    Ev.EVENT_TYPE_MODIFY_TEST_JOB_STATE_CHANGE: Ev.EVENT_TYPE_MODIFY_FAULT_MANAGEMENT_JOB_STATE_CHANGE,
    Ev.EVENT_TYPE_TEST_RESULT_CREATE: Ev.EVENT_TYPE_FAULT_MANAGEMENT_REPORT_CREATE,
}
FM_EVENTS: tuple[int, ...] = (
    *_TWINS.values(),
    Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_REPORT_READY,
    Ev.EVENT_TYPE_FAULT_MANAGEMENT_REPORT_STATE_CHANGE,
    Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_REPORT_PREPARATION_ERROR,
)


def is_fm(test_type: int) -> bool:
    return test_type in FM_TYPES


def fm_state(resource: audit.Resource) -> str:
    """The FM state name of a job, a task or a report (a result is `failed` when its run
    could not be carried out, `completed` otherwise)."""
    if isinstance(resource, St.TestJob):
        return FM_JOB_STATE.get(resource.state, "")
    if isinstance(resource, St.TestJobTask):
        return FM_TASK_STATE.get(resource.state, "")
    if isinstance(resource, St.TestResult):
        return "failed" if resource.summary.verdict == St.TEST_VERDICT_ERROR else "completed"
    return ""


def emit(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    resource: audit.Resource,
    now: timestamp_pb2.Timestamp,
    test_type: int,
    *,
    state: str = "",
    reason: str = "",
) -> None:
    """Log a test event and, if the job is an FM procedure, its FM twin (state in FM names)."""
    audit.emit(tx, event_type, resource, now, state=state, reason=reason)
    twin = _TWINS.get(event_type)
    if twin is not None and is_fm(test_type):
        audit.emit(tx, twin, resource, now, state=fm_state(resource), reason=reason)


def report_done(
    tx: Tx,
    job: service_test_pb2.TestJob,
    result: service_test_pb2.TestResult,
    now: timestamp_pb2.Timestamp,
    error: str = "",
) -> None:
    """The FM events of a run's end, for an FM job: MEF `faultManagementReportStateChangeEvent`
    (the report, created by the run's end, is in its final state), then
    `faultManagementJobReportReadyEvent` (the report can be read) or, when the run could not be
    carried out (`error`: its code and reason), `faultManagementJobReportPreparationErrorEvent`."""
    if not is_fm(job.test_type):
        return
    audit.emit(tx, Ev.EVENT_TYPE_FAULT_MANAGEMENT_REPORT_STATE_CHANGE, result, now, state=fm_state(result))
    if error:
        audit.emit(tx, Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_REPORT_PREPARATION_ERROR, job, now, reason=error)
    else:
        audit.emit(tx, Ev.EVENT_TYPE_FAULT_MANAGEMENT_JOB_REPORT_READY, job, now, report_id=result.id)
