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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from interlude_server.core import deadlines
from interlude_server.core.errors import StorageUnavailable
from interlude_server.observability import tracing
from interlude_server.store.interface.store import CommitListener, Committed
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.reads import StoreReads
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sql.writer import GroupCommitThread, WriterStats

T = TypeVar("T")


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
            return await asyncio.wrap_future(self._writer.submit(_traced(deadlines.bounded(fn))))
        except Exception as exc:
            if (cause := self._storage_failure(exc)) is not None:
                raise StorageUnavailable(
                    f"the database takes no writes now: {cause}; nothing was changed"
                ) from exc
            raise

    def on_commit(self, listener: CommitListener) -> None:
        if self._writer is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()

        def publish(events: list[tuple[str, Committed]]) -> None:
            # Runs on the writer thread after COMMIT: it must never fail the committed writes.
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
                loop.call_soon_threadsafe(listener, events)

        self._writer.on_commit = publish

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
