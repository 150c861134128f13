"""The PostgreSQL writer thread: the shared group-commit loop over a psycopg connection.

Same contract as the SQLite writer (store.sql.writer): one transaction per group,
a SAVEPOINT per write function, futures resolved after COMMIT. PostgreSQL adds:

- a NOTIFY on `EVENTS_CHANNEL` inside every transaction that appended events,
  so other processes sharing the database wake up when it commits (PostgreSQL
  delivers notifications at commit, and never for a rolled-back transaction);
  the payload is the newest sequence, a hint only: the log table is the truth;
- a write that failed on another writer's conflict (deadlock, key inserted meanwhile)
  runs again from its savepoint (`_transient`);
- a lost connection fails the group with the error and is replaced before the
  next group, so the writer outlives a database restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg

from interlude_server.store.interface.store import LoggedEvent
from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.schema import migrate
from interlude_server.store.sql.dialect import POSTGRES, Conn
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sql.writer import GroupCommitThread

# The channel a commit that appended events notifies (store.postgres.notify.EventWakeups listens on it).
EVENTS_CHANNEL = "interlude_events"
_CONFLICTS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.UniqueViolation,
)


class PgWriter(GroupCommitThread):
    """Group commit on one PostgreSQL connection (READ COMMITTED, synchronous commit)."""

    _dialect = POSTGRES

    def __init__(
        self, dsn: str, *, max_batch: int = 256, migrations: Sequence[Migration] = MIGRATIONS
    ) -> None:
        super().__init__(max_batch=max_batch)
        self._dsn = dsn
        self._migrations = migrations

    def _connect(self) -> tuple[Conn, int]:
        conn = PgConn.connect(self._dsn, "writer")
        try:
            version = migrate(conn, self._migrations)
        except BaseException:
            conn.close()
            raise
        return conn, version

    def _close(self, conn: Conn) -> None:
        assert isinstance(conn, PgConn)
        conn.close()

    def _before_commit(self, conn: Conn, appended: list[tuple[str, Any]]) -> None:
        sequences = [item.event.sequence for _, item in appended if isinstance(item, LoggedEvent)]
        if sequences:
            conn.execute("SELECT pg_notify(?, ?)", (EVENTS_CHANNEL, str(max(sequences))))

    def _transient(self, exc: BaseException) -> bool:
        # Replicas write the same rows: PostgreSQL breaks a deadlock by failing one of the
        # statements; a key another replica inserted meanwhile fails the insert. Rolled
        # back to its savepoint, the write runs again and reads what the other committed.
        return isinstance(
            exc,
            psycopg.errors.DeadlockDetected
            | psycopg.errors.SerializationFailure
            | psycopg.errors.UniqueViolation,
        )

    def _recover(self, conn: Conn) -> Conn:
        """After a failed group: roll back, or reconnect if the connection is gone."""
        assert isinstance(conn, PgConn)
        if not conn.broken:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return conn
            except psycopg.Error:
                pass
        with contextlib.suppress(psycopg.Error):
            conn.close()
        try:
            return PgConn.connect(self._dsn, "writer")
        except psycopg.Error:
            return conn  # still down: the next group fails fast and tries again
