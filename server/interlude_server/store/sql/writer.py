"""The writer thread: sole owner of the write connection, committing in groups.

Callers submit write functions; the thread takes everything queued (up to
`max_batch`), runs it in one `BEGIN IMMEDIATE` transaction with each function
inside its own SAVEPOINT, and commits once. With `synchronous=FULL` that single
COMMIT is the fsync that makes every write of the group durable, so many
concurrent writes cost one disk flush. Futures resolve only after the COMMIT:

- a function that raises is rolled back to its savepoint; only its future fails;
- if the COMMIT fails, every future of the group fails with that error;
- a write cancelled before the thread picked it up is skipped.

`GroupCommitThread` is that loop for any engine; `GroupCommitWriter` is its
SQLite connection and migrations, store.postgres.writer.PgWriter its PostgreSQL ones.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from interlude_server.core.errors import StorageUnavailable
from interlude_server.store.sql.dialect import SQLITE, Conn, Dialect
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sql.pending import PendingRows
from interlude_server.store.sql.perwrite import PerWrite
from interlude_server.store.sql.schema import (
    configure_writer,
    is_read_only_error,
    migrate,
    refuses_writes,
)
from interlude_server.store.sql.tx import SqlTx

T = TypeVar("T")
_log = structlog.get_logger("interlude_server.store")


@dataclass(frozen=True)
class WriterStats:
    """What the writer did so far (for observability and tests)."""

    writes: int  # write functions run
    failed_writes: int  # of which raised (rolled back alone) or lost with their group
    commits: int  # groups committed; each is one durable flush
    max_batch: int  # the largest group so far


@dataclass(frozen=True)
class Job:
    """A submitted write function and the future its outcome is set on. A caller on an event
    loop awaits `waiter` instead, which `on_settled` sets from `future` (GroupCommitThread)."""

    fn: Callable[[SqlTx], Any]
    future: Future[Any]
    waiter: asyncio.Future[Any] | None = None


class _Stop:
    """Queue sentinel: finish what came before, then exit."""


# How often a write function that met another writer's conflict is run again (PostgreSQL).
TRANSIENT_RETRIES = 5


class TransactionLost(RuntimeError):
    """The database aborted the group's transaction; the write was not committed."""


def call_write(fn: Callable[[SqlTx], T], tx: SqlTx) -> T:
    """`fn(tx)`; a write function that returned an awaitable is a bug: TypeError."""
    result = fn(tx)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("a write function must be synchronous; it returned an awaitable")
    return result


