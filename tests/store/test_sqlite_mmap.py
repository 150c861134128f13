"""SQLite readers map the file (`--sqlite-mmap-mb`): they say so, and read what the writer
commits after they mapped it (WAL pages are read from the -wal file, the rest mapped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service


def _mmap_size(conn: Conn) -> int:
    return int(conn.execute("PRAGMA mmap_size").fetchone()[0])


@pytest.mark.parametrize("mib", [0, 64])
async def test_readers_map_as_much_as_they_are_told(tmp_path: Path, mib: int) -> None:
    store = SqliteStore(tmp_path / "interlude.db", mmap_bytes=mib * 2**20)
    await store.open()
    try:
        sizes = await asyncio.gather(*(store._read(_mmap_size) for _ in range(8)))  # every reader thread's
        assert set(sizes) == {mib * 2**20}
    finally:
        await store.close()


async def test_a_mapped_reader_reads_every_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "interlude.db", mmap_bytes=64 * 2**20)
    await store.open()
    try:
        for n in range(300):  # enough pages that checkpoints move them from the WAL into the file
            await store.write(putter(service(f"svc-{n:04d}", external_id=f"v1-{n}")))
            if n % 50 == 0:
                assert (await store.get_service(BUYER, f"svc-{n:04d}")) is not None
        await store.write(putter(service("svc-0007", external_id="v2")))
        found = await store.get_service(BUYER, "svc-0007")
        assert found is not None
        assert found.external_id == "v2"
        assert await store.count_services() == 300
    finally:
        await store.close()
