"""SQLite persistence of service function testing: profiles, jobs, tasks, results, stream items.

Kept apart from the inventory and ordering tables: `TESTS_MIGRATION` is one
entry of store.sql.schema.MIGRATIONS, `SftTxMixin` is mixed into SqliteTx and
`SftReadsMixin` into SqliteStore. Every job's stream items (state changes,
measurements, summaries) live in `test_items`, whose AUTOINCREMENT sequence is
the commit order a StreamTestResults client resumes from.
"""

from __future__ import annotations

from typing import Any, TypeVar

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.keys import field_key, key_timestamp, timestamp_key
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.body_reads import BodyReads
from interlude_server.store.sql.dialect import TEST_ITEM_LOG, Conn, Dialect, upsert

St = service_test_pb2
T = TypeVar("T")
_NEWEST_FIRST = q.Ordering(("creation_date", "id"), descending=True)
_TERMINAL_JOB_STATES = (St.TEST_JOB_STATE_CANCELLED, St.TEST_JOB_STATE_COMPLETED, St.TEST_JOB_STATE_REJECTED)
_TERMINAL_SQL = ", ".join(str(int(s)) for s in _TERMINAL_JOB_STATES)

TESTS_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE domain.sft.profiles (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        lifecycle_status INTEGER NOT NULL,
        lifecycle_state INTEGER NOT NULL,
        spec_id TEXT NOT NULL,
        test_type INTEGER NOT NULL,
        creation_date TEXT NOT NULL,
        last_update TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX test_profiles_created ON test_profiles (buyer_id, creation_date, id)",
    """CREATE TABLE domain.sft.jobs (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        name TEXT NOT NULL,
        profile_id TEXT NOT NULL,
        from_id TEXT NOT NULL,
        to_id TEXT NOT NULL,
        test_type INTEGER NOT NULL,
        requested_start TEXT NOT NULL,
        requested_end TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX test_jobs_created ON test_jobs (buyer_id, creation_date, id)",
    f"CREATE INDEX test_jobs_active ON test_jobs (creation_date) WHERE state NOT IN ({_TERMINAL_SQL})",
    # Where the current run of a job stands (the runner's progress, durable across restarts).
    """CREATE TABLE domain.sft.runs (
        buyer_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        run_number INTEGER NOT NULL,
        next_step INTEGER NOT NULL,
        started TEXT NOT NULL,
        result_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, job_id)
    )""",
    """CREATE TABLE test_job_tasks (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        task_type INTEGER NOT NULL,
        state INTEGER NOT NULL,
        creation_date TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX test_job_tasks_job ON test_job_tasks (buyer_id, job_id, creation_date)",
    """CREATE TABLE test_results (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        from_id TEXT NOT NULL,
        to_id TEXT NOT NULL,
        spec_id TEXT NOT NULL,
        contacts TEXT NOT NULL,
        test_type INTEGER NOT NULL,
        verdict INTEGER NOT NULL,
        requested_start TEXT NOT NULL,
        requested_end TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX test_results_created ON test_results (buyer_id, creation_date, id)",
    "CREATE INDEX test_results_job ON test_results (buyer_id, job_id)",
    """CREATE TABLE test_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        run_number INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX test_items_job ON test_items (buyer_id, job_id, seq)",
)


def _upsert(conn: Conn, table: str, columns: dict[str, Any]) -> None:
    """Every testing table but domain.sft.runs is keyed by (buyer_id, id)."""
    upsert(conn, table, ("buyer_id", "job_id" if table == "test_runs" else "id"), columns)


