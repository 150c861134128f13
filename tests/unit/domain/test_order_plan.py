"""The execution plan of an order: which item waits for which, and what the Partner refuses."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.domain.ordering import plan

Ord = ordering_pb2
RUNNING = Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS


def _item(item_id: str, *related: str, state: int = RUNNING) -> ordering_pb2.ServiceOrderItem:
    return Ord.ServiceOrderItem(
        id=item_id,
        action=Ord.SERVICE_ACTION_ADD,
        state=state,  # type: ignore[arg-type]
        service_order_item_relationship=[
            Ord.ServiceOrderItemRelationship(
                relationship_type="ENDPOINT_OF", order_item=inventory_pb2.ServiceOrderItemRef(item_id=r)
            )
            for r in related
        ],
    )


def _wait(item: ordering_pb2.ServiceOrderItem, other: str, dependency: int, delay: int = 0) -> None:
    item.coordinated_action.add(
        item_id=other,
        coordination_dependency=dependency,
        coordinated_action_delay=common_pb2.MefDuration(amount=delay),
    )


def test_end_points_run_after_the_connectivity_they_relate_to_whatever_their_position() -> None:
    order = Ord.ServiceOrder(service_order_item=[_item("ep-1", "evc"), _item("ep-2", "evc"), _item("evc")])
    assert plan.execution_order(order.service_order_item) == ["evc", "ep-1", "ep-2"]
    assert plan.next_item(order) is order.service_order_item[2]
    assert plan.check(order) == []


def test_an_item_whose_dependency_failed_is_blocked_naming_it() -> None:
    failed = Ord.SERVICE_ORDER_ITEM_STATE_FAILED
    order = Ord.ServiceOrder(service_order_item=[_item("evc", state=failed), _item("ep-1", "evc")])
    item = plan.next_item(order)
    assert item is not None
    assert item.id == "ep-1"
    reason = plan.blocked_reason(order, item)
    assert "'evc'" in reason
    assert "ENDPOINT_OF" in reason
    assert "failed" in reason


def test_a_completed_dependency_does_not_block() -> None:
    done = Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED
    order = Ord.ServiceOrder(service_order_item=[_item("evc", state=done), _item("ep-1", "evc")])
    assert plan.blocked_reason(order, order.service_order_item[1]) == ""


def test_only_finish_to_start_makes_a_coordinated_item_a_dependency() -> None:
    failed = Ord.SERVICE_ORDER_ITEM_STATE_FAILED
    a, b, c = _item("a", state=failed), _item("b"), _item("c")
    _wait(b, "a", Ord.COORDINATION_DEPENDENCY_START_TO_START)
    _wait(c, "a", Ord.COORDINATION_DEPENDENCY_FINISH_TO_START)
    order = Ord.ServiceOrder(service_order_item=[a, b, c])
    assert plan.check(order) == []
    assert plan.blocked_reason(order, order.service_order_item[1]) == ""
    assert "finishToStart" in plan.blocked_reason(order, order.service_order_item[2])


def test_an_item_waits_for_its_coordinated_predecessor() -> None:
    first, second = _item("1"), _item("2")
    _wait(first, "2", Ord.COORDINATION_DEPENDENCY_FINISH_TO_FINISH)
    order = Ord.ServiceOrder(service_order_item=[first, second])
    assert plan.execution_order(order.service_order_item) == ["2", "1"]
    assert plan.next_item(order) is order.service_order_item[1]


def test_unsupported_dependencies_are_refused_each_naming_its_field() -> None:
    item = _item("1")
    item.service_order_item_relationship.add(
        relationship_type="RELIES_ON",
        order_item=inventory_pb2.ServiceOrderItemRef(item_id="9", service_order_id="other-order"),
    )
    _wait(item, "2", Ord.COORDINATION_DEPENDENCY_FINISH_TO_START, delay=5)
    _wait(item, "nope", Ord.COORDINATION_DEPENDENCY_UNSPECIFIED)
    _wait(item, "1", Ord.COORDINATION_DEPENDENCY_START_TO_START)
    order = Ord.ServiceOrder(service_order_item=[item, _item("2")])
    at = "service_order.service_order_item[0]"
    assert {(v.field, v.code) for v in plan.check(order)} == {
        (f"{at}.service_order_item_relationship[0].order_item.service_order_id", "invalidValue"),
        (f"{at}.coordinated_action[0].coordinated_action_delay.amount", "invalidValue"),
        (f"{at}.coordinated_action[1].item_id", "referenceNotFound"),
        (f"{at}.coordinated_action[1].coordination_dependency", "missingProperty"),
        (f"{at}.coordinated_action[2].item_id", "invalidValue"),
    }


def test_items_waiting_for_each_other_are_refused_and_never_run() -> None:
    order = Ord.ServiceOrder(service_order_item=[_item("a", "b"), _item("b", "a"), _item("c")])
    violations = plan.check(order)
    assert [v.field for v in violations] == [
        "service_order.service_order_item[0].id",
        "service_order.service_order_item[1].id",
    ]
    assert "cycle" in violations[0].description
    assert plan.execution_order(order.service_order_item) == ["c"]
    del order.service_order_item[2]
    assert plan.next_item(order) is None
    stuck = plan.stuck_item(order)
    assert stuck is not None
    assert stuck.id == "a"


def test_the_plan_lists_the_items_in_running_order_with_what_they_wait_for() -> None:
    order = Ord.ServiceOrder(service_order_item=[_item("ep-1", "evc"), _item("evc")])
    notes = plan.plan_notes(order)
    assert [n.id for n in notes] == ["plan-1", "plan-2"]
    assert "'evc'" in notes[0].text
    assert "after items ['evc']" in notes[1].text
    assert notes[1].source == common_pb2.NOTE_SOURCE_SOF
