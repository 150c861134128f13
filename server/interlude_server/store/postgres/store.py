"""The PostgreSQL store (implements `Store`), selected by `--db postgresql://...`.

The same design as SqliteStore, on psycopg 3's synchronous API: one writer
thread owns one connection and group-commits (store.postgres.writer), reads run on a small
pool of threads with one connection each, every read in one REPEATABLE READ
READ ONLY transaction so a page and its total agree. The Tx and read SQL are
SQLite's (store.sql.tx, reads), run through a connection adapter (store.postgres.conn); the
schema is SQLite's migrations translated (store.postgres.schema).

Why psycopg 3 sync rather than asyncpg: write functions are synchronous
callables of a `Tx` (the domain code never awaits inside a transaction), and
running them on a writer thread keeps one implementation of the Tx and the
group commit for both engines. asyncpg would be faster per read, but every
query would need an async twin of the shared SQL code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from interlude_server.core.errors import StorageUnavailable
from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.invalidations import CacheInvalidations
from interlude_server.store.postgres.writer import PgWriter
from interlude_server.store.sql.cluster import SharedStoreMixin
from interlude_server.store.sql.dialect import POSTGRES, Conn
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sql.store import SqlStore
from interlude_server.store.sql.tx import SqlTx

if TYPE_CHECKING:
    from interlude_server.store.interface.store import Store, Tx

T = TypeVar("T")


class PgStore(SqlStore, SharedStoreMixin):
    """Persistence in a PostgreSQL database: durable group commit, keyset paging, shared by replicas."""

    _dialect = POSTGRES

    def __init__(
        self,
        dsn: str,
        *,
        read_threads: int = 2,
        max_batch: int = 256,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        super().__init__(read_threads=read_threads)
        self._dsn = dsn
        self._max_batch = max_batch
        self._migrations = migrations
        self._invalidations: CacheInvalidations | None = None  # replicas' caches (cache_services)
        self._invalidating: asyncio.Task[None] | None = None

    @property
    def dsn(self) -> str:
        return self._dsn

    async def open(self) -> None:
        """Migrate the database and start the writer; raises StorageUnavailable when the URL is
        not a connection URI or the database cannot be reached, SchemaVersionError when a newer
        server wrote it."""
        try:
            conninfo_to_dict(self._dsn)
        except psycopg.ProgrammingError as exc:
            why = _without_password(str(exc), self._dsn)
            raise StorageUnavailable(f"the database URL is not a valid libpq connection URI: {why}") from exc
        try:
            await self._start()
        except psycopg.OperationalError as exc:
            raise StorageUnavailable(f"cannot reach the database: {str(exc).strip()}") from exc

    def _new_writer(self) -> PgWriter:
        return PgWriter(self._dsn, max_batch=self._max_batch, migrations=self._migrations)

    def _change_counter(self) -> Callable[[], bool]:
        """Replicas' caches are kept by the notifications the database's triggers send
        (store.postgres.invalidations): a hit is served only while they are listened to."""
        writer = self._writer
        self._invalidations = CacheInvalidations(
            self._dsn, lambda: writer.backend_pid if isinstance(writer, PgWriter) else None
        )
        return self._invalidations.fresh

    def cache_services(self, capacity: int, *, shared: bool) -> bool:
        on = super().cache_services(capacity, shared=shared)
        invalidations, services, catalog = self._invalidations, self.service_cache, self.catalog_cache
        if on and shared and invalidations is not None and services is not None and catalog is not None:
            loop = asyncio.get_running_loop()
            self._invalidating = loop.create_task(invalidations.run(services, catalog), name="cache-listener")
        else:
            self._invalidations = None  # no cache, or one only this process writes to
        return on

    @property
    def cache_invalidations(self) -> CacheInvalidations | None:
        """What keeps the caches of replicas (`cache_services(..., shared=True)`), else None."""
        return self._invalidations

    async def close(self) -> None:
        task, self._invalidating = self._invalidating, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await super().close()

    def _storage_failure(self, exc: BaseException) -> str | None:
        return storage_failure(exc)

    def _connect_reader(self) -> PgConn:
        return PgConn.connect(self._dsn, "reader")

    def _reader_usable(self, conn: PgConn) -> bool:
        return not conn.broken

    def _run_read(self, fn: Callable[[Conn], T]) -> T:
        conn: PgConn = self._connection()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for the read
        try:
            return fn(conn)
        finally:
            if not conn.broken and conn.in_transaction:
                conn.execute("ROLLBACK")  # it wrote nothing: ending it either way is the same

    def _run_one(self, fn: Callable[[Conn], T]) -> T:
        return fn(self._connection())  # autocommit: the statement is its own snapshot

    async def _read(self, fn: Callable[[Conn], T]) -> T:
        return await self._on_reader(self._run_read, fn)

    async def _read_one(self, fn: Callable[[Conn], T]) -> T:
        return await self._on_reader(self._run_one, fn)

    async def _on_reader(self, run: Callable[[Callable[[Conn], T]], T], fn: Callable[[Conn], T]) -> T:
        if self._readers is None or self._closed:
            raise RuntimeError("the store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._readers, run, fn)
        except psycopg.OperationalError as exc:
            raise StorageUnavailable(f"the database cannot be read now: {str(exc).strip()}") from exc


def _without_password(text: str, dsn: str) -> str:
    """`text` (libpq's complaint about `dsn`) with the URL's password, if any, blanked out."""
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    text = " ".join(text.split())
    return text.replace(password, "***") if password else text


if TYPE_CHECKING:

    def _implements(store: PgStore, tx: SqlTx) -> tuple[Store, Tx]:
        """mypy proves here that the class satisfies the Protocol."""
        return store, tx


def storage_failure(exc: BaseException) -> str | None:
    """What PostgreSQL said, if `exc` (or the error that rolled its group back) means the
    database takes no writes now (connection lost, disk full, read-only, shutting down)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction):
            return str(seen).strip()
        seen = seen.__cause__
    return None
