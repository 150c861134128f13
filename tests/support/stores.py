"""An in-process store for tests that drive the server's own classes: the real SQLite store on a
file, holding the demo seed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from interlude_server.seed import load_seed
from interlude_server.store.sqlite.store import SqliteStore


@contextlib.asynccontextmanager
async def demo_store(path: Path) -> AsyncIterator[SqliteStore]:
    """A SQLite store on the file `path`, opened and seeded with the demo inventory; closed
    after the block."""
    store = SqliteStore(path)
    await store.open()
    try:
        await load_seed(store, "demo")
        yield store
    finally:
        await store.close()
