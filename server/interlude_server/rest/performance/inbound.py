"""MEF JSON -> PerformanceService messages: the create bodies of performanceMonitoring v5
(`PerformanceProfile_Create`, `PerformanceJob_Create`, `CancelPerformanceJob_Create`).

Built on `rest.inbound.Reader`: every problem is collected with its JSON Pointer and
reported at once (422). What the body spells correctly but the contract refuses (e.g. a
granularity this Partner does not offer) is left to PerformanceService, whose field
violations become 422 entries like any other call's.
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.rest.performance import mapping as pm
from interlude_server.rest.service.inbound import Json, Reader, _reverse, extension, job_ref, task_subject

Pm = performance_pb2

_LIFECYCLE = _reverse(pm.LIFECYCLE_STATUS)
_JOB_TYPE = _reverse(pm.JOB_TYPE)
_OUTPUT = _reverse(pm.OUTPUT_FORMAT)
_RESULT = _reverse(pm.RESULT_FORMAT)
_UNITS = _reverse(pm.UNITS)
_SETTINGS = (
    "granularity",
    "jobType",
    "outputFormat",
    "reportingPeriod",
    "resultFormat",
    "serviceSpecificConfiguration",
)
_PROFILE_KEYS = {*_SETTINGS, "jobPriority", "lifecycleStatus", "description"}
_VALUE_KEYS = {*_SETTINGS, "jobPriority", "@type"}
_JOB_KEYS = {
    "buyerJobId",
    "consumingApplicationId",
    "description",
    "monitoredObject",
    "performanceProfile",
    "producingApplicationId",
    "scheduleDefinition",
}
_SCHEDULE_KEYS = {
    "scheduleDefinitionStartTime",
    "scheduleDefinitionEndTime",
    "recurringSchedule",
    "executionDuration",
}
_RECURRING = {"second": "second", "minute": "minute", "hour": "hour", "dayOfMonth": "day_of_month"}
_RECURRING |= {"month": "month", "dayOfWeek": "day_of_week"}


_INT32 = (-(2**31), 2**31 - 1)  # the contract's field is int32 (job_priority)
_INT64 = (-(2**63), 2**63 - 1)  # ... or int64 (TimeDuration.value)


def _integer(r: Reader, doc: Json, key: str, path: str, bounds: tuple[int, int] = _INT32) -> int | None:
    """The integer at `key`: MEF's schema sets no bounds, but the contract's field has some, and
    a value beyond them used to fail setting it (REST 500)."""
    if key not in doc:
        return None
    v = doc[key]
    if isinstance(v, bool) or not isinstance(v, int):
        r.add(f"{path}/{key}", "must be an integer", "invalidFormat")
        return None
    if not bounds[0] <= v <= bounds[1]:
        r.add(f"{path}/{key}", f"must be between {bounds[0]} and {bounds[1]}")
        return None
    return v


def _duration(r: Reader, doc: Any, path: str, into: Pm.TimeDuration) -> None:
    d = r.obj(
        doc, path, {"timeDurationValue", "timeDurationUnits"}, ("timeDurationValue", "timeDurationUnits")
    )
    into.value = _integer(r, d, "timeDurationValue", path, _INT64) or 0
    into.units = r.enum(d, "timeDurationUnits", path, _UNITS)  # type: ignore[assignment]


def _settings(
    r: Reader, d: Json, path: str, into: Pm.PerformanceProfile | Pm.PerformanceProfileValue
) -> None:
    if "granularity" in d:
        _duration(r, d["granularity"], f"{path}/granularity", into.granularity)
    if "reportingPeriod" in d:
        _duration(r, d["reportingPeriod"], f"{path}/reportingPeriod", into.reporting_period)
    into.job_type = r.enum(d, "jobType", path, _JOB_TYPE)  # type: ignore[assignment]
    into.output_format = r.enum(d, "outputFormat", path, _OUTPUT)  # type: ignore[assignment]
    into.result_format = r.enum(d, "resultFormat", path, _RESULT)  # type: ignore[assignment]
    if "serviceSpecificConfiguration" in d:
        config = extension(r, d["serviceSpecificConfiguration"], f"{path}/serviceSpecificConfiguration")
        into.service_specific_configuration.CopyFrom(config)
    priority = _integer(r, d, "jobPriority", path)
    if priority is not None:
        into.job_priority = priority


def profile(doc: Any) -> Pm.PerformanceProfile:
    """The contract's PerformanceProfile for a `PerformanceProfile_Create` body."""
    r = Reader()
    d = r.obj(doc, "", _PROFILE_KEYS, (*_SETTINGS, "lifecycleStatus"))
    out = Pm.PerformanceProfile(description=r.string(d, "description", ""))
    out.lifecycle_status = r.enum(d, "lifecycleStatus", "", _LIFECYCLE)  # type: ignore[assignment]
    _settings(r, d, "", out)
    r.raise_if_any()
    return out


