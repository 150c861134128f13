"""Recording measurement intervals and turning them into reports, in the Partner's transactions."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2
from interlude_server.core.errors import NotFound
from interlude_server.core.ids import new_id
from interlude_server.core.keys import timestamp_key
from interlude_server.domain import audit
from interlude_server.domain.alarms import quality
from interlude_server.domain.performance import audit as pm_audit
from interlude_server.domain.performance.model import duration_seconds, settings_of, subject_ids
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.interface.store import Tx

Pm = performance_pb2
Ev = events_pb2
# (subject, interval start, interval end) -> the MEF results object of that interval (the
# Partner's: partner/performance/results.py).
Results = Callable[
    [Pm.MonitoredObjectRef, timestamp_pb2.Timestamp, timestamp_pb2.Timestamp], common_pb2.ExtensionPayload
]
FILE_PATH = "/mefApi/interlude/performanceMonitoring/v5/performanceReport/{id}/file"
_STATE_NAMES = {
    Pm.PERFORMANCE_REPORT_STATE_ACKNOWLEDGED: "acknowledged",
    Pm.PERFORMANCE_REPORT_STATE_IN_PROGRESS: "inProgress",
    Pm.PERFORMANCE_REPORT_STATE_COMPLETED: "completed",
    Pm.PERFORMANCE_REPORT_STATE_FAILED: "failed",
    Pm.PERFORMANCE_REPORT_STATE_REJECTED: "rejected",
}


def record_interval(
    tx: Tx, buyer_id: str, batch: MeasurementBatch, now: timestamp_pb2.Timestamp | None = None
) -> bool:
    """Store one interval of a job that is still measuring; an interval already covered
    (a repeated step after a crash) or of a job that stopped is dropped. True if stored.
    A breach of the SLS objective raises the job's QoS alarm, an interval without one
    clears it (domain/alarms/quality.py), in the same transaction."""
    job = tx.get_pm_job(buyer_id, batch.job_id)
    if job is None or job.state != Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS:
        return False
    if batch.interval_start_key < tx.last_interval_end_key(buyer_id, batch.job_id):
        return False
    tx.append_measurements(buyer_id, batch)
    if now is not None:
        quality.on_interval(tx, job, batch.service_ids, batch.measurements, now)
    return True


def _item(
    ref: Pm.MonitoredObjectRef, start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp, results: Results
) -> Pm.ReportContentItem:
    return Pm.ReportContentItem(
        measurement_time=Pm.MeasurementTime(measurement_start_date=start, measurement_end_date=end),
        measurement_data=[results(ref, start, end)],
    )


def _deliver(report: Pm.PerformanceReport) -> None:
    """Where an ATTACHMENT report's file is (GetPerformanceReportFile; REST: this path)."""
    if report.result_format == Pm.PERFORMANCE_RESULT_FORMAT_ATTACHMENT:
        report.report_url.url = FILE_PATH.format(id=report.id)


def _report_event(
    tx: Tx, report: Pm.PerformanceReport, now: timestamp_pb2.Timestamp, created: bool = False
) -> None:
    """MEF performanceReportCreateEvent or performanceReportStateChangeEvent, with its record."""
    state = _STATE_NAMES.get(report.state, "")
    event = (
        Ev.EVENT_TYPE_PERFORMANCE_REPORT_CREATE if created else Ev.EVENT_TYPE_PERFORMANCE_REPORT_STATE_CHANGE
    )
    thin = Pm.PerformanceReport()
    thin.CopyFrom(report)
    thin.ClearField("report_content")  # the event says what changed; GetPerformanceReport has the rest
    audit.emit(tx, event, thin, now, state=state)


