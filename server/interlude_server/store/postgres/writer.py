"""The PostgreSQL writer thread: the shared group-commit loop over a psycopg connection.

Same contract as the SQLite writer (store.sql.writer): one transaction per group,
a SAVEPOINT per write function, futures resolved after COMMIT. PostgreSQL adds:

- the group runs in pipeline mode (store.postgres.conn): a statement whose result the
  write does not read costs no round trip of its own. Each write ends with its RELEASE
  and one wait for everything it sent, so a failed statement fails that write, which is
  rolled back to its savepoint alone, as on SQLite;

- a NOTIFY on `EVENTS_CHANNEL` inside every transaction that appended events,
  so other processes sharing the database wake up when it commits (PostgreSQL
  delivers notifications at commit, and never for a rolled-back transaction);
  the payload is the newest sequence, a hint only: the log table is the truth;
- the sequences of the streamed logs: once a write of the group took a log's counter row
  lock, the group counts the next ones itself and stores the counter before COMMIT
  (store.sql.seqs); other tables' identities (tracking records) are drawn a few at a time
  for the whole group, not per write (a round trip each);
- a write that failed on another writer's conflict (deadlock, key inserted meanwhile)
  runs again from its savepoint (`_transient`);
- a lost connection fails the group with the error and is replaced before the
  next group, so the writer outlives a database restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from interlude_server.store.interface.store import LoggedEvent
from interlude_server.store.postgres import invalidations
from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.notify import EVENTS_CHANNEL
from interlude_server.store.postgres.schema import migrate
from interlude_server.store.sql.dialect import POSTGRES, Conn
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sql.seqs import GroupSequences
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sql.writer import GroupCommitThread, Job, call_write

# What a write may fail on and then succeed when run again from its savepoint: another
# writer's conflict. Replicas write the same rows: PostgreSQL breaks a deadlock by failing one
# of the statements; a key another replica inserted meanwhile fails the insert. Rolled back,
# the write runs again and reads what the other committed.
_TRANSIENT = (
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
        self._seqs = GroupSequences(POSTGRES)  # the running group's (store.sql.seqs)
        self._per_write.append(self._seqs)
        self._spare_ids: dict[str, list[int]] = {}  # identities the running group drew ahead
        self._dsn = dsn
        self._migrations = migrations
        # The writer connection's server process: its cache notifications are this process's
        # own (store.postgres.invalidations); None until connected.
        self.backend_pid: int | None = None

    def _connect(self) -> tuple[Conn, int]:
        conn = PgConn.connect(self._dsn, "writer")
        try:
            version = migrate(conn, self._migrations)
            invalidations.install(conn)
        except BaseException:
            conn.close()
            raise
        self.backend_pid = conn.raw.info.backend_pid
        return conn, version

    def _close(self, conn: Conn) -> None:
        assert isinstance(conn, PgConn)
        conn.close()

    def _run_group(self, conn: Conn, jobs: list[Job]) -> None:
        assert isinstance(conn, PgConn)
        self._spare_ids = {}  # drawn for this group only (SqlTx._next_id)
        with conn.pipelined():
            super()._run_group(conn, jobs)

    def _attempt(self, conn: Conn, fn: Callable[[SqlTx], Any]) -> tuple[bool, Any, list[tuple[str, Any]]]:
        """Run `fn` in its savepoint, pipelined: its statements, RELEASE and one wait for them."""
        assert isinstance(conn, PgConn)
        conn.execute("SAVEPOINT write_fn")
        tx = SqlTx(conn, self._dialect, self._seqs, spare_ids=self._spare_ids, pending=self._pending)
        try:
            result = call_write(fn, tx)
            conn.execute("RELEASE write_fn")
            conn.sync()  # raises the error of any statement this write sent
        except Exception as exc:
            self._roll_back_write(conn, exc)
            return False, exc, []
        finally:
            tx.close()
        return True, result, tx.appended

    @staticmethod
    def _roll_back_write(conn: PgConn, exc: Exception) -> None:
        """Undo a failed write back to its savepoint, with pipeline mode paused. Whatever it
        sent is waited for first (a statement after a failed one is skipped by the server and
        reports only that). If a statement failed on the server, the prepared statements are
        dropped (PgConn.forget_prepared); a write that raised by itself leaves them valid."""
        failed_on_server = isinstance(exc, psycopg.Error)
        try:
            conn.sync()
        except psycopg.Error:
            failed_on_server = True
        with conn.paused():
            if conn.in_transaction and not conn.broken:
                conn.execute("ROLLBACK TO write_fn")
                conn.execute("RELEASE write_fn")
            if failed_on_server and not conn.broken:
                conn.forget_prepared()

    def _before_commit(self, conn: Conn, appended: list[tuple[str, Any]]) -> None:
        self._seqs.store(conn)
        sequences = [item.event.sequence for _, item in appended if isinstance(item, LoggedEvent)]
        if sequences:
            conn.execute("SELECT pg_notify(?, ?)", (EVENTS_CHANNEL, str(max(sequences))))

    def _transient(self, exc: BaseException) -> bool:
        return isinstance(exc, _TRANSIENT)

    def _recover(self, conn: Conn) -> Conn:
        """After a failed group: roll back, or reconnect if the connection is gone."""
        assert isinstance(conn, PgConn)
        if not conn.broken:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.forget_prepared()
                return conn
            except psycopg.Error:
                pass
        with contextlib.suppress(psycopg.Error):
            conn.close()
        try:
            conn = PgConn.connect(self._dsn, "writer")
        except psycopg.Error:
            return conn  # still down: the next group fails fast and tries again
        self.backend_pid = conn.raw.info.backend_pid
        return conn
