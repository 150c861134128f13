"""PM jobs and their modify/cancel tasks, each step in one transaction with its events.

The buyer's requests (create, suspend, resume, modify, cancel) are checked
against the JOB table *before* anything is stored, so an invalid transition is
refused at once with the current state named. Partner-side steps (validation,
start, applying a task, completion) re-read the job and act only if it is still
where the step expects, so a step repeated after a crash does nothing twice.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2
from interlude_server.core.errors import InvalidState, NotFound
from interlude_server.core.ids import new_id
from interlude_server.domain import audit, resources
from interlude_server.domain.performance import audit as pm_audit
from interlude_server.domain.performance.model import settings_of, subject_ids
from interlude_server.domain.performance.profiles import NOT_FOUND, set_assigned
from interlude_server.domain.performance.states import JOB, TASK
from interlude_server.domain.performance.validate import check_job
from interlude_server.store.interface.store import Tx

Pm = performance_pb2
Ev = events_pb2
ACTIONS = {Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY: "modify", Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL: "cancel"}


def _bump(job: Pm.PerformanceJob, now: timestamp_pb2.Timestamp) -> None:
    job.etag = resources.next_etag(job.etag)
    job.last_time_modified.CopyFrom(now)


def new_job(buyer_id: str, job: Pm.PerformanceJob, now: timestamp_pb2.Timestamp) -> Pm.PerformanceJob:
    """The job as it will be stored: validated, ACKNOWLEDGED, with the output-only fields set."""
    check_job(job)
    created = Pm.PerformanceJob()
    created.CopyFrom(job)
    for name in ("termination_error", "state_history"):
        created.ClearField(name)
    resources.stamp_new(created, buyer_id)
    created.href = ""
    created.state = Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED
    created.state_history.add(state=created.state, change_time=now, reason="received")
    created.creation_date_time.CopyFrom(now)
    created.last_time_modified.CopyFrom(now)
    return created


def create_job(tx: Tx, job: Pm.PerformanceJob, now: timestamp_pb2.Timestamp) -> Pm.PerformanceJob:
    """Store an acknowledged job; its profile and services must be the buyer's."""
    buyer = job.buyer_id
    profile_id = job.performance_profile_ref.id
    if profile_id and tx.get_pm_profile(buyer, profile_id) is None:
        raise NotFound("PerformanceProfile", profile_id, NOT_FOUND)
    for service_id in subject_ids(job.monitored_object):
        if tx.get_service(buyer, service_id) is None:
            raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")
    tx.put_pm_job(job)
    set_assigned(tx, buyer, profile_id)
    pm_audit.track(tx, job, now, pm_audit.CLIENT, "job acknowledged", "create")
    audit.emit(tx, Ev.EVENT_TYPE_PERFORMANCE_JOB_CREATE, job, now, state=JOB.state_name(job.state))
    return job


def get_job(tx: Tx, buyer_id: str, job_id: str, etag: str = "") -> Pm.PerformanceJob:
    """The buyer's job, read for a change based on `etag` (if given)."""
    return resources.for_change(tx.get_pm_job(buyer_id, job_id), "PerformanceJob", job_id, etag, NOT_FOUND)


def move_job(
    tx: Tx,
    job: Pm.PerformanceJob,
    action: str,
    now: timestamp_pb2.Timestamp,
    reason: str,
    *,
    source: Pm.PerformanceTrackingSource.ValueType = pm_audit.SERVER,
    task_id: str = "",
) -> Pm.PerformanceJob:
    """Move the job by `action` (per JOB), with its history entry, record and state-change event."""
    job.state = JOB.next(job.state, action)  # type: ignore[assignment]
    job.state_history.add(state=job.state, change_time=now, reason=reason, performance_job_task_id=task_id)
    _bump(job, now)
    tx.put_pm_job(job)
    if job.state in JOB.terminal:
        set_assigned(tx, job.buyer_id, job.performance_profile_ref.id)
    state = JOB.state_name(job.state)
    pm_audit.track(tx, job, now, source, f"{action}: now {state}; {reason}")
    audit.emit(tx, Ev.EVENT_TYPE_PERFORMANCE_JOB_STATE_CHANGE, job, now, state=state, reason=reason)
    return job


def suspend_or_resume(
    tx: Tx, buyer_id: str, job_id: str, action: str, etag: str, reason: str, now: timestamp_pb2.Timestamp
) -> Pm.PerformanceJob:
    """The buyer suspends or resumes a job (MEF v5: an action on the job, no task)."""
    job = get_job(tx, buyer_id, job_id, etag)
    why = reason or f"{action} requested by the buyer"
    return move_job(tx, job, action, now, why, source=pm_audit.CLIENT)


