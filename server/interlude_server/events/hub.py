"""In-process fan-out: every committed item reaches every live subscriber once.

The store tells the hubs about each commit (on the event loop, in commit
order) with what it made durable: log events go to the EventHub, measurement
batches to the measurement hub (`route_commits`). A hub hands each item to
the subscribers whose buyer and filter match, without touching the database.
Items carry their log position as `sequence`.
Each subscriber has a bounded buffer: one that cannot keep up is marked
overflowed and cut off by its stream (it resumes from its token, losing
nothing), so a slow consumer never stalls writers or other subscribers.

The hub serializes each item once, when it is published (`_keep`), or not at
all when it arrives with the bytes the log stored (`EventHub.publish_stored`,
the cross-process follower): subscribers get the item with that kept form
(`Published`), the same object the tail keeps, so a live stream sends the
same bytes as a replay without serializing the item again.

The hub also keeps the most recent items it published (the tail), so the
usual resume, a reconnect after a short break, replays from memory: every
item committed after `tail_floor` is in the tail, in sequence order. At start
the tail is filled from the log (`reload_tail`), so that the resumes a restart
brings all at once, every client reconnecting with its last token, are served
from memory too. Older positions replay from the store.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.store.interface.performance import MeasurementBatch
from interlude_server.store.interface.store import CommitListener, Committed, LoggedEvent


class Sequenced(Protocol):
    """An item of a durable log: its position, strictly increasing in commit order."""

    @property
    def sequence(self) -> int: ...


T = TypeVar("T", bound=Sequenced)
K = TypeVar("K")
Matcher = Callable[[events_pb2.Event], bool]


class Published(Generic[T, K]):
    """A committed item as the hub hands it to live subscribers: the item itself (what their
    filters read) and its kept form, the same object the tail keeps (what a stream sends)."""

    __slots__ = ("item", "kept")

    def __init__(self, item: T, kept: K) -> None:
        self.item = item
        self.kept = kept

    @property
    def sequence(self) -> int:
        return self.item.sequence


class Subscription(Generic[T, K]):
    """One live subscriber's buffer of matching items (a stream's feed, events/streaming)."""

    def __init__(self, hub: Hub[T, K], buyer_id: str, matches: Callable[[T], bool]) -> None:
        self.hub = hub
        self.buyer_id = buyer_id
        self.matches = matches
        # The hub's newest sequence when this subscription started: the replay covers up to it.
        self.start_seq = hub.last_seq
        self.capacity = hub.capacity
        self.overflowed = False
        self.closed = False
        self.ended = False  # a hub's log never ends
        self._buffer: deque[Published[T, K]] = deque()
        self._wakeup = asyncio.Event()

    def offer(self, published: Published[T, K]) -> None:
        """Buffer an item of this subscription's buyer (the hub offers it no other) if it matches."""
        if self.overflowed or not self.matches(published.item):
            return
        if len(self._buffer) >= self.capacity:
            self.overflowed = True
            self._buffer.clear()
        else:
            self._buffer.append(published)
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    def quiet_seq(self) -> int:
        """With nothing buffered, every item up to the hub's newest was delivered or filtered
        out, so a heartbeat may carry that position (0: nothing beyond what was sent)."""
        return 0 if self._buffer else self.hub.last_seq

    def release(self) -> None:
        self.hub.unsubscribe(self)

    def behind(self) -> int:
        """How many of the log's newest positions this subscription has yet to send: from its
        oldest buffered item to the head (0: nothing buffered; the buffer's bound once it
        overflowed, until its stream cuts it)."""
        if self.overflowed:
            return self.capacity
        return self.hub.last_seq - self._buffer[0].sequence + 1 if self._buffer else 0

    async def next(self, wait_s: float) -> Published[T, K] | None:
        """The next buffered item, or None after `wait_s` seconds, overflow or close."""
        if not self._buffer and not (self.overflowed or self.closed):
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), wait_s)
            except TimeoutError:
                return None
        if self.overflowed or self.closed or not self._buffer:
            return None
        return self._buffer.popleft()


TAIL_EVENTS = 16_384


