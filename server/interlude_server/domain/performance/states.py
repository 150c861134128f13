"""PM state machines as tables (MEF Performance Monitoring v5, Mplify 143).

JOB is `PerformanceJobStateType`; TASK is `PerformanceJobProcessStateType`,
shared by modify and cancel tasks. Suspend and resume are v5 actions on the job
itself (no task resource). The same tables refuse invalid transitions with the
current state named and generate docs/state-machines.md.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.domain.states import StateMachine

Pm = performance_pb2

_LIVE_JOB = (
    Pm.PERFORMANCE_JOB_STATE_SCHEDULED,
    Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS,
    Pm.PERFORMANCE_JOB_STATE_SUSPENDED,
)

JOB = StateMachine.of(
    "performance job",
    Pm.PerformanceJobState,
    [
        ([Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED], "reject", Pm.PERFORMANCE_JOB_STATE_REJECTED),
        ([Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED], "schedule", Pm.PERFORMANCE_JOB_STATE_SCHEDULED),
        (
            [Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED, Pm.PERFORMANCE_JOB_STATE_SCHEDULED],
            "start",
            Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS,
        ),
        (
            [Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED, Pm.PERFORMANCE_JOB_STATE_SCHEDULED],
            "noResources",
            Pm.PERFORMANCE_JOB_STATE_RESOURCES_UNAVAILABLE,
        ),
        ([Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS], "complete", Pm.PERFORMANCE_JOB_STATE_COMPLETED),
        ([Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS], "suspend", Pm.PERFORMANCE_JOB_STATE_SUSPENDED),
        ([Pm.PERFORMANCE_JOB_STATE_SUSPENDED], "resume", Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS),
        (
            [Pm.PERFORMANCE_JOB_STATE_SCHEDULED, Pm.PERFORMANCE_JOB_STATE_SUSPENDED],
            "modify",
            Pm.PERFORMANCE_JOB_STATE_PENDING,
        ),
        # A modification applied: back to waiting or measuring, per the schedule.
        ([Pm.PERFORMANCE_JOB_STATE_PENDING], "reschedule", Pm.PERFORMANCE_JOB_STATE_SCHEDULED),
        ([Pm.PERFORMANCE_JOB_STATE_PENDING], "restart", Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS),
        (_LIVE_JOB, "cancel", Pm.PERFORMANCE_JOB_STATE_PENDING_CANCEL),
        ([Pm.PERFORMANCE_JOB_STATE_PENDING_CANCEL], "cancelled", Pm.PERFORMANCE_JOB_STATE_CANCELLED),
    ],
    {
        Pm.PERFORMANCE_JOB_STATE_CANCELLED,
        Pm.PERFORMANCE_JOB_STATE_COMPLETED,
        Pm.PERFORMANCE_JOB_STATE_REJECTED,
        Pm.PERFORMANCE_JOB_STATE_RESOURCES_UNAVAILABLE,
    },
)

TASK = StateMachine.of(
    "performance job task",
    Pm.PerformanceJobProcessState,
    [
        (
            [Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED],
            "accept",
            Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS,
        ),
        (
            [Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED],
            "reject",
            Pm.PERFORMANCE_JOB_PROCESS_STATE_REJECTED,
        ),
        (
            [Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS],
            "complete",
            Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED,
        ),
    ],
    {Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED, Pm.PERFORMANCE_JOB_PROCESS_STATE_REJECTED},
)

# Jobs in these states are followed by the Partner's PM engine (validation, tasks, measuring).
LIVE_JOB_STATES: tuple[int, ...] = tuple(
    s for s in Pm.PerformanceJobState.values() if s and s not in JOB.terminal
)
