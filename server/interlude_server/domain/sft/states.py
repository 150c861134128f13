"""The test job and task state machines (MEF `TestJobStateType`, `TestJobProcessStateType`).

Tables as in domain.states: RPCs check an action against the job's current
state before creating a task, and the runner applies the same table when it
accepts one. Where MEF 136 is stricter than the v3 state text we follow MEF 136:
suspend only IN_PROGRESS (R47), resume only SUSPENDED (R53), modify only
SCHEDULED or SUSPENDED (R59/R67).
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.domain.states import StateMachine

St = service_test_pb2
_ACK = St.TEST_JOB_STATE_ACKNOWLEDGED
_SCHEDULED = St.TEST_JOB_STATE_SCHEDULED
_RUNNING = St.TEST_JOB_STATE_IN_PROGRESS
_SUSPENDED = St.TEST_JOB_STATE_SUSPENDED
_ASSESS_CANCEL = St.TEST_JOB_STATE_ASSESSING_CANCELLATION
_ASSESS_MODIFY = St.TEST_JOB_STATE_ASSESSING_MODIFICATION

TEST_JOB = StateMachine.of(
    "test job",
    St.TestJobState,
    [
        ([_ACK], "schedule", _SCHEDULED),
        ([_ACK, _SCHEDULED], "start", _RUNNING),
        ([_RUNNING], "suspend", _SUSPENDED),
        ([_SUSPENDED], "resume", _RUNNING),
        ([_SCHEDULED, _SUSPENDED], "modify", _ASSESS_MODIFY),
        ([_ASSESS_MODIFY], "backToScheduled", _SCHEDULED),
        ([_ASSESS_MODIFY], "backToSuspended", _SUSPENDED),
        ([_SCHEDULED, _RUNNING, _SUSPENDED], "cancel", _ASSESS_CANCEL),
        ([_ASSESS_CANCEL], "acceptCancellation", St.TEST_JOB_STATE_CANCELLED),
        ([_RUNNING], "complete", St.TEST_JOB_STATE_COMPLETED),
    ],
    {St.TEST_JOB_STATE_COMPLETED, St.TEST_JOB_STATE_CANCELLED, St.TEST_JOB_STATE_REJECTED},
)

TEST_JOB_TASK = StateMachine.of(
    "test job task",
    St.TestJobProcessState,
    [
        ([St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED], "accept", St.TEST_JOB_PROCESS_STATE_ACCEPTED),
        ([St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED], "reject", St.TEST_JOB_PROCESS_STATE_REJECTED),
    ],
    {St.TEST_JOB_PROCESS_STATE_ACCEPTED, St.TEST_JOB_PROCESS_STATE_REJECTED},
)

# The job action each task type asks for, checked when the task is created.
TASK_ACTION: dict[int, str] = {
    St.TEST_JOB_TASK_TYPE_CANCEL: "cancel",
    St.TEST_JOB_TASK_TYPE_MODIFY: "modify",
    St.TEST_JOB_TASK_TYPE_SUSPEND: "suspend",
    St.TEST_JOB_TASK_TYPE_RESUME: "resume",
}
