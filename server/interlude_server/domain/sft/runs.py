"""A test job's runs: starting, recording steps, ending with a summary and a result, and the
Partner's decisions on cancel, modify, suspend and resume tasks.

Each function is one step of the SftRunner, run in one transaction that re-reads the job,
so a step that lost a race with a task (e.g. a cancel) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, service_test_pb2
from interlude_server.core.ids import new_id
from interlude_server.core.mef import mef_name
from interlude_server.domain import documents
from interlude_server.domain.sft import fault
from interlude_server.domain.sft import profiles as test_profiles
from interlude_server.domain.sft.catalog import BY_TYPE, Resolved
from interlude_server.domain.sft.events import task_event
from interlude_server.domain.sft.jobs import apply_modification, change_state, nanos, stream_item
from interlude_server.domain.sft.plan import RunEnd, result_document, summarize
from interlude_server.domain.sft.states import TASK_ACTION, TEST_JOB, TEST_JOB_TASK
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.interface.store import Tx

St = service_test_pb2
Ev = events_pb2


@dataclass(frozen=True)
class StepDone:
    """What a finished step produced: its name, the run's step count and its measurements."""

    name: str
    count: int
    measurements: list[service_test_pb2.TestMeasurement]


def _previous_state(job: service_test_pb2.TestJob) -> int:
    """The state before the current (assessing) one."""
    history = [c.state for c in job.state_history]
    return history[-2] if len(history) >= 2 else St.TEST_JOB_STATE_SCHEDULED


def _settle(
    tx: Tx, task: service_test_pb2.TestJobTask, now: timestamp_pb2.Timestamp, denied: str = ""
) -> None:
    task.state = TEST_JOB_TASK.next(task.state, "reject" if denied else "accept")  # type: ignore[assignment]
    task.denied_reason = denied
    task.last_modified_date.CopyFrom(now)
    tx.put_test_job_task(task)
    task_event(tx, task, now)


def settle_tasks(
    tx: Tx, buyer_id: str, job_id: str, now: timestamp_pb2.Timestamp
) -> tuple[service_test_pb2.TestJob | None, bool]:
    """The Partner's decision on every open task of the job, oldest first: the job after them,
    and whether there was any task to decide."""
    job = tx.get_test_job(buyer_id, job_id)
    if job is None:
        return None, False
    tasks = tx.open_test_job_tasks(buyer_id, job_id)
    for task in tasks:
        kind = task.task_type
        if kind == St.TEST_JOB_TASK_TYPE_CANCEL and job.state == St.TEST_JOB_STATE_ASSESSING_CANCELLATION:
            finish_run(
                tx,
                job,
                now,
                RunEnd(St.TEST_VERDICT_INCONCLUSIVE, "cancelled by the buyer before the run finished"),
            )
            _settle(tx, task, now)
            change_state(tx, job, "acceptCancellation", now, task.reason, task.id)
        elif kind == St.TEST_JOB_TASK_TYPE_MODIFY and job.state == St.TEST_JOB_STATE_ASSESSING_MODIFICATION:
            back = (
                "backToSuspended"
                if _previous_state(job) == St.TEST_JOB_STATE_SUSPENDED
                else "backToScheduled"
            )
            apply_modification(job, task.modification)
            if job.HasField("test_profile_ref"):
                test_profiles.assign(tx, buyer_id, job.test_profile_ref.id, now)
            _settle(tx, task, now)
            fault.emit(tx, Ev.EVENT_TYPE_TEST_JOB_ATTRIBUTE_VALUE_CHANGE, job, now, job.test_type)
            change_state(tx, job, back, now, task.reason, task.id)
        elif TEST_JOB.can(job.state, TASK_ACTION[kind]) and kind in (
            St.TEST_JOB_TASK_TYPE_SUSPEND,
            St.TEST_JOB_TASK_TYPE_RESUME,
        ):
            _settle(tx, task, now)
            change_state(tx, job, TASK_ACTION[kind], now, task.reason, task.id)
        else:
            _settle(tx, task, now, f"the job is {TEST_JOB.state_name(job.state)} by now")
    return job, bool(tasks)


def start(tx: Tx, buyer_id: str, job_id: str, now: timestamp_pb2.Timestamp) -> None:
    """ACKNOWLEDGED or SCHEDULED → IN_PROGRESS with run 1 (or ACKNOWLEDGED → SCHEDULED if not yet due)."""
    job = tx.get_test_job(buyer_id, job_id)
    if job is None or job.state not in (St.TEST_JOB_STATE_ACKNOWLEDGED, St.TEST_JOB_STATE_SCHEDULED):
        return
    due = not job.HasField("requested_start_date_time") or nanos(job.requested_start_date_time) <= nanos(now)
    if not due:
        if job.state == St.TEST_JOB_STATE_ACKNOWLEDGED:
            change_state(tx, job, "schedule", now)
        return
    tx.put_test_run(buyer_id, job_id, SftRun(1, 0, now, new_id()))
    change_state(tx, job, "start", now)


