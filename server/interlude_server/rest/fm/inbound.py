"""MEF JSON -> ServiceTestService messages: the bodies of Fault Management v3 (Mplify 148).

`FaultManagementJob_Create` becomes a TestJob of the FM procedure its
`serviceSpecificConfiguration.@type` names, between the `ServiceFromToRef` end points of its
`monitoredObject`; the attributes a test job has no field for go to its
`fault_management` settings. What this Partner cannot do is refused (422) rather than
ignored: a `ServiceRef` or `EntityRef` subject (a procedure runs between two end points),
a recurring schedule, and output other than JSON inline (`json`, `payload`).
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import fault_management_pb2, performance_pb2, service_test_pb2
from interlude_server.rest.performance import inbound as pm_in
from interlude_server.rest.service.inbound import Json, Reader, extension, job_ref, task_subject

St = service_test_pb2
Pm = performance_pb2
_SETTINGS = {"granularity", "jobPriority", "outputFormat", "reportingPeriod", "resultFormat"}
_JOB_KEYS = {*_SETTINGS, "description", "jobType", "monitoredObject", "scheduleDefinition"}
_JOB_KEYS |= {"serviceSpecificConfiguration"}
_REQUIRED: tuple[str, ...] = ("granularity", "jobType", "monitoredObject", "outputFormat")
_REQUIRED += ("reportingPeriod", "resultFormat", "scheduleDefinition", "serviceSpecificConfiguration")
_MODIFY_KEYS = {*_SETTINGS, "description", "faultManagementJob", "scheduleDefinition"}
_MODIFY_KEYS |= {"serviceSpecificConfiguration"}
_JOB_NAME = "fault management job"  # a test job's name when the FM body has no description


def _settings(r: Reader, d: Json, into: fault_management_pb2.FaultManagementSettings) -> None:
    """granularity, reportingPeriod, jobPriority, outputFormat, resultFormat (and jobType)."""
    for key, name in (("granularity", "granularity"), ("reportingPeriod", "reporting_period")):
        if key in d:
            pm_in._duration(r, d[key], f"/{key}", getattr(into, name))
    priority = pm_in._integer(r, d, "jobPriority", "")
    if priority is not None:
        if not 1 <= priority <= 10:
            r.add("/jobPriority", "must be between 1 (highest) and 10")
        into.job_priority = priority
    into.job_type = r.enum(d, "jobType", "", pm_in._JOB_TYPE)  # type: ignore[assignment]
    into.output_format = r.enum(d, "outputFormat", "", pm_in._OUTPUT)  # type: ignore[assignment]
    into.result_format = r.enum(d, "resultFormat", "", pm_in._RESULT)  # type: ignore[assignment]
    if into.output_format not in (0, Pm.PERFORMANCE_OUTPUT_FORMAT_JSON):
        r.add("/outputFormat", "this Partner produces FM reports as json only")
    if into.result_format not in (0, Pm.PERFORMANCE_RESULT_FORMAT_PAYLOAD):
        r.add("/resultFormat", "this Partner delivers FM results as payload (inline) only")


def _schedule(r: Reader, d: Json, job: St.TestJob | St.TestJobModification, fm: Any) -> None:
    s = Pm.ScheduleDefinition()
    pm_in._schedule(r, d["scheduleDefinition"], "/scheduleDefinition", s)
    if s.HasField("recurring_schedule"):
        where = "/scheduleDefinition/recurringSchedule"
        r.add(where, "recurring FM jobs are not supported by this Partner yet: each job runs once")
    if s.HasField("schedule_definition_start_time"):
        job.requested_start_date_time.CopyFrom(s.schedule_definition_start_time)
    if s.HasField("schedule_definition_end_time"):
        job.requested_end_date_time.CopyFrom(s.schedule_definition_end_time)
    if s.HasField("execution_duration"):
        fm.execution_duration.CopyFrom(s.execution_duration)


def _subject(r: Reader, doc: Any, job: St.TestJob) -> None:
    subject = Pm.MonitoredObjectRef()
    pm_in._monitored(r, doc, "/monitoredObject", subject)
    kind = subject.WhichOneof("ref")
    if kind == "service_from_to":
        job.related_service_from.CopyFrom(subject.service_from_to.service_from)
        job.related_service_to.CopyFrom(subject.service_from_to.service_to)
    elif kind is not None:
        r.add(
            "/monitoredObject/@type",
            "an FM procedure runs between two end points: give a ServiceFromToRef "
            "(the MEP or host it starts from, and its target)",
        )


def job(doc: Any) -> St.TestJob:
    """The TestJob for a `FaultManagementJob_Create` body."""
    r = Reader()
    d = r.obj(doc, "", _JOB_KEYS, _REQUIRED)
    out = St.TestJob(description=r.string(d, "description", ""))
    out.name = out.description[:200] or _JOB_NAME
    out.test_profile_value.SetInParent()  # the FM body carries every setting itself
    _settings(r, d, out.fault_management)
    if "monitoredObject" in d:
        _subject(r, d["monitoredObject"], out)
    if "scheduleDefinition" in d:
        _schedule(r, d, out, out.fault_management)
    if "serviceSpecificConfiguration" in d:
        config = extension(r, d["serviceSpecificConfiguration"], "/serviceSpecificConfiguration")
        out.service_specific_test_job_configuration.CopyFrom(config)
    r.raise_if_any()
    return out


def _job_id(r: Reader, d: Json) -> str:
    return job_ref(r, d, "faultManagementJob")


def cancel(doc: Any) -> str:
    """The job a `CancelFaultManagementJob_Create` body names."""
    return task_subject(doc, "faultManagementJob")


def modification(doc: Any) -> tuple[str, St.TestJobModification]:
    """The job and the changes a `ModifyFaultManagementJob_Create` body asks for."""
    r = Reader()
    d = r.obj(doc, "", _MODIFY_KEYS, ("faultManagementJob",))
    job_id = _job_id(r, d)
    out = St.TestJobModification()
    if "description" in d:
        out.description = r.string(d, "description", "")
    _settings(r, d, out.fault_management)
    if "scheduleDefinition" in d:
        _schedule(r, d, out, out.fault_management)
    if "serviceSpecificConfiguration" in d:
        config = extension(r, d["serviceSpecificConfiguration"], "/serviceSpecificConfiguration")
        out.service_specific_test_job_configuration.CopyFrom(config)
    if out.fault_management == fault_management_pb2.FaultManagementSettings():
        out.ClearField("fault_management")
    r.raise_if_any()
    return job_id, out
