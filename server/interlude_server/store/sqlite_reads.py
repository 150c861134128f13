"""Reads every body-per-row table shares: one row by (buyer, id), one keyset page.

Mixed into SqliteStore (with the area mixins that use it); `_read` and `_read_now` are
the store's: a function on a reader thread in one read transaction, or one statement
run at once on the caller's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from interlude_server.store import sqlite_queries as q
from interlude_server.store.base import Page, PageRequest

T = TypeVar("T")


class BodyReads:
    """`_by_id` and `_page_of` over tables with `buyer_id`, `id` and a serialized `body`."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _by_id(self, table: str, buyer_id: str, row_id: str, parse: Callable[[bytes], T]) -> T | None:
        def run(conn: sqlite3.Connection) -> T | None:
            row = conn.execute(
                f"SELECT body FROM {table} WHERE buyer_id = ? AND id = ?", (buyer_id, row_id)
            ).fetchone()
            return None if row is None else parse(bytes(row[0]))

        return await self._read_now(run)

    async def _page_of(
        self, table: str, where: q.Where, ordering: q.Ordering, page: PageRequest, parse: Callable[[bytes], T]
    ) -> Page[T]:
        result: Page[T] = await self._read(
            lambda conn: q.fetch_page(conn, table, where, ordering, page, parse)
        )
        return result
