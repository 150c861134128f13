"""Reads every body-per-row table shares: one row by (buyer, id), one keyset page.

Mixed into SqliteStore and PgStore (with the area mixins that use it); `_read` is
the store's: it runs a function on a reader connection in one read transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.dialect import SQLITE, Conn, Dialect

T = TypeVar("T")


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
