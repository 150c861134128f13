"""Fixtures: a real SqliteStore on a file in tmp_path, opened per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from interlude_server.store.sqlite import SqliteStore


@pytest_asyncio.fixture(loop_scope="function")
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open store whose database lives in a fresh directory (created by the store)."""
    s = SqliteStore(tmp_path / "db" / "interlude.db")
    await s.open()
    yield s
    await s.close()
