"""The replay-then-follow loop shared by every resumable stream (events, measurements).

A stream subscribes to its hub first (fixing `start_seq`), replays the durable
log after its start point up to `start_seq`, sends the sync marker, then (unless
it is a one-shot stream) follows live items, sending a heartbeat with a fresh
resume token whenever it is quiet. Because the subscription starts before the
replay ends, nothing committed in between is lost, and a live item at or below
the cursor is never sent twice. A subscriber that overflows its buffer is cut
with SLOW_CONSUMER and the token to resume from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from interlude_server.domain.errors import ShuttingDown, SlowConsumer
from interlude_server.events.hub import Hub, Sequenced, Subscription

T = TypeVar("T", bound=Sequenced)
R = TypeVar("R")

# Replays the log: (after_seq, up_to_seq) -> (sequence, response) pairs, oldest first.
Replay = Callable[[int, int], AsyncIterator[tuple[int, R]]]


@dataclass(frozen=True)
class Envelope(Generic[T, R]):
    """How a stream renders what it sends; each gets the resume token that follows it."""

    token: Callable[[int], str]
    item: Callable[[T, str], R | None]  # None: nothing of this item is for the client
    heartbeat: Callable[[str], R]
    sync: Callable[[str], R]


async def replay_then_follow(
    hub: Hub[T],
    subscription: Subscription[T],
    after: int | None,
    replay: Replay[R],
    envelope: Envelope[T, R],
    heartbeat_s: float,
    follow: bool = True,
) -> AsyncIterator[R]:
    """The stream's responses; `after` None starts live. Always unsubscribes when done."""
    try:
        cursor = subscription.start_seq if after is None else after
        async for seq, response in replay(cursor, subscription.start_seq):
            cursor = max(cursor, seq)
            yield response
        cursor = max(cursor, subscription.start_seq)
        yield envelope.sync(envelope.token(cursor))
        while follow:
            item = await subscription.next(heartbeat_s)
            if subscription.overflowed:
                raise SlowConsumer(
                    "you fell too far behind; resume from your last token", envelope.token(cursor)
                )
            if subscription.closed:
                raise ShuttingDown("the server is shutting down; resume from your last token")
            if item is None:
                if subscription.idle:  # everything up to the hub's newest was delivered or filtered out
                    cursor = max(cursor, hub.last_seq)
                yield envelope.heartbeat(envelope.token(cursor))
            elif item.sequence > cursor:
                cursor = item.sequence
                live = envelope.item(item, envelope.token(cursor))
                if live is not None:
                    yield live
    finally:
        hub.unsubscribe(subscription)
