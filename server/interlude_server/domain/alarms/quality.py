"""Quality-of-service alarms from performance monitoring: an interval whose measurements
breach the SLS objective raises a qualityOfServiceAlarm (thresholdCrossed) on the job's
service; the first interval after it that breaches nothing clears it.

Run in the transaction that records the interval (domain/performance/reports.py), so the
measurement and the alarm it causes commit together. The alarm's network id is
`pm:<job id>`: one active alarm per job at a time.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2, performance_pb2
from interlude_server.domain.alarms import lifecycle
from interlude_server.store.interface.store import Tx

Al = alarm_pb2


def _breach_text(breached: list[performance_pb2.Measurement]) -> str:
    names = sorted({f"{m.metric_name}:{m.cos_name}" if m.cos_name else m.metric_name for m in breached})
    return ", ".join(names)


def on_interval(
    tx: Tx,
    job: performance_pb2.PerformanceJob,
    service_ids: tuple[str, ...],
    measurements: tuple[performance_pb2.Measurement, ...],
    now: timestamp_pb2.Timestamp,
) -> None:
    """Raise, update or clear the job's QoS alarm after one recorded interval."""
    if not measurements or not service_ids or tx.get_service(job.buyer_id, service_ids[0]) is None:
        return
    breached = [m for m in measurements if m.breached]
    observed = measurements[0].interval_end_time
    external = f"pm:{job.id}"
    if not breached:
        signal = lifecycle.Signal(
            job.buyer_id, external, "cleared", observed_time=observed, source="interlude-pm"
        )
        lifecycle.report(tx, signal, now)
        return
    what = _breach_text(breached)
    signal = lifecycle.Signal(
        buyer_id=job.buyer_id,
        external_id=external,
        action="raised",
        alarm_type=Al.ALARM_TYPE_QUALITY_OF_SERVICE_ALARM,
        perceived_severity=Al.PERCEIVED_SEVERITY_MINOR,
        probable_cause=Al.PROBABLE_CAUSE_THRESHOLD_CROSSED,
        specific_problem=f"SLS objective breached: {what}",
        service_id=service_ids[0],
        details=f"performance job {job.id} measured {what} beyond the SLS objective",
        observed_time=observed,
        source="interlude-pm",
    )
    lifecycle.report(tx, signal, now)
