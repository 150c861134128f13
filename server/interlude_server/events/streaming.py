"""The replay-then-follow loop shared by every resumable stream (events, measurements, test results).

A stream fixes its live side first (its feed: a hub subscription, which fixes
`start_seq`), replays the durable log after its start point up to `start_seq`,
sends the sync marker, then (unless it is a one-shot stream) follows live items
until its feed ends, sending a heartbeat with a fresh resume token whenever it
is quiet. Because the subscription starts before the replay ends, nothing
committed in between is lost, and a live item at or below the cursor is never
sent twice. A subscriber that overflows its buffer is cut with SLOW_CONSUMER
and the token to resume from.

A feed without a hub (a test job's results) re-reads the store instead: its
replay reads everything the job has so far and its `next` reads after the last
item read, and it arms its wake-up before every read, so a commit after a read
always wakes it and one before is in the read; the same guarantee.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message

from interlude_server.core.errors import ShuttingDown, SlowConsumer
from interlude_server.events import tokens
from interlude_server.events.hub import Sequenced

T = TypeVar("T", bound=Sequenced)
L_co = TypeVar("L_co", bound=Sequenced, covariant=True)
R = TypeVar("R")

# Replays the log: (after_seq, up_to_seq) -> (sequence, response) pairs, oldest first.
Replay = Callable[[int, int], AsyncIterator[tuple[int, R]]]


WIRE_CACHE_ITEMS = 65_536


class SharedWire(Generic[T]):
    """The serialized response of recent log items, by sequence (LRU, bounded).

    A log item's response is the same bytes for every subscriber (its resume token
    names the global position), so it is built and serialized once and shared by
    every stream that sends it, live or replayed. Such streams are registered with
    a serializer that passes bytes through (api/wire.py)."""

    def __init__(
        self, log_id: str, build: Callable[[T, str], Message], capacity: int = WIRE_CACHE_ITEMS
    ) -> None:
        self.log_id = log_id
        self.build = build
        self.capacity = capacity
        self._wire: OrderedDict[int, bytes] = OrderedDict()

    def token(self, seq: int) -> str:
        return tokens.encode(tokens.ResumePoint(self.log_id, seq))

    def response(self, item: T) -> bytes:
        return self.response_at(
            item.sequence, lambda: self.build(item, self.token(item.sequence)).SerializeToString()
        )

    def response_at(self, seq: int, serialize: Callable[[], bytes]) -> bytes:
        """The response of the item at `seq`, from the cache or else from `serialize()`."""
        wire = self._wire.get(seq)
        if wire is None:
            wire = serialize()
            self._wire[seq] = wire
            if len(self._wire) > self.capacity:
                self._wire.popitem(last=False)
        return wire


class Feed(Protocol[L_co]):
    """The live side of a stream: what follows its replay, item by item (hub.Subscription)."""

    @property
    def start_seq(self) -> int:
        """The replay covers the log up to here; live items follow it."""

    @property
    def overflowed(self) -> bool:
        """The stream fell too far behind: it must be cut (it resumes from its token)."""

    @property
    def closed(self) -> bool:
        """The server is shutting down."""

    @property
    def ended(self) -> bool:
        """Nothing more will come (a finished test job): the stream ends."""

    async def next(self, wait_s: float) -> L_co | None:
        """The next item, or None after `wait_s` seconds without one, overflow or close."""

    def quiet_seq(self) -> int:
        """After `next` gave None: a position every item up to which was sent or filtered out."""

    def release(self) -> None:
        """The stream is done with the feed."""


@dataclass(frozen=True)
class Envelope(Generic[T, R]):
    """How a stream renders what it sends; each carries the resume token that follows it."""

    token: Callable[[int], str]
    # The response for an item (its token is that of item.sequence); None: nothing is for the client.
    item: Callable[[T], R | None]
    heartbeat: Callable[[str], R]
    sync: Callable[[str], R]


async def replay_then_follow(
    feed: Feed[T],
    after: int | None,
    replay: Replay[R],
    envelope: Envelope[T, R],
    heartbeat_s: float,
    follow: bool = True,
) -> AsyncIterator[R]:
    """The stream's responses; `after` None starts live. Always releases the feed when done."""
    try:
        cursor = feed.start_seq if after is None else after
        async for seq, response in replay(cursor, feed.start_seq):
            cursor = max(cursor, seq)
            yield response
        cursor = max(cursor, feed.start_seq)
        yield envelope.sync(envelope.token(cursor))
        while follow and not feed.ended:
            item = await feed.next(heartbeat_s)
            if feed.overflowed:
                raise SlowConsumer(
                    "you fell too far behind; resume from your last token", envelope.token(cursor)
                )
            if feed.closed:
                raise ShuttingDown("the server is shutting down; resume from your last token")
            if item is None:
                cursor = max(cursor, feed.quiet_seq())
                yield envelope.heartbeat(envelope.token(cursor))
            elif item.sequence > cursor:
                cursor = item.sequence
                live = envelope.item(item)
                if live is not None:
                    yield live
    finally:
        feed.release()
