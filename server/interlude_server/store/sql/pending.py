"""Rows of the append-only tables a write group inserts together, just before its COMMIT.

Every order step appends tracking records and events: one INSERT each, several per write
and several hundred per group under load. The writer collects them instead and inserts
each table's rows at the end of the group in as few statements as the engine allows
(Dialect.insert_rows): `executemany` on SQLite, multi-row INSERTs on PostgreSQL (one
statement for the server to parse and plan instead of one per row).

Only tables that no write reads back may wait: their rows carry sequences counted by the
writer (SqlTx._next_id), so nothing in the transaction needs them in the table before the
COMMIT. The event log's newest sequence, which a write may ask for (a hub registration
starts after it), counts the waiting rows (SqlTx.last_event_seq); pruning the log in a
write reads the newest stored one: the waiting rows are newer still, so it prunes a little
less, never a row it should keep.

A write's rows join the group's only when the write succeeds; a write rolled back to its
savepoint drops them, as the rollback would have dropped them from the table
(store.sql.perwrite). Going in
after every write ran, they can fail only with the database itself (full, gone, or a
constraint an operator added): that fails the whole group, as a failed COMMIT does, and
no write of it is acknowledged (tests/store/test_pending_rows.py).
"""

from __future__ import annotations

from typing import Any

from interlude_server.store.sql.dialect import EVENT_LOG, Conn, Dialect
from interlude_server.store.sql.perwrite import PerWrite

Row = tuple[Any, ...]

TRACKING = "tracking"
COLUMNS: dict[str, tuple[str, ...]] = {
    TRACKING: ("seq", "buyer_id", "service_id", "service_order_id", "time", "body"),
    EVENT_LOG: (
        "seq", "buyer_id", "event_type", "resource_id", "event_time", "body", "traceparent", "tracestate",
    ),
}  # fmt: skip


class PendingRows(PerWrite[list[Row]]):
    """The rows a write group's succeeded writes (and its running write) appended, by table."""

    def add(self, table: str, row: Row) -> None:
        rows = self._write.get(table)
        if rows is None:
            rows = self._write[table] = []
        rows.append(row)

    def _keep(self, key: str, value: list[Row]) -> None:
        self._group.setdefault(key, []).extend(value)

    def newest_seq(self, table: str) -> int:
        """The highest `seq` of `table` waiting (0: none); a write's rows come in seq order."""
        rows = self._current(table)
        return int(rows[-1][0]) if rows else 0

    def __len__(self) -> int:
        return sum(map(len, self._group.values())) + sum(map(len, self._write.values()))

    def insert(self, conn: Conn, dialect: Dialect) -> None:
        """Insert the group's rows (the writer calls it once, before COMMIT)."""
        group, self._group = self._group, {}
        for table, rows in group.items():
            dialect.insert_rows(conn, table, COLUMNS[table], rows)
