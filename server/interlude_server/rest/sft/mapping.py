"""ServiceTestService messages -> MEF Service Function Testing v3 JSON (Mplify 149).

Same rules as `rest.mapping` (and its helpers): camelCase, MEF enum spellings,
RFC 3339 date-times, `href`s from the request's base URL, extension points
flattened. Our documented extensions on a job are `testMode` and
`outOfServiceConsent` (MEF has no test modes); everything else is MEF's.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, service_test_pb2
from interlude_server.rest import mapping as m

St = service_test_pb2
Json = m.Json
SFT_BASE = "/mefApi/interlude/serviceFunctionTesting/v3"

JOB_STATE = m.spellings(St.TestJobState, St.TestJobState.values())
PROCESS_STATE = m.spellings(St.TestJobProcessState, St.TestJobProcessState.values())
LIFECYCLE_STATUS = m.spellings(St.TestProfileLifecycleStatus, St.TestProfileLifecycleStatus.values())
LIFECYCLE_STATE = m.spellings(St.TestProfileLifecycleState, St.TestProfileLifecycleState.values())
ROLE = m.spellings(St.TestProfileRelationshipRole, St.TestProfileRelationshipRole.values())
TEST_MODE = m.spellings(St.TestMode, St.TestMode.values())


class TaskKind:
    """One MEF task resource (`cancelTestJob`, ...): its path, type and reason properties."""

    def __init__(self, resource: str, task_type: int, reason: str, denied: str) -> None:
        self.resource = resource
        self.task_type = task_type
        self.reason = reason  # e.g. `cancellationReason`
        self.denied = denied  # e.g. `cancellationDeniedReason`


TASKS = (
    TaskKind("cancelTestJob", St.TEST_JOB_TASK_TYPE_CANCEL, "cancellationReason", "cancellationDeniedReason"),
    TaskKind("modifyTestJob", St.TEST_JOB_TASK_TYPE_MODIFY, "modificationReason", "modificationDeniedReason"),
    TaskKind("suspendTestJob", St.TEST_JOB_TASK_TYPE_SUSPEND, "suspensionReason", "suspensionDeniedReason"),
    TaskKind("resumeTestJob", St.TEST_JOB_TASK_TYPE_RESUME, "resumptionReason", "resumptionDeniedReason"),
)
TASK_BY_TYPE = {t.task_type: t for t in TASKS}


class SftHrefs:
    """Absolute URLs of test resources under a request's base URL."""

    def __init__(self, hrefs: m.Hrefs) -> None:
        self.services = hrefs
        self.root = hrefs.base + SFT_BASE + "/"

    def job(self, job_id: str) -> str:
        return self.root + "testJob/" + job_id

    def profile(self, profile_id: str) -> str:
        return self.root + "testProfile/" + profile_id

    def result(self, result_id: str) -> str:
        return self.root + "testResult/" + result_id

    def task(self, task_type: int, task_id: str) -> str:
        return self.root + TASK_BY_TYPE[task_type].resource + "/" + task_id

    def of_event(self, ref: events_pb2.ResourceRef, event: events_pb2.Event) -> str:
        """The href of a test resource an event is about ("" for other resources)."""
        kind = ref.resource_type
        if kind == events_pb2.RESOURCE_TYPE_TEST_JOB:
            return self.job(ref.id)
        if kind == events_pb2.RESOURCE_TYPE_TEST_PROFILE:
            return self.profile(ref.id)
        if kind == events_pb2.RESOURCE_TYPE_TEST_RESULT:
            return self.result(ref.id)
        if kind == events_pb2.RESOURCE_TYPE_TEST_JOB_TASK and event.HasField("test_job_task"):
            return self.task(event.test_job_task.task_type, ref.id)
        return ""


def _times(out: Json, **stamps: timestamp_pb2.Timestamp) -> None:
    for key, ts in stamps.items():
        if ts.ByteSize():
            out[key] = m.time(ts)


def service_ref(r: common_pb2.ServiceRef, h: SftHrefs) -> Json:
    return {"id": r.id, "href": h.services.service(r.id)}


def contact(c: common_pb2.RelatedContactInformation) -> Json:
    """A MEF SFT `RelatedContact` (phone names differ from the inventory's contact)."""
    out: Json = {"name": c.name}
    m._optional(
        out,
        emailAddress=c.email_address,
        phoneNumber=c.number,
        phoneNumberExtension=c.number_extension,
        organization=c.organization,
    )
    return out


def _spec_ref(spec_id: str) -> Json:
    return {"id": spec_id}


def profile_ref_or_value(job: St.TestJob | St.TestJobModification, h: SftHrefs) -> Json | None:
    """MEF `TestProfileRefOrValue` (discriminated by `@type`)."""
    which = job.WhichOneof("test_profile")
    if which == "test_profile_ref":
        return {
            "@type": "TestProfileRef",
            "id": job.test_profile_ref.id,
            "href": h.profile(job.test_profile_ref.id),
        }
    if which == "test_profile_value":
        return _profile_settings({"@type": "TestProfileValue"}, job.test_profile_value)
    return None


def _profile_settings(out: Json, p: St.TestProfile | St.TestProfileValue) -> Json:
    """What a profile and an inline profile value share (each only when set)."""
    if p.HasField("service_specific_test_profile_configuration"):
        out["serviceSpecificTestProfileConfiguration"] = m.extension(
            p.service_specific_test_profile_configuration
        )
    if p.related_service_specification_id:
        out["relatedServiceSpecification"] = _spec_ref(p.related_service_specification_id)
    if p.related_contact:
        out["relatedContact"] = [contact(c) for c in p.related_contact]
    return out


