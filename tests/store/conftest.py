"""Fixtures: a real store, opened per test, on each engine: a SQLite file in tmp_path and a
fresh database of the session's PostgreSQL server."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sqlite.store import SqliteStore
from tests.support.pg_cluster import PgServer

STORE_KINDS = ("sqlite", "postgresql")


@pytest_asyncio.fixture(loop_scope="function", params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStore | PgStore]:
    """An open store in a fresh database (for SQLite: a new directory, created by the store)."""
    s: SqliteStore | PgStore
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "db" / "interlude.db")
    else:
        pg: PgServer = request.getfixturevalue("pg_server")
        s = PgStore(pg.create_database(request.node.name, migrated=True))
    await s.open()
    yield s
    await s.close()


@pytest_asyncio.fixture(loop_scope="function")
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open SQLite store, for tests of what only SQLite has (its file, WAL, pragmas)."""
    s = SqliteStore(tmp_path / "db" / "interlude.db")
    await s.open()
    yield s
    await s.close()


def query(store: SqliteStore | PgStore, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` read straight from the store's database, beside the store's own connections."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(store.dsn) as pg:
        return pg.execute(sql).fetchall()
