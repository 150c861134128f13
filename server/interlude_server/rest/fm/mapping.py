"""ServiceTestService messages -> MEF JSON of Fault Management v3 (Mplify 148).

An FM job is a test job of an FM procedure (domain.sft.fault), an FM report is the result
of one of its runs, and cancelFaultManagementJob / modifyFaultManagementJob are its cancel
and modify tasks. The FM attributes a test job has no field for are its
`fault_management` settings; a job created over the SFT API has none and shows MEF's
defaults (`DEFAULTS`). Spellings (time units, job types, formats) are PM v5's, which FM
shares (rest.performance.mapping).
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import fault_management_pb2, performance_pb2, service_test_pb2
from interlude_server.domain.sft.catalog import BY_TYPE
from interlude_server.domain.sft.fault import FM_JOB_STATE, FM_TASK_STATE
from interlude_server.rest import mapping as m
from interlude_server.rest.performance import mapping as pm
from interlude_server.rest.performance.mapping import duration, schedule

FM_BASE = "/mefApi/interlude/faultManagement/v3"
FM_NOTIFICATION_BASE = "/mefApi/interlude/faultNotification/v3"
St = service_test_pb2
Pm = performance_pb2
Json = dict[str, Any]
# What a job without FM settings (one created over the SFT API) shows: an on-demand run
# sampled per step (1 SEC), reported once per run (the run's length: 1 DAY at most), as JSON inline.
DEFAULTS = fault_management_pb2.FaultManagementSettings(
    job_type=Pm.PERFORMANCE_JOB_TYPE_ON_DEMAND,
    job_priority=5,
    granularity=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_SEC),
    reporting_period=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_DAY),
    output_format=Pm.PERFORMANCE_OUTPUT_FORMAT_JSON,
    result_format=Pm.PERFORMANCE_RESULT_FORMAT_PAYLOAD,
)


class FmHrefs:
    """Absolute URLs of FM resources under a request's base URL."""

    def __init__(self, base: str) -> None:
        self.root = base.rstrip("/") + FM_BASE + "/"

    def job(self, job_id: str) -> str:
        return self.root + "faultManagementJob/" + job_id

    def report(self, report_id: str) -> str:
        return self.root + "faultManagementReport/" + report_id

    def task(self, task: int, task_id: str) -> str:
        kind = "cancel" if task == St.TEST_JOB_TASK_TYPE_CANCEL else "modify"
        return f"{self.root}{kind}FaultManagementJob/{task_id}"


def settings(
    given: fault_management_pb2.FaultManagementSettings,
) -> fault_management_pb2.FaultManagementSettings:
    """The settings shown: the given ones over the defaults."""
    out = fault_management_pb2.FaultManagementSettings()
    out.CopyFrom(DEFAULTS)
    out.MergeFrom(given)
    return out


def _settings_json(given: fault_management_pb2.FaultManagementSettings) -> Json:
    s = settings(given)
    return {
        "granularity": duration(s.granularity),
        "reportingPeriod": duration(s.reporting_period),
        "jobType": pm.JOB_TYPE[s.job_type],
        "jobPriority": s.job_priority,
        "outputFormat": pm.OUTPUT_FORMAT[s.output_format],
        "resultFormat": pm.RESULT_FORMAT[s.result_format],
    }


def monitored_object(start: Any, end: Any) -> Json:
    """The job's ordered pair of end points (MEF `ServiceFromToRef`)."""
    return {
        "@type": "ServiceFromToRef",
        "serviceFrom": {"serviceFromId": start.id},
        "serviceTo": {"serviceToId": end.id},
    }


def job_ref(job_id: str, h: FmHrefs) -> Json:
    return {
        "@type": "FaultManagementJobRef",
        "faultManagementJobId": job_id,
        "faultManagementJobHref": h.job(job_id),
    }


def _schedule(j: St.TestJob) -> Json:
    s = Pm.ScheduleDefinition()
    if j.HasField("requested_start_date_time"):
        s.schedule_definition_start_time.CopyFrom(j.requested_start_date_time)
    if j.HasField("requested_end_date_time"):
        s.schedule_definition_end_time.CopyFrom(j.requested_end_date_time)
    if j.fault_management.HasField("execution_duration"):
        s.execution_duration.CopyFrom(j.fault_management.execution_duration)
    return schedule(s)


def job(j: St.TestJob, h: FmHrefs) -> Json:
    """A MEF `FaultManagementJob`."""
    out: Json = {
        "id": j.id,
        "href": h.job(j.id),
        "state": FM_JOB_STATE.get(j.state, "acknowledged"),
        "creationDateTime": m.time(j.creation_date),
        "monitoredObject": monitored_object(j.related_service_from, j.related_service_to),
        "scheduleDefinition": _schedule(j),
        "serviceSpecificConfiguration": m.extension(j.service_specific_test_job_configuration),
        **_settings_json(j.fault_management),
    }
    if j.description:
        out["description"] = j.description
    if j.HasField("last_modified_date"):
        out["lastTimeModified"] = m.time(j.last_modified_date)
    if j.termination_error:
        out["terminationError"] = [m.termination_error(e) for e in j.termination_error]
    return out


