"""Performance Monitoring writes: `PmTxMixin`, mixed into SqlTx (both engines).

Its tables are migration step 5 (store.sql.performance.schema); its reads are
store.sql.performance.reads. A measurement batch takes its sequence from the dialect
(`next_seq`), so the measurement log is gap-free in commit order on both engines, and is
published after the commit like an event (`appended`).
"""

from __future__ import annotations

import dataclasses

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.keys import field_key, timestamp_key
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.sql.bodies import BodyTx
from interlude_server.store.sql.cache import Appended
from interlude_server.store.sql.dialect import MEASUREMENT_LOG
from interlude_server.store.sql.performance.batches import BATCH_COLUMNS, batch_from_row, service_ids_column

Pm = performance_pb2
_UNSET_PRIORITY = 0  # the job_priority column of a profile or job without one


def _subject_columns(ref: Pm.MonitoredObjectRef) -> tuple[str, str, str, str]:
    """(service_id, service_from_id, service_to_id, entity_id) columns of a subject."""
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return ref.service.id, "", "", ""
    if kind == "service_from_to":
        return "", ref.service_from_to.service_from.id, ref.service_from_to.service_to.id, ""
    return "", "", "", ref.entity.id


class PmTxMixin(BodyTx):
    """The PM part of SqlTx; `_c` is the open write connection."""

    appended: Appended

    def get_pm_profile(self, buyer_id: str, profile_id: str) -> Pm.PerformanceProfile | None:
        return self._get("pm_profiles", buyer_id, profile_id, Pm.PerformanceProfile.FromString)

    def put_pm_profile(self, profile: Pm.PerformanceProfile) -> None:
        self._put(
            "pm_profiles",
            {
                "buyer_id": profile.buyer_id,
                "id": profile.id,
                "lifecycle_status": int(profile.lifecycle_status),
                "job_type": int(profile.job_type),
                "job_priority": profile.job_priority if profile.HasField("job_priority") else _UNSET_PRIORITY,
                "buyer_profile_id": profile.buyer_profile_id,
                "is_assigned": int(profile.is_assigned),
                "created": field_key(profile, "creation_date_time"),
                "body": profile.SerializeToString(),
            },
        )

    def delete_pm_profile(self, buyer_id: str, profile_id: str) -> None:
        self._c.execute("DELETE FROM pm_profiles WHERE buyer_id = ? AND id = ?", (buyer_id, profile_id))

    def count_pm_jobs_using(self, buyer_id: str, profile_id: str, live_states: tuple[int, ...]) -> int:
        marks = ", ".join("?" for _ in live_states)
        (n,) = self._c.execute(
            f"SELECT COUNT(*) FROM pm_jobs WHERE buyer_id = ? AND profile_id = ? AND state IN ({marks})",
            (buyer_id, profile_id, *live_states),
        ).fetchone()
        return int(n)

    def get_pm_job(self, buyer_id: str, job_id: str) -> Pm.PerformanceJob | None:
        return self._get("pm_jobs", buyer_id, job_id, Pm.PerformanceJob.FromString)

    def put_pm_job(self, job: Pm.PerformanceJob) -> None:
        service_id, from_id, to_id, entity = _subject_columns(job.monitored_object)
        value = job.performance_profile_value
        self._put(
            "pm_jobs",
            {
                "buyer_id": job.buyer_id,
                "id": job.id,
                "state": int(job.state),
                "profile_id": job.performance_profile_ref.id,
                "buyer_job_id": job.buyer_job_id,
                "service_id": service_id,
                "service_from_id": from_id,
                "service_to_id": to_id,
                "entity_id": entity,
                "job_type": int(value.job_type),
                "job_priority": value.job_priority if value.HasField("job_priority") else _UNSET_PRIORITY,
                "consuming_application_id": job.consuming_application_id,
                "producing_application_id": job.producing_application_id,
                "created": field_key(job, "creation_date_time"),
                "body": job.SerializeToString(),
            },
        )

    def get_pm_task(self, buyer_id: str, task_id: str) -> Pm.PerformanceJobTask | None:
        return self._get("pm_tasks", buyer_id, task_id, Pm.PerformanceJobTask.FromString)

    def get_pm_report(self, buyer_id: str, report_id: str) -> Pm.PerformanceReport | None:
        return self._get("pm_reports", buyer_id, report_id, Pm.PerformanceReport.FromString)

    def put_pm_task(self, task: Pm.PerformanceJobTask) -> None:
        self._put(
            "pm_tasks",
            {
                "buyer_id": task.buyer_id,
                "id": task.id,
                "job_id": task.performance_job.id,
                "task_type": int(task.task_type),
                "state": int(task.state),
                "created": field_key(task, "creation_date_time"),
                "body": task.SerializeToString(),
            },
        )

    def open_pm_tasks(self, buyer_id: str, job_id: str) -> list[Pm.PerformanceJobTask]:
        rows = self._c.execute(
            "SELECT body FROM pm_tasks WHERE buyer_id = ? AND job_id = ? AND state IN (?, ?) "
            "ORDER BY created, id",
            (
                buyer_id,
                job_id,
                Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED,
                Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS,
            ),
        ).fetchall()
        return [Pm.PerformanceJobTask.FromString(r[0]) for r in rows]

    def put_pm_report(self, report: Pm.PerformanceReport) -> None:
        subject = report.monitored_object[0] if report.monitored_object else Pm.MonitoredObjectRef()
        service_id, from_id, to_id, entity = _subject_columns(subject)
        timeframe = report.reporting_timeframe
        self._put(
            "pm_reports",
            {
                "buyer_id": report.buyer_id,
                "id": report.id,
                "job_id": report.performance_job.id,
                "state": int(report.state),
                "service_id": service_id,
                "service_from_id": from_id,
                "service_to_id": to_id,
                "entity_id": entity,
                "output_format": int(report.output_format),
                "result_format": int(report.result_format),
                "timeframe_start": field_key(timeframe, "reporting_start_date"),
                "timeframe_end": field_key(timeframe, "reporting_end_date"),
                "created": field_key(report, "creation_date_time"),
                "body": report.SerializeToString(),
            },
        )

    def add_pm_tracking(self, buyer_id: str, record: Pm.PerformanceTrackingRecord) -> None:
        (seq,) = self._c.execute(
            "INSERT INTO pm_tracking (buyer_id, related_id, related_type, created, body) "
            "VALUES (?, ?, ?, ?, ?) RETURNING seq",
            (
                buyer_id,
                record.related_object_id,
                int(record.related_object_type),
                field_key(record, "creation_date_time"),
                b"",
            ),
        ).fetchone()
        if not record.id:
            record.id = str(seq)
        self._c.execute("UPDATE pm_tracking SET body = ? WHERE seq = ?", (record.SerializeToString(), seq))

    def append_measurements(self, buyer_id: str, batch: MeasurementBatch) -> int:
        end_key = max(
            (timestamp_key(m.interval_end_time) for m in batch.measurements), default=batch.interval_start_key
        )
        body = Pm.MeasurementUpdate(measurements=batch.measurements).SerializeToString()
        (seq,) = self._c.execute(
            "INSERT INTO pm_measurements "
            "(seq, buyer_id, job_id, service_ids, interval_start, interval_end, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            (
                self._log_seq(MEASUREMENT_LOG),
                buyer_id,
                batch.job_id,
                service_ids_column(batch),
                batch.interval_start_key,
                end_key,
                body,
            ),
        ).fetchone()
        self.appended.append((buyer_id, dataclasses.replace(batch, sequence=seq)))
        return int(seq)

    def job_measurements(
        self, buyer_id: str, job_id: str, start_after_key: str, start_before_key: str
    ) -> list[MeasurementBatch]:
        rows = self._c.execute(
            f"SELECT {BATCH_COLUMNS} FROM pm_measurements WHERE buyer_id = ? AND job_id = ? "
            "AND interval_start >= ? AND interval_start < ? ORDER BY interval_start",
            (buyer_id, job_id, start_after_key, start_before_key),
        ).fetchall()
        return [batch_from_row(r) for r in rows]

    def last_interval_end_key(self, buyer_id: str, job_id: str) -> str:
        (end,) = self._c.execute(
            "SELECT COALESCE(MAX(interval_end), '') FROM pm_measurements WHERE buyer_id = ? AND job_id = ?",
            (buyer_id, job_id),
        ).fetchone()
        return str(end)
