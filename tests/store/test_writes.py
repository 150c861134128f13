"""Writes are group-committed, isolated from each other's failures, and never block the loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service


class Boom(Exception):
    pass


async def hold_writer(store: SqliteStore | PgStore) -> tuple[threading.Event, asyncio.Future[None]]:
    """Occupy the writer thread until the returned event is set, so later writes queue up."""
    entered, release = threading.Event(), threading.Event()

    def gate(tx: SqlTx) -> None:
        entered.set()
        release.wait(10)

    held = asyncio.ensure_future(store.write(gate))
    await asyncio.to_thread(entered.wait, 10)
    return release, held


async def one_group(
    store: SqliteStore | PgStore, fns: Sequence[Callable[[SqlTx], object]], *, committed: bool = True
) -> list[object]:
    """Run `fns` as one group (the writer is held busy until all of them are queued); their
    results, an exception for each that failed. `committed`: whether the group commits."""
    release, held = await hold_writer(store)
    before = store.stats
    futures = [asyncio.ensure_future(store.write(fn)) for fn in fns]
    await asyncio.sleep(0.05)
    release.set()
    await held
    results = await asyncio.gather(*futures, return_exceptions=True)
    after = store.stats
    assert after.writes - before.writes == len(fns), "every one of `fns` ran"
    assert after.commits - before.commits == 1 + committed, "the gate's group, then `fns` as one group"
    return list(results)


async def test_a_failing_write_leaves_nothing_and_does_not_poison_its_group(store: SqliteStore) -> None:
    def put(i: int) -> Callable[[SqlTx], str]:
        def fn(tx: SqlTx) -> str:
            tx.put_service(service(f"svc-{i:02d}", contacts=["Alice"]))
            if i == 17:
                raise Boom("no")
            return f"svc-{i:02d}"

        return fn

    results = await one_group(store, [put(i) for i in range(50)])  # all 50 in one group
    assert isinstance(results[17], Boom)
    assert [r for i, r in enumerate(results) if i != 17] == [f"svc-{i:02d}" for i in range(50) if i != 17]
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


async def test_a_group_numbers_its_events_in_order_and_a_failed_write_leaves_only_a_gap(
    store: SqliteStore | PgStore,
) -> None:
    """The writes of one group draw their events' seqs from the group's counters (SQLite: read
    once per group): every committed event has its own, in commit order; a write that failed
    after appending leaves a gap, and the next group goes on after the last committed one."""

    def append(i: int) -> Callable[[SqlTx], int]:
        def fn(tx: SqlTx) -> int:
            first = tx.append_event(BUYER, events_pb2.Event(event_id=f"e{i}a"))
            tx.append_event(BUYER, events_pb2.Event(event_id=f"e{i}b"))
            if i == 3:
                raise Boom("after appending")
            return first

        return fn

    results = await one_group(store, [append(i) for i in range(6)])
    assert isinstance(results[3], Boom)
    later = await store.write(append(9))  # a group of its own
    events = await store.read_events(BUYER, 0, later + 1, 100)
    ids = [e.event_id for e in events]
    assert ids == [f"e{i}{x}" for i in (0, 1, 2, 4, 5, 9) for x in "ab"]
    seqs = [e.sequence for e in events]
    assert seqs == sorted(set(seqs))  # unique and in commit order
    assert [r for r in results if not isinstance(r, Exception)] == [seqs[i] for i in (0, 2, 4, 6, 8)]


async def test_a_group_wakes_its_writers_loop_once_and_each_gets_its_own_outcome(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    wakeups: list[str] = []
    real = loop.call_soon_threadsafe

    def counted(callback: Callable[..., object], *args: object, **kwargs: object) -> asyncio.Handle:
        wakeups.append(getattr(callback, "__name__", repr(callback)))
        return real(callback, *args, **kwargs)  # type: ignore[arg-type]

    def put(i: int) -> Callable[[SqlTx], int]:
        def fn(tx: SqlTx) -> int:
            if i % 5 == 4:
                raise Boom(i)
            tx.put_service(service(f"svc-{i}"))
            return i

        return fn

    release, held = await hold_writer(store)
    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    futures = [asyncio.ensure_future(store.write(put(i))) for i in range(20)]
    await asyncio.sleep(0.05)
    release.set()
    await held
    results = await asyncio.gather(*futures, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 5 == 4:
            assert isinstance(result, Boom)
            assert result.args == (i,)
        else:
            assert result == i
    # the held write's group and the twenty's: one settling wake-up each (and one publish
    # each for the events they appended), not one per write
    assert wakeups.count("_settle_waiters") == 2, wakeups


async def test_a_write_cancelled_while_it_runs_is_still_committed(store: SqliteStore) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(tx: SqlTx) -> None:
        entered.set()
        release.wait(10)
        tx.put_service(service("svc-run"))

    running = asyncio.ensure_future(store.write(slow))
    await asyncio.to_thread(entered.wait, 10)
    running.cancel()
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await store.write(lambda tx: None)  # the group after it: the slow one has ended
    assert await store.get_service(BUYER, "svc-run") is not None
