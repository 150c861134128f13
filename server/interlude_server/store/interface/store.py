"""The one narrow interface every store implements (SQLite now, PostgreSQL in F11).

Domain objects are the generated proto messages. Reads are async and may run
concurrently. Every write is a function of a `Tx` run by `Store.write`: the
store runs it in one transaction on its writer thread (group-committing
concurrent writes) and resolves the awaitable only after the commit is durable.
A function that raises leaves no trace: its changes are rolled back and the
exception is re-raised to the awaiting caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from interlude_server.store.interface.network import AlarmReads, AlarmTx, NetworkTx
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.interface.performance import MeasurementBatch, PmStore, PmTx
from interlude_server.store.interface.sft import SftReads, SftTx

T = TypeVar("T")


@dataclass(frozen=True)
class IdempotencyRecord:
    """What a request_id was first used for, and the response it got."""

    method: str
    fingerprint: str
    response: bytes


@dataclass(frozen=True)
class TracedEvent:
    """An event of the log with the W3C trace context of the work that appended it ('' when
    none was recorded): `traceparent` names that work's span, `tracestate` is passed on."""

    event: events_pb2.Event
    traceparent: str
    tracestate: str


@dataclass(frozen=True)
class EventLogState:
    """Where the event log stands: its identity, newest sequence and how far retention pruned it."""

    log_id: str
    last_seq: int
    pruned_through_seq: int
    # Time of the newest pruned event; None while nothing was pruned.
    pruned_through_time: timestamp_pb2.Timestamp | None


@dataclass(frozen=True)
class HubSubscription:
    """A MEF `/hub` registration and where its delivery stands.

    `cursor` is the sequence of the newest event in the log that was delivered
    (answered 2xx) or filtered out; delivery resumes after it. `event_types`
    holds EventType numbers (empty: every type of the registration's `api`).
    """

    id: str
    buyer_id: str
    api: str
    callback: str
    query: str
    event_types: tuple[int, ...]
    base_url: str
    secret: str
    authorization: str
    cursor: int
    created: str
    state: str = "active"  # or "deadLettered"
    attempts: int = 0  # failed attempts at the event after `cursor`
    last_error: str = ""


# What a commit makes durable and publishes: log events and measurement batches.
@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as its commit appended it to the log: the message, and the very bytes the
    log stored, which the event hub keeps and live streams send (nothing serializes it again)."""

    event: events_pb2.Event
    body: bytes


Committed = LoggedEvent | MeasurementBatch
# Called on the event loop, in commit order, with the (buyer_id, item) pairs each commit made durable.
CommitListener = Callable[[list[tuple[str, Committed]]], None]


@dataclass(frozen=True)
class ServiceQuery:
    """Selects services of one buyer; `filter` is the contract's ServiceFilter."""

    filter: inventory_pb2.ServiceFilter = field(default_factory=inventory_pb2.ServiceFilter)
    # One of "", "id", "service_date", "service_date desc", "update_time", "update_time desc".
    order_by: str = ""