def record_step(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    run_number: int,
    step_index: int,
    step: StepDone,
) -> bool:
    """Store a step's measurements and its progress item if the job is still running that step;
    False if it moved on (a task or the end of the run came first)."""
    job = tx.get_test_job(buyer_id, job_id)
    run = tx.get_test_run(buyer_id, job_id)
    if job is None or run is None or job.state != St.TEST_JOB_STATE_IN_PROGRESS:
        return False
    if run.run_number != run_number or run.next_step != step_index:
        return False
    base = len(tx.sft_measurements(buyer_id, job_id, run_number))
    for offset, m in enumerate(step.measurements, start=1):
        m.sequence_number = base + offset
        stream_item(tx, job, run_number, measurement=m)
    verdicts = {m.verdict for m in step.measurements if m.HasField("threshold")}
    progress = St.TestStepProgress(
        run_number=run_number,
        step_name=step.name,
        step_number=step_index + 1,
        step_count=step.count,
    )
    if verdicts:
        progress.verdict = St.TEST_VERDICT_FAIL if St.TEST_VERDICT_FAIL in verdicts else St.TEST_VERDICT_PASS
    stream_item(tx, job, run_number, step_progress=progress)
    tx.put_test_run(buyer_id, job_id, SftRun(run.run_number, step_index + 1, run.started, run.result_id))
    return True


def _profile_settings(tx: Tx, job: service_test_pb2.TestJob) -> service_test_pb2.TestProfileValue:
    """The job's profile settings: its inline value, or those of the profile it references."""
    if not job.HasField("test_profile_ref"):
        return job.test_profile_value
    profile = tx.get_test_profile(job.buyer_id, job.test_profile_ref.id)
    if profile is None:
        return St.TestProfileValue()
    return St.TestProfileValue(
        related_service_specification_id=profile.related_service_specification_id,
        related_contact=profile.related_contact,
    )


def finish_run(
    tx: Tx,
    job: service_test_pb2.TestJob,
    now: timestamp_pb2.Timestamp,
    end: RunEnd | None,
    planned_steps: int = 0,
    resolved: Resolved | None = None,
) -> service_test_pb2.TestResult | None:
    """End the current run: its summary item, its result (TEST_RESULT_CREATE), once."""
    run = tx.get_test_run(job.buyer_id, job.id)
    if run is None or run.run_number == 0 or not run.result_id:
        return None
    measurements = tx.sft_measurements(job.buyer_id, job.id, run.run_number)
    summary = summarize(run.result_id, run.run_number, measurements, planned_steps, end)
    stream_item(tx, job, run.run_number, summary=summary)
    capability = BY_TYPE[job.test_type]
    result = St.TestResult(
        id=run.result_id,
        test_job=St.TestJobRef(id=job.id),
        related_service_from=job.related_service_from,
        related_service_to=job.related_service_to,
        actual_start_date_time=run.started or now,
        actual_end_date_time=now,
        test_type=job.test_type,
        run_number=run.run_number,
        measurements=measurements,
        summary=summary,
        creation_date=now,
        buyer_id=job.buyer_id,
        fault_management=job.fault_management,
    )
    result.service_specific_test_result_configuration.type = capability.result_type
    if resolved is not None:
        documents.set_attributes(
            result.service_specific_test_result_configuration, result_document(resolved, summary)
        )
    tx.put_test_result(result, job, _profile_settings(tx, job))
    tx.put_test_run(job.buyer_id, job.id, SftRun(run.run_number, run.next_step, run.started, ""))
    fault.emit(tx, Ev.EVENT_TYPE_TEST_RESULT_CREATE, result, now, job.test_type)
    failed = f"{end.error_code}: {end.reason}" if end is not None and end.error_code else ""
    fault.report_done(tx, job, result, now, failed)
    if end is not None and end.error_code:
        job.termination_error.append(
            common_pb2.TerminationError(
                code=common_pb2.VALIDATION_ERROR_CODE_OTHER_ISSUE, reason=f"{end.error_code}: {end.reason}"
            )
        )
    return result


def complete(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    now: timestamp_pb2.Timestamp,
    end: RunEnd | None,
    planned_steps: int,
    resolved: Resolved,
) -> None:
    """Finish the run and the job: summary, result, then COMPLETED."""
    job = tx.get_test_job(buyer_id, job_id)
    if job is None or job.state != St.TEST_JOB_STATE_IN_PROGRESS:
        return
    result = finish_run(tx, job, now, end, planned_steps, resolved)
    reason = "" if result is None else f"verdict {mef_name(St.TestVerdict, result.summary.verdict)}"
    change_state(tx, job, "complete", now, reason)