def request_task(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    task_type: Pm.PerformanceJobTaskType.ValueType,
    etag: str,
    reason: str,
    now: timestamp_pb2.Timestamp,
    modification: Pm.PerformanceJobModification | None = None,
) -> Pm.PerformanceJobTask:
    """The buyer asks to modify or cancel: an ACKNOWLEDGED task, if the job's state allows it now."""
    job = get_job(tx, buyer_id, job_id, etag)
    action = ACTIONS[task_type]
    JOB.check(job.state, action)
    if open_tasks := tx.open_pm_tasks(buyer_id, job_id):
        raise InvalidState(
            f"cannot {action} the performance job: task {open_tasks[0].id} on it is still "
            f"{TASK.state_name(open_tasks[0].state)}",
            JOB.state_name(job.state),
        )
    task = Pm.PerformanceJobTask(
        id=new_id(),
        task_type=task_type,
        state=Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED,
        performance_job=Pm.PerformanceJobRef(id=job_id),
        reason=reason,
        creation_date_time=now,
        last_time_modified=now,
        buyer_id=buyer_id,
    )
    if modification is not None:
        task.modification.CopyFrom(modification)
    tx.put_pm_task(task)
    pm_audit.track(tx, job, now, pm_audit.CLIENT, f"{action} task {task.id} received")
    pm_audit.task_event(tx, task, now, TASK.state_name(task.state))
    return task


def _move_task(tx: Tx, task: Pm.PerformanceJobTask, action: str, now: timestamp_pb2.Timestamp) -> None:
    task.state = TASK.next(task.state, action)  # type: ignore[assignment]
    task.last_time_modified.CopyFrom(now)
    tx.put_pm_task(task)
    pm_audit.task_event(tx, task, now, TASK.state_name(task.state))


def apply_modification(
    job: Pm.PerformanceJob, change: Pm.PerformanceJobModification, profile: Pm.PerformanceProfile | None
) -> None:
    """Apply a modification: set profile fields change the job's own settings (a referenced
    profile is copied into an inline value first, so the shared profile never changes)."""
    if change.HasField("performance_profile_value"):
        value = settings_of(job, profile)
        for field, new in change.performance_profile_value.ListFields():
            if field.message_type is not None:
                getattr(value, field.name).CopyFrom(new)
            else:
                setattr(value, field.name, new)
        job.performance_profile_value.CopyFrom(value)
    if change.HasField("schedule_definition"):
        job.schedule_definition.CopyFrom(change.schedule_definition)
    for name in ("buyer_job_id", "consuming_application_id", "producing_application_id", "description"):
        if change.HasField(name):
            setattr(job, name, getattr(change, name))


def starts_later(job: Pm.PerformanceJob, now: timestamp_pb2.Timestamp) -> bool:
    """Whether the job's schedule starts after `now`."""
    start = job.schedule_definition.schedule_definition_start_time
    return job.schedule_definition.HasField("schedule_definition_start_time") and (
        start.ToNanoseconds() > now.ToNanoseconds()
    )


def advance_task(
    tx: Tx, buyer_id: str, task_id: str, now: timestamp_pb2.Timestamp
) -> Pm.PerformanceJobTask | None:
    """One Partner step of a task: accept (or reject) it, then carry it out."""
    task = tx.get_pm_task(buyer_id, task_id)
    if task is None or task.state in TASK.terminal:
        return task
    job = get_job(tx, buyer_id, task.performance_job.id)
    action = ACTIONS[task.task_type]
    if task.state == Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED:
        if not JOB.can(job.state, action):
            task.denied_reason = f"the job is {JOB.state_name(job.state)} now"
            task.termination_error.add(
                code=common_pb2.VALIDATION_ERROR_CODE_OTHER_ISSUE, reason=task.denied_reason
            )
            _move_task(tx, task, "reject", now)
            return task
        move_job(tx, job, action, now, task.reason or f"{action} accepted", task_id=task.id)
        _move_task(tx, task, "accept", now)
        return task
    if task.task_type == Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY:
        profile = tx.get_pm_profile(buyer_id, job.performance_profile_ref.id)
        apply_modification(job, task.modification, profile)
        action = "reschedule" if starts_later(job, now) else "restart"  # per the (new) schedule
        move_job(tx, job, action, now, "modification applied", task_id=task.id)
        changed = Ev.EVENT_TYPE_PERFORMANCE_JOB_ATTRIBUTE_VALUE_CHANGE
        audit.emit(
            tx, changed, job, now, state=JOB.state_name(job.state), reason=f"modified by task {task.id}"
        )
    else:
        move_job(tx, job, "cancelled", now, "resources released", task_id=task.id)
    _move_task(tx, task, "complete", now)
    return task


def partner_step(
    tx: Tx, buyer_id: str, job_id: str, expected: int, action: str, now: timestamp_pb2.Timestamp, reason: str
) -> Pm.PerformanceJob | None:
    """Move the job by `action` if it is still in the `expected` state; else leave it."""
    job = tx.get_pm_job(buyer_id, job_id)
    if job is None or job.state != expected:
        return job
    if action == "reject":
        job.termination_error.add(code=common_pb2.VALIDATION_ERROR_CODE_INVALID_VALUE, reason=reason)
    return move_job(tx, job, action, now, reason)


def modify_preview(
    job: Pm.PerformanceJob, modification: Pm.PerformanceJobModification, reason: str
) -> Pm.PerformanceJobTask:
    """What a validate_only ModifyPerformanceJob answers: the task it would request (refused
    now, naming the state, if the job cannot be modified)."""
    JOB.check(job.state, "modify")
    return Pm.PerformanceJobTask(
        task_type=Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY,
        state=Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED,
        performance_job=Pm.PerformanceJobRef(id=job.id),
        modification=modification,
        reason=reason,
        buyer_id=job.buyer_id,
    )