class Tx(SftTx, PmTx, NetworkTx, AlarmTx, Protocol):
    """Synchronous view of the store inside one write transaction."""

    def get_service(self, buyer_id: str, service_id: str) -> inventory_pb2.Service | None: ...

    def put_service(self, service: inventory_pb2.Service) -> None:
        """Insert or replace a service (keyed by buyer_id and id)."""

    def delete_service(self, buyer_id: str, service_id: str) -> None: ...

    def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None: ...

    def put_order(self, order: ordering_pb2.ServiceOrder, *, new: bool = False) -> None:
        """Insert or replace an order (keyed by buyer_id and id). `new`: the caller made its
        id just now, so no order can have it: nothing is read first (a write that names an
        id in use anyway fails, as a duplicate key)."""

    def add_tracking(self, buyer_id: str, record: ordering_pb2.ServiceTrackingRecord) -> None:
        """Append a state-history record; the store assigns record.id if empty."""

    def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None: ...

    def put_idempotency(self, buyer_id: str, request_id: str, record: IdempotencyRecord) -> None: ...

    def append_event(self, buyer_id: str, event: events_pb2.Event) -> int:
        """Append an event to the log in this transaction; returns its sequence. The log
        takes the event as it is (its `sequence` set) and publishes that object once the
        transaction commits: the caller must not change it afterwards. The event is recorded
        with the W3C trace that was current where `Store.write` was called (if any)."""

    def prune_events(self, before: timestamp_pb2.Timestamp, keep_last: int) -> int:
        """Retention: delete events older than `before` or beyond the newest `keep_last`."""

    def put_specification(self, spec: catalog_pb2.ServiceSpecification) -> None: ...

    def last_event_seq(self) -> int:
        """The newest sequence the event log ever assigned (0 for an empty log)."""

    def put_hub_subscription(self, sub: HubSubscription) -> None:
        """Insert or replace a hub registration (keyed by id)."""

    def delete_hub_subscription(self, buyer_id: str, sub_id: str) -> bool:
        """Remove the buyer's registration; False if it has none with that id."""

    def update_hub_delivery(
        self, sub_id: str, cursor: int, state: str, attempts: int, last_error: str
    ) -> bool:
        """Record where delivery stands; False if the registration was removed meanwhile."""

    def put_policy(self, policy: catalog_pb2.ServicePolicy) -> None: ...


class OrderKey(NamedTuple):
    """An order's key: its buyer and id."""

    buyer_id: str
    id: str


