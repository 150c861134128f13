"""Test jobs: validation, creation, state changes and task requests (runs: domain/sft/runs.py).

Validation reads the buyer's services and profiles (async, before the write);
everything else is a function of a `Tx`, so a job change, its stream item and
its events commit together. Every state change of a job is three things in one
transaction: the job (with its state history), a StreamTestResults item, and a
TEST_JOB_STATE_CHANGE event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    inventory_pb2,
    service_test_pb2,
)
from interlude_server.core.errors import (
    Errors,
    NotFound,
    PolicyRule,
    PolicyViolation,
)
from interlude_server.core.ids import new_id
from interlude_server.core.mef import mef_name
from interlude_server.domain import documents, resources, subjects
from interlude_server.domain.sft import fault
from interlude_server.domain.sft import profiles as test_profiles
from interlude_server.domain.sft.catalog import BY_CONFIGURATION_TYPE, Capability, Resolved, resolve
from interlude_server.domain.sft.events import task_event
from interlude_server.domain.sft.states import TASK_ACTION, TEST_JOB
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.interface.store import Store, Tx

St = service_test_pb2
Ev = events_pb2
NOT_FOUND = "TEST_RESOURCE_NOT_FOUND"
_SIDES = ("test_job.related_service_from.id", "test_job.related_service_to.id")


class ConsentRequired(PolicyViolation):
    """An OUT_OF_SERVICE test of an active service without the buyer's consent flag."""

    reason = "OUT_OF_SERVICE_CONSENT_REQUIRED"


def nanos(ts: timestamp_pb2.Timestamp) -> int:
    return int(ts.ToNanoseconds())


@dataclass(frozen=True)
class PreparedJob:
    """A validated job (with its resolved parameters) ready to commit."""

    job: service_test_pb2.TestJob
    resolved: Resolved


async def profile_layer(
    store: Store, buyer_id: str, job: service_test_pb2.TestJob, errors: Errors
) -> tuple[str, service_test_pb2.TestProfile | service_test_pb2.TestProfileValue | None]:
    """The job's profile settings (a referenced profile or the inline value) and their field path."""
    if job.HasField("test_profile_ref"):
        profile = await store.get_test_profile(buyer_id, job.test_profile_ref.id)
        if profile is None:
            raise NotFound("TestProfile", job.test_profile_ref.id, NOT_FOUND)
        return "test_profile_ref", profile
    if job.HasField("test_profile_value"):
        return "test_profile_value", job.test_profile_value
    errors.add("test_job.test_profile", "give test_profile_ref or test_profile_value", "missingProperty")
    return "", None


def _capability(job: service_test_pb2.TestJob, errors: Errors) -> Capability | None:
    urn = job.service_specific_test_job_configuration.type
    capability = BY_CONFIGURATION_TYPE.get(urn)
    where = "test_job.service_specific_test_job_configuration.@type"
    if not urn:
        errors.add(where, "required: the configuration URN of a test capability", "missingProperty")
    elif capability is None:
        errors.add(where, f"{urn!r} is not a test this Partner runs; see GetTestCapabilities")
    elif job.test_type and job.test_type != capability.test_type:
        errors.add("test_job.test_type", f"disagrees with the configuration @type {urn!r}")
    return capability


def _check_required(job: service_test_pb2.TestJob, now: timestamp_pb2.Timestamp, errors: Errors) -> None:
    if not job.name:
        errors.add("test_job.name", "required", "missingProperty")
    for side in ("related_service_from", "related_service_to"):
        if not getattr(job, side).id:
            errors.add(f"test_job.{side}.id", "required", "missingProperty")
    if not job.HasField("requested_end_date_time"):
        errors.add("test_job.requested_end_date_time", "required", "missingProperty")
    elif nanos(job.requested_end_date_time) <= nanos(now):
        errors.add("test_job.requested_end_date_time", "must be in the future")
    elif job.HasField("requested_start_date_time") and nanos(job.requested_start_date_time) >= nanos(
        job.requested_end_date_time
    ):
        errors.add("test_job.requested_start_date_time", "must be before requested_end_date_time")
    if job.HasField("recurrence_period"):
        errors.add("test_job.recurrence_period", "recurring tests are not supported by this Partner yet")


async def _services(
    store: Store, buyer_id: str, job: service_test_pb2.TestJob
) -> tuple[inventory_pb2.Service, inventory_pb2.Service]:
    """Both end points; another buyer's service is NOT_FOUND exactly like a missing one."""
    found = []
    for ref in (job.related_service_from, job.related_service_to):
        service = await store.get_service(buyer_id, ref.id)
        if service is None:
            raise NotFound("Service", ref.id, "SERVICE_NOT_FOUND")
        found.append(service)
    return found[0], found[1]