class SftTxMixin:
    """The testing part of SqliteTx; `_c` is the write connection."""

    _dialect: Dialect

    @property
    def _c(self) -> Conn:
        raise NotImplementedError

    def _body(self, table: str, buyer_id: str, key: str, value: str) -> bytes | None:
        row = self._c.execute(
            f"SELECT body FROM {table} WHERE buyer_id = ? AND {key} = ?{self._dialect.for_update}",
            (buyer_id, value),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def get_test_profile(self, buyer_id: str, profile_id: str) -> service_test_pb2.TestProfile | None:
        body = self._body("test_profiles", buyer_id, "id", profile_id)
        return None if body is None else St.TestProfile.FromString(body)

    def put_test_profile(self, p: service_test_pb2.TestProfile) -> None:
        _upsert(
            self._c,
            "test_profiles",
            {
                "buyer_id": p.buyer_id,
                "id": p.id,
                "lifecycle_status": int(p.lifecycle_status),
                "lifecycle_state": int(p.lifecycle_state),
                "spec_id": p.related_service_specification_id,
                "test_type": int(p.test_type),
                "creation_date": field_key(p, "creation_date"),
                "last_update": field_key(p, "last_update"),
                "body": p.SerializeToString(),
            },
        )

    def delete_test_profile(self, buyer_id: str, profile_id: str) -> None:
        self._c.execute("DELETE FROM test_profiles WHERE buyer_id = ? AND id = ?", (buyer_id, profile_id))

    def get_test_job(self, buyer_id: str, job_id: str) -> service_test_pb2.TestJob | None:
        body = self._body("test_jobs", buyer_id, "id", job_id)
        return None if body is None else St.TestJob.FromString(body)

    def put_test_job(self, j: service_test_pb2.TestJob) -> None:
        _upsert(
            self._c,
            "test_jobs",
            {
                "buyer_id": j.buyer_id,
                "id": j.id,
                "state": int(j.state),
                "name": j.name,
                "profile_id": j.test_profile_ref.id,
                "from_id": j.related_service_from.id,
                "to_id": j.related_service_to.id,
                "test_type": int(j.test_type),
                "requested_start": field_key(j, "requested_start_date_time"),
                "requested_end": field_key(j, "requested_end_date_time"),
                "creation_date": field_key(j, "creation_date"),
                "body": j.SerializeToString(),
            },
        )

    def get_test_run(self, buyer_id: str, job_id: str) -> SftRun | None:
        row = self._c.execute(
            "SELECT run_number, next_step, started, result_id FROM test_runs "
            f"WHERE buyer_id = ? AND job_id = ?{self._dialect.for_update}",
            (buyer_id, job_id),
        ).fetchone()
        if row is None:
            return None
        return SftRun(int(row[0]), int(row[1]), key_timestamp(str(row[2])), str(row[3]))

    def put_test_run(self, buyer_id: str, job_id: str, run: SftRun) -> None:
        _upsert(
            self._c,
            "test_runs",
            {
                "buyer_id": buyer_id,
                "job_id": job_id,
                "run_number": run.run_number,
                "next_step": run.next_step,
                "started": "" if run.started is None else timestamp_key(run.started),
                "result_id": run.result_id,
            },
        )

    def get_test_job_task(self, buyer_id: str, task_id: str) -> service_test_pb2.TestJobTask | None:
        body = self._body("test_job_tasks", buyer_id, "id", task_id)
        return None if body is None else St.TestJobTask.FromString(body)

    def put_test_job_task(self, t: service_test_pb2.TestJobTask) -> None:
        _upsert(
            self._c,
            "test_job_tasks",
            {
                "buyer_id": t.buyer_id,
                "id": t.id,
                "job_id": t.test_job.id,
                "task_type": int(t.task_type),
                "state": int(t.state),
                "creation_date": field_key(t, "creation_date"),
                "body": t.SerializeToString(),
            },
        )

    def open_test_job_tasks(self, buyer_id: str, job_id: str) -> list[service_test_pb2.TestJobTask]:
        rows = self._c.execute(
            "SELECT body FROM test_job_tasks WHERE buyer_id = ? AND job_id = ? AND state = ? "
            "ORDER BY creation_date, id",
            (buyer_id, job_id, int(St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED)),
        ).fetchall()
        return [St.TestJobTask.FromString(r[0]) for r in rows]

    def put_test_result(
        self,
        r: service_test_pb2.TestResult,
        job: service_test_pb2.TestJob,
        profile: service_test_pb2.TestProfileValue,
    ) -> None:
        contacts = "".join(f"\n{c.name}" for c in profile.related_contact) + "\n"
        _upsert(
            self._c,
            "test_results",
            {
                "buyer_id": r.buyer_id,
                "id": r.id,
                "job_id": r.test_job.id,
                "from_id": r.related_service_from.id,
                "to_id": r.related_service_to.id,
                "spec_id": profile.related_service_specification_id,
                "contacts": contacts,
                "test_type": int(r.test_type),
                "verdict": int(r.summary.verdict),
                "requested_start": field_key(job, "requested_start_date_time"),
                "requested_end": field_key(job, "requested_end_date_time"),
                "creation_date": field_key(r, "creation_date"),
                "body": r.SerializeToString(),
            },
        )

    def append_test_item(
        self, buyer_id: str, job_id: str, run_number: int, item: service_test_pb2.StreamTestResultsResponse
    ) -> int:
        (seq,) = self._c.execute(
            "INSERT INTO test_items (seq, buyer_id, job_id, run_number, body) VALUES (?, ?, ?, ?, ?) "
            "RETURNING seq",
            (
                self._dialect.next_seq(self._c, TEST_ITEM_LOG),
                buyer_id,
                job_id,
                run_number,
                item.SerializeToString(),
            ),
        ).fetchone()
        return int(seq)

    def sft_measurements(
        self, buyer_id: str, job_id: str, run_number: int
    ) -> list[service_test_pb2.TestMeasurement]:
        rows = self._c.execute(
            "SELECT body FROM test_items WHERE buyer_id = ? AND job_id = ? AND run_number = ? ORDER BY seq",
            (buyer_id, job_id, run_number),
        ).fetchall()
        items = [St.StreamTestResultsResponse.FromString(r[0]) for r in rows]
        return [i.measurement for i in items if i.HasField("measurement")]


def _profile_where(buyer_id: str, f: service_test_pb2.TestProfileFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    w.time_range("creation_date", f.creation_date)
    w.time_range("last_update", f.last_update)
    if f.related_service_specification_id:
        w.add("spec_id = ?", f.related_service_specification_id)
    w.any_of("lifecycle_status", [int(v) for v in f.lifecycle_status if v])
    w.any_of("lifecycle_state", [int(v) for v in f.lifecycle_state if v])
    w.any_of("test_type", [int(v) for v in f.test_type if v])
    return w


def _job_where(buyer_id: str, f: service_test_pb2.TestJobFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    for column, value in (
        ("from_id", f.related_service_id_from),
        ("to_id", f.related_service_id_to),
        ("profile_id", f.test_profile_id),
        ("name", f.name),
    ):
        if value:
            w.add(f"{column} = ?", value)
    w.time_range("requested_start", f.requested_start_date_time)
    w.time_range("requested_end", f.requested_end_date_time)
    w.any_of("state", [int(v) for v in f.state if v])
    w.any_of("test_type", [int(v) for v in f.test_type if v])
    return w


def _task_where(buyer_id: str, f: service_test_pb2.TestJobTaskFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    if f.test_job_id:
        w.add("job_id = ?", f.test_job_id)
    w.any_of("task_type", [int(v) for v in f.task_type if v])
    w.any_of("state", [int(v) for v in f.state if v])
    w.time_range("creation_date", f.creation_date)
    return w


def _result_where(buyer_id: str, f: service_test_pb2.TestResultFilter) -> q.Where:
    w = q.Where()
    w.add("buyer_id = ?", buyer_id)
    for column, value in (
        ("job_id", f.test_job_id),
        ("from_id", f.related_service_id_from),
        ("to_id", f.related_service_id_to),
        ("spec_id", f.related_service_specification_id),
    ):
        if value:
            w.add(f"{column} = ?", value)
    if f.related_contact_information_name:
        w.add("instr(contacts, ?) > 0", f"\n{f.related_contact_information_name}\n")
    w.time_range("requested_start", f.requested_start_date_time)
    w.time_range("requested_end", f.requested_end_date_time)
    w.any_of("verdict", [int(v) for v in f.verdict if v])
    w.any_of("test_type", [int(v) for v in f.test_type if v])
    return w


class SftReadsMixin(BodyReads):
    """The testing part of SqliteStore; `_read` runs a function in one read transaction."""

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
        sql = f"SELECT body FROM test_jobs WHERE state NOT IN ({_TERMINAL_SQL}) ORDER BY creation_date"
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
