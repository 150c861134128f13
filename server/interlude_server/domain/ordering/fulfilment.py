"""Order fulfilment steps, each run inside one store transaction.

Every step re-reads the order and acts only if it is still in the state the
step expects, so a step repeated after a crash or a race does nothing twice.
The Partner backend (partner/) decides *whether* an item succeeds; these
functions record *what follows*: item and order states, service effects,
tracking records and events.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, ordering_pb2
from interlude_server.core.errors import EtagMismatch, NotFound
from interlude_server.domain import audit, resources
from interlude_server.domain.audit import PARTNER
from interlude_server.domain.ordering import effects, plan, waits
from interlude_server.domain.ordering.orders import PreparedOrder
from interlude_server.domain.ordering.waits import Wait
from interlude_server.domain.states import ITEM, ORDER
from interlude_server.store.interface.store import Tx

Ord = ordering_pb2
Ev = events_pb2


@dataclass(frozen=True)
class ItemOutcome:
    """What the Partner network did with an item: done, failed with a reason, or not yet
    (`wait`: the item waits pending or held, see waits.Wait; `ok` is then ignored)."""

    ok: bool
    reason: str = ""
    # The operational state the network reports after the change, if it reports one.
    operational_state: int | None = None
    wait: Wait | None = None


def blocked_outcome(
    order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
) -> ItemOutcome | None:
    """The failure of an item that must not run: an item it depends on did not complete, or
    it waits in a cycle (`plan.check` refuses those in new orders); None if it may run."""
    if plan.next_item(order) is None:
        return ItemOutcome(ok=False, reason="not run: the items it waits for wait for it in turn")
    reason = plan.blocked_reason(order, item)
    return ItemOutcome(ok=False, reason=reason) if reason else None


def bump(order: ordering_pb2.ServiceOrder) -> None:
    order.etag = resources.next_etag(order.etag)


def set_order_state(
    tx: Tx, order: ordering_pb2.ServiceOrder, action: str, now: timestamp_pb2.Timestamp, actor: str, why: str
) -> None:
    """Move the order by `action` (per the ORDER table), with its record and event."""
    old = order.state
    order.state = ORDER.next(old, action)  # type: ignore[assignment]
    bump(order)
    if order.state in ORDER.terminal:
        order.completion_date.CopyFrom(now)
    audit.track(tx, order, now, "state", (ORDER.state_name(old), ORDER.state_name(order.state)), why, actor)


def set_item_state(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    action: str,
    now: timestamp_pb2.Timestamp,
    why: str,
) -> None:
    old = item.state
    item.state = ITEM.next(old, action)  # type: ignore[assignment]
    change = ITEM.state_name(old), ITEM.state_name(item.state)
    audit.track(tx, order, now, "state", change, why, PARTNER, item)


def item_events(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    items: list[ordering_pb2.ServiceOrderItem],
    now: timestamp_pb2.Timestamp,
) -> None:
    for item in items:
        state = ITEM.state_name(item.state)
        audit.emit(
            tx, Ev.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE, order, now, state=state, order_item_id=item.id
        )


def order_changed(tx: Tx, order: ordering_pb2.ServiceOrder, now: timestamp_pb2.Timestamp) -> None:
    tx.put_order(order)
    audit.emit(tx, Ev.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE, order, now, state=ORDER.state_name(order.state))


def commit_new_order(
    tx: Tx, prepared: PreparedOrder, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder:
    """Store an acknowledged order, unless a service it modifies changed since validation.
    `prepared` is the document validation produced (its item dependencies were checked
    there, on this very order): it is stored as it is, not checked or converted again."""
    order = prepared.order
    for service_id, etag in prepared.base_etags.items():
        current = tx.get_service(order.buyer_id, service_id)
        if current is None:
            raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")
        if current.etag != etag:
            raise EtagMismatch("Service", service_id, current.etag)
    tx.put_order(order, new=True)  # its id was made by validation (a UUID): no row has it
    acknowledged = ("", ORDER.state_name(order.state))
    audit.track(tx, order, now, "state", acknowledged, "order acknowledged", f"buyer:{order.buyer_id}")
    audit.emit(tx, Ev.EVENT_TYPE_SERVICE_ORDER_CREATE, order, now)
    return order


def start_order(
    tx: Tx, buyer_id: str, order_id: str, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder | None:
    """ACKNOWLEDGED → IN_PROGRESS with every item; None if the order is not acknowledged any more."""
    order = tx.get_order(buyer_id, order_id)
    if order is None or not ORDER.can(order.state, "start"):
        return order
    set_order_state(tx, order, "start", now, PARTNER, "the Partner started work")
    order.start_date.CopyFrom(now)
    started = [i for i in order.service_order_item if ITEM.can(i.state, "start")]
    for item in started:
        set_item_state(tx, order, item, "start", now, "the Partner started work on the item")
    order_changed(tx, order, now)
    item_events(tx, order, started, now)
    return order


def complete_item(
    tx: Tx,
    buyer_id: str,
    order_id: str,
    item_id: str,
    outcome: ItemOutcome,
    now: timestamp_pb2.Timestamp,
    *,
    finish: bool = False,
) -> ordering_pb2.ServiceOrder | None:
    """Record the outcome of an in-progress item and, on success, apply it to the inventory;
    with `finish`, also finish the order if that was its last item (one transaction, the
    order's state change after the item's)."""
    order = tx.get_order(buyer_id, order_id)
    item = next((i for i in order.service_order_item if i.id == item_id), None) if order else None
    if order is None or item is None or item.state != Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS:
        return order
    if outcome.ok:
        effects.apply_item(tx, order, item, now, outcome.operational_state)
        set_item_state(tx, order, item, "complete", now, "the Partner network applied the item")
    else:
        item.termination_error.add(
            code=common_pb2.VALIDATION_ERROR_CODE_OTHER_ISSUE,
            reason=outcome.reason or "the Partner network failed",
        )
        set_item_state(tx, order, item, "fail", now, outcome.reason)
    bump(order)
    item_events(tx, order, [item], now)
    if not (finish and finish_in(tx, order, now)):  # finishing stores the order itself
        tx.put_order(order)
    return order


def finish_order(
    tx: Tx, buyer_id: str, order_id: str, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder | None:
    """Once every item is final, set the order's final state by the MEF aggregation rule."""
    order = tx.get_order(buyer_id, order_id)
    if order is not None:
        finish_in(tx, order, now)
    return order