class GroupCommitThread:
    """A thread that owns one connection and group-commits submitted functions.

    Subclasses open the connection (`_connect`) and may act just before each
    COMMIT (`_before_commit`); `_begin` starts the group's transaction."""

    _begin = "BEGIN"
    _dialect: Dialect = SQLITE

    def __init__(self, *, max_batch: int = 256) -> None:
        self._max_batch = max_batch
        self._pending = PendingRows()  # the running group's tracking records and events
        # What the group keeps beside the database, per write (store.sql.perwrite).
        self._per_write: list[PerWrite[Any]] = [self._pending]
        self._queue: queue.SimpleQueue[Job | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._writes = 0
        self._failed = 0
        self._commits = 0
        self._largest = 0
        self._next_ids: dict[str, int] = {}  # see _run_group
        # Called on the writer thread after each commit with the events it made durable.
        self.on_commit: Callable[[list[tuple[str, Any]]], None] | None = None
        # Called on the writer thread after each group with its size and seconds (metrics).
        self.on_group: Callable[[int, float], None] | None = None
        # Called on the writer thread once the futures of a group's jobs are all set: it hands
        # their outcomes to the jobs' waiters (one wake-up of their event loop per group).
        self.on_settled: Callable[[list[Job]], None] | None = None

    @property
    def stats(self) -> WriterStats:
        return WriterStats(self._writes, self._failed, self._commits, self._largest)

    def start(self) -> Future[int]:
        """Open the connection and migrate on the thread; resolves to the schema version."""
        ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="store-writer", daemon=True)
        self._thread.start()
        return ready

    def submit(self, fn: Callable[[SqlTx], T], waiter: asyncio.Future[T] | None = None) -> Future[T]:
        """Queue `fn`; its outcome is set on the future returned (and given to `waiter`, if
        any, through `on_settled`). Cancel the future to skip a write not yet begun."""
        future: Future[T] = Future()
        self._queue.put(Job(fn, future, waiter))
        return future

    def stop(self) -> None:
        """Ask the thread to finish every job queued so far, then exit."""
        self._queue.put(_Stop())

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    # -- hooks ----------------------------------------------------------------

    def _connect(self) -> tuple[Conn, int]:
        """Open, configure and migrate the write connection; it and the schema version."""
        raise NotImplementedError

    def _close(self, conn: Conn) -> None:
        raise NotImplementedError

    def _before_commit(self, conn: Conn, appended: list[tuple[str, Any]]) -> None:
        """Runs inside the group's transaction just before COMMIT (nothing by default)."""

    def _transient(self, exc: BaseException) -> bool:
        """A write function's failure caused by another writer (a deadlock, a serialization
        conflict), which running it again may not meet; SQLite has one writer: never."""
        return False

    def _recover(self, conn: Conn) -> Conn:
        """After a group failed outside its write functions: the connection for the next group."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return conn

    # -- the thread ---------------------------------------------------------

    def _run(self, ready: Future[int]) -> None:
        try:
            conn, version = self._connect()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(version)
        self._conn = conn
        try:
            self._loop()
        finally:
            self._close(self._conn)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(nxt, _Stop):
                    stopping = True
                    break
                batch.append(nxt)
            jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if jobs:
                self._largest = max(self._largest, len(jobs))
                try:
                    self._run_group(self._conn, jobs)
                except BaseException as exc:  # a bug or a broken connection: fail the group
                    self._conn = self._recover(self._conn)
                    for job in jobs:
                        if not job.future.done():
                            self._failed += 1
                            job.future.set_exception(exc)
                if self.on_settled is not None:
                    self.on_settled(jobs)

    def _run_group(self, conn: Conn, jobs: list[Job]) -> None:
        started = time.perf_counter()
        conn.execute(self._begin)
        self._next_ids = {}  # the group's table seqs (SqlTx._next_id), valid in its transaction
        self._forget_per_write()
        done: list[tuple[Job, Any]] = []  # succeeded in the open transaction
        events: list[tuple[str, Any]] = []  # what those writes appended to the event log
        for job in jobs:
            self._writes += 1
            ok, value, appended = self._run_one(conn, job.fn)
            if not ok:
                self._failed += 1
                job.future.set_exception(value)
            else:
                done.append((job, value))
                events.extend(appended)
            if not conn.in_transaction:
                # SQLite rolled the whole transaction back (e.g. disk full):
                # everything before this job is gone too. Start over for the rest.
                lost = TransactionLost(f"the write group was rolled back by SQLite: {value!r}")
                lost.__cause__ = value
                for prior, _ in done:
                    self._failed += 1
                    prior.future.set_exception(lost)
                done = []
                events = []
                self._forget_per_write()
                conn.execute(self._begin)
                self._next_ids = {}  # another process may have written in between
        try:
            self._pending.insert(conn, self._dialect)
            self._before_commit(conn, events)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job, _ in done:
                self._failed += 1
                job.future.set_exception(exc)
            return
        self._commits += 1
        if events and self.on_commit is not None:
            self.on_commit(events)
        if self.on_group is not None:  # told before any writer hears back: its count is current
            try:
                self.on_group(len(jobs), time.perf_counter() - started)
            except Exception:  # an observer's fault must not fail writes that are committed
                _log.exception("store.group_observer_failed")
        for job, value in done:
            job.future.set_result(value)

    def _run_one(self, conn: Conn, fn: Callable[[SqlTx], Any]) -> tuple[bool, Any, list[tuple[str, Any]]]:
        """Run `fn` in its savepoint; one that failed only because another writer got in its
        way (`_transient`) is rolled back to the savepoint and run again, a few times."""
        for _ in range(TRANSIENT_RETRIES):
            ok, value, appended = self._attempt(conn, fn)
            # What the attempt left beside the database joins the group's only if it succeeded.
            for state in self._per_write:
                if ok:
                    state.write_succeeded()
                else:
                    state.write_failed()
            if ok or not self._transient(value) or not conn.in_transaction:
                break
        return ok, value, appended

    def _forget_per_write(self) -> None:
        for state in self._per_write:
            state.clear()

    def _attempt(self, conn: Conn, fn: Callable[[SqlTx], Any]) -> tuple[bool, Any, list[tuple[str, Any]]]:
        conn.execute("SAVEPOINT write_fn")
        tx = SqlTx(conn, self._dialect, next_ids=self._next_ids, pending=self._pending)
        try:
            result = call_write(fn, tx)
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO write_fn")
                conn.execute("RELEASE write_fn")
            return False, exc, []
        finally:
            tx.close()
        conn.execute("RELEASE write_fn")
        return True, result, tx.appended


class GroupCommitWriter(GroupCommitThread):
    """The SQLite writer: WAL, `synchronous=FULL`, BEGIN IMMEDIATE, migrations at start.

    A file this process may not write is opened read-only by SQLite: reads work, every write
    fails with SQLITE_READONLY (STORAGE_UNAVAILABLE for the caller). Such a connection stays
    read-only for good, so while the file is read-only each group first opens a fresh one:
    once an operator gives the write permission back, writes work again without a restart.
    """

    _begin = "BEGIN IMMEDIATE"

    def __init__(
        self,
        path: Path,
        *,
        max_batch: int = 256,
        migrations: Sequence[Migration] = MIGRATIONS,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(max_batch=max_batch)
        self._path = path
        self._max_bytes = max_bytes
        self._migrations = migrations
        self.read_only = False  # the last connection opened refuses writes

    def _connect(self) -> tuple[Conn, int]:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=10.0)
        try:
            configure_writer(conn)
            version = self._migrate(conn)
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn, version

    def _migrate(self, conn: sqlite3.Connection) -> int:
        try:
            return migrate(conn, self._migrations)  # writes nothing when the schema is current
        except sqlite3.OperationalError as exc:
            if not is_read_only_error(exc):
                raise
            raise StorageUnavailable(
                f"the database schema must be migrated to version {len(self._migrations)}, "
                f"but the database is read-only ({exc}): make it writable for this upgrade"
            ) from exc

    def _configure(self, conn: sqlite3.Connection) -> None:
        if self._max_bytes is not None:
            # SQLite's own quota: past it a write fails with SQLITE_FULL, as on a full disk.
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={max(1, self._max_bytes // page_size)}")
        self._note_read_only(refuses_writes(conn))

    def _note_read_only(self, read_only: bool) -> None:
        if read_only and not self.read_only:
            _log.warning(
                "store.read_only",
                path=str(self._path),
                detail="the database file is read-only to this process: reads are served, writes "
                "answer UNAVAILABLE STORAGE_UNAVAILABLE until the file and its -wal and -shm "
                "files are writable again",
            )
        elif self.read_only and not read_only:
            _log.info("store.writable", path=str(self._path))
        self.read_only = read_only

    def _reopen(self, conn: Conn) -> Conn:
        """A fresh connection if the file may be writable again; `conn` if it cannot be opened
        (moved or deleted: `mode=rw` never creates a new, empty database in its place)."""
        try:
            fresh = sqlite3.connect(
                f"{self._path.absolute().as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=10.0
            )
        except sqlite3.Error:
            return conn
        try:
            configure_writer(fresh)
            self._configure(fresh)
        except BaseException:
            fresh.close()
            raise
        self._close(conn)
        return fresh

    def _run_group(self, conn: Conn, jobs: list[Job]) -> None:
        if self.read_only:
            conn = self._conn = self._reopen(conn)
        super()._run_group(conn, jobs)

    def _attempt(self, conn: Conn, fn: Callable[[SqlTx], Any]) -> tuple[bool, Any, list[tuple[str, Any]]]:
        ok, value, appended = super()._attempt(conn, fn)
        if not ok and is_read_only_error(value):
            self._note_read_only(True)  # e.g. the file was moved away under the open connection
        return ok, value, appended

    def _close(self, conn: Conn) -> None:
        assert isinstance(conn, sqlite3.Connection)
        conn.close()