def task(t: St.TestJobTask, h: FmHrefs) -> Json:
    """A MEF `CancelFaultManagementJob` or `ModifyFaultManagementJob`."""
    out: Json = {
        "id": t.id,
        "href": h.task(t.task_type, t.id),
        "state": FM_TASK_STATE.get(t.state, "acknowledged"),
        "creationDateTime": m.time(t.creation_date),
        "faultManagementJob": job_ref(t.test_job.id, h),
    }
    mod = t.modification
    if t.task_type == St.TEST_JOB_TASK_TYPE_MODIFY:
        if mod.HasField("description"):
            out["description"] = mod.description
        if mod.HasField("service_specific_test_job_configuration"):
            out["serviceSpecificConfiguration"] = m.extension(mod.service_specific_test_job_configuration)
        fm = mod.fault_management
        for key, name in (("granularity", "granularity"), ("reportingPeriod", "reporting_period")):
            if fm.HasField(name):  # type: ignore[arg-type]
                out[key] = duration(getattr(fm, name))
        if fm.job_priority:
            out["jobPriority"] = fm.job_priority
    return out


def _content(r: St.TestResult) -> list[Json]:
    """One `ReportContentItem` for the run: its timeframe and its result document, with every
    measurement (a link trace's hops, a loopback's LBRs) as MEF `ServiceSpecificResult`."""
    data = m.extension(r.service_specific_test_result_configuration)
    data["measurements"] = [
        {
            "step": x.step_name,
            "metric": x.metric_name,
            "value": x.value,
            "unit": x.unit,
            "measureTime": m.time(x.measure_time),
            **({"details": m.document(x.details)} if x.details.fields else {}),
        }
        for x in r.measurements
    ]
    when = {
        "measurementStartDate": m.time(r.actual_start_date_time),
        "measurementEndDate": m.time(r.actual_end_date_time),
    }
    return [{"measurementTime": when, "measurementData": [data]}]


def report(r: St.TestResult, h: FmHrefs, *, listed: bool = False) -> Json:
    """A MEF `FaultManagementReport` (or, `listed`, a `FaultManagementReport_Find`, without content)."""
    capability = BY_TYPE[r.test_type]
    params = m.extension(r.service_specific_test_result_configuration).get("parameters", {})
    out: Json = {
        "id": r.id,
        "creationDateTime": m.time(r.creation_date),
        "state": "failed" if r.summary.verdict == St.TEST_VERDICT_ERROR else "completed",
        "faultManagementJob": job_ref(r.test_job.id, h),
        "monitoredObject": monitored_object(r.related_service_from, r.related_service_to),
        "reportingTimeframe": {
            "reportingStartDate": m.time(r.actual_start_date_time),
            "reportingEndDate": m.time(r.actual_end_date_time),
        },
        "serviceSpecificConfiguration": {"@type": capability.configuration_type, **params},
    }
    s = _settings_json(r.fault_management)
    out |= {k: s[k] for k in ("granularity", "outputFormat", "resultFormat")}
    if not listed:
        out["href"] = h.report(r.id)
        out["reportContent"] = _content(r)
        if r.summary.error_code:
            reason = f"{r.summary.error_code}: {r.summary.reason}"
            out["terminationError"] = [{"code": "otherIssue", "value": reason}]
    return out


def job_records(j: St.TestJob, h: FmHrefs) -> list[Json]:
    """The MEF `FmTrackingRecord`s of a job: one per state change (its `state_history`); a
    change caused by the buyer (creation, a task) has source `client`."""
    out = []
    for n, change in enumerate(j.state_history):
        what = f"state {FM_JOB_STATE.get(change.state, '')}" + (f": {change.reason}" if change.reason else "")
        out.append(
            {
                "id": f"{j.id}-{n + 1}",
                "creationDateTime": m.time(change.change_time),
                "description": what,
                "source": "client" if n == 0 or change.test_job_task_id else "server",
                "relatedObjectId": job_ref(j.id, h),
            }
        )
    return out


def report_record(r: St.TestResult) -> Json:
    """The `FmTrackingRecord` of a report: its creation by the Partner."""
    ref = {"@type": "FaultManagementReportRef", "faultManagementReportId": r.id}
    when = m.time(r.creation_date)
    record = {"id": f"{r.id}-1", "creationDateTime": when, "description": "report created"}
    return record | {"source": "server", "relatedObjectId": ref}


def event_refs(event: Any, base_url: str) -> Json:
    """The `href` of the FM resource an FM event is about, plus `reportId`/`reportHref` on a
    report-ready event (MEF `FaultManagementJobReportReadyEventPayload`)."""
    h, ref = FmHrefs(base_url), event.resource
    if event.HasField("test_job_task"):
        return {"href": h.task(event.test_job_task.task_type, ref.id)}
    if event.HasField("test_result"):
        return {"href": h.report(ref.id)}
    out = {"href": h.job(ref.id)}
    if ref.report_id:
        out |= {"reportId": ref.report_id, "reportHref": h.report(ref.report_id)}
    return out
