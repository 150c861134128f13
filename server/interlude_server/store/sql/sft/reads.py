"""Service function testing reads: `SftReadsMixin`, mixed into SqliteStore and PgStore.

Each list filter becomes a `queries.Where` over the columns store.sql.sft.schema keeps
beside each body; lists are keyset pages, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.bodies import BodyReads
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.sft.schema import TERMINAL_JOB_SQL

St = service_test_pb2
_NEWEST_FIRST = q.Ordering(("creation_date", "id"), descending=True)


def _given(values: Sequence[int]) -> list[int]:
    """The enum values a repeated filter field asks for; unset (0) entries ask for nothing."""
    return [int(v) for v in values if v]


def _profile_where(buyer_id: str, f: service_test_pb2.TestProfileFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.time_range("creation_date", f.creation_date)
    w.time_range("last_update", f.last_update)
    w.equal("spec_id", f.related_service_specification_id)
    w.any_of("lifecycle_status", _given(f.lifecycle_status))
    w.any_of("lifecycle_state", _given(f.lifecycle_state))
    w.any_of("test_type", _given(f.test_type))
    return w


def _job_where(buyer_id: str, f: service_test_pb2.TestJobFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("from_id", f.related_service_id_from)
    w.equal("to_id", f.related_service_id_to)
    w.equal("profile_id", f.test_profile_id)
    w.equal("name", f.name)
    w.time_range("requested_start", f.requested_start_date_time)
    w.time_range("requested_end", f.requested_end_date_time)
    w.any_of("state", _given(f.state))
    w.any_of("test_type", _given(f.test_type))
    return w


def _task_where(buyer_id: str, f: service_test_pb2.TestJobTaskFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("job_id", f.test_job_id)
    w.any_of("task_type", _given(f.task_type))
    w.any_of("state", _given(f.state))
    w.time_range("creation_date", f.creation_date)
    types = _given(f.test_type)
    if types:  # tasks on jobs of these test types (the FM face lists its procedures' tasks)
        marks = ", ".join("?" for _ in types)
        select = f"SELECT id FROM test_jobs WHERE buyer_id = ? AND test_type IN ({marks})"
        w.member_of("job_id", select, "id", buyer_id, *types)
    return w


def _result_where(buyer_id: str, f: service_test_pb2.TestResultFilter) -> q.Where:
    w = q.Where.of_buyer(buyer_id)
    w.equal("job_id", f.test_job_id)
    w.equal("from_id", f.related_service_id_from)
    w.equal("to_id", f.related_service_id_to)
    w.equal("spec_id", f.related_service_specification_id)
    if f.related_contact_information_name:
        w.add("instr(contacts, ?) > 0", f"\n{f.related_contact_information_name}\n")
    w.time_range("requested_start", f.requested_start_date_time)
    w.time_range("requested_end", f.requested_end_date_time)
    w.any_of("verdict", _given(f.verdict))
    w.any_of("test_type", _given(f.test_type))
    return w


class SftReadsMixin(BodyReads):
    """The testing reads of SqliteStore and PgStore; `_read` runs a function in one read transaction."""

    async def get_test_profile(self, buyer_id: str, profile_id: str) -> service_test_pb2.TestProfile | None:
        return await self._by_id("test_profiles", buyer_id, profile_id, St.TestProfile.FromString)

    async def list_test_profiles(
        self, buyer_id: str, f: service_test_pb2.TestProfileFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestProfile]:
        return await self._page_of(
            "test_profiles", _profile_where(buyer_id, f), _NEWEST_FIRST, page, St.TestProfile.FromString
        )

    async def get_test_job(self, buyer_id: str, job_id: str) -> service_test_pb2.TestJob | None:
        return await self._by_id("test_jobs", buyer_id, job_id, St.TestJob.FromString)

    async def list_test_jobs(
        self, buyer_id: str, f: service_test_pb2.TestJobFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestJob]:
        return await self._page_of(
            "test_jobs", _job_where(buyer_id, f), _NEWEST_FIRST, page, St.TestJob.FromString
        )

    async def active_test_jobs(self) -> list[service_test_pb2.TestJob]:
        sql = f"SELECT body FROM test_jobs WHERE state NOT IN ({TERMINAL_JOB_SQL}) ORDER BY creation_date"
        return await self._all(sql, (), St.TestJob.FromString)

    async def get_test_job_task(self, buyer_id: str, task_id: str) -> service_test_pb2.TestJobTask | None:
        return await self._by_id("test_job_tasks", buyer_id, task_id, St.TestJobTask.FromString)

    async def list_test_job_tasks(
        self, buyer_id: str, f: service_test_pb2.TestJobTaskFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestJobTask]:
        return await self._page_of(
            "test_job_tasks", _task_where(buyer_id, f), _NEWEST_FIRST, page, St.TestJobTask.FromString
        )

    async def get_test_result(self, buyer_id: str, result_id: str) -> service_test_pb2.TestResult | None:
        return await self._by_id("test_results", buyer_id, result_id, St.TestResult.FromString)

    async def list_test_results(
        self, buyer_id: str, f: service_test_pb2.TestResultFilter, page: PageRequest
    ) -> Page[service_test_pb2.TestResult]:
        return await self._page_of(
            "test_results", _result_where(buyer_id, f), _NEWEST_FIRST, page, St.TestResult.FromString
        )

    async def read_test_items(
        self, buyer_id: str, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, service_test_pb2.StreamTestResultsResponse]]:
        def run(conn: Conn) -> list[tuple[int, service_test_pb2.StreamTestResultsResponse]]:
            rows = conn.execute(
                "SELECT seq, body FROM test_items WHERE buyer_id = ? AND job_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (buyer_id, job_id, after_seq, limit),
            ).fetchall()
            return [(int(s), St.StreamTestResultsResponse.FromString(b)) for s, b in rows]

        items: list[tuple[int, service_test_pb2.StreamTestResultsResponse]] = await self._read(run)
        return items
