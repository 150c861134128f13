"""A psycopg 3 connection shaped like the sqlite3 one the shared store code expects.

The store's SQL uses `?` placeholders (sqlite3's); psycopg uses `%s`, so
statements are rewritten once and cached. The connection is in autocommit mode
and the store sends BEGIN/COMMIT itself, exactly as it does on SQLite, so the
writer loop and the read transactions are the same code for both engines.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import pq

from interlude_server.store.dialect import Cursor

APPLICATION_NAME = "interlude-server"


@functools.lru_cache(maxsize=4096)
def to_pg(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (a literal `%` doubled); the SQL has no `?` in literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """One PostgreSQL connection with sqlite3's `execute`/`executemany`/`in_transaction`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    @classmethod
    def connect(cls, dsn: str, role: str) -> PgConn:
        """Connect in autocommit mode; `role` (writer, reader, listener) shows in pg_stat_activity."""
        conn = psycopg.connect(dsn, autocommit=True, application_name=f"{APPLICATION_NAME}:{role}")
        return cls(conn)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        if not parameters:
            return self.raw.execute(sql)
        return self.raw.execute(to_pg(sql), parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Cursor:
        rows = list(seq_of_parameters)
        cur = self.raw.cursor()
        if rows:
            cur.executemany(to_pg(sql), rows)
        return cur

    @property
    def in_transaction(self) -> bool:
        """True inside BEGIN..COMMIT, also when a statement failed or the link is broken."""
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken

    def close(self) -> None:
        self.raw.close()
