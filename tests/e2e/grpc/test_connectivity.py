"""All-or-nothing connectivity: an item whose dependency failed does not run, and no service
is ever left relating to a service that was never created."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from tests.conftest import DbFor
from tests.support.helpers import ALPHA, EVC, Stubs, rich_error, wait_for_order
from tests.support.server_process import ServerProcess, launch

pytestmark = pytest.mark.stores("sqlite", "postgresql")

Ord = ordering_pb2
NO_CAPACITY = "simulated: no capacity for the EVC"
# Only the EVC item of an order named EVCFAIL-* fails; its end point items would succeed.
FAULTS = {"faults": [{"externalId": "EVCFAIL-*", "serviceConfigurationType": EVC, "reason": NO_CAPACITY}]}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("connectivity")
    faults = workdir / "faults.json"
    faults.write_text(json.dumps(FAULTS))
    fast = ("--seed", "demo", "--sim-step-delay", "0.02")
    running = launch(workdir, *fast, "--sim-faults", str(faults), db=db_for(workdir))
    yield running
    assert running.stop() == 0


def _all_services(stubs: Stubs) -> list[inventory_pb2.Service]:
    request = inventory_pb2.ListServicesRequest(page_size=1000)
    page = stubs.inventory.ListServices(request, metadata=ALPHA)
    assert not page.next_page_token, "the buyer's inventory fits one page"
    return list(page.services)


def _evc_request(external_id: str, *interfaces: str) -> ordering_pb2.CreateConnectivityRequest:
    return ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[Ord.ConnectivityEndPoint(interface_service_id=i) for i in interfaces],
        external_id=external_id,
    )


def test_a_failed_connectivity_item_leaves_no_end_point_behind(stubs: Stubs) -> None:
    before = {s.id for s in _all_services(stubs)}
    order = stubs.ordering.CreateConnectivity(
        _evc_request("EVCFAIL-1", "alpha-uni-2", "alpha-uni-3"), metadata=ALPHA
    ).service_order
    done = wait_for_order(stubs, order.id)

    evc, *end_points = done.service_order_item
    assert evc.state == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
    assert [e.reason for e in evc.termination_error] == [NO_CAPACITY]
    assert end_points
    for item in end_points:
        assert item.state == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
        (error,) = item.termination_error
        assert f"item {evc.id!r}" in error.reason
        assert "ENDPOINT_OF" in error.reason
    assert done.state == Ord.SERVICE_ORDER_STATE_FAILED

    services = _all_services(stubs)
    ids = {s.id for s in services}
    assert ids == before, "nothing of the failed order is in the inventory"
    dangling = [
        (s.id, r.service.id) for s in services for r in s.service_relationship if r.service.id not in ids
    ]
    assert dangling == []


def _as_plain_items(stubs: Stubs) -> list[ordering_pb2.ServiceOrderItem]:
    """The items CreateConnectivity would order for an EVC (its validate_only preview), ready
    to be sent again in a CreateServiceOrder."""
    request = _evc_request("preview", "alpha-uni-2", "alpha-uni-3")
    request.validate_only = True
    preview = stubs.ordering.CreateConnectivity(request, metadata=ALPHA).service_order
    items = list(preview.service_order_item)
    for item in items:
        item.ClearField("state")
        item.service.ClearField("id")
        item.service.ClearField("buyer_id")
    return items


def test_a_plain_order_keeps_its_item_relationships_all_or_nothing(stubs: Stubs) -> None:
    """The same rule holds for a CreateServiceOrder whose end points relate to the EVC item,
    listed before it: they wait for the EVC and do not run when it fails."""
    evc, *end_points = _as_plain_items(stubs)
    reordered = Ord.ServiceOrder(external_id="EVCFAIL-2", service_order_item=[*end_points, evc])
    order = stubs.ordering.CreateServiceOrder(
        ordering_pb2.CreateServiceOrderRequest(service_order=reordered), metadata=ALPHA
    ).service_order
    done = wait_for_order(stubs, order.id)
    by_id = {i.id: i for i in done.service_order_item}
    assert by_id[evc.id].state == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
    for item in end_points:
        assert by_id[item.id].state == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
        assert f"item {evc.id!r}" in by_id[item.id].termination_error[0].reason
    assert done.state == Ord.SERVICE_ORDER_STATE_FAILED


def test_connectivity_that_succeeds_still_completes_with_its_end_points(stubs: Stubs) -> None:
    order = stubs.ordering.CreateConnectivity(
        _evc_request("EVC-OK-1", "alpha-uni-2", "alpha-uni-3"), metadata=ALPHA
    ).service_order
    done = wait_for_order(stubs, order.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    evc_id = done.service_order_item[0].service.id
    for item in done.service_order_item[1:]:
        end_point = stubs.inventory.GetService(
            inventory_pb2.GetServiceRequest(id=item.service.id), metadata=ALPHA
        ).service
        assert evc_id in {r.service.id for r in end_point.service_relationship}


def test_dependencies_the_partner_cannot_keep_are_refused_naming_each_field(stubs: Stubs) -> None:
    evc, first, second = _as_plain_items(stubs)
    del first.coordinated_action[:]  # the preview's own finishToStart on the EVC item
    first.coordinated_action.add(
        item_id=evc.id,
        coordination_dependency=Ord.COORDINATION_DEPENDENCY_FINISH_TO_START,
        coordinated_action_delay=common_pb2.MefDuration(amount=2, units=common_pb2.TIME_UNIT_MINUTES),
    )
    first.coordinated_action.add(item_id=evc.id)
    second.service_order_item_relationship[0].order_item.service_order_id = "another-order"
    order = Ord.ServiceOrder(service_order_item=[evc, first, second])
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateServiceOrder(
            ordering_pb2.CreateServiceOrderRequest(service_order=order), metadata=ALPHA
        )
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    items = "service_order.service_order_item"
    assert set(error.violations) == {
        f"{items}[1].coordinated_action[0].coordinated_action_delay.amount",
        f"{items}[1].coordinated_action[1].coordination_dependency",
        f"{items}[2].service_order_item_relationship[0].order_item.service_order_id",
    }


def test_validate_only_returns_the_plan_in_the_order_it_would_run(stubs: Stubs) -> None:
    request = _evc_request("plan", "alpha-uni-2", "alpha-uni-3")
    request.validate_only = True
    preview = stubs.ordering.CreateConnectivity(request, metadata=ALPHA).service_order
    evc, *end_points = preview.service_order_item
    # Each end point names its sequencing in the contract's terms: after the EVC item finishes.
    for item in end_points:
        (after,) = item.coordinated_action
        assert after.item_id == evc.id
        assert after.coordination_dependency == Ord.COORDINATION_DEPENDENCY_FINISH_TO_START
    plan = [n.text for n in preview.note if n.id.startswith("plan-")]
    assert len(plan) == 1 + len(end_points)
    assert plan[0].startswith(f"plan step 1: item {evc.id!r}")
    for step, item in enumerate(end_points, start=2):
        assert plan[step - 1].startswith(f"plan step {step}: item {item.id!r}")
        assert evc.id in plan[step - 1]  # what it waits for and depends on
    assert all(n.source == common_pb2.NOTE_SOURCE_SOF for n in preview.note if n.id.startswith("plan-"))
    # ... and the rules the gate checked: the connectivity rule, its end point count, each interface.
    rules = [n.text for n in preview.note if n.id.startswith("rule-")]
    assert [n.id for n in preview.note if n.id.startswith("rule-")] == [
        f"rule-{i}" for i in range(1, len(rules) + 1)
    ]
    assert any(r.startswith(f"checked connectivity:{EVC}: your arrangement has a rule") for r in rules)
    assert any(r.startswith(f"checked connectivity:{EVC}: end points 2 within ") for r in rules)
    for interface in ("alpha-uni-2", "alpha-uni-3"):
        assert any(r.startswith(f"checked {interface}: ") and "may be connected" in r for r in rules), rules
    assert any(r.startswith("checked policy:carrier-ethernet-evc-end-point:/") for r in rules), rules
    # Nothing was ordered.
    listed = stubs.ordering.ListServiceOrders(
        ordering_pb2.ListServiceOrdersRequest(page_size=1000), metadata=ALPHA
    )
    assert all(o.external_id != "plan" for o in listed.service_orders)
