"""A psycopg 3 connection shaped like the sqlite3 one the shared store code expects.

The store's SQL uses `?` placeholders (sqlite3's); psycopg uses `%s`, so
statements are rewritten once and cached.

PostgreSQL text cannot hold NUL (U+0000), which SQLite stores and a client may
send in any string. Text parameters and results pass through an injective
escape: U+10FFFF (a noncharacter) is the escape, NUL becomes U+10FFFF U+0001
and U+10FFFF itself is doubled; strings with neither (all real data) are
unchanged. So such a value is stored and found again exactly as on SQLite.

The connection is in autocommit mode and the store sends BEGIN/COMMIT itself,
exactly as it does on SQLite, so the writer loop and the read transactions are
the same code for both engines.

The writer runs each group in psycopg's pipeline mode (`pipelined`): a statement is
sent without waiting for its result, so the statements whose results nobody reads
(INSERT, UPDATE, SAVEPOINT, ...) share the round trip of the next one whose result is
read (`fetchone`, `fetchall`, `rowcount`, `sync`). A failed statement's error is raised
there, not by its `execute`; COMMIT and ROLLBACK wait for their own result.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq.abc import Buffer
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown, TextLoader

from interlude_server.store.sql.dialect import Cursor

APPLICATION_NAME = "interlude-server"


@functools.lru_cache(maxsize=4096)
def to_pg(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (a literal `%` doubled); the SQL has no `?` in literals."""
    return sql.replace("%", "%%").replace("?", "%s")


NUL, ESCAPE = "\x00", "\U0010ffff"
_ESCAPED = re.compile(ESCAPE + "(.)", re.S)


def escape_nul(value: str) -> str:
    """`value` without NUL, reversibly (see the module docstring)."""
    if NUL not in value and ESCAPE not in value:
        return value
    return value.replace(ESCAPE, ESCAPE + ESCAPE).replace(NUL, ESCAPE + "\x01")


def unescape_nul(value: str) -> str:
    if ESCAPE not in value:
        return value
    return _ESCAPED.sub(lambda m: ESCAPE if m.group(1) == ESCAPE else NUL, value)


class _TextParam(StrDumperUnknown):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape_nul(obj))


class _BinaryTextParam(StrBinaryDumper):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape_nul(obj))


class _TextResult(TextLoader):
    def load(self, data: Buffer) -> bytes | str:
        value = super().load(data)
        return unescape_nul(value) if isinstance(value, str) else value


# Statements whose outcome the caller acts on at once: in pipeline mode they wait for it.
_WAITED = frozenset({"COMMIT", "ROLLBACK"})


class _Pipelined:
    """A cursor of a statement sent in pipeline mode: reading its result waits for it."""

    def __init__(self, cur: psycopg.Cursor[Any], pipeline: psycopg.Pipeline) -> None:
        self._cur = cur
        self._pipeline = pipeline

    @property
    def rowcount(self) -> int:
        if self._cur.pgresult is None:  # not received yet (fetchone/fetchall wait by themselves)
            self._pipeline.sync()
        return self._cur.rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


class PgConn:
    """One PostgreSQL connection with sqlite3's `execute`/`executemany`/`in_transaction`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn
        self._pipeline: psycopg.Pipeline | None = None

    @classmethod
    def connect(cls, dsn: str, role: str) -> PgConn:
        """Connect in autocommit mode; `role` (writer, reader, listener) shows in pg_stat_activity."""
        conn = psycopg.connect(dsn, autocommit=True, application_name=f"{APPLICATION_NAME}:{role}")
        conn.adapters.register_dumper(str, _BinaryTextParam)
        conn.adapters.register_dumper(str, _TextParam)  # registered last: the default, as before
        conn.adapters.register_loader("text", _TextResult)
        return cls(conn)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        if self._pipeline is None:
            return self.raw.execute(to_pg(sql), parameters) if parameters else self.raw.execute(sql)
        # No prepared statements in pipeline mode: psycopg (3.3) takes a statement prepared at
        # its threshold in a pipeline for prepared even when the server skipped it (an earlier
        # statement failed), and the DEALLOCATE ALL it queues on a ROLLBACK runs after
        # statements prepared since; either way a later write met "prepared statement ... does
        # not exist" (tests/store/test_pg_group.py reruns a failed write to pin it).
        cur = self.raw.execute(to_pg(sql) if parameters else sql, parameters or None, prepare=False)
        if sql in _WAITED:
            self._pipeline.sync()
        return _Pipelined(cur, self._pipeline)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Pipeline mode for the block (see the module docstring); leaving it waits for
        every result still due and raises the first error among them."""
        with self.raw.pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None

    def sync(self) -> None:
        """Wait for the results of every statement sent so far; raise the first error among
        them. Nothing to do outside pipeline mode, where each statement waits for its own."""
        if self._pipeline is not None:
            self._pipeline.sync()

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