class Hub(Generic[T, K]):
    """Receives committed items of one log and fans them out to subscriptions; its tail keeps
    what `_keep` makes of each item (K), which is what `recent` answers with."""

    def __init__(self, last_seq: int, capacity: int = 10_000, tail: int = TAIL_EVENTS) -> None:
        self.last_seq = last_seq
        self.capacity = capacity
        # By buyer: an item is offered only to its own buyer's subscriptions, so publishing
        # costs what that buyer's subscribers need, not a visit to every live stream.
        self._subscriptions: dict[str, set[Subscription[T, K]]] = {}
        self.subscribers = 0  # live subscriptions, of every buyer
        self.published = 0
        # The tail: parallel lists, trimmed in halves so that appends stay O(1) amortised.
        self.tail_size = tail
        self.tail_floor = last_seq
        self._tail_seqs: list[int] = []
        self._tail: list[tuple[str, K]] = []

    def _keep(self, item: T) -> K:
        raise NotImplementedError

    def publish(self, items: Sequence[tuple[str, T]]) -> None:
        """Runs on the event loop, in commit order."""
        self._fan_out((buyer_id, item, None) for buyer_id, item in items)

    def _fan_out(self, items: Iterable[tuple[str, T, K | None]]) -> None:
        """Offer each (buyer_id, item, its kept form or None to make it) to the buyer's
        subscriptions and keep it in the tail; the kept form is made only if either needs it."""
        by_buyer = self._subscriptions
        count = 0
        for buyer_id, item, kept in items:
            count += 1
            self.last_seq = max(self.last_seq, item.sequence)
            mine = by_buyer.get(buyer_id)
            if not mine and not self.tail_size:
                continue
            published = Published(item, self._keep(item) if kept is None else kept)
            for subscription in mine or ():
                subscription.offer(published)
            if self.tail_size:
                self._tail_seqs.append(item.sequence)
                self._tail.append((buyer_id, published.kept))
        if len(self._tail) > 2 * self.tail_size:
            cut = len(self._tail) - self.tail_size
            self.tail_floor = self._tail_seqs[cut - 1]
            del self._tail_seqs[:cut], self._tail[:cut]
        self.published += count

    def preload(self, items: Sequence[tuple[str, int, K]], floor: int) -> int:
        """Fill the tail, before anything is published, with the log's (buyer_id, sequence,
        kept form) after `floor`: `items` must hold every item with floor < sequence <=
        last_seq, in order. Returns how many it keeps (none once the hub has a tail)."""
        if not self.tail_size or self._tail:
            return 0
        kept = [(buyer_id, seq, item) for buyer_id, seq, item in items if floor < seq <= self.last_seq]
        self._tail = [(buyer_id, item) for buyer_id, _, item in kept]
        self._tail_seqs = [seq for _, seq, _ in kept]
        self.tail_floor = floor
        return len(kept)

    def recent(self, buyer_id: str, after_seq: int, up_to_seq: int) -> list[K] | None:
        """What the tail keeps of `buyer_id`'s items with after_seq < sequence <= up_to_seq, in
        order; None if the tail does not reach back to `after_seq` (the caller reads the store)."""
        if not self.tail_size or after_seq < self.tail_floor:
            return None
        start = bisect.bisect_right(self._tail_seqs, after_seq)
        end = bisect.bisect_right(self._tail_seqs, up_to_seq)
        return [event for buyer, event in self._tail[start:end] if buyer == buyer_id]

    def subscribe(self, buyer_id: str, matches: Callable[[T], bool]) -> Subscription[T, K]:
        subscription = Subscription(self, buyer_id, matches)
        self._subscriptions.setdefault(buyer_id, set()).add(subscription)
        self.subscribers += 1
        return subscription

    def unsubscribe(self, subscription: Subscription[T, K]) -> None:
        mine = self._subscriptions.get(subscription.buyer_id)
        if mine is not None and subscription in mine:
            mine.remove(subscription)
            self.subscribers -= 1
            if not mine:
                del self._subscriptions[subscription.buyer_id]

    def close(self) -> None:
        """Shutdown: end every subscription's stream."""
        for mine in list(self._subscriptions.values()):
            for subscription in list(mine):
                subscription.close()

    def slowest_lag(self) -> int:
        """The most any live subscription is behind the head (`Subscription.behind`); a walk
        over every subscription, for a metrics sample, not for the publishing path."""
        return max((s.behind() for mine in self._subscriptions.values() for s in mine), default=0)

    @property
    def buyers(self) -> int:
        """Buyers with at least one live subscription."""
        return len(self._subscriptions)


