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
there, not by its `execute`; COMMIT and ROLLBACK wait for their own result. Statements are
prepared by psycopg once run often enough, in pipeline mode too; see `forget_prepared` for
what the writer does after a failure.
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
        self._pipeline_manager: contextlib.AbstractContextManager[psycopg.Pipeline] | None = None

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
        cur = self.raw.execute(to_pg(sql) if parameters else sql, parameters or None)
        if sql in _WAITED:
            self._pipeline.sync()
        return _Pipelined(cur, self._pipeline)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Pipeline mode for the block (see the module docstring); leaving it waits for
        every result still due and raises the first error among them."""
        self._enter_pipeline()
        try:
            yield
        except BaseException as exc:
            self._leave_pipeline(exc)
            raise
        self._leave_pipeline(None)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Pipeline mode off for the block (each statement waits for its own result), then
        on again; outside pipeline mode a plain block. Leaving pipeline mode waits for every
        result due and raises the first error among them: `sync` first to see them."""
        if self._pipeline is None:
            yield
            return
        self._leave_pipeline(None)
        try:
            yield
        finally:
            self._enter_pipeline()

    def _enter_pipeline(self) -> None:
        manager = self.raw.pipeline()
        self._pipeline = manager.__enter__()
        self._pipeline_manager = manager

    def _leave_pipeline(self, exc: BaseException | None) -> None:
        manager, self._pipeline_manager, self._pipeline = self._pipeline_manager, None, None
        if manager is not None:
            manager.__exit__(type(exc) if exc is not None else None, exc, exc.__traceback__ if exc else None)

    def sync(self) -> None:
        """Wait for the results of every statement sent so far; raise the first error among
        them. Nothing to do outside pipeline mode, where each statement waits for its own."""
        if self._pipeline is not None:
            self._pipeline.sync()

    def forget_prepared(self) -> None:
        """Drop every prepared statement, in psycopg's memory and on the server; call it
        outside pipeline mode (`paused`).

        psycopg prepares a statement run often enough (its threshold), also in pipeline
        mode, where its bookkeeping goes wrong after a failed statement: it records as
        prepared a statement whose Parse the server skipped (the rest of the pipeline was
        aborted), and then sends that name, which the server does not know ("prepared
        statement ... does not exist", psycopg 3.2 and 3.3; tests/store/test_pg_group.py).
        It forgets its statements on a ROLLBACK or DEALLOCATE ALL only the first time it
        sees one, so the writer, after a failure, empties both sides here itself: psycopg's
        statement cache (`_prepared`, not public API, present since psycopg 3.0) and the
        server's, and statements are prepared anew. Should a psycopg release lack the
        cache, the connection stops preparing statements at all (`prepare_threshold` None,
        public API): slower, never wrong."""
        assert self._pipeline is None, "forget_prepared runs outside pipeline mode"
        forget = getattr(getattr(self.raw, "_prepared", None), "clear", None)
        if callable(forget):
            forget()
        else:
            self.raw.prepare_threshold = None
        self.raw.execute("DEALLOCATE ALL", prepare=False)

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
