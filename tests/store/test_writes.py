"""Writes are group-committed, isolated from each other's failures, and never block the loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service


class Boom(Exception):
    pass


async def hold_writer(store: SqliteStore) -> tuple[threading.Event, asyncio.Future[None]]:
    """Occupy the writer thread until the returned event is set, so later writes queue up."""
    entered, release = threading.Event(), threading.Event()

    def gate(tx: SqlTx) -> None:
        entered.set()
        release.wait(10)

    held = asyncio.ensure_future(store.write(gate))
    await asyncio.to_thread(entered.wait, 10)
    return release, held


async def test_a_failing_write_leaves_nothing_and_does_not_poison_its_group(store: SqliteStore) -> None:
    release, held = await hold_writer(store)
    commits_before = store.stats.commits

    def put(i: int) -> Callable[[SqlTx], str]:
        def fn(tx: SqlTx) -> str:
            tx.put_service(service(f"svc-{i:02d}", contacts=["Alice"]))
            if i == 17:
                raise Boom("no")
            return f"svc-{i:02d}"

        return fn

    writes = [asyncio.ensure_future(store.write(put(i))) for i in range(50)]
    await asyncio.sleep(0.05)
    release.set()
    await held
    results = await asyncio.gather(*writes, return_exceptions=True)

    assert isinstance(results[17], Boom)
    assert [r for i, r in enumerate(results) if i != 17] == [f"svc-{i:02d}" for i in range(50) if i != 17]
    assert store.stats.commits - commits_before == 2, "the gate's group, then all 50 in one group"
    assert await store.get_service(BUYER, "svc-17") is None
    page = await store.list_services(BUYER, ServiceQuery(), PageRequest(100))
    assert page.total == 49
    assert len(page.items) == 49
    assert await store.count_services() == 49


async def test_concurrent_writes_share_commits(store: SqliteStore) -> None:
    before = store.stats
    await asyncio.gather(*(store.write(putter(service(f"svc-{i:03d}"))) for i in range(200)))
    after = store.stats

    assert after.writes - before.writes == 200
    assert after.commits - before.commits < 200
    assert after.max_batch > 1
    assert await store.count_services() == 200


async def test_write_returns_the_function_result_after_commit(store: SqliteStore) -> None:
    def put_and_read(tx: SqlTx) -> str | None:
        tx.put_service(service("svc-1", external_id="e"))
        got = tx.get_service(BUYER, "svc-1")
        return None if got is None else got.external_id

    assert await store.write(put_and_read) == "e"
    assert await store.get_service(BUYER, "svc-1") is not None


async def test_a_write_function_must_be_synchronous(store: SqliteStore) -> None:
    async def not_sync(tx: SqlTx) -> None:
        tx.put_service(service("svc-1"))

    with pytest.raises(TypeError, match="synchronous"):
        _ = await store.write(not_sync)
    assert await store.get_service(BUYER, "svc-1") is None


async def test_a_tx_cannot_be_used_after_its_write(store: SqliteStore) -> None:
    leaked = await store.write(lambda tx: tx)
    with pytest.raises(RuntimeError, match="finished"):
        leaked.get_service(BUYER, "svc-1")


async def test_slow_writes_do_not_block_the_event_loop(store: SqliteStore) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def slow(tx: SqlTx) -> None:
        time.sleep(0.3)
        tx.put_service(service("svc-1"))

    task = asyncio.ensure_future(ticker())
    await store.write(slow)
    task.cancel()
    assert ticks >= 10


async def test_a_write_cancelled_while_queued_is_not_applied(store: SqliteStore) -> None:
    release, held = await hold_writer(store)
    queued = asyncio.ensure_future(store.write(lambda tx: tx.put_service(service("svc-x"))))
    await asyncio.sleep(0.01)
    queued.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await queued  # the cancellation has reached the store's queue
    release.set()
    await held
    await store.write(lambda tx: None)
    assert await store.get_service(BUYER, "svc-x") is None


async def test_writes_and_reads_after_close_are_refused(store: SqliteStore) -> None:
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await store.write(lambda tx: None)
    with pytest.raises(RuntimeError, match="not open"):
        await store.get_service(BUYER, "svc-1")


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "drain.db")
    await store.open()
    release, held = await hold_writer(store)
    writes = [asyncio.ensure_future(store.write(putter(service(f"s{i}")))) for i in range(20)]
    await asyncio.sleep(0.01)
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0.01)
    release.set()
    await closing
    await held
    await asyncio.gather(*writes)

    reopened = SqliteStore(tmp_path / "drain.db")
    await reopened.open()
    try:
        assert await reopened.count_services() == 20
    finally:
        await reopened.close()
