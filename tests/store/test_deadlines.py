"""A write whose call's deadline passes before the writer begins it is not done (domain.deadlines)."""

from __future__ import annotations

import asyncio

import pytest

from interlude_server.core import deadlines
from interlude_server.core.errors import DeadlineExceeded
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, putter, service
from tests.store.test_writes import hold_writer


async def _past_deadline() -> None:
    """Sleep until a deadline of 0.05 s bound just before has surely passed."""
    await asyncio.sleep(0.1)


async def test_a_write_whose_deadline_passes_while_queued_is_refused_and_not_done(store: SqliteStore) -> None:
    release, held = await hold_writer(store)

    async def call() -> None:
        deadlines.bind(0.05)  # as the interceptor does for a call with 50 ms left
        await store.write(putter(service("late")))

    late = asyncio.ensure_future(call())
    await _past_deadline()
    release.set()
    await held
    with pytest.raises(DeadlineExceeded, match="before the write began"):
        await late
    assert await store.get_service(BUYER, "late") is None


async def test_a_write_submitted_after_the_deadline_is_refused_at_once(store: SqliteStore) -> None:
    commits = store.stats.commits
    deadlines.bind(0.0)
    with pytest.raises(DeadlineExceeded, match="before the write was queued"):
        await store.write(putter(service("expired")))
    deadlines.bind(None)
    assert store.stats.commits == commits


async def test_work_spawned_by_a_call_outlives_its_deadline(store: SqliteStore) -> None:
    """Background work a call starts (e.g. the order processor's steps) inherits the call's
    context but not its deadline: the deadline belongs to the task that bound it."""
    deadlines.bind(0.05)
    spawned = asyncio.ensure_future(_past_deadline_then_write(store))
    await spawned
    assert await store.get_service(BUYER, "background") is not None


async def _past_deadline_then_write(store: SqliteStore) -> None:
    await _past_deadline()
    await store.write(putter(service("background")))
