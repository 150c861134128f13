"""What several processes sharing one store need (`SharedStore`): whole-log reads,
a commit watch and leases, in SQL both engines run (SQLite and PostgreSQL).

With SQLite the file is in WAL mode and SQLite lets one writer in at a time across
processes (`BEGIN IMMEDIATE`), so sequences are assigned and committed in the
same order: a reader that sees sequence N sees every sequence below it.

The commit watch polls `PRAGMA data_version` on a connection of its own: the
value changes whenever another connection (another process, or this process's
writer) committed. It reads one word of the WAL index in shared memory, so a
poll every few tens of milliseconds costs microseconds and no disk I/O; no
socket, file watch or extra process is needed, and a missed wake-up is
impossible because the next poll sees the changed value.

Lease expiry is wall-clock time (unix seconds) of the process that writes it:
processes sharing a file run on one host, so they share the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.sql.dialect import Conn, Dialect
from interlude_server.store.sql.performance.batches import BATCH_COLUMNS, batch_from_row

T = TypeVar("T")
R = TypeVar("R")


class LeaseTx:
    """Lease writes; mixed into SqlTx, whose `_c` is the open write connection (SQLite or
    PostgreSQL: the SQL is the same)."""

    @property
    def _c(self) -> Conn:
        raise NotImplementedError  # SqlTx's

    def take_lease(self, name: str, owner: str, now: float, ttl: float) -> bool:
        """Take or renew `name` for `owner` unless another owner holds it unexpired."""
        self._c.execute(
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
            "WHERE leases.owner = excluded.owner OR leases.expires_at < ?",
            (name, owner, now + ttl, now),
        )
        row = self._c.execute("SELECT owner FROM leases WHERE name = ?", (name,)).fetchone()
        return row is not None and row[0] == owner

    def drop_lease(self, name: str, owner: str) -> None:
        self._c.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


class SharedStoreMixin:
    """`SharedStore` for the SQL stores: uses their `_read`, `_read_one`, `write` and, on
    SQLite, `path`. Only the commit watch differs by engine."""

    _dialect: Dialect

    def _commit_watch_path(self) -> Path | None:
        """SQLite: the file whose change counter the watch polls; None: poll the log counters."""
        return None

    if TYPE_CHECKING:  # the store's

        async def _read(self, fn: Callable[[Conn], T]) -> T: ...

        async def _read_one(self, fn: Callable[[Conn], T]) -> T: ...

        async def write(self, fn: Callable[[LeaseTx], T]) -> T: ...  # SqlTx is a LeaseTx

    async def read_log_after(self, after_seq: int, limit: int) -> list[tuple[str, events_pb2.Event]]:
        return await self._read_log(
            after_seq, limit, lambda buyer, _, body: (buyer, events_pb2.Event.FromString(body))
        )

    async def read_log_bodies_after(self, after_seq: int, limit: int) -> list[tuple[str, int, bytes]]:
        return await self._read_log(after_seq, limit, lambda buyer, seq, body: (buyer, seq, body))

    async def _read_log(self, after_seq: int, limit: int, row: Callable[[str, int, bytes], R]) -> list[R]:
        """The whole log after `after_seq`, oldest first, each row made by `row` on the reader."""

        def read(conn: Conn) -> list[R]:
            rows = conn.execute(
                "SELECT buyer_id, seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
            return [row(str(buyer), int(seq), bytes(body)) for buyer, seq, body in rows]

        return await self._read(read)

    async def read_measurement_log_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[str, MeasurementBatch]]:
        def read(conn: Conn) -> list[tuple[str, MeasurementBatch]]:
            rows = conn.execute(
                f"SELECT buyer_id, {BATCH_COLUMNS} FROM pm_measurements WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
            return [(str(row[0]), batch_from_row(row[1:])) for row in rows]

        return await self._read(read)

    async def watch_commits(self, interval: float, wake: Callable[[], None]) -> None:
        path = self._commit_watch_path()
        if path is None:
            await self._watch_counters(interval, wake)
            return
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
        try:
            conn.execute("PRAGMA query_only=ON")
            last = data_version(conn)
            wake()  # what was committed before this baseline is not seen as a change
            while True:
                await asyncio.sleep(interval)
                # Runs on the event loop: the pragma reads shared memory and never waits (timeout 0).
                version = data_version(conn)
                if version != last:
                    last = version
                    wake()
        finally:
            conn.close()

    async def _watch_counters(self, interval: float, wake: Callable[[], None]) -> None:
        """PostgreSQL: poll the sum of the log counters (`seq_counters`), which every commit
        that appends to a log (events, measurements, test items) raises. One indexed read
        per interval; the log tables stay the truth, so a missed change is seen next time."""

        def total(conn: Conn) -> int:
            (value,) = conn.execute("SELECT COALESCE(SUM(last_seq), 0) FROM seq_counters").fetchone()
            return int(value)

        last = await self._read_one(total)
        wake()  # what was committed before this baseline is not seen as a change
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):  # the database is away: poll again
                value = await self._read_one(total)
                if value != last:
                    last = value
                    wake()

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        return await self.write(lambda tx: tx.take_lease(name, owner, time.time(), ttl))

    async def release_lease(self, name: str, owner: str) -> None:
        await self.write(lambda tx: tx.drop_lease(name, owner))


def data_version(conn: sqlite3.Connection) -> int | None:
    """The file's change counter as this connection sees it; None if SQLite is busy (poll again)."""
    with contextlib.suppress(sqlite3.OperationalError):
        return int(conn.execute("PRAGMA data_version").fetchone()[0])
    return None
