"""StreamTestResults: one test job's stored stream items, a sync marker, then live ones.

Built on the same replay-then-follow loop as StreamEvents (events/streaming).
A job has no hub: its feed re-reads the job's durable stream items from the
store, after each commit that touched the job (Wakeups). The stream ends after
the job's terminal state change. A resume token names an item of this job's
stream; a token of another job or server is INVALID_RESUME_TOKEN.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from typing import NamedTuple

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.api.streaming import envelope, heartbeat_seconds
from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.domain.sft.states import TEST_JOB
from interlude_server.events import tokens
from interlude_server.events.hub import Wakeups
from interlude_server.events.streaming import replay_then_follow
from interlude_server.store.interface.store import Store

St = service_test_pb2
Response = St.StreamTestResultsResponse
REPLAY_PAGE = 500


class JobItem(NamedTuple):
    """One stored item of a job's stream, at its position in that stream."""

    sequence: int
    response: Response


def _terminal(response: Response) -> bool:
    return response.HasField("state_change") and response.state_change.state in TEST_JOB.terminal


class JobFeed:
    """The items of one job's stream, read from the store page by page (events/streaming.Feed).

    The wake-up is armed before every read, so a commit made after a read always
    wakes the feed and one made before is in the read: nothing is lost, and reads
    after the last item read never give one twice."""

    start_seq = 0  # no fixed end to replay to: the replay reads what the job has
    overflowed = False  # nothing is buffered ahead of the reader

    def __init__(self, store: Store, wakeups: Wakeups, buyer_id: str, job_id: str) -> None:
        self._store = store
        self._wakeups = wakeups
        self._buyer_id = buyer_id
        self._job_id = job_id
        self._waiter = wakeups.waiter(job_id)
        self._buffer: deque[JobItem] = deque()
        self._cursor = 0  # the last item read
        self._dry = False  # the last read found no more: wait for a commit before reading again
        self._finished = False  # a read found the job's terminal state change

    @property
    def closed(self) -> bool:
        return self._wakeups.closed

    @property
    def ended(self) -> bool:
        """The job finished and every item read was handed out (the rest of that page too)."""
        return self._finished and not self._buffer

    async def _read(self) -> None:
        self._waiter.clear()
        page = await self._store.read_test_items(self._buyer_id, self._job_id, self._cursor, REPLAY_PAGE)
        self._dry = len(page) < REPLAY_PAGE
        for seq, response in page:
            self._buffer.append(JobItem(seq, response))
            self._cursor = seq
            self._finished = self._finished or _terminal(response)

    async def replay(self, after: int) -> AsyncIterator[JobItem]:
        """Every item after `after` that the job has now, page by page (up to its end)."""
        self._cursor = after
        while not (self._dry or self._finished):
            await self._read()
            while self._buffer:
                yield self._buffer.popleft()

    async def next(self, wait_s: float) -> JobItem | None:
        """The next item; None after `wait_s` seconds without one (however often a commit woke
        the feed without adding to the job's stream) or when the server shuts down."""
        deadline = time.monotonic() + wait_s
        while not self._buffer:
            if self._dry:
                left = deadline - time.monotonic()
                if left <= 0 or not await Wakeups.wait(self._waiter, left) or self.closed:
                    return None
            await self._read()
        return self._buffer.popleft()

    def quiet_seq(self) -> int:
        return self._cursor  # `next` gives None only once every item read was handed out

    def release(self) -> None:
        self._wakeups.release(self._job_id, self._waiter)


def _start(request: St.StreamTestResultsRequest, log_id: str) -> int:
    """The position to replay after: that of the resume token, or the stream's start."""
    if not request.resume_token:
        return 0
    point = tokens.decode(request.resume_token)
    if point.log_id != log_id:
        raise InvalidArgument(
            "resume_token belongs to another job or server",
            [Violation("resume_token", "not a token of this job's stream")],
            reason="INVALID_RESUME_TOKEN",
        )
    return point.seq


async def stream_test_results(
    store: Store, wakeups: Wakeups, buyer_id: str, request: St.StreamTestResultsRequest, server_log_id: str
) -> AsyncIterator[Response]:
    """The job's stream (the caller checked that the buyer owns the job)."""
    interval = heartbeat_seconds(request)
    log_id = f"{server_log_id}/test-job/{request.test_job_id}"
    after = _start(request, log_id)

    def token(seq: int) -> str:
        return tokens.encode(tokens.ResumePoint(log_id, seq))

    def respond(item: JobItem) -> Response:
        item.response.resume_token = token(item.sequence)
        return item.response

    feed = JobFeed(store, wakeups, buyer_id, request.test_job_id)

    async def replay(after: int, _up_to: int) -> AsyncIterator[tuple[int, Response]]:
        async for item in feed.replay(after):
            yield item.sequence, respond(item)

    shape = envelope(Response, token, respond, stamped=True)
    async for response in replay_then_follow(feed, after, replay, shape, interval):
        yield response
