"""Ordering end to end: every change is an order, checked against policy, fulfilled by the simulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format, struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from tests.conftest import DbFor
from tests.e2e.conftest import OUT_OF_PROCESS, PARTNERS, serve_demo_as
from tests.support.helpers import ALPHA, BETA, EVC, OVC, Stubs, rich_error, wait_for_order
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.stores("sqlite", "postgresql")


@pytest.fixture(scope="module", params=PARTNERS)
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, db_for: DbFor, store_kind: str
) -> Iterator[ServerProcess]:
    """The suite runs three times on SQLite: the simulator in the server, and out of process
    behind the southbound contract, the Python and the Node.js worker (once is enough for the
    store: PostgreSQL runs the first only)."""
    if request.param in OUT_OF_PROCESS and store_kind != "sqlite":
        pytest.skip("the southbound contract is store-independent: run on SQLite only")
    workdir = tmp_path_factory.mktemp(f"demo-{request.param}")
    yield from serve_demo_as(request.param, workdir, db_for(workdir))


Ord = ordering_pb2
CIR = "service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"


def _service(stubs: Stubs, service_id: str) -> inventory_pb2.Service:
    return stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id=service_id), metadata=ALPHA).service


def _cir_update(service_id: str, amount: float, **kwargs: object) -> ordering_pb2.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}})
    return ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=[CIR]),
        **kwargs,  # type: ignore[arg-type]
    )


def _cir(service: inventory_pb2.Service) -> float:
    config = json_format.MessageToDict(service.service_configuration.attributes)
    return float(config["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"])


def _evc_request(a: str, b: str, **kwargs: object) -> ordering_pb2.CreateConnectivityRequest:
    return ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[
            Ord.ConnectivityEndPoint(interface_service_id=a),
            Ord.ConnectivityEndPoint(interface_service_id=b),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


def test_connectivity_between_two_unis_completes_and_appears_in_inventory(stubs: Stubs) -> None:
    order = stubs.ordering.CreateConnectivity(
        _evc_request("alpha-uni-1", "alpha-uni-2", external_id="ACME-EVC-42"), metadata=ALPHA
    ).service_order
    assert order.state == Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED
    assert [i.action for i in order.service_order_item] == [Ord.SERVICE_ACTION_ADD] * 3
    done = wait_for_order(stubs, order.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    assert all(i.state == Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED for i in done.service_order_item)
    evc_id = done.service_order_item[0].service.id
    evc = _service(stubs, evc_id)
    assert evc.state == common_pb2.SERVICE_STATE_ACTIVE
    assert evc.operational_state == common_pb2.OPERATIONAL_STATE_ENABLED
    end_points = stubs.inventory.ListServices(
        inventory_pb2.ListServicesRequest(filter=inventory_pb2.ServiceFilter(related_service_id=evc_id)),
        metadata=ALPHA,
    ).services
    attached = {
        r.service.id
        for ep in end_points
        for r in ep.service_relationship
        if r.relationship_type == "ATTACHED_TO"
    }
    assert attached == {"alpha-uni-1", "alpha-uni-2"}


def test_connectivity_through_an_enni_outside_the_arrangement_is_not_permitted(stubs: Stubs) -> None:
    request = ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=OVC),
        end_points=[
            Ord.ConnectivityEndPoint(interface_service_id="alpha-uni-1"),
            Ord.ConnectivityEndPoint(interface_service_id="alpha-enni-2"),
        ],
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateConnectivity(request, metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "CONNECTIVITY_NOT_PERMITTED"
    assert any("alpha-enni-2" in rule for rule in error.rules)


def test_connectivity_to_another_buyers_interface_is_an_unknown_reference(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateConnectivity(_evc_request("beta-uni-1", "alpha-uni-1"), metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"end_points[0].interface_service_id"}


def test_a_cir_change_within_policy_completes(stubs: Stubs) -> None:
    before = _service(stubs, "alpha-ovc-1-ep-1")
    order = stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-1", 500), metadata=ALPHA).service_order
    assert order.service_order_item[0].action == Ord.SERVICE_ACTION_MODIFY
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    after = _service(stubs, "alpha-ovc-1-ep-1")
    assert _cir(after) == 500
    assert int(after.etag) == int(before.etag) + 1


def test_an_update_sent_as_proto3_json_like_grpcurl_completes(stubs: Stubs) -> None:
    # grpcurl and other JSON clients send the mask in its JSON form; the parser turns each
    # camelCase attribute segment into snake_case, which must still name the attribute.
    body = {
        "service": {
            "id": "alpha-ovc-1-ep-1",
            "serviceConfiguration": {
                "attributes": {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 250}}}
            },
        },
        "updateMask": "serviceConfiguration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue",
    }
    request = json_format.ParseDict(body, ordering_pb2.UpdateServiceRequest())
    assert "ingress_bandwidth_profile_per_ovc_end_point" in request.update_mask.paths[0]
    order = stubs.ordering.UpdateService(request, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    assert _cir(_service(stubs, "alpha-ovc-1-ep-1")) == 250


def test_a_cir_change_outside_policy_is_refused_naming_the_field_and_rule(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-1", 5000), metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "POLICY_VIOLATION"
    assert f"service.{CIR}" in error.violations
    assert "1000" in error.violations[f"service.{CIR}"]
    assert any("/ingressBandwidthProfilePerOvcEndPoint/cir/irValue" in rule for rule in error.rules)


def test_every_policy_violation_of_an_order_is_reported_at_once(stubs: Stubs) -> None:
    current = _service(stubs, "alpha-uni-1")
    config = json_format.MessageToDict(current.service_configuration.attributes)
    config["maximumFrameSize"] = 1600  # customizable, but not to this value
    config["physicalLinks"] = []  # fixed by the Partner
    desired = inventory_pb2.Service(id=current.id, state=current.state)
    desired.service_configuration.type = current.service_configuration.type
    desired.service_configuration.attributes.update(config)
    item = Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=desired)
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateServiceOrder(
            ordering_pb2.CreateServiceOrderRequest(service_order=Ord.ServiceOrder(service_order_item=[item])),
            metadata=ALPHA,
        )
    error = rich_error(raised.value)
    prefix = "service_order.service_order_item[0].service.service_configuration.attributes"
    assert error.reason == "POLICY_VIOLATION"
    assert f"{prefix}.maximumFrameSize" in error.violations
    assert f"{prefix}.physicalLinks" in error.violations or any(
        v.startswith(f"{prefix}.physicalLinks") for v in error.violations
    )


def test_lock_and_unlock_a_uni_and_one_of_its_links(stubs: Stubs) -> None:
    def set_state(state: int, component: str = "") -> ordering_pb2.ServiceOrder:
        request = ordering_pb2.SetAdministrativeStateRequest(
            service_id="alpha-uni-2",
            component_id=component,
            administrative_state=state,  # type: ignore[arg-type]
        )
        order = stubs.ordering.SetAdministrativeState(request, metadata=ALPHA).service_order
        return wait_for_order(stubs, order.id)

    assert set_state(common_pb2.ADMINISTRATIVE_STATE_LOCKED).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    locked = _service(stubs, "alpha-uni-2")
    assert locked.administrative_state == common_pb2.ADMINISTRATIVE_STATE_LOCKED
    assert locked.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED
    admin_doc = locked.service_configuration.attributes.fields["administrativeState"].struct_value
    assert admin_doc.fields["state"].string_value == "LOCKED"
    assert set_state(common_pb2.ADMINISTRATIVE_STATE_UNLOCKED).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    unlocked = _service(stubs, "alpha-uni-2")
    assert unlocked.administrative_state == common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    assert unlocked.operational_state == common_pb2.OPERATIONAL_STATE_ENABLED
    assert (
        set_state(common_pb2.ADMINISTRATIVE_STATE_LOCKED, "link-1").state == Ord.SERVICE_ORDER_STATE_COMPLETED
    )
    link = next(c for c in _service(stubs, "alpha-uni-2").component if c.id == "link-1")
    assert link.administrative_state == common_pb2.ADMINISTRATIVE_STATE_LOCKED


def test_the_partner_owns_enni_admin_state(stubs: Stubs) -> None:
    request = ordering_pb2.SetAdministrativeStateRequest(
        service_id="alpha-enni-1", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.SetAdministrativeState(request, metadata=ALPHA)
    assert rich_error(raised.value).reason == "POLICY_VIOLATION"


def test_an_in_flight_order_can_be_cancelled(stubs: Stubs) -> None:
    later = timestamp_pb2.Timestamp()
    later.GetCurrentTime()
    later.seconds += 3600
    order = stubs.ordering.CreateConnectivity(
        _evc_request("alpha-uni-1", "alpha-uni-3"), metadata=ALPHA
    ).service_order
    waiting = stubs.ordering.CreateServiceOrder(
        ordering_pb2.CreateServiceOrderRequest(
            service_order=Ord.ServiceOrder(
                requested_start_date=later,
                service_order_item=[
                    Ord.ServiceOrderItem(
                        id="1",
                        action=Ord.SERVICE_ACTION_ADD,
                        service=inventory_pb2.Service(
                            state=common_pb2.SERVICE_STATE_ACTIVE,
                            service_configuration=common_pb2.ExtensionPayload(type=EVC),
                        ),
                    )
                ],
            )
        ),
        metadata=ALPHA,
    ).service_order
    cancel = stubs.ordering.CancelServiceOrder(
        ordering_pb2.CancelServiceOrderRequest(
            id=waiting.id, etag=waiting.etag, cancellation_reason="changed plans"
        ),
        metadata=ALPHA,
    ).service_order
    assert cancel.state == Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION
    done = wait_for_order(stubs, waiting.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_CANCELLED
    assert done.service_order_item[0].state == Ord.SERVICE_ORDER_ITEM_STATE_CANCELLED
    wait_for_order(stubs, order.id)
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CancelServiceOrder(ordering_pb2.CancelServiceOrderRequest(id=order.id), metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.metadata["current_state"] == "completed"


def test_a_retry_with_the_same_request_id_creates_nothing_new(stubs: Stubs) -> None:
    rid = str(uuid.uuid4())
    first = stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-2", 200, request_id=rid), metadata=ALPHA)
    wait_for_order(stubs, first.service_order.id)
    again = stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-2", 200, request_id=rid), metadata=ALPHA)
    assert again.service_order.id == first.service_order.id
    orders = stubs.ordering.ListServiceOrders(
        ordering_pb2.ListServiceOrdersRequest(filter=Ord.ServiceOrderFilter(service_id="alpha-ovc-1-ep-2")),
        metadata=ALPHA,
    )
    assert [o.id for o in orders.service_orders].count(first.service_order.id) == 1
    assert orders.total_size == 1
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-2", 300, request_id=rid), metadata=ALPHA)
    assert rich_error(raised.value).reason == "REQUEST_ID_REUSED"


def test_a_stale_etag_is_aborted(stubs: Stubs) -> None:
    current = _service(stubs, "alpha-evc-1-ep-1")
    request = ordering_pb2.SetAdministrativeStateRequest(
        service_id=current.id, etag="stale", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.SetAdministrativeState(request, metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.ABORTED
    assert error.reason == "ETAG_MISMATCH"
    assert error.metadata["current_etag"] == current.etag


def test_an_injected_partner_failure_fails_the_order_with_a_reason(stubs: Stubs) -> None:
    order = stubs.ordering.CreateConnectivity(
        _evc_request("alpha-uni-2", "alpha-uni-3", external_id="FAIL-evc-7"), metadata=ALPHA
    ).service_order
    done = wait_for_order(stubs, order.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_FAILED
    errors = [e.reason for i in done.service_order_item for e in i.termination_error]
    assert "simulated: the Partner's NE rejected the change" in errors
    created = done.service_order_item[0].service.id
    with pytest.raises(grpc.RpcError) as raised:
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id=created), metadata=ALPHA)
    assert rich_error(raised.value).code == grpc.StatusCode.NOT_FOUND


def test_validate_only_checks_without_creating(stubs: Stubs) -> None:
    before = stubs.ordering.ListServiceOrders(
        ordering_pb2.ListServiceOrdersRequest(), metadata=ALPHA
    ).total_size
    preview = stubs.ordering.UpdateService(
        _cir_update("alpha-ovc-1-ep-1", 50, validate_only=True), metadata=ALPHA
    ).service_order
    assert preview.id == ""
    after = stubs.ordering.ListServiceOrders(
        ordering_pb2.ListServiceOrdersRequest(), metadata=ALPHA
    ).total_size
    assert after == before


def test_buyer_b_cannot_touch_buyer_a_services_or_orders(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-1", 100), metadata=BETA)
    assert rich_error(raised.value).reason == "SERVICE_NOT_FOUND"
    alpha_order = stubs.ordering.ListServiceOrders(
        ordering_pb2.ListServiceOrdersRequest(page_size=1), metadata=ALPHA
    ).service_orders[0]
    for call in (
        lambda: stubs.ordering.GetServiceOrder(
            ordering_pb2.GetServiceOrderRequest(id=alpha_order.id), metadata=BETA
        ),
        lambda: stubs.ordering.CancelServiceOrder(
            ordering_pb2.CancelServiceOrderRequest(id=alpha_order.id), metadata=BETA
        ),
    ):
        with pytest.raises(grpc.RpcError) as denied:
            call()
        assert rich_error(denied.value).reason == "SERVICE_ORDER_NOT_FOUND"
    beta_orders = stubs.ordering.ListServiceOrders(ordering_pb2.ListServiceOrdersRequest(), metadata=BETA)
    assert alpha_order.id not in {o.id for o in beta_orders.service_orders}


def test_state_history_is_kept_per_order_and_per_service(stubs: Stubs) -> None:
    order = stubs.ordering.UpdateService(_cir_update("alpha-ovc-1-ep-1", 300), metadata=ALPHA).service_order
    wait_for_order(stubs, order.id)

    def history(service_id: str = "", service_order_id: str = "") -> list[ordering_pb2.ServiceTrackingRecord]:
        record_filter = Ord.ServiceTrackingRecordFilter(
            service_id=service_id, service_order_id=service_order_id
        )
        request = ordering_pb2.ListServiceTrackingRecordsRequest(filter=record_filter)
        return list(
            stubs.ordering.ListServiceTrackingRecords(request, metadata=ALPHA).service_tracking_records
        )

    order_states = [
        r.new_value
        for r in history(service_order_id=order.id)
        if r.attribute == "state" and not r.service_order_item_id
    ]
    assert order_states == ["acknowledged", "inProgress", "completed"]
    changes = [r for r in history(service_id="alpha-ovc-1-ep-1") if r.service_order_id == order.id]
    assert any(r.attribute == "serviceConfiguration" and "cir" in r.new_value for r in changes)
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.ListServiceTrackingRecords(
            ordering_pb2.ListServiceTrackingRecordsRequest(), metadata=ALPHA
        )
    assert rich_error(raised.value).code == grpc.StatusCode.INVALID_ARGUMENT


def test_terminate_then_retire_a_service(stubs: Stubs) -> None:
    service_id = "alpha-ipvc-1-ep-2"
    retire = ordering_pb2.CreateServiceOrderRequest(
        service_order=Ord.ServiceOrder(
            service_order_item=[
                Ord.ServiceOrderItem(
                    id="1", action=Ord.SERVICE_ACTION_DELETE, service=inventory_pb2.Service(id=service_id)
                )
            ]
        )
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateServiceOrder(retire, metadata=ALPHA)
    assert "only a terminated service" in next(iter(rich_error(raised.value).violations.values()))
    terminate = ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(id=service_id, state=common_pb2.SERVICE_STATE_TERMINATED),
        update_mask=field_mask_pb2.FieldMask(paths=["state"]),
    )
    order = stubs.ordering.UpdateService(terminate, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    terminated = _service(stubs, service_id)
    assert terminated.state == common_pb2.SERVICE_STATE_TERMINATED
    assert terminated.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED
    order = stubs.ordering.CreateServiceOrder(retire, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    with pytest.raises(grpc.RpcError) as gone:
        _service(stubs, service_id)
    assert rich_error(gone.value).code == grpc.StatusCode.NOT_FOUND
