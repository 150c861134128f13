"""What SqliteStore and PgStore share around their connections: the writer thread, the
reader pool, write errors, commit listeners and closing.

Each store opens its own kind of writer (`_new_writer`) and reader connection
(`_connect_reader`), runs a read in its engine's read transaction (`_run_read`)
and says which write errors mean the database takes no writes now
(`_storage_failure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from interlude_server.core import deadlines
from interlude_server.core.errors import StorageUnavailable
from interlude_server.observability import tracing
from interlude_server.store.interface.store import CommitListener
from interlude_server.store.sql.cache import (
    OWN_ITEMS,
    Appended,
    CatalogKey,
    CatalogWritten,
    Key,
    ServiceBodies,
    ServiceWritten,
)
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.reads import StoreReads
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sql.writer import GroupCommitThread, Job, WriterStats

T = TypeVar("T")

CATALOG_CACHED = 1024  # specifications and policies kept (a few per buyer)


def _traced(fn: Callable[[SqlTx], T]) -> Callable[[SqlTx], T]:
    """`fn` recording the current trace with the events it appends (observability.tracing:
    the writer thread runs it outside the caller's context, so the trace is taken now)."""
    trace = tracing.current()
    if trace is None:
        return fn
    recorded = (trace.traceparent, trace.state)

    def with_trace(tx: SqlTx) -> T:
        tx.trace = recorded
        return fn(tx)

    return with_trace


class SqlStore(StoreReads):
    """A store with one group-commit writer thread and a pool of reader threads."""

    def __init__(self, *, read_threads: int) -> None:
        self._read_threads = read_threads
        self._writer: GroupCommitThread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: CommitListener | None = None
        self._services: ServiceBodies | None = None  # see cache_services
        self._catalog: ServiceBodies | None = None  # the same

    # -- what each engine provides ----------------------------------------------

    def _new_writer(self) -> GroupCommitThread:
        raise NotImplementedError

    def _connect_reader(self) -> Any:
        """A new reader connection (closed with `.close()` when the store closes)."""
        raise NotImplementedError

    def _reader_usable(self, conn: Any) -> bool:
        return True

    def _run_read(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError

    def _storage_failure(self, exc: BaseException) -> str | None:
        """What the database said, if `exc` means it takes no writes now; else None."""
        raise NotImplementedError

    def _change_counter(self) -> Callable[[], bool] | None:
        """A check, cheap enough for every cached read, that no process committed since it was
        last asked (True: nothing did); None: the engine has none (see store.sql.cache)."""
        return None

    # -- shared -------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Opened and not closed: the store serves reads and writes."""
        return self._writer is not None and not self._closed

    @property
    def stats(self) -> WriterStats:
        """Writes, failures and commits so far; commits < writes shows group commit working."""
        if self._writer is None:
            return WriterStats(0, 0, 0, 0)
        return self._writer.stats

    async def _start(self) -> None:
        if self._writer is not None or self._closed:
            raise RuntimeError(f"a {type(self).__name__} opens once")
        writer = self._new_writer()
        await asyncio.wrap_future(writer.start())
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        writer.on_commit = self._committed
        writer.on_settled = self._settle
        self._readers = ThreadPoolExecutor(self._read_threads, thread_name_prefix="store-read")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.stop()
            await asyncio.to_thread(self._writer.join)
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown, wait=True)
        with self._conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    async def write(self, fn: Callable[[SqlTx], T]) -> T:
        if self._writer is None or self._closed:
            raise RuntimeError("the store is not open")
        try:
            # A write whose call's deadline passes before it begins is not done (domain.deadlines).
            write = _traced(deadlines.bounded(fn))
            loop = asyncio.get_running_loop()
            if loop is not self._loop:  # not the store's loop: no batched wake-up (_settle)
                return await asyncio.wrap_future(self._writer.submit(write))
            waiter: asyncio.Future[T] = loop.create_future()
            future = self._writer.submit(write, waiter)
            try:
                return await waiter
            except asyncio.CancelledError:
                future.cancel()  # skipped if the writer has not begun it
                raise
        except Exception as exc:
            if (cause := self._storage_failure(exc)) is not None:
                raise StorageUnavailable(
                    f"the database takes no writes now: {cause}; nothing was changed"
                ) from exc
            raise

    def on_commit(self, listener: CommitListener) -> None:
        if self._writer is None:
            raise RuntimeError("the store is not open")
        self._listener = listener

    def cache_services(self, capacity: int, *, shared: bool) -> bool:
        """Keep up to `capacity` services read for `get_service_body` and `get_service`, and
        the specifications and policies orders read (store.sql.cache); `shared`: other
        processes write to the database too. Whether the caches are on: not with capacity 0,
        nor when shared on an engine without a change counter. Call it once the store is open."""
        fresh = self._change_counter() if shared else None
        if capacity <= 0 or (shared and fresh is None):
            self._services = self._catalog = None
            return False
        self._services = ServiceBodies(capacity, fresh)
        self._catalog = ServiceBodies(CATALOG_CACHED, fresh)
        return True

    @property
    def service_cache(self) -> ServiceBodies | None:
        return self._services

    @property
    def catalog_cache(self) -> ServiceBodies | None:
        return self._catalog

    def _committed(self, items: Appended) -> None:
        # Runs on the writer thread after COMMIT, before any writer hears back: it must never
        # fail the committed writes, and what it schedules runs before their callers resume.
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody reads any more
                loop.call_soon_threadsafe(self._publish, items)

    def _settle(self, jobs: list[Job]) -> None:
        # Runs on the writer thread once a group's futures are set: one wake-up of the loop for
        # the whole group, after the one `_committed` scheduled (so the caches are current
        # before any writer resumes).
        waiting = [job for job in jobs if job.waiter is not None]
        loop = self._loop
        if waiting and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle_waiters, waiting)

    def _publish(self, items: Appended) -> None:
        """On the event loop: put what the commit wrote in place of the cached services (and
        empty the catalog cache if it changed), then tell the listener what the commit
        appended to the logs."""
        written = [((b, i.service_id), i.body) for b, i in items if isinstance(i, ServiceWritten)]
        if written and self._services is not None:
            self._services.refresh(written)
        if self._catalog is not None and any(isinstance(i, CatalogWritten) for _, i in items):
            self._catalog.clear()
        logged = [(b, i) for b, i in items if not isinstance(i, OWN_ITEMS)]
        if logged and self._listener is not None:
            self._listener(logged)

    async def get_service_body(self, buyer_id: str, service_id: str) -> bytes | None:
        key, cache = (buyer_id, service_id), self._services
        if cache is not None and (body := cache.get(key)) is not None:
            return body  # a hit answers here: no further frame (GetService's path)
        return await _read_missed(cache, key, lambda: super(SqlStore, self).get_service_body(*key))

    async def catalog_body(self, key: CatalogKey) -> bytes | None:
        cache = self._catalog
        if cache is not None and (body := cache.get(key)) is not None:
            return body
        return await _read_missed(cache, key, lambda: super(SqlStore, self).catalog_body(key))

    def observe_groups(self, observer: Callable[[int, float], None]) -> None:
        """Tell `observer` (on the writer thread) the size and duration of every group commit."""
        if self._writer is None:
            raise RuntimeError("the store is not open")
        self._writer.on_group = observer

    def _connection(self) -> Any:
        """This reader thread's connection, opened on first use (and again if it broke)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or not self._reader_usable(conn):
            conn = self._connect_reader()
            self._local.conn = conn
            with self._conns_lock:
                self._read_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[Conn], T]) -> T:
        if self._readers is None or self._closed:
            raise RuntimeError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._run_read, fn)


async def _read_missed(
    cache: ServiceBodies | None, key: Key, read: Callable[[], Awaitable[bytes | None]]
) -> bytes | None:
    """The body `read` reads, `cache` (None: no cache) having missed it: kept there unless
    something was invalidated while it was read (store.sql.cache)."""
    if cache is None:
        return await read()
    epoch = cache.epoch
    body = await read()
    if body is not None:
        cache.fill(epoch, key, body)
    return body


def _settle_waiters(jobs: list[Job]) -> None:
    """On the event loop: give each job's waiter its write's outcome (unless it was cancelled)."""
    for job in jobs:
        waiter = job.waiter
        if waiter is None or waiter.done():
            continue
        if not job.future.done():  # never: the writer settles a group once every write ended
            waiter.set_exception(RuntimeError("the writer settled a write it had not ended"))
            continue
        exc = job.future.exception()
        if exc is None:
            waiter.set_result(job.future.result())
        else:
            waiter.set_exception(exc)
