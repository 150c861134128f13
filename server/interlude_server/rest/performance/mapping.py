"""PerformanceService messages -> MEF JSON of Performance Monitoring v5 (Mplify 143).

Same rules as `rest.mapping` (whose helpers it uses): camelCase MEF names,
MEF enum spellings, RFC 3339 times, `href`s from the request's base URL,
required properties always present, optional ones only when set. The v5
spec's own spellings differ from our generic rule in three places, handled
here: job types are kebab-case (`on-demand`), time units are upper case
(`MIN`), and references name their target (`performanceProfileId`,
`serviceId`, `entityId`) with a discriminating `@type`.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.mef import upper_name
from interlude_server.rest.mapping import Json, _optional, extension, spellings, termination_error, time

PM_BASE = "/mefApi/interlude/performanceMonitoring/v5"
Pm = performance_pb2

JOB_STATE = spellings(Pm.PerformanceJobState, Pm.PerformanceJobState.values())
REPORT_STATE = spellings(Pm.PerformanceReportState, Pm.PerformanceReportState.values())
LIFECYCLE_STATUS = spellings(
    Pm.PerformanceProfileLifecycleStatus, Pm.PerformanceProfileLifecycleStatus.values()
)
JOB_TYPE = {
    int(v): upper_name(Pm.PerformanceJobType, int(v)).lower().replace("_", "-")
    for v in Pm.PerformanceJobType.values()
    if v
}
OUTPUT_FORMAT = spellings(Pm.PerformanceOutputFormat, Pm.PerformanceOutputFormat.values())
RESULT_FORMAT = spellings(Pm.PerformanceResultFormat, Pm.PerformanceResultFormat.values())
TASK_STATE = spellings(Pm.PerformanceJobProcessState, Pm.PerformanceJobProcessState.values())
UNITS = {int(v): upper_name(Pm.TimeDurationUnits, int(v)) for v in Pm.TimeDurationUnits.values() if v}


class PmHrefs:
    """Absolute URLs of the PM resources under the base URL a request came in on."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._root = self.base + PM_BASE

    def profile(self, profile_id: str) -> str:
        return f"{self._root}/performanceProfile/{profile_id}"

    def job(self, job_id: str) -> str:
        return f"{self._root}/performanceJob/{job_id}"

    def report(self, report_id: str) -> str:
        return f"{self._root}/performanceReport/{report_id}"

    def cancel_task(self, task_id: str) -> str:
        return f"{self._root}/cancelPerformanceJob/{task_id}"

    def modify_task(self, task_id: str) -> str:
        return f"{self._root}/modifyPerformanceJob/{task_id}"

    def service(self, service_id: str) -> str:
        return f"{self.base}/mefApi/interlude/serviceInventory/v2/service/{service_id}"


def duration(d: Pm.TimeDuration) -> Json:
    return {"timeDurationValue": d.value, "timeDurationUnits": UNITS.get(d.units, "")}


def monitored_object(ref: Pm.MonitoredObjectRef, hrefs: PmHrefs) -> Json:
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return {
            "@type": "ServiceRef",
            "serviceId": ref.service.id,
            "serviceHref": hrefs.service(ref.service.id),
        }
    if kind == "service_from_to":
        pair = ref.service_from_to
        return {
            "@type": "ServiceFromToRef",
            "serviceFrom": {"serviceFromId": pair.service_from.id},
            "serviceTo": {"serviceToId": pair.service_to.id},
        }
    out: Json = {"@type": "EntityRef", "entityId": ref.entity.id}
    _optional(out, entityHref=ref.entity.href)
    return out


def _settings(out: Json, p: Pm.PerformanceProfile | Pm.PerformanceProfileValue) -> Json:
    """The settings a profile and an inline profile value share."""
    out["granularity"] = duration(p.granularity)
    out["jobType"] = JOB_TYPE.get(p.job_type, "")
    out["outputFormat"] = OUTPUT_FORMAT.get(p.output_format, "")
    out["reportingPeriod"] = duration(p.reporting_period)
    out["resultFormat"] = RESULT_FORMAT.get(p.result_format, "")
    out["serviceSpecificConfiguration"] = extension(p.service_specific_configuration)
    if p.HasField("job_priority"):
        out["jobPriority"] = p.job_priority
    return out


