"""The SQLite implementation of the PM store protocols (store.interface.performance), as two mixins.

`SqlitePmTx` is mixed into SqliteTx (writes on the writer's connection) and
`SqlitePmReads` into SqliteStore (reads on the reader pool), so the PM feature
lives in this one module beside its schema (store.sql.performance.schema).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.keys import field_key, timestamp_key
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.performance import MeasurementBatch, MeasurementRange
from interlude_server.store.interface.store import Committed
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.body_reads import BodyReads
from interlude_server.store.sql.dialect import MEASUREMENT_LOG, Conn, Dialect, upsert

Pm = performance_pb2
T = TypeVar("T")

NEWEST_FIRST = q.Ordering(("created", "id"), descending=True)
TRACKING_ORDER = q.Ordering(("seq",), kinds=(int,))
_UNSET_PRIORITY = 0


def _states(values: Sequence[int]) -> list[int]:
    return [] if 0 in values else [int(v) for v in values]


def _pair(ref: Pm.MonitoredObjectRef) -> tuple[str, str, str, str]:
    """(service_id, service_from_id, service_to_id, entity_id) columns of a subject."""
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return ref.service.id, "", "", ""
    if kind == "service_from_to":
        return "", ref.service_from_to.service_from.id, ref.service_from_to.service_to.id, ""
    return "", "", "", ref.entity.id


def _subject_where(w: q.Where, service_id: str, from_id: str, to_id: str, entity: str) -> None:
    for column, value in (
        ("service_id", service_id),
        ("service_from_id", from_id),
        ("service_to_id", to_id),
        ("entity_id", entity),
    ):
        if value:
            w.add(f"{column} = ?", value)


def profile_where(buyer_id: str, f: Pm.PerformanceProfileFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    w.any_of("lifecycle_status", _states(f.lifecycle_status))
    w.any_of("job_type", _states(f.job_type))
    if f.HasField("job_priority"):
        w.add("job_priority = ?", f.job_priority)
    w.time_range("created", f.creation_date_time)
    if f.buyer_profile_id:
        w.add("buyer_profile_id = ?", f.buyer_profile_id)
    if f.HasField("is_assigned"):
        w.add("is_assigned = ?", int(f.is_assigned))
    return w


def job_where(buyer_id: str, f: Pm.PerformanceJobFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    w.any_of("state", _states(f.state))
    w.any_of("job_type", _states(f.job_type))
    for column in ("buyer_job_id", "consuming_application_id", "producing_application_id"):
        if value := getattr(f, column):
            w.add(f"{column} = ?", value)
    if f.performance_profile_id:
        w.add("profile_id = ?", f.performance_profile_id)
    if f.HasField("job_priority"):
        w.add("job_priority = ?", f.job_priority)
    _subject_where(w, f.service_id, f.service_from_id, f.service_to_id, f.entity_id)
    w.time_range("created", f.creation_date_time)
    return w


def task_where(buyer_id: str, f: Pm.PerformanceJobTaskFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    if f.performance_job_id:
        w.add("job_id = ?", f.performance_job_id)
    w.any_of("task_type", _states(f.task_type))
    w.any_of("state", _states(f.state))
    w.time_range("created", f.creation_date_time)
    return w


def report_where(buyer_id: str, f: Pm.PerformanceReportFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    if f.performance_job_id:
        w.add("job_id = ?", f.performance_job_id)
    w.any_of("state", _states(f.state))
    w.any_of("output_format", _states(f.output_format))
    w.any_of("result_format", _states(f.result_format))
    _subject_where(w, f.service_id, f.service_from_id, f.service_to_id, f.entity_id)
    w.time_range("created", f.creation_date_time)
    w.time_range("timeframe_start", f.reporting_timeframe_start_date)
    w.time_range("timeframe_end", f.reporting_timeframe_end_date)
    return w


def tracking_where(buyer_id: str, f: Pm.PerformanceTrackingRecordFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    if f.related_object_id:
        w.add("related_id = ?", f.related_object_id)
    w.any_of("related_type", _states(f.related_object_type))
    w.time_range("created", f.creation_date_time)
    return w


def _batch(row: tuple[int, str, str, str, bytes]) -> MeasurementBatch:
    seq, job_id, service_ids, start, body = row
    update = Pm.MeasurementUpdate.FromString(body)
    return MeasurementBatch(
        job_id=job_id,
        service_ids=tuple(s for s in service_ids.split("\n") if s),
        interval_start_key=start,
        measurements=tuple(update.measurements),
        sequence=int(seq),
    )


_BATCH_COLUMNS = "seq, job_id, service_ids, interval_start, body"


class SqlitePmTx:
    """PM writes; mixed into SqliteTx, whose `_c` is the open write connection."""

    appended: list[tuple[str, Committed]]
    _dialect: Dialect

    @property
    def _c(self) -> Conn:
        raise NotImplementedError

    def _pm_get(self, table: str, buyer_id: str, row_id: str, parse: Callable[[bytes], T]) -> T | None:
        row = self._c.execute(
            f"SELECT body FROM {table} WHERE buyer_id = ? AND id = ?{self._dialect.for_update}",
            (buyer_id, row_id),
        ).fetchone()
        return None if row is None else parse(row[0])

    def _pm_upsert(self, table: str, columns: dict[str, object]) -> None:
        upsert(self._c, table, ("buyer_id", "id"), columns)

    def get_pm_profile(self, buyer_id: str, profile_id: str) -> Pm.PerformanceProfile | None:
        return self._pm_get("pm_profiles", buyer_id, profile_id, Pm.PerformanceProfile.FromString)

    def put_pm_profile(self, profile: Pm.PerformanceProfile) -> None:
        self._pm_upsert(
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
        return self._pm_get("pm_jobs", buyer_id, job_id, Pm.PerformanceJob.FromString)

    def put_pm_job(self, job: Pm.PerformanceJob) -> None:
        service_id, from_id, to_id, entity = _pair(job.monitored_object)
        value = job.performance_profile_value
        self._pm_upsert(
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
        return self._pm_get("pm_tasks", buyer_id, task_id, Pm.PerformanceJobTask.FromString)

    def put_pm_task(self, task: Pm.PerformanceJobTask) -> None:
        self._pm_upsert(
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
        service_id, from_id, to_id, entity = _pair(subject)
        timeframe = report.reporting_timeframe
        self._pm_upsert(
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
                self._dialect.next_seq(self._c, MEASUREMENT_LOG),
                buyer_id,
                batch.job_id,
                "\n".join(batch.service_ids),
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
            f"SELECT {_BATCH_COLUMNS} FROM pm_measurements WHERE buyer_id = ? AND job_id = ? "
            "AND interval_start >= ? AND interval_start < ? ORDER BY interval_start",
            (buyer_id, job_id, start_after_key, start_before_key),
        ).fetchall()
        return [_batch(r) for r in rows]

    def last_interval_end_key(self, buyer_id: str, job_id: str) -> str:
        (end,) = self._c.execute(
            "SELECT COALESCE(MAX(interval_end), '') FROM pm_measurements WHERE buyer_id = ? AND job_id = ?",
            (buyer_id, job_id),
        ).fetchone()
        return str(end)


class SqlitePmReads(BodyReads):
    """PM reads; mixed into SqliteStore, whose `_read` runs a function on a reader connection."""

    async def get_pm_profile(self, buyer_id: str, profile_id: str) -> Pm.PerformanceProfile | None:
        return await self._by_id("pm_profiles", buyer_id, profile_id, Pm.PerformanceProfile.FromString)

    async def list_pm_profiles(
        self, buyer_id: str, query: Pm.PerformanceProfileFilter, page: PageRequest
    ) -> Page[Pm.PerformanceProfile]:
        where = profile_where(buyer_id, query)
        return await self._page_of("pm_profiles", where, NEWEST_FIRST, page, Pm.PerformanceProfile.FromString)

    async def get_pm_job(self, buyer_id: str, job_id: str) -> Pm.PerformanceJob | None:
        return await self._by_id("pm_jobs", buyer_id, job_id, Pm.PerformanceJob.FromString)

    async def list_pm_jobs(
        self, buyer_id: str, query: Pm.PerformanceJobFilter, page: PageRequest
    ) -> Page[Pm.PerformanceJob]:
        where = job_where(buyer_id, query)
        return await self._page_of("pm_jobs", where, NEWEST_FIRST, page, Pm.PerformanceJob.FromString)

    async def live_pm_jobs(self, live_states: tuple[int, ...]) -> list[Pm.PerformanceJob]:
        marks = ", ".join("?" for _ in live_states)
        sql = f"SELECT body FROM pm_jobs WHERE state IN ({marks}) ORDER BY created, buyer_id, id"
        return await self._all(sql, live_states, Pm.PerformanceJob.FromString)

    async def get_pm_task(self, buyer_id: str, task_id: str) -> Pm.PerformanceJobTask | None:
        return await self._by_id("pm_tasks", buyer_id, task_id, Pm.PerformanceJobTask.FromString)

    async def list_pm_tasks(
        self, buyer_id: str, query: Pm.PerformanceJobTaskFilter, page: PageRequest
    ) -> Page[Pm.PerformanceJobTask]:
        where = task_where(buyer_id, query)
        return await self._page_of("pm_tasks", where, NEWEST_FIRST, page, Pm.PerformanceJobTask.FromString)

    async def get_pm_report(self, buyer_id: str, report_id: str) -> Pm.PerformanceReport | None:
        return await self._by_id("pm_reports", buyer_id, report_id, Pm.PerformanceReport.FromString)

    async def list_pm_reports(
        self, buyer_id: str, query: Pm.PerformanceReportFilter, page: PageRequest
    ) -> Page[Pm.PerformanceReport]:
        where = report_where(buyer_id, query)
        return await self._page_of("pm_reports", where, NEWEST_FIRST, page, Pm.PerformanceReport.FromString)

    async def list_pm_tracking(
        self, buyer_id: str, query: Pm.PerformanceTrackingRecordFilter, page: PageRequest
    ) -> Page[Pm.PerformanceTrackingRecord]:
        where = tracking_where(buyer_id, query)
        return await self._page_of(
            "pm_tracking", where, TRACKING_ORDER, page, Pm.PerformanceTrackingRecord.FromString
        )

    async def measurement_log_last_seq(self) -> int:
        def run(conn: Conn) -> int:
            return self._dialect.last_seq(conn, MEASUREMENT_LOG)

        return await self._read(run)

    async def sim_clock_origin_ns(self) -> int:
        def run(conn: Conn) -> int:
            (origin,) = conn.execute("SELECT origin_ns FROM pm_sim_clock WHERE id = 1").fetchone()
            return int(origin)

        return await self._read(run)

    async def read_measurements(
        self, buyer_id: str, where: MeasurementRange, limit: int
    ) -> list[MeasurementBatch]:
        sql = f"SELECT {_BATCH_COLUMNS} FROM pm_measurements WHERE buyer_id = ? AND seq > ? AND seq <= ?"
        params: list[object] = [buyer_id, where.after_seq, where.up_to_seq]
        if where.start_after_key:
            sql += " AND interval_start > ?"
            params.append(where.start_after_key)
        if where.start_before_key:
            sql += " AND interval_start < ?"
            params.append(where.start_before_key)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return await self._read(lambda conn: [_batch(r) for r in conn.execute(sql, params).fetchall()])
