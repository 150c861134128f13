"""Two stores on one SQLite file, as two processes see it: whole-log reads, the commit watch,
leases and the lease keeper that moves work between processes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.cluster.follower import LogFollower
from interlude_server.cluster.leases import LeaseKeeper
from interlude_server.events.hub import EventHub, MeasurementHub
from interlude_server.store.interface.store import Committed, LoggedEvent
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.schema import configure_writer
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, OTHER_BUYER, ts


@pytest_asyncio.fixture(loop_scope="function")
async def other(store: SqliteStore) -> AsyncIterator[SqliteStore]:
    """A second store on the same database (another process's view of it)."""
    s: Any = PgStore(store.dsn) if isinstance(store, PgStore) else SqliteStore(store.path)
    await s.open()
    yield s
    await s.close()


def _append(buyer: str, resource_id: str) -> Callable[[SqlTx], int]:
    def write(tx: SqlTx) -> int:
        event = events_pb2.Event(
            event_id=f"ev-{resource_id}", event_type=events_pb2.EVENT_TYPE_SERVICE_CREATE
        )
        event.resource.id = resource_id
        event.event_time.CopyFrom(ts(1))
        return tx.append_event(buyer, event)

    return write


async def _until(done: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until `done()` (bounded: the caller's assertions say what was missing)."""
    for _ in range(int(seconds / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)


async def test_read_log_after_returns_every_buyers_events_in_sequence(
    store: SqliteStore, other: SqliteStore
) -> None:
    first = await store.write(_append(BUYER, "s1"))
    await other.write(_append(OTHER_BUYER, "s2"))
    await store.write(_append(BUYER, "s3"))
    got = await other.read_log_after(first - 1, 10)
    assert [(b, e.resource.id, e.sequence) for b, e in got] == [
        (BUYER, "s1", first),
        (OTHER_BUYER, "s2", first + 1),
        (BUYER, "s3", first + 2),
    ]
    assert [e.resource.id for _, e in await store.read_log_after(first, 1)] == ["s2"]
    assert await store.read_measurement_log_after(0, 10) == []
    # the same rows unparsed, as the event hub's tail keeps them
    bodies = await other.read_log_bodies_after(first - 1, 10)
    assert [(b, seq, events_pb2.Event.FromString(body)) for b, seq, body in bodies] == [
        (b, e.sequence, e) for b, e in got
    ]


async def test_the_commit_watch_wakes_on_another_connections_commit(
    store: SqliteStore, other: SqliteStore
) -> None:
    woken = asyncio.Event()
    watch = asyncio.create_task(store.watch_commits(0.01, woken.set))
    try:
        await asyncio.wait_for(woken.wait(), 5)  # once, when the watch has its baseline
        woken.clear()
        await asyncio.sleep(0.05)
        assert not woken.is_set()  # nothing committed since: no wake-up
        await other.write(_append(BUYER, "s1"))
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        watch.cancel()


def _seq(item: Committed) -> int:
    return item.event.sequence if isinstance(item, LoggedEvent) else item.sequence


async def test_a_follower_publishes_the_other_stores_commits_in_order(
    store: SqliteStore, other: SqliteStore
) -> None:
    hub, measurements = EventHub(0), MeasurementHub(0)
    published: list[int] = []
    follower = LogFollower(
        store, hub, measurements, lambda items: published.extend(_seq(i) for _, i in items)
    )
    run = asyncio.create_task(follower.run())
    watch = asyncio.create_task(store.watch_commits(0.01, follower.wake))
    try:
        for n in range(5):
            await other.write(_append(BUYER if n % 2 else OTHER_BUYER, f"s{n}"))
        await _until(lambda: len(published) == 5)
    finally:
        run.cancel()
        watch.cancel()
    assert published == [1, 2, 3, 4, 5]
    assert hub.last_seq == 5


async def test_commits_made_before_the_watch_began_are_published(
    store: SqliteStore, other: SqliteStore
) -> None:
    hub, measurements = EventHub(0), MeasurementHub(0)
    published: list[int] = []
    caught_up = asyncio.Event()
    follower = LogFollower(
        store, hub, measurements, lambda items: published.extend(_seq(i) for _, i in items), caught_up.set
    )
    run = asyncio.create_task(follower.run())
    watch = None
    try:
        await asyncio.wait_for(caught_up.wait(), 5)  # the follower's first catch-up: nothing yet
        for n in range(2):  # committed while nothing watches
            await other.write(_append(BUYER, f"s{n}"))
        watch = asyncio.create_task(store.watch_commits(0.01, follower.wake))
        await _until(lambda: len(published) == 2)
    finally:
        run.cancel()
        if watch is not None:
            watch.cancel()
    assert published == [1, 2]


async def test_a_lease_has_one_holder_until_it_expires_or_is_released(
    store: SqliteStore, other: SqliteStore
) -> None:
    assert await store.acquire_lease("orders", "a", 0.3)
    assert not await other.acquire_lease("orders", "b", 0.3)  # held by a
    assert await store.acquire_lease("orders", "a", 0.3)  # renewed
    assert await other.acquire_lease("pm-jobs", "b", 10)  # leases are independent
    await other.release_lease("orders", "b")  # not b's: no effect
    assert not await other.acquire_lease("orders", "b", 0.3)
    await asyncio.sleep(0.4)  # a stopped renewing: the lease expired
    assert await other.acquire_lease("orders", "b", 10)
    assert not await store.acquire_lease("orders", "a", 10)
    await other.release_lease("orders", "b")
    assert await store.acquire_lease("orders", "a", 10)


class Component:
    """Records what the keeper asks of it (the real components resume from the store)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def take_over(self) -> int:
        self.calls.append("take")
        return 0

    async def hand_over(self) -> None:
        self.calls.append("hand")


async def test_the_lease_moves_to_the_other_process_when_its_holder_stops_renewing(
    store: SqliteStore, other: SqliteStore
) -> None:
    first, second = Component(), Component()
    a = LeaseKeeper(store, {"orders": first}, ttl=0.3, owner="a")
    b = LeaseKeeper(other, {"orders": second}, ttl=0.3, owner="b")
    await a.start()
    await b.start()
    try:
        assert first.calls == ["hand", "take"]  # nothing runs before the lease is held
        assert second.calls == ["hand"]
        await a.halt()  # a stalls: no renewals
        for _ in range(300):
            if second.calls[-1] == "take":
                break
            await asyncio.sleep(0.01)
        assert second.calls == ["hand", "take"]
        await a.renew()  # a wakes up: the lease is b's now, so a stops driving
        assert first.calls == ["hand", "take", "hand"]
        assert a.held == set()
        await b.release()  # a clean shutdown: a takes over at its next round
        await a.renew()
        assert first.calls[-1] == "take"
    finally:
        await a.release()
        await b.release()


def test_the_switch_to_wal_waits_out_another_process_holding_the_database(tmp_path: Path) -> None:
    # `--workers 2` on a new database: both writers switch it to WAL at once, and SQLite can
    # answer the loser "database is locked" at once. Here the busy handler is off (timeout=0)
    # so only the retry in configure_writer can wait for the holder to let go.
    path = tmp_path / "race.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, holder.rollback).start()
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        configure_writer(conn, wait_s=10.0)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
        holder.close()


def test_the_switch_to_wal_gives_up_with_the_lock_error_after_its_wait(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            configure_writer(conn, wait_s=0.2)
    finally:
        conn.close()
        holder.rollback()
        holder.close()
