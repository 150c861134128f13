"""SQLite connection settings, its error codes, and running the migrations.

The migrations themselves are one numbered list in store.sql.migrations; `migrate`
brings a database to the newest of them in one transaction, on SQLite directly and on
PostgreSQL through store.postgres.schema (which translates each statement).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.migrations import MIGRATIONS, Migration


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


def configure_reader(conn: sqlite3.Connection, mmap_bytes: int = 0) -> None:
    """Readers never write, keep a larger page cache and map up to `mmap_bytes` of the file.

    Measured on a 100k-service file (285 MB, uniform random point reads, the read cache's
    misses): 10.1 us per read with the 16 MiB cache, 10.5 us with 128 MiB (a bigger private
    cache buys nothing: the file's pages are in the OS page cache anyway, and a read costs
    its copies), 8.1 us mapped (bench/README.md). Mapped pages are the OS page cache's,
    shared by every reader and worker instead of each connection's copy. SQLite maps only
    as much as the file has, and the writer never maps (its writes stay write()s)."""
    conn.execute("PRAGMA query_only=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16384")
    if mmap_bytes > 0:
        conn.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")


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
            for item in step:
                if isinstance(item, str):
                    conn.execute(translate(item))
                else:
                    item(conn)  # a backfill: the same `?` SQL on both engines
        if current != target:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return target