class EventHub(Hub[events_pb2.Event, tuple[int, bytes]]):
    """The event log's hub. Its tail keeps each event as (sequence, serialized Event), the
    form the log stores and a replay sends: about 0.5 KiB an event, where a parsed Event
    holds about 5 KiB (its own upb arena), so a full tail is a few MiB, not about 90."""

    def _keep(self, item: events_pb2.Event) -> tuple[int, bytes]:
        return item.sequence, item.SerializeToString()

    def publish_logged(self, items: Sequence[tuple[str, LoggedEvent]]) -> None:
        """Publish events as their commit logged them: the bytes the log stored are what the
        tail keeps and live streams send."""
        self._fan_out((buyer_id, i.event, (i.event.sequence, i.body)) for buyer_id, i in items)

    def publish_stored(self, rows: Sequence[tuple[str, int, bytes]]) -> list[tuple[str, LoggedEvent]]:
        """Publish logged events read back as (buyer_id, sequence, serialized Event), as
        `publish_logged` does. Returns them as logged events."""
        logged = [
            (buyer_id, LoggedEvent(events_pb2.Event.FromString(body), body)) for buyer_id, _, body in rows
        ]
        self.publish_logged(logged)
        return logged


KeptBatch = tuple[MeasurementBatch, bytes]


class MeasurementHub(Hub[MeasurementBatch, KeptBatch]):
    """The measurement log's hub. Its tail keeps each batch without its measurements, and
    those serialized together (one MeasurementUpdate's bytes): parsed, each Measurement holds
    its own upb arena, about 1 KiB however small it is. `unkept` gives the batch back."""

    def _keep(self, item: MeasurementBatch) -> KeptBatch:
        update = performance_pb2.MeasurementUpdate(measurements=item.measurements)
        return replace(item, measurements=()), update.SerializeToString()


def unkept(kept: KeptBatch) -> MeasurementBatch:
    """A batch as the measurement hub's tail kept it, with its measurements parsed again."""
    batch, measurements = kept
    parsed = performance_pb2.MeasurementUpdate.FromString(measurements).measurements
    return replace(batch, measurements=tuple(parsed))


RELOAD_PAGE = 1_000


async def reload_tail(
    hub: EventHub,
    pruned_through: int,
    read_after: Callable[[int, int], Awaitable[Sequence[tuple[str, int, bytes]]]],
) -> int:
    """At start: fill the event hub's tail with the newest events of the log (at most its
    tail size, none that retention pruned), read page by page as (buyer_id, sequence,
    serialized Event) with `read_after(after_seq, limit)`. Returns how many were loaded."""
    if not hub.tail_size:
        return 0
    floor = max(pruned_through, hub.last_seq - hub.tail_size, 0)
    items: list[tuple[str, int, tuple[int, bytes]]] = []
    after = floor
    while after < hub.last_seq:
        page = await read_after(after, RELOAD_PAGE)
        if not page:
            break
        items.extend((buyer_id, seq, (seq, body)) for buyer_id, seq, body in page)
        after = page[-1][1]
    return hub.preload(items, floor)


def route_commits(events: EventHub, measurements: MeasurementHub) -> CommitListener:
    """The store's one commit listener: each committed item to the hub of its log, in commit order."""

    def publish(items: list[tuple[str, Committed]]) -> None:
        logged = [(b, i) for b, i in items if isinstance(i, LoggedEvent)]
        measured = [(b, i) for b, i in items if isinstance(i, MeasurementBatch)]
        if logged:
            events.publish_logged(logged)
        if measured:
            measurements.publish(measured)

    return publish


def close_all(*hubs: Hub[Any, Any]) -> None:
    """Shutdown: end the streams of every hub (they resume elsewhere or after the restart)."""
    for hub in hubs:
        hub.close()


class Wakeups:
    """Wakes the streams following one key (e.g. a test job) after a commit that touched it.

    Streams that re-read their items from the durable store after each wakeup
    need no buffer: a stream arms its waiter before reading, so a commit made
    after the read always wakes it, and one made before is in the read.
    """

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.closed = False

    def waiter(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        return event

    def release(self, key: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def notify(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    def notify_all(self) -> None:
        """Another process committed something: every stream re-reads (cluster/follower.py)."""
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def close(self) -> None:
        """Shutdown: wake every stream so it can end."""
        self.closed = True
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    @staticmethod
    async def wait(event: asyncio.Event, wait_s: float) -> bool:
        """True if woken, False after `wait_s` seconds."""
        try:
            await asyncio.wait_for(event.wait(), wait_s)
        except TimeoutError:
            return False
        return True