def profile(p: Pm.PerformanceProfile, hrefs: PmHrefs) -> Json:
    """A MEF `PerformanceProfile`."""
    out: Json = {
        "id": p.id,
        "href": hrefs.profile(p.id),
        "creationDateTime": time(p.creation_date_time),
        "isAssigned": p.is_assigned,
        "lifecycleStatus": LIFECYCLE_STATUS.get(p.lifecycle_status, ""),
    }
    _settings(out, p)
    _optional(out, description=p.description)
    if p.HasField("last_time_modified"):
        out["lastTimeModified"] = time(p.last_time_modified)
    return out


def schedule(s: Pm.ScheduleDefinition) -> Json:
    out: Json = {}
    if s.HasField("schedule_definition_start_time"):
        out["scheduleDefinitionStartTime"] = time(s.schedule_definition_start_time)
    if s.HasField("schedule_definition_end_time"):
        out["scheduleDefinitionEndTime"] = time(s.schedule_definition_end_time)
    if s.HasField("recurring_schedule"):
        r = s.recurring_schedule
        out["recurringSchedule"] = {
            "second": r.second,
            "minute": r.minute,
            "hour": r.hour,
            "dayOfMonth": r.day_of_month,
            "month": r.month,
            "dayOfWeek": r.day_of_week,
        }
    if s.HasField("execution_duration"):
        out["executionDuration"] = duration(s.execution_duration)
    return out


def job(j: Pm.PerformanceJob, hrefs: PmHrefs) -> Json:
    """A MEF `PerformanceJob`; its profile is a `PerformanceProfileRef` or a `PerformanceProfileValue`."""
    if j.HasField("performance_profile_ref"):
        ref = j.performance_profile_ref
        settings: Json = {
            "@type": "PerformanceProfileRef",
            "performanceProfileId": ref.id,
            "performanceProfileHref": hrefs.profile(ref.id),
        }
    else:
        settings = _settings({"@type": "PerformanceProfileValue"}, j.performance_profile_value)
    out: Json = {
        "id": j.id,
        "href": hrefs.job(j.id),
        "creationDateTime": time(j.creation_date_time),
        "state": JOB_STATE.get(j.state, ""),
        "monitoredObject": monitored_object(j.monitored_object, hrefs),
        "performanceProfile": settings,
        "scheduleDefinition": schedule(j.schedule_definition),
    }
    _optional(
        out,
        buyerJobId=j.buyer_job_id,
        consumingApplicationId=j.consuming_application_id,
        producingApplicationId=j.producing_application_id,
        description=j.description,
    )
    if j.HasField("last_time_modified"):
        out["lastTimeModified"] = time(j.last_time_modified)
    if j.termination_error:
        out["terminationError"] = [termination_error(e) for e in j.termination_error]
    return out


def job_ref(job_id: str, hrefs: PmHrefs) -> Json:
    return {"@type": "PerformanceJobRef", "performanceJobId": job_id, "performanceJobHref": hrefs.job(job_id)}


def _content(c: Pm.ReportContentPerMonitoredObject, hrefs: PmHrefs) -> Json:
    items = []
    for item in c.report_content_item:
        t = item.measurement_time
        items.append(
            {
                "measurementTime": {
                    "measurementStartDate": time(t.measurement_start_date),
                    "measurementEndDate": time(t.measurement_end_date),
                    "measurementInterval": duration(t.measurement_interval),
                },
                "measurementData": [extension(d) for d in item.measurement_data],
            }
        )
    return {"monitoredObject": monitored_object(c.monitored_object, hrefs), "reportContentItem": items}