def _check_services(
    capability: Capability,
    job: service_test_pb2.TestJob,
    services: tuple[inventory_pb2.Service, inventory_pb2.Service],
    errors: Errors,
) -> None:
    for side, service in zip(("related_service_from", "related_service_to"), services, strict=True):
        if service.service_configuration.type not in capability.service_types:
            errors.add(
                f"test_job.{side}.id",
                f"{capability.name} does not apply to {service.service_configuration.type}",
            )
    if job.test_mode not in capability.modes:
        errors.add(
            "test_job.test_mode", f"{capability.name} does not run {mef_name(St.TestMode, job.test_mode)}"
        )


def _check_consent(job: service_test_pb2.TestJob, services: tuple[inventory_pb2.Service, ...]) -> None:
    if job.test_mode != St.TEST_MODE_OUT_OF_SERVICE or job.out_of_service_consent:
        return
    active = [s.id for s in services if s.state == common_pb2.SERVICE_STATE_ACTIVE]
    if active:
        raise ConsentRequired(
            "an out-of-service test interrupts the customer traffic of an active service; "
            "set out_of_service_consent to agree",
            [
                PolicyRule(f"service:{sid}", "active service: out-of-service testing needs consent")
                for sid in active
            ],
        )


async def resolve_job(
    store: Store, buyer_id: str, job: service_test_pb2.TestJob, errors: Errors
) -> Resolved | None:
    """The job's parameters: capability defaults, then its profile, then its own configuration."""
    capability = _capability(job, errors)
    where, profile = await profile_layer(store, buyer_id, job, errors)
    if capability is None:
        return None
    layers: list[tuple[str, dict[str, Any]]] = []
    if profile is not None and profile.HasField("service_specific_test_profile_configuration"):
        config = profile.service_specific_test_profile_configuration
        if config.type and config.type != capability.configuration_type:
            errors.add(
                f"test_job.{where}", f"is a profile for {config.type}, not {capability.configuration_type}"
            )
        layers.append(
            (f"test_job.{where}.service_specific_test_profile_configuration", documents.to_dict(config))
        )
    job_config = job.service_specific_test_job_configuration
    layers.append(("test_job.service_specific_test_job_configuration", documents.to_dict(job_config)))
    source = await store.get_service(buyer_id, job.related_service_from.id)
    service_config = documents.to_dict(source.service_configuration) if source is not None else {}
    return resolve(capability, layers, service_config, errors)


async def prepare_job(
    store: Store, buyer_id: str, requested: service_test_pb2.TestJob, now: timestamp_pb2.Timestamp
) -> PreparedJob:
    """Validate a requested job; raises InvalidArgument (all violations), NotFound or ConsentRequired."""
    job = St.TestJob()
    job.CopyFrom(requested)
    if not job.test_mode:
        job.test_mode = St.TEST_MODE_IN_SERVICE
    errors = Errors()
    _check_required(job, now, errors)
    errors.raise_if_any("the test job is not valid")
    services = await _services(store, buyer_id, job)
    await subjects.check_pair(store, buyer_id, services, _SIDES, errors)
    resolved = await resolve_job(store, buyer_id, job, errors)
    if resolved is not None:
        _check_services(resolved.capability, job, services, errors)
    errors.raise_if_any("the test job is not valid")
    assert resolved is not None
    _check_consent(job, services)
    job.test_type = resolved.capability.test_type  # type: ignore[assignment]
    return PreparedJob(job, resolved)


def stream_item(tx: Tx, job: service_test_pb2.TestJob, run_number: int, **kind: Any) -> None:
    tx.append_test_item(job.buyer_id, job.id, run_number, St.StreamTestResultsResponse(**kind))


def change_state(
    tx: Tx,
    job: service_test_pb2.TestJob,
    action: str,
    now: timestamp_pb2.Timestamp,
    reason: str = "",
    task_id: str = "",
) -> None:
    """Move the job by `action` of the state table, recording history, stream item and event."""
    job.state = TEST_JOB.next(job.state, action)  # type: ignore[assignment]
    change = St.TestJobStateChange(state=job.state, change_time=now, reason=reason, test_job_task_id=task_id)
    job.state_history.append(change)
    job.last_modified_date.CopyFrom(now)
    job.etag = resources.next_etag(job.etag)
    if job.state == St.TEST_JOB_STATE_IN_PROGRESS and not job.HasField("actual_start_date_time"):
        job.actual_start_date_time.CopyFrom(now)
    if job.state in TEST_JOB.terminal:
        job.actual_end_date_time.CopyFrom(now)
    tx.put_test_job(job)
    run = tx.get_test_run(job.buyer_id, job.id)
    stream_item(tx, job, run.run_number if run else 0, state_change=change)
    state = TEST_JOB.state_name(job.state)
    fault.emit(tx, Ev.EVENT_TYPE_TEST_JOB_STATE_CHANGE, job, now, job.test_type, state=state)


