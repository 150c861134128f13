"""Items that wait: the steps that put an item in `pending` or `held`, wake it, expire it, or
resume it with the buyer's answer, each in one store transaction.

The order follows its items by MEF's aggregation rule: `pending` if at least one item is
pending, else `held` if at least one is held, else `inProgress` (until every item is final).
Every step re-reads the order and acts only if the item is still in the state it expects, so a
repeated step (after a crash, or a race with a cancellation) does nothing twice.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, ordering_pb2
from interlude_server.core.errors import InformationNotRequired, InvalidArgument, Violation
from interlude_server.domain import audit, documents, jsonptr, resources
from interlude_server.domain.audit import PARTNER
from interlude_server.domain.ordering import fulfilment, waits
from interlude_server.domain.ordering.waits import Wait
from interlude_server.domain.states import ITEM
from interlude_server.store.interface.store import Tx

Ord = ordering_pb2
Ev = events_pb2
_ORDER_WORKING = (
    Ord.SERVICE_ORDER_STATE_IN_PROGRESS,
    Ord.SERVICE_ORDER_STATE_PENDING,
    Ord.SERVICE_ORDER_STATE_HELD,
)
_TO_ORDER = {
    Ord.SERVICE_ORDER_STATE_PENDING: ("awaitAction", "an item waits for an action"),
    Ord.SERVICE_ORDER_STATE_HELD: ("hold", "an item is held"),
    Ord.SERVICE_ORDER_STATE_IN_PROGRESS: ("resume", "no item waits any more"),
}


def _item(order: ordering_pb2.ServiceOrder | None, item_id: str) -> ordering_pb2.ServiceOrderItem | None:
    return next((i for i in order.service_order_item if i.id == item_id), None) if order else None


def aggregate(tx: Tx, order: ordering_pb2.ServiceOrder, now: timestamp_pb2.Timestamp) -> None:
    """Move a working order to the state its items give it (MEF: pending if any item is pending,
    else held if any is held, else in progress), with its record and event."""
    if order.state not in _ORDER_WORKING:
        return
    states = {i.state for i in order.service_order_item}
    target = (
        Ord.SERVICE_ORDER_STATE_PENDING
        if Ord.SERVICE_ORDER_ITEM_STATE_PENDING in states
        else Ord.SERVICE_ORDER_STATE_HELD
        if Ord.SERVICE_ORDER_ITEM_STATE_HELD in states
        else Ord.SERVICE_ORDER_STATE_IN_PROGRESS
    )
    if target != order.state:
        action, why = _TO_ORDER[target]
        fulfilment.set_order_state(tx, order, action, now, PARTNER, why)
        fulfilment.order_changed(tx, order, now)


def _settle(tx: Tx, order: ordering_pb2.ServiceOrder, now: timestamp_pb2.Timestamp) -> None:
    """Store the order after its items changed: its aggregate state, and its final state once
    every item is final."""
    fulfilment.bump(order)
    aggregate(tx, order, now)
    if not fulfilment.finish_in(tx, order, now):
        tx.put_order(order)


def wait_item(
    tx: Tx,
    buyer_id: str,
    order_id: str,
    item_id: str,
    wait: Wait,
    now: timestamp_pb2.Timestamp,
    timeout: float,
) -> ordering_pb2.ServiceOrder | None:
    """An in-progress item waits: pending or held, with its wait record and a Partner note; the
    order follows; `serviceOrderInformationRequiredEvent` when the Partner asks the buyer."""
    order = tx.get_order(buyer_id, order_id)
    item = _item(order, item_id)
    if order is None or item is None or item.state != Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS:
        return order
    problems = wait.problems()
    if problems:  # a backend fault: the item cannot wait like this, so it fails, saying why
        outcome = fulfilment.ItemOutcome(
            ok=False, reason="the Partner's wait is invalid: " + "; ".join(problems)
        )
        return fulfilment.complete_item(tx, buyer_id, order_id, item_id, outcome, now, finish=True)
    record = waits.record(wait, now, waits.expiry(item, now, timeout))
    item.wait.append(record)
    waits.note(item, waits.describe(record), now, author=PARTNER)
    action = "awaitAction" if wait.state == "pending" else "hold"
    fulfilment.set_item_state(tx, order, item, action, now, wait.reason)
    fulfilment.item_events(tx, order, [item], now)
    _settle(tx, order, now)
    if wait.information:
        audit.emit(
            tx,
            Ev.EVENT_TYPE_SERVICE_ORDER_INFORMATION_REQUIRED,
            order,
            now,
            reason=wait.reason,
            order_item_id=item.id,
        )
    return order


def wake_due(
    tx: Tx, buyer_id: str, order_id: str, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder | None:
    """Wake the order's waiting items whose time has come: past its expiry an item fails (MEF:
    automatic failed after the agreed timeframe), past its resume time it is in progress again."""
    order = tx.get_order(buyer_id, order_id)
    if order is None or order.state not in _ORDER_WORKING:
        return order
    woken = []
    for item in order.service_order_item:
        wait = waits.current(item)
        if wait is None:
            continue
        if wait.expiry_time.ToNanoseconds() <= now.ToNanoseconds():
            state = ORDER_ITEM_NAME[wait.state]
            since = wait.start_time.ToJsonString()
            reason = f"no action within the agreed timeframe: {state} since {since} ({wait.reason})"
            item.termination_error.add(code=common_pb2.VALIDATION_ERROR_CODE_OTHER_ISSUE, reason=reason)
            waits.end(item, now, waits.EXPIRED)
            fulfilment.set_item_state(tx, order, item, "expire", now, reason)
        elif wait.HasField("resume_time") and wait.resume_time.ToNanoseconds() <= now.ToNanoseconds():
            waits.end(item, now, waits.RESUMED)
            fulfilment.set_item_state(tx, order, item, "resume", now, f"the Partner resumes ({wait.reason})")
        else:
            continue
        woken.append(item)
    if woken:
        fulfilment.item_events(tx, order, woken, now)
        _settle(tx, order, now)
    return order


ORDER_ITEM_NAME = {Ord.SERVICE_ORDER_ITEM_STATE_PENDING: "pending", Ord.SERVICE_ORDER_ITEM_STATE_HELD: "held"}


def asked(
    order: ordering_pb2.ServiceOrder, item_id: str
) -> tuple[ordering_pb2.ServiceOrderItem, ordering_pb2.ServiceOrderItemWait]:
    """The item `item_id` and the wait in which it asks the buyer for information, or the
    refusal: INVALID_REQUEST for an unknown item, ORDER_INFORMATION_NOT_REQUIRED when it asks nothing."""
    item = _item(order, item_id)
    if item is None:
        raise InvalidArgument(
            "no such item in this order",
            [Violation("item_id", f"order {order.id!r} has no item {item_id!r}", "referenceNotFound")],
        )
    wait = waits.current(item)
    if wait is None or not wait.information_required:
        state = ORDER_ITEM_NAME.get(item.state) or ITEM.state_name(item.state)
        raise InformationNotRequired(
            f"item {item_id!r} of order {order.id!r} asks for no information now (it is {state})", state
        )
    return item, wait


def answer(
    tx: Tx,
    buyer_id: str,
    order_id: str,
    etag: str,
    item_id: str,
    values: dict[str, Any],
    notes: list[str],
    now: timestamp_pb2.Timestamp,
) -> ordering_pb2.ServiceOrder:
    """The buyer's answer (checked by information.check against this same wait): the values go
    into the item's configuration, the notes onto the item, and the item resumes."""
    found = tx.get_order(buyer_id, order_id)
    order = resources.for_change(found, "ServiceOrder", order_id, etag, "SERVICE_ORDER_NOT_FOUND")
    item, wait = asked(order, item_id)
    config = documents.to_dict(item.service.service_configuration)
    for pointer in wait.information_required:
        if pointer != waits.NOTE_POINTER:
            jsonptr.put(config, pointer, jsonptr.get(values, pointer))
    documents.set_attributes(item.service.service_configuration, config)
    for text in notes:
        waits.note(item, text, now, author=f"buyer:{buyer_id}")
    waits.end(item, now, waits.ANSWERED)
    fulfilment.set_item_state(tx, order, item, "resume", now, "the buyer supplied the information")
    fulfilment.item_events(tx, order, [item], now)
    _settle(tx, order, now)
    return order


def any_waiting(order: ordering_pb2.ServiceOrder) -> bool:
    """Whether any item of the order waits now."""
    return any(waits.current(i) is not None for i in order.service_order_item)
