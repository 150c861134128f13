"""SQLite schema, connection settings and forward-only migrations.

Every object is stored as its serialized proto (`body`) beside the columns that
filters and sort orders need. Timestamps are stored as fixed-width text keys
(see `core.keys.timestamp_key`) so that they sort correctly over the whole
proto range with nanosecond precision; '' means "unset".

A migration is a list of SQL statements. `MIGRATIONS[i]` takes a database
from version i to version i + 1; later issues append steps, never edit them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.performance.schema import PM_TABLES
from interlude_server.store.sql.sft.store import TESTS_MIGRATION

# Orders in these states never change again (MEF terminal states plus the
# TMF641 cancelled extension): REJECTED, COMPLETED, FAILED, PARTIAL, CANCELLED.
TERMINAL_ORDER_STATES: tuple[int, ...] = (2, 6, 7, 8, 11)
_TERMINAL_SQL = ", ".join(str(s) for s in TERMINAL_ORDER_STATES)

_V1: tuple[str, ...] = (
    # Services of every buyer; (buyer_id, id) is the identity.
    """CREATE TABLE services (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        service_type TEXT NOT NULL,
        external_id TEXT NOT NULL,
        admin_state INTEGER NOT NULL,
        oper_state INTEGER NOT NULL,
        service_date TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        update_time TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (buyer_id, id)
    )""",
    "CREATE INDEX services_state ON services (buyer_id, state, id)",
    "CREATE INDEX services_config_type ON services (buyer_id, config_type, id)",
    "CREATE INDEX services_service_type ON services (buyer_id, service_type, id)",
    "CREATE INDEX services_external_id ON services (buyer_id, external_id, id)",
    "CREATE INDEX services_admin_state ON services (buyer_id, admin_state, id)",
    "CREATE INDEX services_oper_state ON services (buyer_id, oper_state, id)",
    "CREATE INDEX services_service_date ON services (buyer_id, service_date, id)",
    "CREATE INDEX services_start_date ON services (buyer_id, start_date, id)",
    "CREATE INDEX services_end_date ON services (buyer_id, end_date, id)",
    "CREATE INDEX services_update_time ON services (buyer_id, update_time, id)",
    # Side tables for the repeated parts of a service that filters look into.
    """CREATE TABLE service_contacts (
        buyer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, name, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_contacts_service ON service_contacts (buyer_id, service_id)",
    """CREATE TABLE service_order_refs (
        buyer_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, order_id, item_id, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_order_refs_service ON service_order_refs (buyer_id, service_id)",
    """CREATE TABLE service_relations (
        buyer_id TEXT NOT NULL,
        related_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, related_id, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_relations_service ON service_relations (buyer_id, service_id)",
    # Row counts per (table, buyer, state, configuration @type), maintained in
    # the writing transaction, so totals of unfiltered lists and of lists
    # filtered only by state and/or @type are O(1).
    """CREATE TABLE row_counts (
        tbl TEXT NOT NULL,
        buyer_id TEXT NOT NULL,
        state INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tbl, buyer_id, state, config_type)
    ) WITHOUT ROWID""",
    """CREATE TABLE orders (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        external_id TEXT NOT NULL,
        order_date TEXT NOT NULL,
        completion_date TEXT NOT NULL,
        expected_completion_date TEXT NOT NULL,
        start_date TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (buyer_id, id)
    )""",
    "CREATE INDEX orders_order_date ON orders (buyer_id, order_date, id)",
    "CREATE INDEX orders_state ON orders (buyer_id, state, order_date, id)",
    "CREATE INDEX orders_external_id ON orders (buyer_id, external_id)",
    f"""CREATE INDEX orders_unfinished ON orders (order_date, buyer_id, id)
        WHERE state NOT IN ({_TERMINAL_SQL})""",
    """CREATE TABLE order_services (
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, service_id, order_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX order_services_order ON order_services (buyer_id, order_id)",
    """CREATE TABLE tracking (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        service_order_id TEXT NOT NULL,
        time TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX tracking_buyer ON tracking (buyer_id, seq)",
    "CREATE INDEX tracking_service ON tracking (buyer_id, service_id, seq)",
    "CREATE INDEX tracking_order ON tracking (buyer_id, service_order_id, seq)",
    """CREATE TABLE idempotency (
        buyer_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        method TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response BLOB NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (buyer_id, request_id)
    )""",
    "CREATE INDEX idempotency_created ON idempotency (created)",
    # The event log (F3 streams from it); AUTOINCREMENT never reuses a sequence,
    # even after retention deletes the newest rows.
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        event_type INTEGER NOT NULL,
        resource_id TEXT NOT NULL,
        event_time TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX events_buyer ON events (buyer_id, seq)",
    """CREATE TABLE specifications (
        id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        lifecycle_status INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE policies (
        buyer_id TEXT NOT NULL,
        spec_id TEXT NOT NULL,
        config_type TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, spec_id)
    )""",
)

# Version 2: event log identity and retention bookkeeping for resumable streams (F3).
_V2: tuple[str, ...] = (
    """CREATE TABLE event_log (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        log_id TEXT NOT NULL,
        pruned_through_seq INTEGER NOT NULL,
        pruned_through_time TEXT NOT NULL
    )""",
    "INSERT INTO event_log (id, log_id, pruned_through_seq, pruned_through_time) "
    "VALUES (1, lower(hex(randomblob(8))), 0, '')",
    "CREATE INDEX events_time ON events (event_time)",
)

# Version 3: MEF REST hub registrations (F6), each with a durable delivery cursor into `events`.
_V3: tuple[str, ...] = (
    """CREATE TABLE hub_subscriptions (
        id TEXT PRIMARY KEY,
        buyer_id TEXT NOT NULL,
        api TEXT NOT NULL,
        callback TEXT NOT NULL,
        query TEXT NOT NULL,
        event_types TEXT NOT NULL,
        base_url TEXT NOT NULL,
        secret TEXT NOT NULL,
        authorization TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX hub_subscriptions_buyer ON hub_subscriptions (buyer_id, id)",
)

# Leases on background work shared by several server processes (F11): a row per
# component, held by `owner` until `expires_at` (unix seconds) unless renewed.
_LEASES: tuple[str, ...] = (
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
)

Migration = Sequence[str]

# MIGRATIONS[i] migrates version i to i + 1. Append only.
# Version 3 (F5): service function testing; its tables live with their code in store.sql.sft.store.
# Version 4 (F6): REST hub registrations and their delivery cursors (_V3 above).
# Version 5 (F4): performance monitoring; its tables live in store.sql.performance.schema.
# Version 6 (F11): leases of background work among server processes (_LEASES above).
MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, TESTS_MIGRATION, _V3, PM_TABLES, _LEASES)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(RuntimeError):
    """The database was written by a newer server than this one."""


def configure_writer(conn: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """WAL with a full fsync at every commit: a commit is durable when it returns."""
    mode = _wal(conn, time.monotonic() + wait_s)
    if str(mode).lower() != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (journal_mode={mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA temp_store=MEMORY")


def _wal(conn: sqlite3.Connection, deadline: float) -> object:
    """Switch to WAL, retrying while another process holds the database.

    Several processes opening one new database at once (`--workers N`) race for the lock
    the switch needs; SQLite answers some of those races with "database is locked" at
    once, without waiting in its busy handler, so the wait is here.
    """
    pause = 0.01
    while True:
        try:
            return conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def configure_reader(conn: sqlite3.Connection) -> None:
    """Readers never write and keep a larger page cache."""
    conn.execute("PRAGMA query_only=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16384")


# SQLite's primary result code for "attempt to write a readonly database".
SQLITE_READONLY = 8


def primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of `exc` (the low byte of its extended code); None if
    `exc` is not an error SQLite reported."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_read_only_error(exc: BaseException) -> bool:
    """`exc` is SQLite refusing a write because the file (or its -wal/-shm) is read-only."""
    return primary_code(exc) == SQLITE_READONLY


def refuses_writes(conn: sqlite3.Connection) -> bool:
    """Whether SQLite opened the file read-only (the process may not write it): every write
    on `conn` would fail with SQLITE_READONLY. SQLite falls back to read-only silently and
    even BEGIN IMMEDIATE succeeds, so this rewrites one header field in a transaction that
    is rolled back: nothing reaches the disk."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA user_version = {int(version)}")
    except sqlite3.OperationalError as exc:
        if is_read_only_error(exc):
            return True
        raise
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return False


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database (0 for a new database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def migrate(
    conn: Conn,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    begin: str = "BEGIN IMMEDIATE",
    lock: Sequence[str] = (),
    prelude: Sequence[str] = (),
    translate: Callable[[str], str] = lambda statement: statement,
) -> int:
    """Bring the schema to `len(migrations)` in one transaction; return that version.

    Raises SchemaVersionError if the database is newer than `migrations` know.
    `conn` must be in autocommit mode (isolation_level=None). The keywords serve
    PostgreSQL (store.postgres.schema): statements taking its migration lock, objects only it
    needs (`prelude`, created with the first migration) and its dialect of each statement.
    """
    target = len(migrations)
    conn.execute(begin)
    try:
        for statement in lock:
            conn.execute(statement)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0]) if row is not None and row[0] is not None else 0
        if current > target:
            raise SchemaVersionError(
                f"database schema version {current} is newer than this server supports "
                f"({target}); run a newer interlude-server or restore a matching backup"
            )
        for statement in prelude if current == 0 else ():
            conn.execute(statement)
        for step in migrations[current:]:
            for statement in step:
                conn.execute(translate(statement))
        if current != target:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return target
