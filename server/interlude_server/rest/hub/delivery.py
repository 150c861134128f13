"""Hub callbacks fed from the durable event log: in order, lossless, resumable.

One worker per active registration reads the buyer's events after the
registration's cursor and POSTs each selected one to
`{callback}/mefApi/interlude/{notificationApi}/v{n}/listener/{eventType}`.
The cursor moves (durably) only after the listener answered 2xx, so a
listener outage or a server restart loses nothing; the next event is not
sent before the previous one was accepted, so order is kept. Failures retry
with exponential backoff; after `max_attempts` failures of one event the
registration is dead-lettered (visible on `GET /hub/{id}`) and stops.

Each POST carries the W3C trace of the change that made the event (recorded with it in the
log): `traceparent` with the same trace id and a new span id (the delivery's own span when
OpenTelemetry is enabled), and `tracestate` if the change had one.

On shutdown a delivery in flight is allowed to finish and be recorded, so a
graceful restart neither repeats nor skips an event. A crash between the
listener's 2xx and the cursor's commit can repeat that one event: `eventId`
is stable, so a listener can drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import structlog

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.auth.callbacks import CallbackPolicy
from interlude_server.domain.sft.fault import FM_EVENTS
from interlude_server.observability import tracing
from interlude_server.observability.metrics import DeliveryMetrics
from interlude_server.rest import mapping as m
from interlude_server.rest.alarms.mapping import notification_payload
from interlude_server.rest.fm import mapping as fm_mapping
from interlude_server.rest.hub.subscriptions import API_EVENTS, NOTIFICATION_BASE
from interlude_server.rest.performance.events import PM_RESOURCES, pm_refs
from interlude_server.rest.sft.mapping import SftHrefs
from interlude_server.store.interface.store import HubSubscription, Store, TracedEvent

if TYPE_CHECKING:
    # aiohttp is imported where a session opens: only the REST adapter opens one, and a server
    # without it starts with a third less CPU for not importing aiohttp
    import aiohttp

    from interlude_server.config import Config

SIGNATURE_HEADER = "X-Interlude-Signature"
DEAD = "deadLettered"
ACTIVE = "active"
_log = structlog.get_logger("interlude_server.rest.delivery")


@dataclass(frozen=True)
class DeliverySettings:
    """How hard delivery tries before it dead-letters a registration."""

    max_attempts: int = 10
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    timeout: float = 10.0
    page: int = 200
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)


def delivery_settings(config: Config) -> DeliverySettings:
    return DeliverySettings(
        max_attempts=config.hub_max_attempts,
        backoff_initial=config.hub_backoff_initial,
        backoff_max=config.hub_backoff_max,
        timeout=config.hub_delivery_timeout,
        callbacks=CallbackPolicy(config.hub_callback_allow),
    )


def envelope(event: events_pb2.Event, base_url: str) -> dict[str, object]:
    """The MEF notification: `eventId`, `eventTime`, `eventType` and the thin `event` payload."""
    hrefs = m.Hrefs(base_url)
    ref = event.resource
    if ref.resource_type == events_pb2.RESOURCE_TYPE_ALARM:  # MEF's alarm events carry the alarm
        return _enveloped(event, notification_payload(event, base_url))
    inner: dict[str, str] = {"id": ref.id}
    if ref.resource_type == events_pb2.RESOURCE_TYPE_SERVICE:
        inner["href"] = hrefs.service(ref.id)
    elif ref.resource_type == events_pb2.RESOURCE_TYPE_SERVICE_ORDER:
        inner["href"] = hrefs.order(ref.id)
    elif ref.resource_type in PM_RESOURCES:
        inner.update(pm_refs(event, base_url))
    elif event.event_type in FM_EVENTS:
        inner.update(fm_mapping.event_refs(event, base_url))
    elif href := SftHrefs(hrefs).of_event(ref, event):
        inner["href"] = href
    if ref.order_item_id:
        inner["orderItemId"] = ref.order_item_id
    if event.state:
        inner["state"] = event.state
    return _enveloped(event, inner)


def _enveloped(event: events_pb2.Event, inner: object) -> dict[str, object]:
    return {
        "eventId": event.event_id,
        "eventTime": m.time(event.event_time),
        "eventType": m.EVENT_TYPE[event.event_type],
        "event": inner,
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Worker:
    sub: HubSubscription
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Dispatcher:
    """Runs one delivery worker per active registration (counting deliveries, retries and dead
    letters in `metrics`, if given)."""

    def __init__(
        self,
        store: Store,
        last_seq: Callable[[], int],
        settings: DeliverySettings,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.last_seq = last_seq
        self.settings = settings
        self._workers: dict[str, _Worker] = {}
        self._stopping = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        # False while another process sharing the store holds the delivery lease (cluster/leases).
        self.active = True

    async def open(self) -> int:
        """Resume every active registration; how many."""
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        return await self.refresh()

    async def refresh(self) -> int:
        """Deliver for every active registration in the store (some may have been made or
        removed by another process); how many run now."""
        if not self.active:
            return 0
        subs = {s.id: s for s in await self.store.list_hub_subscriptions() if s.state == ACTIVE}
        for sub_id in [i for i in self._workers if i not in subs]:
            await self.forget(sub_id)
        for sub in subs.values():
            self.start(sub)
        return len(subs)

    async def take_over(self) -> int:
        """The delivery lease is now this process's: resume every registration."""
        self.active = True
        return await self.refresh() if self._session is not None else 0

    async def hand_over(self) -> None:
        """Another process delivers now: stop every worker (an event in flight may be repeated
        by the next holder; `eventId` lets a listener drop it)."""
        self.active = False
        for sub_id in list(self._workers):
            await self.forget(sub_id)

    def notify(self, _events: object = None) -> None:
        """Commit listener: new events are in the log."""
        for worker in self._workers.values():
            worker.wake.set()

    def start(self, sub: HubSubscription) -> None:
        """Deliver for `sub` (a no-op if it is delivered already or another process delivers)."""
        if not self.active or sub.id in self._workers:
            return
        worker = _Worker(sub)
        worker.task = asyncio.create_task(self._run(worker), name=f"hub-delivery-{sub.id}")
        self._workers[sub.id] = worker

    async def forget(self, sub_id: str) -> None:
        worker = self._workers.pop(sub_id, None)
        if worker is not None and worker.task is not None:
            worker.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker.task

    async def close(self, grace: float) -> None:
        """Let deliveries in flight finish (up to `grace` seconds), then stop every worker."""
        self._stopping.set()
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._workers.clear()
        if self._session is not None:
            await self._session.close()

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Sleep, cut short by shutdown (or by `wake`)."""
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _run(self, worker: _Worker) -> None:
        sub = worker.sub
        wanted = set(sub.event_types or API_EVENTS[sub.api])
        cursor = sub.cursor
        if problem := self.settings.callbacks.problem(sub.callback):
            # Registered before the allow-list changed: never POST there.
            await self._record(worker, cursor, DEAD, sub.attempts, f"callback refused: {problem}")
            return
        try:
            while not self._stopping.is_set():
                up_to = self.last_seq()
                if cursor >= up_to:
                    worker.wake.clear()
                    if self.last_seq() <= cursor:
                        await self._sleep(5.0, worker.wake)
                    continue
                if not await self._still_kept(worker, cursor):
                    return
                events = await self.store.read_traced_events(sub.buyer_id, cursor, up_to, self.settings.page)
                for item in events:
                    if self._stopping.is_set():
                        return
                    if item.event.event_type in wanted and not await self._deliver(worker, item, cursor):
                        return
                    cursor = item.event.sequence
                if len(events) < self.settings.page:
                    cursor = max(cursor, up_to)
        except Exception:
            _log.exception("hub.worker_failed", subscription=sub.id)
            raise

    async def _still_kept(self, worker: _Worker, cursor: int) -> bool:
        """Retention must not have pruned events this registration has not had yet."""
        state = await self.store.event_log_state()
        if cursor >= state.pruned_through_seq:
            return True
        await self._record(worker, cursor, DEAD, worker.sub.attempts, "events were pruned before delivery")
        return False

    async def _record(self, worker: _Worker, cursor: int, state: str, attempts: int, error: str) -> bool:
        sub_id = worker.sub.id
        kept = await self.store.write(
            lambda tx: tx.update_hub_delivery(sub_id, cursor, state, attempts, error)
        )
        if state == DEAD:
            if self.metrics is not None:
                self.metrics.dead_lettered()
            _log.warning(
                "hub.dead_lettered", subscription=sub_id, cursor=cursor, attempts=attempts, error=error
            )
        return kept

    def _request(self, sub: HubSubscription, event: events_pb2.Event) -> tuple[str, bytes, dict[str, str]]:
        event_type = m.EVENT_TYPE[event.event_type]
        url = f"{sub.callback.rstrip('/')}{NOTIFICATION_BASE[sub.api]}/listener/{event_type}"
        body = json.dumps(envelope(event, sub.base_url), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json;charset=utf-8"}
        if sub.secret:
            headers[SIGNATURE_HEADER] = signature(sub.secret, body)
        if sub.authorization:
            headers["Authorization"] = sub.authorization
        return url, body, headers

    async def _post_traced(
        self, url: str, body: bytes, headers: dict[str, str], cause: tracing.Trace | None
    ) -> str:
        """POST in the trace of the change that made the event (if it was recorded)."""
        if cause is None:
            return await self._post(url, body, headers)
        if not tracing.spans_enabled():
            return await self._post(url, body, {**headers, **cause.outgoing()})
        span = tracing.child("hub.deliver", cause, "client", **{"url.full": url})
        traced = {**headers, tracing.TRACEPARENT: span.traceparent}
        if span.state:
            traced[tracing.TRACESTATE] = span.state
        error = await self._post(url, body, traced)
        tracing.end(span, error)
        return error

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        """ "" when the listener accepted the event, else what went wrong."""
        import aiohttp  # loaded by open()

        assert self._session is not None
        try:
            # No redirects: a listener must not bounce deliveries past the callback policy.
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return ""
                return f"listener answered HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]

    async def _deliver(self, worker: _Worker, item: TracedEvent, cursor: int) -> bool:
        """Deliver one event until accepted (True) or dead-lettered / stopping / removed (False)."""
        event = item.event
        url, body, headers = self._request(worker.sub, event)
        cause = tracing.from_stored(item.traceparent, item.tracestate)
        attempts = worker.sub.attempts
        while True:
            error = await self._post_traced(url, body, headers, cause)
            if not error:
                if self.metrics is not None:
                    self.metrics.delivered(time.time() - event.event_time.ToNanoseconds() / 1e9)
                worker.sub = replace(worker.sub, attempts=0, cursor=event.sequence)
                return await self._record(worker, event.sequence, ACTIVE, 0, "")
            attempts += 1
            dead = attempts >= self.settings.max_attempts
            _log.warning(
                "hub.delivery_failed",
                subscription=worker.sub.id,
                event_id=event.event_id,
                sequence=event.sequence,
                attempts=attempts,
                error=error,
                trace_id=cause.trace_id if cause is not None else "",
            )
            worker.sub = replace(worker.sub, attempts=attempts)
            if not await self._record(worker, cursor, DEAD if dead else ACTIVE, attempts, error) or dead:
                return False
            if self.metrics is not None:
                self.metrics.retried()
            delay = min(self.settings.backoff_initial * 2 ** (attempts - 1), self.settings.backoff_max)
            await self._sleep(delay)
            if self._stopping.is_set():
                return False
