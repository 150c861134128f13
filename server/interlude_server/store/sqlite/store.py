"""The embedded SQLite store (implements `Store`).

Threads: one writer thread owns the only write connection and group-commits
(see store.sql.writer); reads run on a small pool of threads, each with its own
read-only connection, so the event loop never blocks on SQLite or fsync. In WAL
mode readers see the last committed state and never wait for the writer. Each
read runs in one read transaction, so a page and its total agree.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from interlude_server.core.errors import StorageUnavailable
from interlude_server.store.sql.cluster import SharedStoreMixin, data_version
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sql.schema import (
    SQLITE_READONLY,
    SchemaVersionError,
    configure_reader,
    primary_code,
)
from interlude_server.store.sql.store import SqlStore
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sql.writer import GroupCommitWriter, TransactionLost, WriterStats

if TYPE_CHECKING:
    from interlude_server.store.interface.store import Store, Tx

__all__ = ["SchemaVersionError", "SqliteStore", "WriterStats"]

T = TypeVar("T")


class SqliteStore(SqlStore, SharedStoreMixin):
    """Persistence in one SQLite file: WAL, durable group commit, keyset paging."""

    def __init__(
        self,
        path: Path | str,
        *,
        read_threads: int = 2,
        max_batch: int = 256,
        migrations: Sequence[Migration] = MIGRATIONS,
        max_bytes: int | None = None,
        mmap_bytes: int = 0,
    ) -> None:
        super().__init__(read_threads=read_threads)
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._mmap_bytes = mmap_bytes  # of the file each reader maps (store.sql.schema.configure_reader)
        self._max_batch = max_batch
        self._migrations = migrations

    @property
    def path(self) -> Path:
        return self._path

    def _commit_watch_path(self) -> Path | None:
        return self._path

    async def open(self) -> None:
        """Create (its directory too) or migrate the file and start the writer; raises
        StorageUnavailable naming the cause when the file cannot be made or opened (an
        uncreatable or read-only directory, a file that is not a database or is corrupt),
        SchemaVersionError when a newer server wrote it; any other failure (a migration's own
        fault) as it is."""
        try:
            await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                why = "a file is in the way"
            raise StorageUnavailable(
                f"the database {self._path} cannot be created: its directory {self._path.parent} "
                f"cannot be made ({why})"
            ) from exc
        try:
            await self._start()
        except sqlite3.Error as exc:  # e.g. a read-only directory: SQLite cannot even set up WAL
            cause = _storage_failure(exc) or _open_failure(exc)
            if cause is None:
                raise
            raise StorageUnavailable(
                f"the database {self._path} cannot be opened for this server: {cause}"
            ) from exc

    def _new_writer(self) -> GroupCommitWriter:
        return GroupCommitWriter(
            self._path, max_batch=self._max_batch, migrations=self._migrations, max_bytes=self._max_bytes
        )

    def _storage_failure(self, exc: BaseException) -> str | None:
        return _storage_failure(exc) if isinstance(exc, sqlite3.Error | TransactionLost) else None

    def _change_counter(self) -> Callable[[], bool]:
        """`PRAGMA data_version` on a connection of its own: it moves when any other connection
        (another process's, or this one's writer) commits; it reads shared memory, never the
        disk, and never waits (store.sql.cluster)."""
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA query_only=ON")
        with self._conns_lock:
            self._read_conns.append(conn)  # closed with the readers
        seen = [data_version(conn)]

        def unchanged() -> bool:
            version = data_version(conn)
            if version is not None and version == seen[0]:
                return True
            seen[0] = version  # SQLite busy (None): not known to be unchanged
            return False

        return unchanged

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=10.0)
        configure_reader(conn, self._mmap_bytes)
        return conn

    def _run_read(self, fn: Callable[[Conn], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")  # one snapshot for every statement of this read
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    async def _read_one(self, fn: Callable[[Conn], T]) -> T:
        """Run a ONE-statement read (a point lookup by key) at once on the calling thread.

        A single statement is its own snapshot, so it needs no BEGIN; an indexed
        lookup takes microseconds with the pages cached, far less than the hop to
        a reader thread and back (about 100 µs here, most of a GetService, and the
        reader queue was most of the commit->delivery p99 under load). WAL readers
        never wait for the writer. Scans and multi-statement reads still go through
        `_read`, so they never hold up the event loop.
        """
        if self._closed:
            raise RuntimeError("the store is not open")
        return fn(self._connection())


if TYPE_CHECKING:

    def _implements(store: SqliteStore, tx: SqlTx) -> tuple[Store, Tx]:
        """mypy proves here that the classes satisfy the Protocols."""
        return store, tx


# SQLite primary result codes that mean the file cannot take writes, not that the write was wrong,
# and how a message names each cause (an operator fixes each differently).
_SQLITE_IOERR, _SQLITE_FULL = 10, 13
_CAUSES = {
    SQLITE_READONLY: "the database is read-only",
    _SQLITE_IOERR: "the disk reported an I/O error",
    _SQLITE_FULL: "the database or the disk is full",
}


# SQLite primary result codes that say the file itself cannot serve, and how a message names each.
_OPEN_CAUSES = {
    3: "SQLite may not access the file",  # SQLITE_PERM
    5: "another process holds the database locked",  # SQLITE_BUSY
    11: "the database file is corrupt",  # SQLITE_CORRUPT
    14: "the file cannot be opened or created (a missing or unwritable directory, or a directory there)",
    26: "the file is not a SQLite database",  # SQLITE_NOTADB
}


def _open_failure(exc: sqlite3.Error) -> str | None:
    """Why SQLite could not open the file, if its code says the file is the cause."""
    code = primary_code(exc)
    what = _OPEN_CAUSES.get(code) if code is not None else None
    return None if what is None else f"{what} ({getattr(exc, 'sqlite_errorname', code)}: {exc})"


def _storage_failure(exc: BaseException) -> str | None:
    """The cause and what SQLite said, if `exc` (or the error that rolled its group back) is
    disk full, read-only or an I/O error; None for any other failure."""
    seen: BaseException | None = exc
    while seen is not None:
        code = primary_code(seen)
        if code is not None and (cause := _CAUSES.get(code)) is not None:
            return f"{cause} ({getattr(seen, 'sqlite_errorname', code)}: {seen})"
        seen = seen.__cause__
    return None