class SharedStore(Protocol):
    """What several server processes sharing one store need from it (F11, cluster/).

    Cross-process fan-out reads the logs as the truth: `read_log_after` and
    `read_measurement_log_after` return every buyer's items after a sequence. A
    follower never skips an item, so the store MUST guarantee that once a reader
    sees sequence N committed, every sequence below N that will ever exist is
    committed and visible too (gap-free in commit order). SQLite has one writer
    at a time, so commit order is sequence order; PostgreSQL must assign the
    sequence under a lock held until commit (or an equivalent design).

    `watch_commits` is only the wake-up, never the data: it may call `wake`
    spuriously but must call it soon after any other process commits
    (SQLite: a short poll of PRAGMA data_version; PostgreSQL: LISTEN/NOTIFY).

    Leases make background work (order processing, test runs, PM jobs, hub
    delivery) run in one process at a time: a lease is held by `owner` until
    its expiry unless renewed; an expired lease can be taken by anyone.
    """

    async def read_log_after(self, after_seq: int, limit: int) -> list[tuple[str, events_pb2.Event]]:
        """Every buyer's (buyer_id, event) with sequence > after_seq, oldest first, at most `limit`."""

    async def read_log_bodies_after(self, after_seq: int, limit: int) -> list[tuple[str, int, bytes]]:
        """As read_log_after, each event as (buyer_id, sequence, its serialized Event), unparsed."""

    async def read_measurement_log_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[str, MeasurementBatch]]:
        """Every buyer's (buyer_id, batch) with sequence > after_seq, oldest first, at most `limit`."""

    async def watch_commits(self, interval: float, wake: Callable[[], None]) -> None:
        """Call `wake` (on the event loop) soon after another process commits; runs until cancelled.
        `interval` bounds the delay where the store must poll. Also calls it once the watch has
        its baseline, so a commit made before the watch began is never left unseen."""

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Atomically take or renew lease `name` for `owner` for `ttl` seconds from now; True if
        `owner` holds it afterwards (it was free, expired or already `owner`'s)."""

    async def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up now if `owner` holds it (a clean shutdown hands work over at once)."""


class Store(SftReads, PmStore, AlarmReads, SharedStore, Protocol):
    """Persistence for inventory, catalog, policy, orders, history and idempotency."""

    async def open(self) -> None:
        """Create or migrate the schema and start the writer."""

    @property
    def is_open(self) -> bool:
        """Opened and not closed yet."""

    async def close(self) -> None:
        """Finish queued writes and release resources."""

    async def write(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` in one durable transaction; see the module docstring."""

    async def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
        """The record of a request_id, read without taking the write's lock: a pre-check
        only; the write checks again under its lock (domain/idempotency.run_once)."""

    async def get_service(self, buyer_id: str, service_id: str) -> inventory_pb2.Service | None: ...

    async def get_service_body(self, buyer_id: str, service_id: str) -> bytes | None:
        """The service as stored: its serialized `Service`, unparsed (None if there is none)."""

    async def list_services(
        self, buyer_id: str, query: ServiceQuery, page: PageRequest
    ) -> Page[inventory_pb2.Service]: ...

    async def get_order(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None: ...

    async def list_orders(
        self, buyer_id: str, query: ordering_pb2.ServiceOrderFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceOrder]: ...

    async def unfinished_order_keys(self) -> list[OrderKey]:
        """The keys of every buyer's orders not in a terminal state, oldest first (the order
        processor resumes them; each task reads its order when it runs, so a restart with many
        orders held never holds every order at once)."""

    async def list_tracking(
        self, buyer_id: str, query: ordering_pb2.ServiceTrackingRecordFilter, page: PageRequest
    ) -> Page[ordering_pb2.ServiceTrackingRecord]: ...

    async def get_specification(self, spec_id: str) -> catalog_pb2.ServiceSpecification | None: ...

    async def list_specifications(
        self, query: catalog_pb2.ServiceSpecificationFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServiceSpecification]: ...

    async def specification_for_type(self, type_urn: str) -> catalog_pb2.ServiceSpecification | None:
        """The specification (lowest id) whose configuration @type is `type_urn`: the first
        item of list_specifications filtered by that type, read by key."""
        ...

    async def get_policy(self, buyer_id: str, spec_id: str) -> catalog_pb2.ServicePolicy | None: ...

    async def list_policies(
        self, buyer_id: str, query: catalog_pb2.ServicePolicyFilter, page: PageRequest
    ) -> Page[catalog_pb2.ServicePolicy]: ...

    async def count_services(self) -> int:
        """Services across all buyers (seeding decides whether to load)."""

    async def work_by_state(self) -> dict[str, dict[int, int]]:
        """Every buyer's rows by state, read cheaply (indexes and counters, for metrics):
        "orders" and "pm_jobs" in every state, "test_jobs" in unfinished states only."""

    def observe_groups(self, observer: Callable[[int, float], None]) -> None:
        """Tell `observer` (on the writer thread: it must be quick and thread-safe) the number
        of writes and the seconds of every group commit (call after open)."""

    async def get_hub_subscription(self, buyer_id: str, sub_id: str) -> HubSubscription | None: ...

    async def list_hub_subscriptions(self) -> list[HubSubscription]:
        """Every buyer's hub registrations, oldest first (delivery resumes them at start)."""

    def on_commit(self, listener: CommitListener) -> None:
        """Register the one listener told about every commit that appended events (call after open)."""

    async def event_log_state(self) -> EventLogState: ...

    async def read_events(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[events_pb2.Event]:
        """The buyer's events with after_seq < sequence <= up_to_seq, oldest first, at most `limit`."""

    async def read_traced_events(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[TracedEvent]:
        """As read_events, each with the trace context recorded with it (hub delivery)."""

    async def resource_trace(self, buyer_id: str, resource_id: str) -> tuple[str, str] | None:
        """(traceparent, tracestate) recorded with the newest event of the resource that has
        one (an order resumed after a restart carries on in its trace); None if none has."""

    async def read_event_bodies(
        self, buyer_id: str, after_seq: int, up_to_seq: int, limit: int
    ) -> list[tuple[int, bytes]]:
        """As read_events, but each event as (sequence, its serialized Event) without parsing:
        a replay that needs no field of the event sends the stored bytes as they are."""

    async def seq_before(self, time: timestamp_pb2.Timestamp) -> int:
        """The newest sequence of an event committed before `time` (0 if none)."""
