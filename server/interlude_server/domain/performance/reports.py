"""Recording measurement intervals and turning them into reports, in the Partner's transactions."""

from __future__ import annotations

import uuid

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2
from interlude_server.core.keys import timestamp_key
from interlude_server.domain import audit
from interlude_server.domain.alarms import quality
from interlude_server.domain.performance import audit as pm_audit
from interlude_server.domain.performance.model import result_type, settings_of
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.interface.store import Tx

Pm = performance_pb2
Ev = events_pb2


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


def _content_item(batch: MeasurementBatch, result: str) -> Pm.ReportContentItem:
    first = batch.measurements[0]
    values = struct_pb2.Struct()
    for m in batch.measurements:
        key = f"{m.metric_name}:{m.cos_name}" if m.cos_name else m.metric_name
        values[key] = m.value
    values["suspect"] = any(m.suspect for m in batch.measurements)
    return Pm.ReportContentItem(
        measurement_time=Pm.MeasurementTime(
            measurement_start_date=first.interval_start_time, measurement_end_date=first.interval_end_time
        ),
        measurement_data=[common_pb2.ExtensionPayload(type=result, attributes=values)],
    )


def record_report(
    tx: Tx,
    buyer_id: str,
    job_id: str,
    start: timestamp_pb2.Timestamp,
    end: timestamp_pb2.Timestamp,
    now: timestamp_pb2.Timestamp,
    failure: str = "",
) -> Pm.PerformanceReport | None:
    """The job's report for [start, end): COMPLETED with its intervals and a report-ready event,
    or FAILED with `failure` and a report-preparation-error event."""
    job = tx.get_pm_job(buyer_id, job_id)
    if job is None:
        return None
    settings = settings_of(job, tx.get_pm_profile(buyer_id, job.performance_profile_ref.id))
    report = Pm.PerformanceReport(
        id=str(uuid.uuid4()),
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
        result = result_type(settings.service_specific_configuration.type)
        report.report_content.add(
            monitored_object=job.monitored_object,
            report_content_item=[_content_item(b, result) for b in batches if b.measurements],
        )
    tx.put_pm_report(report)
    state = "failed" if failure else "completed"
    pm_audit.track(tx, report, now, pm_audit.SERVER, f"report {state}")
    ready = Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_READY
    event_type = Ev.EVENT_TYPE_PERFORMANCE_JOB_REPORT_PREPARATION_ERROR if failure else ready
    audit.emit(tx, event_type, job, now, reason=failure, report_id=report.id)
    return report
