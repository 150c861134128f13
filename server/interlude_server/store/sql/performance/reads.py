"""Performance Monitoring reads: `PmReadsMixin`, mixed into SqliteStore and PgStore.

Each list filter becomes a `queries.Where` over the columns store.sql.performance.schema
keeps beside each body; lists are keyset pages, newest first (tracking: in log order).
"""

from __future__ import annotations

from collections.abc import Callable

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.performance import MeasurementBatch, MeasurementRange
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.bodies import BodyReads
from interlude_server.store.sql.dialect import MEASUREMENT_LOG, Conn
from interlude_server.store.sql.performance.batches import BATCH_COLUMNS, batch_from_row

Pm = performance_pb2
NEWEST_FIRST = q.Ordering(("created", "id"), descending=True)
TRACKING_ORDER = q.Ordering(("seq",), kinds=(int,))


def _subject_where(w: q.Where, service_id: str, from_id: str, to_id: str, entity: str) -> None:
    """The monitored object: a service, a pair of services or an entity (tx._subject_columns)."""
    w.equal("service_id", service_id)
    w.equal("service_from_id", from_id)
    w.equal("service_to_id", to_id)
    w.equal("entity_id", entity)


def profile_where(buyer_id: str, f: Pm.PerformanceProfileFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.any_of("lifecycle_status", q.states(f.lifecycle_status))
    w.any_of("job_type", q.states(f.job_type))
    if f.HasField("job_priority"):
        w.add("job_priority = ?", f.job_priority)
    w.time_range("created", f.creation_date_time)
    w.equal("buyer_profile_id", f.buyer_profile_id)
    if f.HasField("is_assigned"):
        w.add("is_assigned = ?", int(f.is_assigned))
    return w


def job_where(buyer_id: str, f: Pm.PerformanceJobFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.any_of("state", q.states(f.state))
    w.any_of("job_type", q.states(f.job_type))
    w.equal("buyer_job_id", f.buyer_job_id)
    w.equal("consuming_application_id", f.consuming_application_id)
    w.equal("producing_application_id", f.producing_application_id)
    w.equal("profile_id", f.performance_profile_id)
    if f.HasField("job_priority"):
        w.add("job_priority = ?", f.job_priority)
    _subject_where(w, f.service_id, f.service_from_id, f.service_to_id, f.entity_id)
    w.time_range("created", f.creation_date_time)
    return w


def task_where(buyer_id: str, f: Pm.PerformanceJobTaskFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("job_id", f.performance_job_id)
    w.any_of("task_type", q.states(f.task_type))
    w.any_of("state", q.states(f.state))
    w.time_range("created", f.creation_date_time)
    return w


def report_where(buyer_id: str, f: Pm.PerformanceReportFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("job_id", f.performance_job_id)
    w.any_of("state", q.states(f.state))
    w.any_of("output_format", q.states(f.output_format))
    w.any_of("result_format", q.states(f.result_format))
    _subject_where(w, f.service_id, f.service_from_id, f.service_to_id, f.entity_id)
    w.time_range("created", f.creation_date_time)
    w.time_range("timeframe_start", f.reporting_timeframe_start_date)
    w.time_range("timeframe_end", f.reporting_timeframe_end_date)
    return w


def tracking_where(buyer_id: str, f: Pm.PerformanceTrackingRecordFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("related_id", f.related_object_id)
    w.any_of("related_type", q.states(f.related_object_type))
    w.time_range("created", f.creation_date_time)
    return w


class PmReadsMixin(BodyReads):
    """The PM reads of SqliteStore and PgStore; `_read` runs a function on a reader connection."""

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

    async def query_pm_jobs(
        self,
        buyer_id: str,
        query: Pm.PerformanceJobFilter,
        keep: Callable[[Pm.PerformanceJob], bool],
        page: PageRequest,
        scan_limit: int,
    ) -> Page[Pm.PerformanceJob]:
        where, parse = job_where(buyer_id, query), Pm.PerformanceJob.FromString
        return await self._read(
            lambda conn: q.scan_page(
                conn, "pm_jobs", where, NEWEST_FIRST, page, parse, keep, scan_limit, self._dialect
            )
        )

    async def live_pm_jobs(self, live_states: tuple[int, ...]) -> list[Pm.PerformanceJob]:
        marks = ", ".join("?" for _ in live_states)
        sql = f"SELECT body FROM pm_jobs WHERE state IN ({marks}) ORDER BY created, buyer_id, id"
        return await self._all(sql, live_states, Pm.PerformanceJob.FromString)

    async def open_pm_reports(self, open_states: tuple[int, ...]) -> list[Pm.PerformanceReport]:
        marks = ", ".join("?" for _ in open_states)
        sql = f"SELECT body FROM pm_reports WHERE state IN ({marks}) ORDER BY created, buyer_id, id"
        return await self._all(sql, open_states, Pm.PerformanceReport.FromString)

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

    async def query_pm_reports(
        self,
        buyer_id: str,
        query: Pm.PerformanceReportFilter,
        keep: Callable[[Pm.PerformanceReport], bool],
        page: PageRequest,
        scan_limit: int,
    ) -> Page[Pm.PerformanceReport]:
        where, parse = report_where(buyer_id, query), Pm.PerformanceReport.FromString
        return await self._read(
            lambda conn: q.scan_page(
                conn, "pm_reports", where, NEWEST_FIRST, page, parse, keep, scan_limit, self._dialect
            )
        )

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
        sql = f"SELECT {BATCH_COLUMNS} FROM pm_measurements WHERE buyer_id = ? AND seq > ? AND seq <= ?"
        params: list[object] = [buyer_id, where.after_seq, where.up_to_seq]
        if where.start_after_key:
            sql += " AND interval_start > ?"
            params.append(where.start_after_key)
        if where.start_before_key:
            sql += " AND interval_start < ?"
            params.append(where.start_before_key)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return await self._read(
            lambda conn: [batch_from_row(r) for r in conn.execute(sql, params).fetchall()]
        )