def finish_in(tx: Tx, order: ordering_pb2.ServiceOrder, now: timestamp_pb2.Timestamp) -> bool:
    """Finish an in-progress order whose items are all final, storing it; False if it is not one."""
    items = order.service_order_item
    if order.state != Ord.SERVICE_ORDER_STATE_IN_PROGRESS or any(i.state not in ITEM.terminal for i in items):
        return False
    completed = sum(i.state == Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED for i in items)
    action = "complete" if completed == len(items) else "fail" if completed == 0 else "completePartially"
    set_order_state(tx, order, action, now, PARTNER, f"{completed} of {len(items)} items completed")
    order_changed(tx, order, now)
    return True


def request_cancellation(
    tx: Tx, buyer_id: str, order_id: str, etag: str, reason: str, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder:
    """The buyer asks to cancel: the order moves to ASSESSING_CANCELLATION."""
    found = tx.get_order(buyer_id, order_id)
    order = resources.for_change(found, "ServiceOrder", order_id, etag, "SERVICE_ORDER_NOT_FOUND")
    ORDER.check(order.state, "cancel")
    order.cancellation_reason = reason
    set_order_state(tx, order, "cancel", now, f"buyer:{buyer_id}", reason or "cancellation requested")
    order_changed(tx, order, now)
    return order


def advance_cancellation(
    tx: Tx, buyer_id: str, order_id: str, now: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrder | None:
    """Assessing → pending cancellation → cancelled (or partial if some items had completed)."""
    order = tx.get_order(buyer_id, order_id)
    if order is None:
        return None
    if order.state == Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION:
        set_order_state(tx, order, "acceptCancellation", now, PARTNER, "the Partner can cancel the order")
    elif order.state == Ord.SERVICE_ORDER_STATE_PENDING_CANCELLATION:
        cancelled = [i for i in order.service_order_item if ITEM.can(i.state, "cancel")]
        for item in cancelled:
            waits.end(item, now, waits.CANCELLED)
            set_item_state(tx, order, item, "cancel", now, "the order was cancelled")
        done = any(i.state == Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED for i in order.service_order_item)
        set_order_state(
            tx, order, "completePartially" if done else "cancelled", now, PARTNER, "cancellation done"
        )
        order.cancellation_date.CopyFrom(now)
        order_changed(tx, order, now)
        item_events(tx, order, cancelled, now)
        return order
    else:
        return order
    order_changed(tx, order, now)
    return order
