"""The tables of service function testing: migration step 3 (store.sql.migrations).

Profiles, jobs, tasks and results are each their serialized proto (`body`) beside
the columns filters and sort orders need (timestamps as `core.keys.timestamp_key`
text, '' = unset); `test_runs` is the runner's durable progress per job. Every job's
stream items (state changes, measurements, summaries) live in `test_items`, whose
sequence is the commit order a StreamTestResults client resumes from.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2

St = service_test_pb2

# Jobs in these states never run again (the runner resumes every other one at start).
TERMINAL_JOB_STATES = (St.TEST_JOB_STATE_CANCELLED, St.TEST_JOB_STATE_COMPLETED, St.TEST_JOB_STATE_REJECTED)
TERMINAL_JOB_SQL = ", ".join(str(int(s)) for s in TERMINAL_JOB_STATES)

SFT_TABLES: tuple[str, ...] = (
    """CREATE TABLE test_profiles (
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
    """CREATE TABLE test_jobs (
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
    f"CREATE INDEX test_jobs_active ON test_jobs (creation_date) WHERE state NOT IN ({TERMINAL_JOB_SQL})",
    # Where the current run of a job stands (the runner's progress, durable across restarts).
    """CREATE TABLE test_runs (
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