def record_report(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    start: timestamp_pb2.Timestamp,
    end: timestamp_pb2.Timestamp,
    now: timestamp_pb2.Timestamp,
    results: Results,
    failure: str = "",
) -> Pm.PerformanceReport | None:
    """The job's report for [start, end): COMPLETED with a results object per stored interval
    and a report-ready event, or FAILED with `failure` and a report-preparation-error event;
    either way also MEF's report create event."""
    job = tx.get_pm_job(buyer_id, job_id)
    if job is None:
        return None
    settings = settings_of(job, tx.get_pm_profile(buyer_id, job.performance_profile_ref.id))
    report = Pm.PerformanceReport(
        id=new_id(),
        performance_job=Pm.PerformanceJobRef(id=job_id),
        monitored_object=[job.monitored_object],
        granularity=settings.granularity,
        output_format=settings.output_format,
        result_format=settings.result_format,
        reporting_timeframe=Pm.ReportingTimeframe(reporting_start_date=start, reporting_end_date=end),
        service_specific_configuration=settings.service_specific_configuration,
        creation_date_time=now,
        last_time_modified=now,
        buyer_id=buyer_id,
    )
    if failure:
        report.state = Pm.PERFORMANCE_REPORT_STATE_FAILED
        report.termination_error.add(code=common_pb2.VALIDATION_ERROR_CODE_OTHER_ISSUE, reason=failure)
    else:
        report.state = Pm.PERFORMANCE_REPORT_STATE_COMPLETED
        batches = tx.job_measurements(buyer_id, job_id, timestamp_key(start), timestamp_key(end))
        first = [b.measurements[0] for b in batches if b.measurements]
        report.report_content.add(
            monitored_object=job.monitored_object,
            report_content_item=[
                _item(job.monitored_object, m.interval_start_time, m.interval_end_time, results)
                for m in first
            ],
        )
        _deliver(report)
    tx.put_pm_report(report)
    _report_event(tx, report, now, created=True)
    state = "failed" if failure else "completed"
    pm_audit.track(tx, report, now, pm_audit.SERVER, f"report {state}")
    ready = Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_READY
    event_type = Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_PREPARATION_ERROR if failure else ready
    audit.emit(tx, event_type, job, now, reason=failure, report_id=report.id)
    return report


def new_adhoc(
    buyer_id: str, asked: Pm.PerformanceReport, now: timestamp_pb2.Timestamp
) -> Pm.PerformanceReport:
    """An ad-hoc report as it will be stored: ACKNOWLEDGED, output-only fields set."""
    report = Pm.PerformanceReport()
    report.CopyFrom(asked)
    for name in ("report_content", "report_url", "termination_error", "performance_job", "href"):
        report.ClearField(name)
    report.id = new_id()
    report.buyer_id = buyer_id
    report.state = Pm.PERFORMANCE_REPORT_STATE_ACKNOWLEDGED
    report.creation_date_time.CopyFrom(now)
    report.last_time_modified.CopyFrom(now)
    return report


def create_adhoc(tx: Tx, report: Pm.PerformanceReport, now: timestamp_pb2.Timestamp) -> Pm.PerformanceReport:
    """Store an acknowledged ad-hoc report; its services must be the buyer's."""
    for ref in report.monitored_object:
        for service_id in subject_ids(ref):
            if tx.get_service(report.buyer_id, service_id) is None:
                raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")
    tx.put_pm_report(report)
    pm_audit.track(tx, report, now, pm_audit.CLIENT, "ad-hoc report acknowledged", "create")
    _report_event(tx, report, now, created=True)
    return report


def advance_adhoc(
    tx: Tx, buyer_id: str, report_id: str, now: timestamp_pb2.Timestamp, results: Results
) -> Pm.PerformanceReport | None:
    """One Partner step of an ad-hoc report: ACKNOWLEDGED -> IN_PROGRESS -> COMPLETED (with a
    results object per subject and granularity interval of its time frame)."""
    report = tx.get_pm_report(buyer_id, report_id)
    if report is None or report.state not in OPEN_REPORT_STATES:
        return report
    if report.state == Pm.PERFORMANCE_REPORT_STATE_ACKNOWLEDGED:
        report.state = Pm.PERFORMANCE_REPORT_STATE_IN_PROGRESS
    else:
        frame = report.reporting_timeframe
        step = max(int(duration_seconds(report.granularity) * 1e9), 1)
        end_ns = frame.reporting_end_date.ToNanoseconds()
        starts = range(frame.reporting_start_date.ToNanoseconds(), end_ns, step)
        for ref in report.monitored_object:
            items = [_item(ref, _ts(s), _ts(min(s + step, end_ns)), results) for s in starts]
            report.report_content.add(monitored_object=ref, report_content_item=items)
        report.state = Pm.PERFORMANCE_REPORT_STATE_COMPLETED
        _deliver(report)
    report.last_time_modified.CopyFrom(now)
    tx.put_pm_report(report)
    pm_audit.track(tx, report, now, pm_audit.SERVER, f"report {_STATE_NAMES[report.state]}")
    _report_event(tx, report, now)
    return report


OPEN_REPORT_STATES = (Pm.PERFORMANCE_REPORT_STATE_ACKNOWLEDGED, Pm.PERFORMANCE_REPORT_STATE_IN_PROGRESS)


def _ts(ns: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(ns)
    return ts