def _monitored(r: Reader, doc: Any, path: str, into: Pm.MonitoredObjectRef) -> None:
    d = r.obj(
        doc,
        path,
        {"@type", "serviceId", "serviceHref", "serviceFrom", "serviceTo", "entityId", "entityHref"},
        ("@type",),
    )
    kind = d.get("@type")
    if kind == "ServiceRef":
        r.obj(d, path, {"@type", "serviceId", "serviceHref"}, ("serviceId",))
        into.service.id = r.string(d, "serviceId", path)
    elif kind == "ServiceFromToRef":
        r.obj(d, path, {"@type", "serviceFrom", "serviceTo"}, ("serviceFrom", "serviceTo"))
        pair = into.service_from_to
        ends = (
            ("serviceFrom", "serviceFromId", pair.service_from),
            ("serviceTo", "serviceToId", pair.service_to),
        )
        for key, id_key, ref in ends:
            end = r.obj(d.get(key, {}), f"{path}/{key}", {id_key}, (id_key,))
            ref.CopyFrom(common_pb2.ServiceRef(id=r.string(end, id_key, f"{path}/{key}")))
    elif kind == "EntityRef":
        r.obj(d, path, {"@type", "entityId", "entityHref"}, ("entityId",))
        into.entity.id = r.string(d, "entityId", path)
        into.entity.href = r.string(d, "entityHref", path)
    elif "@type" in d:
        r.add(f"{path}/@type", "must be one of: ServiceRef, ServiceFromToRef, EntityRef")


def _schedule(r: Reader, doc: Any, path: str, into: Pm.ScheduleDefinition) -> None:
    d = r.obj(doc, path, _SCHEDULE_KEYS)
    into.SetInParent()
    r.time(d, "scheduleDefinitionStartTime", path, into.schedule_definition_start_time)
    r.time(d, "scheduleDefinitionEndTime", path, into.schedule_definition_end_time)
    if "recurringSchedule" in d:
        where = f"{path}/recurringSchedule"
        cron = r.obj(d["recurringSchedule"], where, set(_RECURRING))
        into.recurring_schedule.SetInParent()
        for key, name in _RECURRING.items():
            setattr(into.recurring_schedule, name, r.string(cron, key, where))
    if "executionDuration" in d:
        _duration(r, d["executionDuration"], f"{path}/executionDuration", into.execution_duration)


def job(doc: Any) -> Pm.PerformanceJob:
    """The contract's PerformanceJob for a `PerformanceJob_Create` body."""
    r = Reader()
    d = r.obj(doc, "", _JOB_KEYS, ("monitoredObject", "performanceProfile", "scheduleDefinition"))
    out = Pm.PerformanceJob(
        buyer_job_id=r.string(d, "buyerJobId", ""),
        consuming_application_id=r.string(d, "consumingApplicationId", ""),
        producing_application_id=r.string(d, "producingApplicationId", ""),
        description=r.string(d, "description", ""),
    )
    if "monitoredObject" in d:
        _monitored(r, d["monitoredObject"], "/monitoredObject", out.monitored_object)
    if "scheduleDefinition" in d:
        _schedule(r, d["scheduleDefinition"], "/scheduleDefinition", out.schedule_definition)
    if "performanceProfile" in d:
        where = "/performanceProfile"
        given = r.obj(
            d["performanceProfile"],
            where,
            {"@type", "performanceProfileId", "performanceProfileHref"} | _VALUE_KEYS,
            ("@type",),
        )
        kind = given.get("@type")
        if kind == "PerformanceProfileRef":
            r.obj(
                given,
                where,
                {"@type", "performanceProfileId", "performanceProfileHref"},
                ("performanceProfileId",),
            )
            out.performance_profile_ref.id = r.string(given, "performanceProfileId", where)
        elif kind == "PerformanceProfileValue":
            r.obj(given, where, _VALUE_KEYS, _SETTINGS)
            _settings(r, given, where, out.performance_profile_value)
        elif "@type" in given:
            r.add(f"{where}/@type", "must be one of: PerformanceProfileRef, PerformanceProfileValue")
    r.raise_if_any()
    return out


def _job_ref(r: Reader, d: Json) -> str:
    return job_ref(r, d, "performanceJob")


def cancel_job_id(doc: Any) -> str:
    """The job a `CancelPerformanceJob_Create` body names."""
    return task_subject(doc, "performanceJob")


_MODIFY_KEYS = {
    "performanceJob",
    "buyerJobId",
    "consumingApplicationId",
    "producingApplicationId",
    "description",
    "performanceProfile",
    "scheduleDefinition",
}


def modification(doc: Any) -> tuple[str, Pm.PerformanceJobModification]:
    """The job and the changes a `ModifyPerformanceJob_Create` body asks for."""
    r = Reader()
    d = r.obj(doc, "", _MODIFY_KEYS, ("performanceJob",))
    job_id = _job_ref(r, d)
    out = Pm.PerformanceJobModification()
    for key, name in (
        ("buyerJobId", "buyer_job_id"),
        ("consumingApplicationId", "consuming_application_id"),
        ("producingApplicationId", "producing_application_id"),
        ("description", "description"),
    ):
        if key in d:
            setattr(out, name, r.string(d, key, ""))
    if "performanceProfile" in d:
        where = "/performanceProfile"
        given = r.obj(d["performanceProfile"], where, _VALUE_KEYS - {"jobType"})
        _settings(r, given, where, out.performance_profile_value)
    if "scheduleDefinition" in d:
        _schedule(r, d["scheduleDefinition"], "/scheduleDefinition", out.schedule_definition)
    r.raise_if_any()
    return job_id, out
