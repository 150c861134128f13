"""What every body-per-row table shares: a row by (buyer, id) and a keyset page on the read
side, a locked read and an upsert on the write side.

Such a table holds one serialized message per row (`body`) beside `buyer_id`, `id` and the
columns its filters need. `BodyReads` is mixed into SqliteStore and PgStore (with the
feature mixins that use it); its `_read` is the store's: it runs a function on a reader
connection in one read transaction. `BodyTx` is mixed into SqlTx (with the feature
mixins that use it); its `_c` is the open write connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.dialect import SQLITE, Conn, Dialect, upsert
from interlude_server.store.sql.seqs import GroupSequences

T = TypeVar("T")


class BodyTx:
    """`_body`, `_get` and `_put` over tables keyed by (`buyer_id`, `id`), in the write transaction."""

    _dialect: Dialect
    _seqs: GroupSequences | None = None  # PostgreSQL's writer: the group's log sequences

    @property
    def _c(self) -> Conn:
        raise NotImplementedError  # SqlTx's

    def _log_seq(self, log: str) -> int:
        """The sequence of the next row of `log` (a streamed log, dialect.SEQUENCED_LOGS)."""
        if self._seqs is not None:
            return self._seqs.next(self._c, log)
        return self._dialect.next_seq(self._c, log)

    def _body(self, table: str, buyer_id: str, row_id: str) -> bytes | None:
        """The row's body, read as a write that may change it (PostgreSQL: the row is locked
        until COMMIT, see Dialect.for_update); None if there is no such row."""
        row = self._c.execute(
            f"SELECT body FROM {table} WHERE buyer_id = ? AND id = ?{self._dialect.for_update}",
            (buyer_id, row_id),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _get(self, table: str, buyer_id: str, row_id: str, parse: Callable[[bytes], T]) -> T | None:
        body = self._body(table, buyer_id, row_id)
        return None if body is None else parse(body)

    def _put(self, table: str, columns: dict[str, Any], keys: Sequence[str] = ("buyer_id", "id")) -> None:
        """Insert the row `columns` describes, or replace the one with the same `keys`."""
        upsert(self._c, table, keys, columns)


class BodyReads:
    """`_by_id` and `_page_of` over tables with `buyer_id`, `id` and a serialized `body`."""

    _dialect: Dialect = SQLITE

    async def _read(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError  # the store's

    async def _read_one(self, fn: Callable[[Conn], T]) -> T:
        """A read of one statement, which is its own snapshot: PostgreSQL skips the
        BEGIN/ROLLBACK round trips of `_read` for it, SQLite runs it on the calling thread."""
        return await self._read(fn)

    async def _by_id(self, table: str, buyer_id: str, row_id: str, parse: Callable[[bytes], T]) -> T | None:
        return await self._one(
            f"SELECT body FROM {table} WHERE buyer_id = ? AND id = ?", (buyer_id, row_id), parse
        )

    async def _one(self, sql: str, params: tuple[str, ...], parse: Callable[[bytes], T]) -> T | None:
        """The body the one-statement read `sql` selects, parsed; None if it selects no row."""

        def run(conn: Conn) -> T | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else parse(bytes(row[0]))

        return await self._read_one(run)

    async def _all(self, sql: str, params: tuple[int | str, ...], parse: Callable[[bytes], T]) -> list[T]:
        """Every body `sql` selects, parsed, in its order (one read transaction)."""

        def run(conn: Conn) -> list[T]:
            return [parse(bytes(row[0])) for row in conn.execute(sql, params).fetchall()]

        return await self._read(run)

    async def _page_of(
        self, table: str, where: q.Where, ordering: q.Ordering, page: PageRequest, parse: Callable[[bytes], T]
    ) -> Page[T]:
        result: Page[T] = await self._read(
            lambda conn: q.fetch_page(conn, table, where, ordering, page, parse, dialect=self._dialect)
        )
        return result
