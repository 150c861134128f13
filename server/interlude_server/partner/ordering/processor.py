"""Drives orders through their state machine after the RPC that created them returned.

One task per unfinished order. Each step is one durable transaction that
re-reads the order, so steps survive restarts: on start, every unfinished
order of every buyer is picked up where it stood. The order a step returns
chooses the next step, so the store is read once per order, not per step.

An order is carried out in the W3C trace of the request that created it (observability.tracing):
the trace current when it was submitted, or, for an order resumed after a restart, the one
recorded with its newest event. Its task runs with that trace current (so the events its
steps append carry it to hub callbacks) and bound to its log lines (trace_id, span_id); each
backend call runs as a child span of it, current while the backend works, so a backend out
of process can forward it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence

import structlog
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.core import clock
from interlude_server.domain.ordering import fulfilment, plan, waiting, waits
from interlude_server.domain.ordering.fulfilment import ItemOutcome
from interlude_server.domain.states import ORDER
from interlude_server.observability import tracing
from interlude_server.partner.backend import PartnerBackend
from interlude_server.partner.workers import Resumable, Workers
from interlude_server.store.interface.store import OrderKey, Store, Tx

Ord = ordering_pb2
_log = structlog.get_logger("interlude_server.partner")
_CANCELLING = (Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION, Ord.SERVICE_ORDER_STATE_PENDING_CANCELLATION)
_WORKING = (
    Ord.SERVICE_ORDER_STATE_IN_PROGRESS,
    Ord.SERVICE_ORDER_STATE_PENDING,
    Ord.SERVICE_ORDER_STATE_HELD,
)
# An order acknowledged for a later start looks at its start again at least this often (seconds).
START_RECHECK_S = 60.0
# One step of an order (OrderProcessor._move): the order as the step left it, None once done.
Move = Callable[[], Awaitable[ordering_pb2.ServiceOrder | None]]


class OrderProcessor(Resumable):
    """Runs one task per unfinished order; `step_delay` paces the simulated Partner's steps."""

    def __init__(
        self, store: Store, backend: PartnerBackend, step_delay: float, wait_timeout: float = 604_800.0
    ) -> None:
        self.store = store
        self.backend = backend
        self.step_delay = step_delay
        self.wait_timeout = wait_timeout  # how long an item may wait pending or held before it fails
        # Each order's task sets its own trace and log fields (_enter_trace): nothing of the
        # call that submitted it is kept for the order's lifetime.
        self._workers = Workers("order", max(step_delay, 1.0), own_context=True)
        self._wakes: dict[str, asyncio.Event] = {}  # per order: set when something may have changed

    async def _unfinished(self) -> Sequence[OrderKey]:
        return await self.store.unfinished_order_keys()

    def submit(
        self, buyer_id: str, order_id: str, committed: ordering_pb2.ServiceOrder | None = None
    ) -> None:
        """Make sure the order is being processed (if it already is and waits, it looks again:
        the buyer may have answered or cancelled). `committed`: the order as the write that
        called this just committed it, so the first step need not read it back (each step
        re-reads it in its own transaction anyway)."""
        if (wake := self._wakes.get(order_id)) is not None:  # only orders whose task waits have one
            wake.set()
        log = _log.bind(order_id=order_id, buyer=buyer_id)
        order = committed  # as the last step left it; None: read it
        cause = tracing.current()  # the request's; None when resumed (read on the first step)
        traced = False

        async def step() -> bool:
            nonlocal order, traced
            if not traced:
                await self._enter_trace(buyer_id, order_id, cause)
                traced = True
            current = order if order is not None else await self.store.get_order(buyer_id, order_id)
            order = None  # a step that raises is retried from a fresh read
            move = self._move(buyer_id, order_id, current)
            current = None  # the move holds what it needs: a task that waits holds no order
            order = await move()
            if order is None:
                self._wakes.pop(order_id, None)
            return order is not None

        self._workers.submit(order_id, step, log)

    async def _enter_trace(self, buyer_id: str, order_id: str, cause: tracing.Trace | None) -> None:
        """Make the order's trace current in its task and bind it to the task's log lines."""
        if cause is None:
            stored = await self.store.resource_trace(buyer_id, order_id)
            cause = tracing.from_stored(*stored) if stored is not None else None
        if cause is None:  # an order of an earlier version: a trace of its own from now on
            cause = tracing.child("order.fulfilment", None, order_id=order_id)
        tracing.use(cause)
        structlog.contextvars.bind_contextvars(**cause.log_fields())

    async def _apply(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ItemOutcome:
        """The backend's call for `item`, as a child span of the order's trace (current while
        it runs, so the backend sees it), logged with its outcome."""
        cause = tracing.current()
        span = tracing.child("partner.apply", cause, order_id=order.id, item_id=item.id)
        tracing.use(span)
        try:
            outcome = await self.backend.apply(buyer_id, order, item)
        except BaseException as exc:
            tracing.end(span, type(exc).__name__)
            raise
        finally:
            tracing.use(cause)
        tracing.end(span, "" if outcome.ok else outcome.reason)
        _log.info(
            "order.item_applied",
            order_id=order.id,
            item_id=item.id,
            ok=outcome.ok,
            reason=outcome.reason,
            backend_span_id=span.span_id,
        )
        return outcome

    def _move(self, buyer_id: str, order_id: str, order: ordering_pb2.ServiceOrder | None) -> Move:
        """The next step of the order as last read or written: a coroutine function whose
        result is the order as the step left it, or None once there is nothing left to do.

        `order` only chooses the step: each step re-reads the order in its transaction and
        acts only if it still applies (a cancellation may have come in meanwhile), so no
        separate read is needed between steps. The item that completes the last one also
        finishes the order, in the same transaction. A step that waits (for the order's
        requested start, the simulated Partner's pace, or items waiting on the buyer) holds
        the ids only, not the order: an order acknowledged for a start weeks ahead keeps its
        task for weeks, and keeping the order measured about 11 KB more resident memory per
        held order.
        """
        if order is None or order.state in ORDER.terminal:
            return _nothing
        if order.state in _CANCELLING:
            return functools.partial(
                self._paced, lambda tx: fulfilment.advance_cancellation(tx, buyer_id, order_id, clock.now())
            )
        if order.state == Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED:
            if _seconds_until(order.requested_start_date) > 0:
                return functools.partial(self._until_start, buyer_id, order_id)
            return functools.partial(
                self._paced, lambda tx: fulfilment.start_order(tx, buyer_id, order_id, clock.now())
            )
        if order.state in _WORKING:
            item = plan.next_item(order) or plan.stuck_item(order)
            if item is None and waiting.any_waiting(order):
                return functools.partial(self._wait, buyer_id, order_id)
            if item is None:
                return functools.partial(
                    self.store.write, lambda tx: fulfilment.finish_order(tx, buyer_id, order_id, clock.now())
                )
            return functools.partial(self._carry_out, buyer_id, order, item)
        return _nothing

    async def _paced(
        self, write: Callable[[Tx], ordering_pb2.ServiceOrder | None]
    ) -> ordering_pb2.ServiceOrder | None:
        """`write`, one step of the simulated Partner's pace from now."""
        await asyncio.sleep(self.step_delay)
        return await self.store.write(write)

    async def _carry_out(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ordering_pb2.ServiceOrder | None:
        """Have the backend apply `item` (unless it is blocked) and record what it did."""
        outcome = fulfilment.blocked_outcome(order, item) or await self._apply(buyer_id, order, item)
        return await self._record(buyer_id, order.id, item.id, outcome)

    async def _until_start(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        """Sleep until the order's requested start, or until `submit` says it changed (a
        cancellation, here or on another process), looking again at least every
        START_RECHECK_S (a step of the wall clock moves the start); the order as it is then."""
        wake = self._woken(order_id)
        order = await self.store.get_order(buyer_id, order_id)
        if order is None or order.state != Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED:
            return order  # it changed meanwhile: the next step looks at it
        delay = min(_seconds_until(order.requested_start_date), START_RECHECK_S)
        order = None  # not held while the order waits
        await _sleep_or_wake(wake, delay)
        return await self.store.get_order(buyer_id, order_id)

    async def _record(
        self, buyer_id: str, order_id: str, item_id: str, outcome: ItemOutcome
    ) -> ordering_pb2.ServiceOrder | None:
        """Store what the backend did with an item: done or failed, or a wait (pending, held)."""
        wait = outcome.wait
        if wait is not None:
            return await self.store.write(
                lambda tx: waiting.wait_item(
                    tx, buyer_id, order_id, item_id, wait, clock.now(), self.wait_timeout
                )
            )
        return await self.store.write(
            lambda tx: fulfilment.complete_item(
                tx, buyer_id, order_id, item_id, outcome, clock.now(), finish=True
            )
        )

    async def _wait(self, buyer_id: str, order_id: str) -> ordering_pb2.ServiceOrder | None:
        """Nothing runs while the order's items wait: sleep until the earliest resume or expiry
        time, or until `submit` says something changed (the buyer answered or cancelled, here or
        on another process), then wake the items that are due; the order as it is then."""
        wake = self._woken(order_id)
        order = await self.store.get_order(buyer_id, order_id)
        due = waits.next_wake(order) if order is not None else None
        if order is None or due is None:
            return order  # it changed meanwhile: the next step looks at it
        order = None  # not held while the items wait
        await _sleep_or_wake(wake, _seconds_until(due))
        return await self.store.write(lambda tx: waiting.wake_due(tx, buyer_id, order_id, clock.now()))

    def _woken(self, order_id: str) -> asyncio.Event:
        """The event `submit` sets when the order may have changed, cleared: called before the
        read a wait depends on, so a change after that read wakes the wait."""
        wake = self._wakes.setdefault(order_id, asyncio.Event())
        wake.clear()
        return wake


async def _nothing() -> None:
    return None


async def _sleep_or_wake(wake: asyncio.Event, seconds: float) -> None:
    """Return after `seconds`, or sooner once `wake` is set."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)


def _seconds_until(when: timestamp_pb2.Timestamp) -> float:
    """Seconds from now until `when` (unset: the epoch, long past)."""
    return (when.ToNanoseconds() - clock.now().ToNanoseconds()) / 1e9