def report(r: Pm.PerformanceReport, hrefs: PmHrefs) -> Json:
    """A MEF `PerformanceReport` (lists carry no `reportContent`, as over gRPC)."""
    frame = r.reporting_timeframe
    out: Json = {
        "id": r.id,
        "href": hrefs.report(r.id),
        "creationDateTime": time(r.creation_date_time),
        "state": REPORT_STATE.get(r.state, ""),
        "performanceJob": job_ref(r.performance_job.id, hrefs),
        "granularity": duration(r.granularity),
        "monitoredObject": [monitored_object(o, hrefs) for o in r.monitored_object],
        "outputFormat": OUTPUT_FORMAT.get(r.output_format, ""),
        "resultFormat": RESULT_FORMAT.get(r.result_format, ""),
        "reportingTimeframe": {
            "reportingStartDate": time(frame.reporting_start_date),
            "reportingEndDate": time(frame.reporting_end_date),
        },
        "serviceSpecificConfiguration": extension(r.service_specific_configuration),
    }
    _optional(out, description=r.description)
    if r.report_content:
        out["reportContent"] = [_content(c, hrefs) for c in r.report_content]
    if r.HasField("report_url"):
        given = r.report_url.url  # the server's own file is a path below the base URL
        url: Json = {"url": hrefs.base + given if given.startswith("/") else given}
        if r.report_url.HasField("retention_period"):
            url["retentionPeriod"] = time(r.report_url.retention_period)
        out["reportUrl"] = url
    if r.termination_error:
        out["terminationError"] = [termination_error(e) for e in r.termination_error]
    return out


def _task(t: Pm.PerformanceJobTask, href: str, hrefs: PmHrefs) -> Json:
    return {
        "id": t.id,
        "href": href,
        "creationDateTime": time(t.creation_date_time),
        "state": TASK_STATE.get(t.state, ""),
        "performanceJob": job_ref(t.performance_job.id, hrefs),
    }


def cancel_task(t: Pm.PerformanceJobTask, hrefs: PmHrefs) -> Json:
    """A MEF `CancelPerformanceJob` (the cancel task of a job)."""
    return _task(t, hrefs.cancel_task(t.id), hrefs)


def modify_task(t: Pm.PerformanceJobTask, hrefs: PmHrefs) -> Json:
    """A MEF `ModifyPerformanceJob`: the task, with the changes it asked for."""
    out = _task(t, hrefs.modify_task(t.id), hrefs)
    change = t.modification
    if change.HasField("buyer_job_id"):
        out["buyerJobId"] = change.buyer_job_id
    if change.HasField("consuming_application_id"):
        out["consumingApplicationId"] = change.consuming_application_id
    if change.HasField("producing_application_id"):
        out["producingApplicationId"] = change.producing_application_id
    if change.HasField("description"):
        out["description"] = change.description
    if change.HasField("performance_profile_value"):
        value = change.performance_profile_value
        settings: Json = {}
        if value.HasField("granularity"):
            settings["granularity"] = duration(value.granularity)
        if value.HasField("reporting_period"):
            settings["reportingPeriod"] = duration(value.reporting_period)
        if value.output_format:
            settings["outputFormat"] = OUTPUT_FORMAT.get(value.output_format, "")
        if value.result_format:
            settings["resultFormat"] = RESULT_FORMAT.get(value.result_format, "")
        if value.HasField("service_specific_configuration"):
            settings["serviceSpecificConfiguration"] = extension(value.service_specific_configuration)
        if value.HasField("job_priority"):
            settings["jobPriority"] = value.job_priority
        out["performanceProfile"] = settings
    if change.HasField("schedule_definition"):
        out["scheduleDefinition"] = schedule(change.schedule_definition)
    return out


_RELATED_REFS = {
    Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_PROFILE: ("PerformanceProfile", "profile"),
    Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_JOB: ("PerformanceJob", "job"),
    Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_REPORT: ("PerformanceReport", "report"),
}
TRACKING_SOURCE = {
    Pm.PERFORMANCE_TRACKING_SOURCE_CLIENT: "client",
    Pm.PERFORMANCE_TRACKING_SOURCE_SERVER: "server",
}


def tracking_record(t: Pm.PerformanceTrackingRecord, hrefs: PmHrefs) -> Json:
    """A MEF `PmTrackingRecord`; `relatedObjectId` is the Ref of the profile, job or report."""
    noun, href = _RELATED_REFS.get(t.related_object_type, ("PerformanceJob", "job"))
    related: Json = {
        "@type": f"{noun}Ref",
        f"{noun[0].lower()}{noun[1:]}Id": t.related_object_id,
        f"{noun[0].lower()}{noun[1:]}Href": getattr(hrefs, href)(t.related_object_id),
    }
    out: Json = {
        "id": t.id,
        "creationDateTime": time(t.creation_date_time),
        "relatedObjectId": related,
    }
    _optional(out, description=t.description, request=t.request, source=TRACKING_SOURCE.get(t.source, ""))
    return out