def _job_settings(out: Json, j: St.TestJob | St.TestJobModification, h: SftHrefs) -> None:
    """The properties a job and a modify task share (`TestJob_Common`)."""
    if j.HasField("requested_start_date_time"):
        out["requestedStartDateTime"] = m.time(j.requested_start_date_time)
    if j.HasField("requested_end_date_time"):
        out["requestedEndDateTime"] = m.time(j.requested_end_date_time)
    profile = profile_ref_or_value(j, h)
    if profile is not None:
        out["testProfile"] = profile
    if j.HasField("related_service_from"):
        out["relatedServiceFrom"] = service_ref(j.related_service_from, h)
    if j.HasField("related_service_to"):
        out["relatedServiceTo"] = service_ref(j.related_service_to, h)
    if j.HasField("service_specific_test_job_configuration"):
        out["serviceSpecificTestJobConfiguration"] = m.extension(j.service_specific_test_job_configuration)
    if j.test_mode:
        out["testMode"] = TEST_MODE[j.test_mode]


def job(j: St.TestJob, h: SftHrefs) -> Json:
    """A MEF `TestJob`."""
    out: Json = {
        "id": j.id,
        "href": h.job(j.id),
        "name": j.name,
        "state": JOB_STATE.get(j.state, ""),
        "creationDate": m.time(j.creation_date),
        "lastModifiedDate": m.time(j.last_modified_date),
    }
    m._optional(out, description=j.description)
    _job_settings(out, j, h)
    if j.HasField("recurrence_period"):
        out["recurrencePeriod"] = {
            "amount": j.recurrence_period.amount,
            "units": m.TIME_UNIT.get(j.recurrence_period.units, ""),
        }
    if j.out_of_service_consent:
        out["outOfServiceConsent"] = True
    _times(out, actualStartDateTime=j.actual_start_date_time, actualEndDateTime=j.actual_end_date_time)
    if j.termination_error:
        out["terminationError"] = [m.termination_error(e) for e in j.termination_error]
    return out


def job_find(j: St.TestJob, h: SftHrefs) -> Json:
    """A MEF `TestJob_Find` list item. Its `requestedStartDateTime` is required: a job that
    started immediately (none requested) gives its creation date."""
    start = j.requested_start_date_time if j.HasField("requested_start_date_time") else j.creation_date
    out: Json = {
        "id": j.id,
        "name": j.name,
        "requestedStartDateTime": m.time(start),
        "requestedEndDateTime": m.time(j.requested_end_date_time),
        "relatedServiceFrom": service_ref(j.related_service_from, h),
        "relatedServiceTo": service_ref(j.related_service_to, h),
    }
    profile = profile_ref_or_value(j, h)
    if profile is not None:
        out["testProfile"] = profile
    return out


def task(t: St.TestJobTask, h: SftHrefs) -> Json:
    """A MEF `CancelTestJob`, `ModifyTestJob`, `SuspendTestJob` or `ResumeTestJob`."""
    kind = TASK_BY_TYPE[t.task_type]
    out: Json = {
        "id": t.id,
        "href": h.task(t.task_type, t.id),
        "state": PROCESS_STATE.get(t.state, ""),
        "creationDate": m.time(t.creation_date),
        "testJob": {"id": t.test_job.id, "href": h.job(t.test_job.id)},
    }
    if t.reason:
        out[kind.reason] = t.reason
    if t.denied_reason:
        out[kind.denied] = t.denied_reason
    if t.HasField("modification"):
        mod = t.modification
        if mod.HasField("name"):
            out["name"] = mod.name
        if mod.HasField("description"):
            out["description"] = mod.description
        _job_settings(out, mod, h)
        if mod.HasField("out_of_service_consent"):
            out["outOfServiceConsent"] = mod.out_of_service_consent
    return out


def profile(p: St.TestProfile, h: SftHrefs) -> Json:
    """A MEF `TestProfile`."""
    out: Json = {
        "id": p.id,
        "href": h.profile(p.id),
        "creationDate": m.time(p.creation_date),
        "name": p.name,
        "isBundled": p.is_bundled,
    }
    _times(out, lastUpdate=p.last_update, validFor=p.valid_for)
    m._optional(
        out,
        description=p.description,
        lifecycleStatus=LIFECYCLE_STATUS.get(p.lifecycle_status, ""),
        lifecycleState=LIFECYCLE_STATE.get(p.lifecycle_state, ""),
    )
    if p.test_profile_relationship:
        out["testProfileRelationship"] = [_relationship(r) for r in p.test_profile_relationship]
    return _profile_settings(out, p)


def _relationship(r: St.TestProfileRelationship) -> Json:
    out: Json = {
        "id": r.id,
        "name": r.name,
        "role": ROLE.get(r.role, ""),
        "relatedServiceSpecification": _spec_ref(r.related_service_specification_id),
    }
    if r.order:
        out["order"] = r.order
    _times(out, validFor=r.valid_for)
    return out


def result(r: St.TestResult, h: SftHrefs, *, listed: bool = False) -> Json:
    """A MEF `TestResult`, or with `listed` the `TestResult_Common` list item (no result document)."""
    out: Json = {
        "id": r.id,
        "href": h.result(r.id),
        "testJob": {"id": r.test_job.id, "href": h.job(r.test_job.id)},
        "relatedServiceFrom": service_ref(r.related_service_from, h),
        "relatedServiceTo": service_ref(r.related_service_to, h),
        "actualStartDateTime": m.time(r.actual_start_date_time),
        "actualEndDateTime": m.time(r.actual_end_date_time),
    }
    if not listed:
        out["serviceSpecificTestResultConfiguration"] = m.extension(
            r.service_specific_test_result_configuration
        )
    return out
