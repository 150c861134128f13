"""StreamTestResults on the shared replay-then-follow loop: a test job's feed re-reads the
store after each commit that touched the job, and the stream ends after the job does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from google.protobuf import duration_pb2

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.api import service_testing_stream
from interlude_server.api.service_testing_stream import JobFeed, stream_test_results
from interlude_server.core.errors import ShuttingDown
from interlude_server.events import tokens
from interlude_server.events.hub import Wakeups

St = service_test_pb2
JOB = "job-1"


def _measured(n: int) -> St.StreamTestResultsResponse:
    return St.StreamTestResultsResponse(measurement=St.TestMeasurement(sequence_number=n))


def _state(state: St.TestJobState.ValueType) -> St.StreamTestResultsResponse:
    return St.StreamTestResultsResponse(state_change=St.TestJobStateChange(state=state))


class _Items:
    """One job's stream items, as the store reads them; counts the reads."""

    def __init__(self) -> None:
        self.items: list[St.StreamTestResultsResponse] = []
        self.reads = 0

    def add(self, *items: St.StreamTestResultsResponse) -> None:
        self.items.extend(items)

    async def read_test_items(
        self, buyer_id: str, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, St.StreamTestResultsResponse]]:
        assert (buyer_id, job_id) == ("a", JOB)
        self.reads += 1
        numbered = [(seq, St.StreamTestResultsResponse()) for seq in range(1, len(self.items) + 1)]
        for (_, copy), item in zip(numbered, self.items, strict=True):
            copy.CopyFrom(item)
        return [row for row in numbered if row[0] > after_seq][:limit]


def _feed(items: _Items, wakeups: Wakeups) -> JobFeed:
    return JobFeed(cast(Any, items), wakeups, "a", JOB)


async def _replayed(feed: JobFeed, after: int = 0) -> list[int]:
    return [item.sequence async for item in feed.replay(after)]


def test_the_replay_reads_page_by_page_and_stops_at_the_jobs_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_testing_stream, "REPLAY_PAGE", 2)
    items = _Items()
    items.add(_measured(1), _measured(2), _measured(3), _state(St.TEST_JOB_STATE_COMPLETED), _measured(5))
    items.add(_measured(6), _measured(7))
    feed = _feed(items, Wakeups())
    assert asyncio.run(_replayed(feed, after=1)) == [2, 3, 4, 5]  # the rest of the terminal page too
    assert feed.ended


def test_a_live_item_is_read_after_the_commit_that_wakes_the_feed() -> None:
    async def scenario() -> tuple[list[int], int | None]:
        items, wakeups = _Items(), Wakeups()
        items.add(_measured(1))
        feed = _feed(items, wakeups)
        replayed = await _replayed(feed)
        reads = items.reads

        async def commit() -> None:
            await asyncio.sleep(0.05)
            items.add(_measured(2))
            wakeups.notify(JOB)

        committing = asyncio.create_task(commit())
        live = await feed.next(5)
        await committing
        assert items.reads == reads + 1  # read once, after the wake-up
        feed.release()
        return replayed, None if live is None else live.sequence

    assert asyncio.run(scenario()) == ([1], 2)


def test_wake_ups_that_add_nothing_do_not_put_the_heartbeat_off() -> None:
    async def scenario() -> float:
        items, wakeups = _Items(), Wakeups()
        feed = _feed(items, wakeups)
        await _replayed(feed)

        async def poke() -> None:
            while True:
                await asyncio.sleep(0.02)
                wakeups.notify_all()  # e.g. the cluster follower after every catch-up

        poking = asyncio.create_task(poke())
        started = time.monotonic()
        assert await feed.next(0.2) is None
        poking.cancel()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 1.0


def _stream(items: _Items, wakeups: Wakeups, **request: Any) -> AsyncIterator[St.StreamTestResultsResponse]:
    ask = St.StreamTestResultsRequest(test_job_id=JOB, **request)
    return stream_test_results(cast(Any, items), wakeups, "a", ask, "log-1")


def test_the_stream_replays_syncs_follows_and_ends_after_the_jobs_terminal_state() -> None:
    async def scenario() -> list[St.StreamTestResultsResponse]:
        items, wakeups = _Items(), Wakeups()
        items.add(_state(St.TEST_JOB_STATE_IN_PROGRESS), _measured(1))
        got: list[St.StreamTestResultsResponse] = []
        async for response in _stream(items, wakeups):
            got.append(response)
            if response.HasField("sync"):
                items.add(_measured(2), _state(St.TEST_JOB_STATE_COMPLETED))
                wakeups.notify(JOB)
        assert not wakeups._waiters  # the stream gave its waiter back
        return got

    got = asyncio.run(scenario())
    kinds = [r.WhichOneof("kind") for r in got]
    assert kinds == ["state_change", "measurement", "sync", "measurement", "state_change"]
    points = [tokens.decode(r.resume_token) for r in got]
    assert [p.seq for p in points] == [1, 2, 2, 3, 4]
    assert {p.log_id for p in points} == {"log-1/test-job/job-1"}
    assert got[2].sync.resume_token == got[2].resume_token


def test_a_resumed_stream_sends_what_follows_its_token_heartbeats_and_ends_at_shutdown() -> None:
    got: list[St.StreamTestResultsResponse] = []

    async def scenario() -> None:
        items, wakeups = _Items(), Wakeups()
        items.add(_measured(1), _measured(2), _measured(3))
        token = tokens.encode(tokens.ResumePoint("log-1/test-job/job-1", 2))
        quick = duration_pb2.Duration(seconds=1)
        async for response in _stream(items, wakeups, resume_token=token, heartbeat_interval=quick):
            got.append(response)
            if response.HasField("heartbeat"):
                wakeups.close()

    with pytest.raises(ShuttingDown):
        asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [r.WhichOneof("kind") for r in got] == ["measurement", "sync", "heartbeat"]
    assert got[0].measurement.sequence_number == 3
    assert got[2].heartbeat.resume_token == got[2].resume_token == got[1].resume_token
