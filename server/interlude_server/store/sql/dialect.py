"""What differs between the SQL engines behind one set of store queries.

The Tx and read code (store.sql.tx, store.sql.reads, store.sql.bodies, store.sql.queries,
and the tx and reads modules of store.sql.performance and store.sql.sft) is written
once in the SQL both SQLite (3.35+) and PostgreSQL accept: `?` placeholders (the
PostgreSQL connection adapter rewrites them), `INSERT ... ON CONFLICT`, `RETURNING`.
The few real differences live here: how an append-only log hands out its next
sequence, where the newest sequence is kept, the name of the two-argument maximum,
and whether a unary `+` may steer SQLite's planner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Logs streamed by sequence: readers resume after a sequence, so it must be gap-free in commit order.
EVENT_LOG, MEASUREMENT_LOG, TEST_ITEM_LOG = "events", "pm_measurements", "test_items"
# PostgreSQL takes at most 65,535 parameters in one statement: rows per INSERT stay below.
PG_ROWS_PER_INSERT = 1000
SEQUENCED_LOGS: tuple[str, ...] = (EVENT_LOG, MEASUREMENT_LOG, TEST_ITEM_LOG)


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses (sqlite3's and psycopg's both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """A connection as the store code uses it: sqlite3.Connection, or store.postgres.conn.PgConn."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...


@dataclass(frozen=True)
class Dialect:
    name: str
    # SQLite: a unary `+` on a column keeps the planner off its index (see fetch_page).
    planner_hints: bool
    # The scalar maximum of two values: SQLite's MAX(a, b), PostgreSQL's GREATEST(a, b).
    greatest: str
    # SQL selecting the newest sequence a log ever assigned (one row, or none for an empty log).
    last_seq_sql: str
    # Appended to a write transaction's read of a row it may change. PostgreSQL: FOR UPDATE
    # locks the row until COMMIT, so two writers (replicas) changing one row take turns and
    # the second reads what the first wrote, as SQLite's single writer guarantees anyway.
    for_update: str
    # One writer at a time (SQLite): a write that read a table's last sequence once may count
    # the next ones itself (SqlTx._next_id). PostgreSQL replicas write side by side.
    one_writer: bool

    def next_seq(self, conn: Conn, log: str) -> int:
        """The sequence of the next row of `log`, known before the row is written, so the row is
        inserted once with a body that already carries it.

        SQLite has one writer, so one more than the highest sequence ever used
        (sqlite_sequence), read under the write lock, is gap-free in commit order.
        PostgreSQL takes it from the `seq_counters` row of the log: the UPDATE's row
        lock is held until COMMIT, so a second transaction appending to the same log
        waits, and sequence order is commit order (store.postgres.schema)."""
        if self.one_writer:
            return self.next_row_id(conn, log)
        row = conn.execute(
            "UPDATE seq_counters SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq", (log,)
        ).fetchone()
        return int(row[0])

    def next_row_id(self, conn: Conn, table: str) -> int:
        """The `seq` the next row of a table keyed by an AUTOINCREMENT / identity `seq` gets
        (no ordering promise beyond the engine's own), so its body can carry its id."""
        if self.name == "sqlite":
            return self.last_seq(conn, table) + 1
        row = conn.execute("SELECT nextval(pg_get_serial_sequence(?, 'seq'))", (table,)).fetchone()
        return int(row[0])

    def next_row_ids(self, conn: Conn, table: str, count: int) -> list[int]:
        """`count` values of the identity of a PostgreSQL table keyed by `seq`, in one statement."""
        assert self.name != "sqlite", "SQLite's one writer counts them itself (SqlTx._next_id)"
        rows = conn.execute(
            "SELECT nextval(pg_get_serial_sequence(?, 'seq')) FROM generate_series(1, ?)", (table, count)
        ).fetchall()
        return sorted(int(row[0]) for row in rows)

    def lock_key(self, conn: Conn, *key: str) -> None:
        """Hold a lock on `key` until this write transaction ends, so writers (replicas)
        checking whether the key exists take turns. SQLite's one writer already does; a
        PostgreSQL row lock cannot cover a row that does not exist yet, so it takes a
        transaction-level advisory lock on the key's hash."""
        if self.name != "sqlite":
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", ("\x1f".join(key),))

    def insert_rows(
        self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """INSERT `rows` into `table` in as few statements as the engine allows: SQLite's
        `executemany` (one statement, prepared once, stepped per row); PostgreSQL's multi-row
        `INSERT ... VALUES (...), (...)`, at most `PG_ROWS_PER_INSERT` rows each."""
        names = ", ".join(columns)
        row_marks = f"({', '.join('?' for _ in columns)})"
        if self.name == "sqlite":
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES {row_marks}", rows)
            return
        for start in range(0, len(rows), PG_ROWS_PER_INSERT):
            chunk = rows[start : start + PG_ROWS_PER_INSERT]
            marks = ", ".join(row_marks for _ in chunk)
            conn.execute(f"INSERT INTO {table} ({names}) VALUES {marks}", [v for row in chunk for v in row])

    def last_seq(self, conn: Conn, log: str) -> int:
        row = conn.execute(self.last_seq_sql, (log,)).fetchone()
        return int(row[0]) if row else 0


SQLITE = Dialect(
    name="sqlite",
    planner_hints=True,
    greatest="MAX",
    last_seq_sql="SELECT seq FROM sqlite_sequence WHERE name = ?",
    for_update="",
    one_writer=True,
)
POSTGRES = Dialect(
    name="postgresql",
    planner_hints=False,
    greatest="GREATEST",
    last_seq_sql="SELECT last_seq FROM seq_counters WHERE name = ?",
    for_update=" FOR UPDATE",
    one_writer=False,
)


def upsert(conn: Conn, table: str, keys: Sequence[str], columns: dict[str, Any]) -> None:
    """Insert a row, or replace the values of the row with the same `keys` (the table's key).

    Column names are quoted: some (e.g. `authorization`) are reserved words in PostgreSQL."""
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
    conn.execute(
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        tuple(columns.values()),
    )
