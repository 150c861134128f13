"""StreamPerformanceData: stored measurements of a range, a sync marker, then live ones.

Built on the same replay-then-follow loop as StreamEvents (events/streaming),
over the measurement log: a resume token names a batch of that log, so a client
that resumes with its last token misses nothing and sees nothing twice. Only
the caller's jobs and services can be named; another buyer's are NOT_FOUND.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.api import filters
from interlude_server.api.streaming import envelope, heartbeat_seconds, observed
from interlude_server.api.wire import field_key, spliced
from interlude_server.core.errors import Errors, NotFound
from interlude_server.core.keys import timestamp_key
from interlude_server.events import tokens
from interlude_server.events.hub import KeptBatch, MeasurementHub, Published, unkept
from interlude_server.events.streaming import Envelope, SharedWire, replay_then_follow
from interlude_server.store.interface.performance import MeasurementBatch, MeasurementRange
from interlude_server.store.interface.store import Store

Pm = performance_pb2
Response = Pm.StreamPerformanceDataResponse
REPLAY_PAGE = 500
RESYNC = "read the job's reports (ListPerformanceReports) for the gap, then stream again"
BatchMatcher = Callable[[MeasurementBatch], bool]
Live = Published[MeasurementBatch, KeptBatch]


_UPDATE_KEY = field_key(Response.DESCRIPTOR, "update")


def _whole_update(batch: MeasurementBatch, token: str) -> Response:
    return Response(update=Pm.MeasurementUpdate(measurements=batch.measurements, resume_token=token))


def _check(request: Pm.StreamPerformanceDataRequest) -> None:
    """Every violation of the request at once."""
    errors = Errors()
    once = request.mode == Pm.STREAM_MODE_ONCE
    if once and not request.range.HasField("after") and not request.resume_token:
        errors.add(
            "range.after", "ONCE mode needs the start of the range (or a resume_token)", "missingProperty"
        )
    if not once and request.range.HasField("before"):
        errors.add("range.before", "only allowed in ONCE mode: a STREAM has no end")
    filters.check_range(errors, "range", request.range)
    if len(set(request.performance_job_ids)) != len(request.performance_job_ids):
        errors.add("performance_job_ids", "lists a job twice")
    errors.raise_if_any("the stream request is not valid")


def _matcher(request: Pm.StreamPerformanceDataRequest) -> BatchMatcher:
    jobs = set(request.performance_job_ids)
    services = set(request.service_ids)

    def matches(batch: MeasurementBatch) -> bool:
        return (not jobs or batch.job_id in jobs) and (
            not services or not services.isdisjoint(batch.service_ids)
        )

    return matches


class MeasurementStreamer:
    """Serves StreamPerformanceData for the PerformanceService."""

    def __init__(self, store: Store, hub: MeasurementHub, event_log_id: str) -> None:
        self.store = store
        self.hub = hub
        # Tokens of this log must never be mistaken for event-log tokens.
        self.log_id = f"{event_log_id}/pm"
        # A whole batch's response is the same bytes for every stream without a metric filter.
        self.wire = SharedWire[MeasurementBatch](self.log_id, _whole_update)

    def _token(self, seq: int) -> str:
        return self.wire.token(seq)

    async def _check_subjects(self, buyer: str, request: Pm.StreamPerformanceDataRequest) -> None:
        for job_id in request.performance_job_ids:
            if await self.store.get_pm_job(buyer, job_id) is None:
                raise NotFound("PerformanceJob", job_id, "PERFORMANCE_RESOURCE_NOT_FOUND")
        for service_id in request.service_ids:
            if await self.store.get_service(buyer, service_id) is None:
                raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")

    def _kept_update(self, seq: int, measurements: bytes) -> bytes:
        """The whole-batch response built from the measurement tail's bytes (wire.spliced):
        the same message _whole_update builds."""
        return spliced(_UPDATE_KEY, measurements, Pm.MeasurementUpdate(resume_token=self._token(seq)))

    def _update(
        self, names: frozenset[str], batch: MeasurementBatch, kept: bytes | None = None
    ) -> bytes | Response | None:
        """The response for a batch: shared bytes of the whole batch, or only the `names` metrics.
        `kept`: the batch's measurements as the hub keeps them (a batch from the tail holds
        none); a whole batch is sent from those bytes unparsed."""
        if not names:
            if kept is None:
                return self.wire.response(batch)
            seq = batch.sequence
            return self.wire.response_at(seq, functools.partial(self._kept_update, seq, kept))
        if kept is not None:
            batch = unkept((batch, kept))
        chosen = [m for m in batch.measurements if m.metric_name in names]
        if not chosen:
            return None
        return Response(
            update=Pm.MeasurementUpdate(measurements=chosen, resume_token=self._token(batch.sequence))
        )

    def _live(self, names: frozenset[str], published: Live) -> bytes | Response | None:
        """A live batch's response: a whole batch from the bytes the hub kept of its
        measurements (what a replay sends), a chosen few metrics from the batch itself."""
        return self._update(names, published.item, None if names else published.kept[1])

    def _emit(
        self,
        names: frozenset[str],
        matches: BatchMatcher,
        window: MeasurementRange,
        batches: Sequence[tuple[MeasurementBatch, bytes | None]],
    ) -> list[tuple[int, bytes | Response]]:
        """The responses for the batches the stream takes, each (batch, its kept measurements
        or None when the batch holds them)."""
        out: list[tuple[int, bytes | Response]] = []
        for batch, kept in batches:
            if window.covers(batch) and matches(batch):
                response = self._update(names, batch, kept)
                if response is not None:
                    out.append((batch.sequence, response))
        return out

    async def _replay(
        self,
        buyer: str,
        names: frozenset[str],
        matches: BatchMatcher,
        window: MeasurementRange,
        after: int,
        up_to: int,
    ) -> AsyncIterator[tuple[int, bytes | Response]]:
        recent = self.hub.recent(buyer, after, up_to)
        if recent is not None:  # a recent position: the hub's tail has every batch after it
            for item in self._emit(names, matches, window, recent):
                yield item
            return
        cursor = after
        while cursor < up_to:
            where = MeasurementRange(cursor, up_to, window.start_after_key, window.start_before_key)
            page = await self.store.read_measurements(buyer, where, REPLAY_PAGE)
            for item in self._emit(names, matches, window, [(batch, None) for batch in page]):
                yield item
            if len(page) < REPLAY_PAGE:
                return
            cursor = page[-1].sequence

    async def _start(self, request: Pm.StreamPerformanceDataRequest) -> tuple[int | None, MeasurementRange]:
        """Where the replay starts (None: live only) and its interval-start window."""
        rng = request.range
        before = timestamp_key(rng.before) if rng.HasField("before") else ""
        if request.resume_token:
            last = await self.store.measurement_log_last_seq()
            after = tokens.resume_after(request.resume_token, self.log_id, last, 0, RESYNC)
            return after, MeasurementRange(0, 0, "", before)
        if rng.HasField("after"):
            return 0, MeasurementRange(0, 0, timestamp_key(rng.after), before)
        return None, MeasurementRange(0, 0)

    async def stream(
        self, buyer: str, request: Pm.StreamPerformanceDataRequest
    ) -> AsyncIterator[bytes | Response]:
        interval = heartbeat_seconds(request)
        _check(request)
        await self._check_subjects(buyer, request)
        after, window = await self._start(request)
        matches = _matcher(request)
        names = frozenset(request.metric_names)
        subscription = self.hub.subscribe(buyer, matches)
        shape: Envelope[Live, bytes | Response] = envelope(
            Response, self._token, functools.partial(self._live, names)
        )
        replay = functools.partial(self._replay, buyer, names, matches, window)
        follow = request.mode != Pm.STREAM_MODE_ONCE
        responses = replay_then_follow(subscription, after, replay, shape, interval, follow)
        async for response in observed("performance", self.hub, responses):
            yield response
