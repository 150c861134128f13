"""EventService: the buyer's events from the durable log, resumable, then live (interaction 7).

A stream replays the log after its start point, sends a sync marker, then
follows live events fanned out by the EventHub, with heartbeats carrying a
fresh resume token when it is quiet. Tokens name a position in the global
log, so a client that resumes with its last token misses nothing and sees
nothing twice, across reconnects and restarts, within retention.

An event's response is the same bytes for every subscriber (its token names
the global position), so it is built once and shared: the method is
registered with a serializer that passes bytes through, and a bounded cache
keyed by sequence serves every stream that sends the event, live or replayed.
It is built from the Event's bytes as the log stores them (read back, or kept
by the hub when it was published) with the token spliced in: an event is
never serialized again on its way to a subscriber.

A stream that asked for references only (`references_only`) gets the event without its
`payload` (the resource after the change): built once per event too, from the stored
bytes with the payload dropped, in a cache of its own.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.api import streaming
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.principal import BuyerResolver
from interlude_server.api.wire import field_key, passthrough_binding, spliced
from interlude_server.core.errors import ResumeTokenExpired
from interlude_server.events import tokens
from interlude_server.events.filters import matcher, selects_all
from interlude_server.events.hub import EventHub, Matcher, Published
from interlude_server.events.streaming import Envelope, SharedWire, replay_then_follow
from interlude_server.store.interface.store import EventLogState, Store

Context = grpc.aio.ServicerContext[Any, Any]
Response = events_pb2.StreamEventsResponse
REPLAY_PAGE = 500
WIRE_CACHE_EVENTS = 65_536
Live = Published[events_pb2.Event, tuple[int, bytes]]
RESYNC = "re-read the resources you follow (List/Get), then stream again from now"


def _before(a: timestamp_pb2.Timestamp, b: timestamp_pb2.Timestamp) -> bool:
    return a.ToNanoseconds() <= b.ToNanoseconds()


def _event_response(event: events_pb2.Event, token: str) -> Response:
    event.resume_token = token
    return Response(event=event)


_EVENT_KEY = field_key(Response.DESCRIPTOR, "event")


def _response_from_body(body: bytes, token: str) -> bytes:
    """The serialized StreamEventsResponse of a logged event, from the Event's stored bytes
    and its resume token, without parsing them (wire.spliced)."""
    return spliced(_EVENT_KEY, body, events_pb2.Event(resume_token=token))


def _reference_body(body: bytes) -> bytes:
    """An Event's stored bytes without its payload (the resource after the change)."""
    event = events_pb2.Event.FromString(body)
    payload = event.WhichOneof("payload")
    if payload is None:
        return body
    event.ClearField(payload)
    return event.SerializeToString()


class WireCache(SharedWire[events_pb2.Event]):
    """The serialized StreamEventsResponse of recent events, by sequence (LRU, bounded)."""

    def __init__(self, log_id: str, capacity: int = WIRE_CACHE_EVENTS) -> None:
        super().__init__(log_id, _event_response, capacity)


class EventsServicer:
    """Streams the calling buyer's events; never another buyer's."""

    def __init__(self, store: Store, hub: EventHub, buyer_of: BuyerResolver, log_id: str) -> None:
        self.store = store
        self.hub = hub
        self.buyer_of = buyer_of
        self.log_id = log_id
        self.wire = WireCache(log_id)
        self.reference_wire = WireCache(log_id)  # the responses of references_only streams

    def _token(self, seq: int) -> str:
        return self.wire.token(seq)

    def _from_body(self, seq: int, body: bytes) -> bytes:
        return _response_from_body(body, self._token(seq))

    def _reference_from_body(self, seq: int, body: bytes) -> bytes:
        return _response_from_body(_reference_body(body), self._token(seq))

    def _response(self, seq: int, body: bytes, references: bool = False) -> bytes:
        """The shared response of the event at `seq`, from its stored bytes (not parsed
        unless `references`: then without the resource payload)."""
        if references:
            build = functools.partial(self._reference_from_body, seq, body)
            return self.reference_wire.response_at(seq, build)
        return self.wire.response_at(seq, functools.partial(self._from_body, seq, body))

    def _live(self, published: Live, references: bool = False) -> bytes:
        """A live event's response, from the bytes the hub kept of it (what a replay sends)."""
        return self._response(*published.kept, references)

    async def _start_after(self, request: events_pb2.StreamEventsRequest) -> int | None:
        """The sequence to replay after; None means now."""
        point = request.WhichOneof("start_point")
        if point is None:
            return None
        state: EventLogState = await self.store.event_log_state()
        if point == "resume_token":
            return tokens.resume_after(
                request.resume_token, state.log_id, state.last_seq, state.pruned_through_seq, RESYNC
            )
        if state.pruned_through_time is not None and _before(request.start_time, state.pruned_through_time):
            raise ResumeTokenExpired(f"events from start_time are no longer kept; {RESYNC}")
        return await self.store.seq_before(request.start_time)

    async def _replay(
        self, buyer: str, matches: Matcher | None, references: bool, after: int, up_to: int
    ) -> AsyncIterator[tuple[int, bytes]]:
        """`matches` None: the stream takes every event, so none is parsed."""
        async for seq, body in self._logged(buyer, after, up_to):
            if matches is None or matches(events_pb2.Event.FromString(body)):
                yield seq, self._response(seq, body, references)

    async def _logged(self, buyer: str, after: int, up_to: int) -> AsyncIterator[tuple[int, bytes]]:
        """The buyer's logged events after `after` through `up_to`, as (sequence, serialized
        Event): from the hub's tail when it reaches back that far, else from the store."""
        recent = self.hub.recent(buyer, after, up_to)
        if recent is not None:
            for row in recent:
                yield row
            return
        cursor = after
        while cursor < up_to:
            page = await self.store.read_event_bodies(buyer, cursor, up_to, REPLAY_PAGE)
            for row in page:
                yield row
            if len(page) < REPLAY_PAGE:
                return
            cursor = page[-1][0]

    async def StreamEvents(
        self, request: events_pb2.StreamEventsRequest, context: Context
    ) -> AsyncIterator[bytes | Response]:
        buyer = self.buyer_of(context)
        interval = streaming.heartbeat_seconds(request)
        matches = matcher(request.filter)
        after = await self._start_after(request)
        subscription = self.hub.subscribe(buyer, matches)
        references = request.references_only
        live = functools.partial(self._live, references=references)
        envelope: Envelope[Live, bytes | Response] = streaming.envelope(Response, self._token, live)
        selected = None if selects_all(request.filter) else matches
        replay = functools.partial(self._replay, buyer, selected, references)
        responses = replay_then_follow(subscription, after, replay, envelope, interval)
        async for response in streaming.observed("events", self.hub, responses):
            yield response


def events_binding(store: Store, hub: EventHub, buyer_of: BuyerResolver, log_id: str) -> ServiceBinding:
    servicer = EventsServicer(store, hub, buyer_of, log_id)
    service = events_pb2.DESCRIPTOR.services_by_name["EventService"]
    return passthrough_binding(service, servicer)
