"""The execution plan of an order: which item runs after which, and what stops an item.

An item waits for every item of the same order it relates to
(`service_order_item_relationship` without an order id) and every item its
`coordinated_action` names. It *depends on* its related items and on its
`finishToStart` predecessors: they must complete, or the item does not run and
fails naming them. So a failed connectivity item never leaves end points behind
that relate to a service that was never created.

The simulated Partner runs one item at a time, so once the other item has
finished, `startToStart`, `startToFinish` and `finishToFinish` hold as well.
What the Partner cannot keep is refused (`check`): relationships to items of
another order, a coordinated action without a dependency type or with a delay,
one naming an unknown item or the item itself, and items that wait for each
other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2
from interlude_server.core.errors import Violation
from interlude_server.domain.states import ITEM

Ord = ordering_pb2
Item = ordering_pb2.ServiceOrderItem
_COMPLETED = Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED
_FINISH_TO_START = Ord.COORDINATION_DEPENDENCY_FINISH_TO_START
_WHERE = "service_order.service_order_item"


def waits_for(item: Item) -> set[str]:
    """The ids of the items of the same order that must be final before `item` starts."""
    related = {
        r.order_item.item_id
        for r in item.service_order_item_relationship
        if not r.order_item.service_order_id
    }
    return related | {c.item_id for c in item.coordinated_action}


def depends_on(item: Item) -> dict[str, str]:
    """The ids of the items `item` needs completed, each with how it depends on it."""
    out: dict[str, str] = {}
    for rel in item.service_order_item_relationship:
        if not rel.order_item.service_order_id:
            out.setdefault(rel.order_item.item_id, rel.relationship_type or "related item")
    for action in item.coordinated_action:
        if action.coordination_dependency == _FINISH_TO_START:
            out.setdefault(action.item_id, "finishToStart")
    return out


def blocked_reason(order: ordering_pb2.ServiceOrder, item: Item) -> str:
    """Why `item` must not run because an item it depends on ended without completing; ''
    if none did (call it once the items it waits for are final)."""
    states = {i.id: i.state for i in order.service_order_item}
    for other, how in depends_on(item).items():
        if other in states and other != item.id and states[other] != _COMPLETED:
            return (
                f"not run: item {other!r}, which this item depends on ({how}), "
                f"ended {ITEM.state_name(states[other])}"
            )
    return ""


def next_item(order: ordering_pb2.ServiceOrder) -> Item | None:
    """The first in-progress item whose items it waits for are all final."""
    final = {i.id for i in order.service_order_item if i.state in ITEM.terminal}
    known = {i.id for i in order.service_order_item}
    for item in order.service_order_item:
        if item.state == Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS and (waits_for(item) & known) <= final:
            return item
    return None


def stuck_item(order: ordering_pb2.ServiceOrder) -> Item | None:
    """An in-progress item that can never run (its items wait for each other in a cycle, which
    `check` refuses for new orders); None if there is none, another item can run, or an item
    waits (pending or held: the items after it wait for it, they are not stuck)."""
    waiting = (Ord.SERVICE_ORDER_ITEM_STATE_PENDING, Ord.SERVICE_ORDER_ITEM_STATE_HELD)
    if next_item(order) is not None or any(i.state in waiting for i in order.service_order_item):
        return None
    return next(
        (i for i in order.service_order_item if i.state == Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS), None
    )


def execution_order(items: Sequence[Item]) -> list[str]:
    """The item ids in the order the Partner runs them (by position among the items that may
    run); items in a cycle are left out."""
    known = {i.id for i in items}
    pending = {i.id: waits_for(i) & known - {i.id} for i in items}
    looped = {i.id for i in items if i.id in waits_for(i)}
    done: list[str] = []
    progress = True
    while progress:
        progress = False
        for item in items:
            if item.id in pending and item.id not in looped and pending[item.id] <= set(done):
                done.append(item.id)
                del pending[item.id]
                progress = True
                break
    return done


def check(order: ordering_pb2.ServiceOrder, where: str = _WHERE) -> list[Violation]:
    """Every item dependency of `order` this Partner cannot keep, as field violations."""
    items = order.service_order_item
    known = {i.id for i in items}
    out: list[Violation] = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        for r, rel in enumerate(item.service_order_item_relationship):
            if rel.order_item.service_order_id:
                out.append(
                    Violation(
                        f"{at}.service_order_item_relationship[{r}].order_item.service_order_id",
                        "relating to an item of another order is not supported; relate to the "
                        "service it created through service.service_relationship",
                    )
                )
        for c, action in enumerate(item.coordinated_action):
            out.extend(_check_action(f"{at}.coordinated_action[{c}]", item.id, action, known))
    ordered = set(execution_order(items))
    looped = [i.id for i in items if i.id not in ordered]
    if looped and not out:
        names = ", ".join(repr(i) for i in looped)
        for index, item in enumerate(items):
            if item.id not in ordered:
                out.append(Violation(f"{where}[{index}].id", f"items {names} wait for each other in a cycle"))
    return out


def _check_action(
    at: str, item_id: str, action: ordering_pb2.ItemCoordinatedAction, known: set[str]
) -> list[Violation]:
    out: list[Violation] = []
    if action.item_id not in known:
        out.append(
            Violation(f"{at}.item_id", f"no item {action.item_id!r} in this order", "referenceNotFound")
        )
    elif action.item_id == item_id:
        out.append(Violation(f"{at}.item_id", "an item cannot wait for itself"))
    if action.coordination_dependency not in Ord.CoordinationDependency.values() or (
        action.coordination_dependency == Ord.COORDINATION_DEPENDENCY_UNSPECIFIED
    ):
        out.append(
            Violation(
                f"{at}.coordination_dependency",
                "required: START_TO_START, START_TO_FINISH, FINISH_TO_START or FINISH_TO_FINISH",
                "missingProperty",
            )
        )
    if action.coordinated_action_delay.amount:
        out.append(
            Violation(
                f"{at}.coordinated_action_delay.amount",
                "a delay between items is not supported: an item starts as soon as the items it "
                "waits for have finished; send 0",
            )
        )
    return out


def plan_notes(order: ordering_pb2.ServiceOrder) -> list[common_pb2.Note]:
    """The plan of a validated order as Partner notes (for a validate_only answer): the items in
    the order they will run, each with the items it waits for and depends on."""
    items = {i.id: i for i in order.service_order_item}
    notes = []
    for step, item_id in enumerate(execution_order(order.service_order_item), start=1):
        item = items[item_id]
        text = f"plan step {step}: item {item_id!r} ({Ord.ServiceAction.Name(item.action)})"
        waits = sorted(waits_for(item) - {item_id})
        if waits:
            depends = sorted(depends_on(item))
            text += f" after items {waits}; it does not run unless items {depends} complete"
        notes.append(_note(f"plan-{step}", text))
    return notes


def rule_notes(checked: Sequence[str]) -> list[common_pb2.Note]:
    """The rules the policy gate checked (domain/ordering/gate.py), one Partner note each."""
    return [_note(f"rule-{n}", f"checked {rule}") for n, rule in enumerate(checked, start=1)]


def _note(note_id: str, text: str) -> common_pb2.Note:
    return common_pb2.Note(id=note_id, author="partner", source=common_pb2.NOTE_SOURCE_SOF, text=text)