def commit_new_job(
    tx: Tx, buyer_id: str, prepared: PreparedJob, now: timestamp_pb2.Timestamp
) -> service_test_pb2.TestJob:
    """Store a validated job in state ACKNOWLEDGED and mark its profile ASSIGNED."""
    job = St.TestJob()
    job.CopyFrom(prepared.job)
    for name in ("actual_start_date_time", "actual_end_date_time", "state_history", "termination_error"):
        job.ClearField(name)
    resources.stamp_new(job, buyer_id)
    job.state = St.TEST_JOB_STATE_ACKNOWLEDGED
    job.creation_date.CopyFrom(now)
    job.last_modified_date.CopyFrom(now)
    change = St.TestJobStateChange(state=job.state, change_time=now)
    job.state_history.append(change)
    tx.put_test_job(job)
    tx.put_test_run(buyer_id, job.id, SftRun(0, 0, None, ""))
    stream_item(tx, job, 0, state_change=change)
    fault.emit(tx, Ev.EVENT_TYPE_TEST_JOB_CREATE, job, now, job.test_type, state="acknowledged")
    if job.HasField("test_profile_ref"):
        test_profiles.assign(tx, buyer_id, job.test_profile_ref.id, now)
    return job


def _job_for_task(tx: Tx, buyer_id: str, job_id: str, etag: str) -> service_test_pb2.TestJob:
    return resources.for_change(tx.get_test_job(buyer_id, job_id), "TestJob", job_id, etag, NOT_FOUND)


def request_task(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    task_type: int,
    reason: str,
    etag: str,
    now: timestamp_pb2.Timestamp,
    modification: service_test_pb2.TestJobModification | None = None,
) -> service_test_pb2.TestJobTask:
    """Create an ACKNOWLEDGED task if the job's state allows its action (else INVALID_STATE_TRANSITION).
    Cancel and modify put the job into its assessing state at once, as MEF describes."""
    job = _job_for_task(tx, buyer_id, job_id, etag)
    action = TASK_ACTION[task_type]
    TEST_JOB.check(job.state, action)
    task = St.TestJobTask(
        id=new_id(),
        task_type=task_type,  # type: ignore[arg-type]
        state=St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED,
        test_job=St.TestJobRef(id=job.id),
        reason=reason,
        creation_date=now,
        last_modified_date=now,
        buyer_id=buyer_id,
    )
    if modification is not None:
        task.modification.CopyFrom(modification)
    tx.put_test_job_task(task)
    task_event(tx, task, now)
    if action in ("cancel", "modify"):
        change_state(tx, job, action, now, reason, task.id)
    return task


def apply_modification(job: service_test_pb2.TestJob, mod: service_test_pb2.TestJobModification) -> None:
    """Apply the fields a modify task sets."""
    for name in ("name", "description", "out_of_service_consent"):
        if mod.HasField(name):
            setattr(job, name, getattr(mod, name))
    for name in (
        "requested_start_date_time",
        "requested_end_date_time",
        "related_service_from",
        "related_service_to",
        "service_specific_test_job_configuration",
    ):
        if mod.HasField(name):  # type: ignore[arg-type]
            getattr(job, name).CopyFrom(getattr(mod, name))
    which = mod.WhichOneof("test_profile")
    if which is not None:
        getattr(job, which).CopyFrom(getattr(mod, which))
    if mod.test_mode:
        job.test_mode = mod.test_mode
    if mod.HasField("fault_management"):  # the FM attributes it sets replace the job's
        job.fault_management.MergeFrom(mod.fault_management)


def modify_preview(
    job: service_test_pb2.TestJob, modification: service_test_pb2.TestJobModification, reason: str
) -> service_test_pb2.TestJobTask:
    """What a validate_only ModifyTestJob answers: the task it would request."""
    return service_test_pb2.TestJobTask(
        task_type=service_test_pb2.TEST_JOB_TASK_TYPE_MODIFY,
        state=service_test_pb2.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED,
        test_job=service_test_pb2.TestJobRef(id=job.id),
        modification=modification,
        reason=reason,
        buyer_id=job.buyer_id,
    )
