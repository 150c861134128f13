"""The tables of Performance Monitoring (F4): migration step 5 (store.sql.migrations).

Every resource is its serialized proto (`body`) beside the columns filters and
sort orders need; timestamps are `core.keys.timestamp_key` text ('' = unset).
Measurement batches form their own append-only log: `seq` is the resume
position of StreamPerformanceData, as `events.seq` is for StreamEvents.
"""

from __future__ import annotations

PM_TABLES: tuple[str, ...] = (
    """CREATE TABLE pm_profiles (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        lifecycle_status INTEGER NOT NULL,
        job_type INTEGER NOT NULL,
        job_priority INTEGER NOT NULL,
        buyer_profile_id TEXT NOT NULL,
        is_assigned INTEGER NOT NULL,
        created TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX pm_profiles_created ON pm_profiles (buyer_id, created, id)",
    """CREATE TABLE pm_jobs (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        profile_id TEXT NOT NULL,
        buyer_job_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        service_from_id TEXT NOT NULL,
        service_to_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        job_type INTEGER NOT NULL,
        job_priority INTEGER NOT NULL,
        consuming_application_id TEXT NOT NULL,
        producing_application_id TEXT NOT NULL,
        created TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX pm_jobs_created ON pm_jobs (buyer_id, created, id)",
    "CREATE INDEX pm_jobs_profile ON pm_jobs (buyer_id, profile_id, state)",
    "CREATE INDEX pm_jobs_state ON pm_jobs (state, created)",
    """CREATE TABLE pm_tasks (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        task_type INTEGER NOT NULL,
        state INTEGER NOT NULL,
        created TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX pm_tasks_created ON pm_tasks (buyer_id, created, id)",
    "CREATE INDEX pm_tasks_job ON pm_tasks (buyer_id, job_id, state)",
    """CREATE TABLE pm_reports (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        state INTEGER NOT NULL,
        service_id TEXT NOT NULL,
        service_from_id TEXT NOT NULL,
        service_to_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        output_format INTEGER NOT NULL,
        result_format INTEGER NOT NULL,
        timeframe_start TEXT NOT NULL,
        timeframe_end TEXT NOT NULL,
        created TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX pm_reports_created ON pm_reports (buyer_id, created, id)",
    "CREATE INDEX pm_reports_job ON pm_reports (buyer_id, job_id, created)",
    """CREATE TABLE pm_tracking (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        related_id TEXT NOT NULL,
        related_type INTEGER NOT NULL,
        created TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX pm_tracking_buyer ON pm_tracking (buyer_id, seq)",
    "CREATE INDEX pm_tracking_related ON pm_tracking (buyer_id, related_id, seq)",
    # The measurement log; AUTOINCREMENT never reuses a sequence, so a resume token stays unambiguous.
    """CREATE TABLE pm_measurements (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        service_ids TEXT NOT NULL,
        interval_start TEXT NOT NULL,
        interval_end TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX pm_measurements_buyer ON pm_measurements (buyer_id, seq)",
    "CREATE INDEX pm_measurements_job ON pm_measurements (buyer_id, job_id, interval_start)",
    # Where the simulator's scaled clock starts: fixed when the store is created, so
    # simulated time keeps running forward across restarts (wall-clock ns since the epoch).
    """CREATE TABLE pm_sim_clock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        origin_ns INTEGER NOT NULL
    )""",
    "INSERT INTO pm_sim_clock (id, origin_ns) "
    "VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000)",
)
