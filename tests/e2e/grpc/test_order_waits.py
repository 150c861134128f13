"""Orders that wait (F15): items held or pending, the information the Partner asks for, the
buyer's answer over gRPC and REST, the timeout, and a restart while orders wait. A real server
process with simulator fault rules (`--sim-faults`) that hold or pend items."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format, struct_pb2

from interlude_client import cli
from interlude_client.cli import exits
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, inventory_pb2, ordering_pb2
from tests.support.helpers import ALPHA, BETA, Stubs, rich_error, wait_for_order
from tests.support.mef_names import unknown_in_order
from tests.support.mef_notification_files import violations
from tests.support.rest import ORD, Listener, RestClient
from tests.support.server_process import ServerProcess, launch
from tests.support.streams import event_log

pytestmark = pytest.mark.stores("sqlite", "postgresql")

Ord = ordering_pb2
E = events_pb2
CIR = "/ingressBandwidthProfilePerOvcEndPoint/cir/irValue"
CIR_MASK = "service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
LISTENER = "/buyer/mefApi/interlude/serviceOrderingNotification/v1/listener/"
FAULTS = {
    "faults": [
        {"externalId": "HOLD-*", "outcome": "held", "holdSeconds": 1, "reason": "no free port at the site"},
        {"externalId": "LONGHOLD-*", "outcome": "held", "holdSeconds": 3, "reason": "a card is on its way"},
        {
            "externalId": "INFO-*",
            "outcome": "informationRequired",
            "information": [CIR, "/note"],
            "reason": "confirm the CIR and the site access",
        },
        {"externalId": "WAIT-*", "outcome": "pending", "reason": "a site survey nobody books"},
    ]
}


def _launch(workdir: Path, *extra: str) -> ServerProcess:
    faults = workdir / "faults.json"
    faults.write_text(json.dumps(FAULTS))
    args = ("--seed", "demo", "--sim-step-delay", "0.02", "--sim-faults", str(faults))
    return launch(workdir, *args, "--rest-listen", "127.0.0.1:0", *extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = _launch(tmp_path_factory.mktemp("waits"))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def stubs(server: ServerProcess) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs.on(channel)


def _change(stubs: Stubs, external_id: str, service_id: str, amount: float) -> str:
    """A CIR change of an OVC end point, as an order with `external_id`; its id."""
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}})
    request = Ord.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=[CIR_MASK]),
        external_id=external_id,
    )
    return stubs.ordering.UpdateService(request, metadata=ALPHA).service_order.id


def _until(
    stubs: Stubs, order_id: str, done: Callable[[ordering_pb2.ServiceOrder], bool]
) -> Ord.ServiceOrder:
    deadline = time.monotonic() + 20
    while True:
        order = stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order_id), metadata=ALPHA)
        if done(order.service_order):
            return order.service_order
        assert time.monotonic() < deadline, f"order {order_id}: {order.service_order}"
        time.sleep(0.05)


def _pending(stubs: Stubs, order_id: str) -> Ord.ServiceOrder:
    return _until(stubs, order_id, lambda o: o.state == Ord.SERVICE_ORDER_STATE_PENDING)


def _cir_of(stubs: Stubs, service_id: str) -> float:
    service = stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id=service_id), metadata=ALPHA)
    config = json_format.MessageToDict(service.service.service_configuration.attributes)
    return float(config["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"])


def _answer(
    order: Ord.ServiceOrder, values: dict[str, Any], *notes: str
) -> Ord.ProvideOrderInformationRequest:
    request = Ord.ProvideOrderInformationRequest(id=order.id, item_id="1", etag=order.etag)
    request.service_configuration.update(values)
    request.note.extend(common_pb2.Note(text=t) for t in notes)
    return request


def _cir_values(amount: float, **extra: Any) -> dict[str, Any]:
    return {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}, **extra}}


def _states(server: ServerProcess, order_id: str, kind: int) -> list[str]:
    return [e.state for e in event_log(server.target) if e.resource.id == order_id and e.event_type == kind]


def test_a_held_item_resumes_when_its_hold_ends_and_the_order_completes(
    server: ServerProcess, stubs: Stubs
) -> None:
    order_id = _change(stubs, "HOLD-1", "alpha-ovc-1-ep-1", 130)
    done = wait_for_order(stubs, order_id)
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    item = done.service_order_item[0]
    assert item.state == Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED
    [wait] = item.wait
    assert wait.state == Ord.SERVICE_ORDER_ITEM_STATE_HELD
    assert wait.reason == "no free port at the site"
    assert wait.resolution == "resumed"
    assert wait.resume_time.ToNanoseconds() - wait.start_time.ToNanoseconds() == 1_000_000_000
    assert any("held: no free port at the site" in n.text for n in item.note)
    order_states = _states(server, order_id, E.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE)
    assert order_states == ["inProgress", "held", "inProgress", "completed"]
    item_states = _states(server, order_id, E.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE)
    assert item_states == ["inProgress", "held", "inProgress", "completed"]
    assert _cir_of(stubs, "alpha-ovc-1-ep-1") == 130


def test_information_is_asked_by_event_and_hub_then_answered_over_grpc(
    server: ServerProcess, stubs: Stubs
) -> None:
    listener = Listener()
    try:
        rest = RestClient(server.rest_url)
        query = "eventType = serviceOrderInformationRequiredEvent"
        hub = rest.post(f"{ORD}/hub", {"callback": listener.url, "query": query})
        assert hub.status == 201, hub.body
        order = _pending(stubs, _change(stubs, "INFO-1", "alpha-ovc-1-ep-2", 140))
        listener.wait_for(lambda bodies: any(b["event"]["id"] == order.id for b in bodies))
        [delivery] = [d for d in listener.deliveries() if d.body["event"]["id"] == order.id]
    finally:
        listener.close()
    assert delivery.path == LISTENER + "serviceOrderInformationRequiredEvent"
    assert violations(delivery.path, delivery.body) == ("ServiceOrderInformationRequiredEvent", [])
    assert delivery.body["eventType"] == "serviceOrderInformationRequiredEvent"
    assert delivery.body["event"]["href"].endswith(f"/serviceOrder/{order.id}")
    [asked] = [
        e
        for e in event_log(server.target)
        if e.event_type == E.EVENT_TYPE_SERVICE_ORDER_INFORMATION_REQUIRED and e.resource.id == order.id
    ]
    assert asked.resource.order_item_id == "1"
    assert asked.reason == "confirm the CIR and the site access"
    assert asked.service_order.state == Ord.SERVICE_ORDER_STATE_PENDING
    item = order.service_order_item[0]
    assert item.state == Ord.SERVICE_ORDER_ITEM_STATE_PENDING
    assert list(item.wait[-1].information_required) == [CIR, "/note"]
    assert not item.wait[-1].HasField("resume_time")  # it waits for the buyer
    answered = stubs.ordering.ProvideOrderInformation(
        _answer(order, _cir_values(150), "the cage key is at the front desk"), metadata=ALPHA
    ).service_order
    assert answered.service_order_item[0].wait[-1].resolution == "answered"
    assert answered.service_order_item[0].note[-1].source == common_pb2.NOTE_SOURCE_BUS
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    assert _cir_of(stubs, "alpha-ovc-1-ep-2") == 150
    assert _states(server, order.id, E.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE) == [
        "inProgress", "pending", "inProgress", "completed"
    ]  # fmt: skip


def test_wrong_and_unsolicited_answers_are_refused_with_a_clear_error(stubs: Stubs) -> None:
    order = _pending(stubs, _change(stubs, "INFO-2", "alpha-ovc-1-ep-1", 160))
    cases: list[tuple[Ord.ProvideOrderInformationRequest, grpc.StatusCode, str, str]] = [
        (_answer(order, _cir_values(170)), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST", "note"),
        (
            _answer(order, _cir_values(170, eir={"irValue": 1}), "ok"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_REQUEST",
            "service_configuration.ingressBandwidthProfilePerOvcEndPoint.eir.irValue",
        ),
        (
            _answer(order, {}, "ok"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_REQUEST",
            CIR_MASK.replace(".attributes", ""),
        ),
        (
            _answer(order, _cir_values(5000), "ok"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "POLICY_VIOLATION",
            "",
        ),
    ]
    for request, code, reason, field in cases:
        with pytest.raises(grpc.RpcError) as raised:
            stubs.ordering.ProvideOrderInformation(request, metadata=ALPHA)
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (code, reason), error
        assert not field or field in error.violations, error.violations
    stale = _answer(order, _cir_values(170), "ok")
    stale.etag = "999"
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.ProvideOrderInformation(stale, metadata=ALPHA)
    assert rich_error(raised.value).reason == "ETAG_MISMATCH"
    with pytest.raises(grpc.RpcError) as raised:  # another buyer's order does not exist for them
        stubs.ordering.ProvideOrderInformation(_answer(order, _cir_values(170), "ok"), metadata=BETA)
    assert rich_error(raised.value).reason == "SERVICE_ORDER_NOT_FOUND"
    # Nothing changed: the order still waits, and a valid answer completes it.
    assert _pending(stubs, order.id).etag == order.etag
    stubs.ordering.ProvideOrderInformation(_answer(order, _cir_values(170), "ok"), metadata=ALPHA)
    done = wait_for_order(stubs, order.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    with pytest.raises(grpc.RpcError) as raised:  # answered already: nothing is asked any more
        stubs.ordering.ProvideOrderInformation(_answer(done, _cir_values(170), "again"), metadata=ALPHA)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ORDER_INFORMATION_NOT_REQUIRED",
    )
    assert error.metadata["current_state"] == "completed"


def test_the_buyer_answers_over_rest_on_the_extension_route(server: ServerProcess, stubs: Stubs) -> None:
    rest = RestClient(server.rest_url)
    order = _pending(stubs, _change(stubs, "INFO-3", "alpha-ovc-1-ep-2", 180))
    shown = rest.get(f"{ORD}/serviceOrder/{order.id}").body
    assert shown["state"] == "pending"
    assert unknown_in_order(shown) == []
    assert shown["serviceOrderItem"][0]["wait"][-1]["informationRequired"] == [CIR, "/note"]
    path = f"{ORD}/serviceOrder/{order.id}/information"
    unasked = {
        "itemId": "1",
        "serviceConfiguration": _cir_values(190, eir={"irValue": 1}),
        "note": [{"text": "x"}],
    }
    refused = rest.post(path, unasked)
    assert refused.status == 422, refused.body
    assert [e["propertyPath"] for e in refused.body] == [
        "/serviceConfiguration/ingressBandwidthProfilePerOvcEndPoint/eir/irValue"
    ]
    wrong_item = rest.post(path, {"itemId": "7", "serviceConfiguration": _cir_values(190)})
    assert wrong_item.status == 422, wrong_item.body
    assert wrong_item.body[0]["propertyPath"] == "/itemId"
    good = {"itemId": "1", "serviceConfiguration": _cir_values(190), "note": [{"text": "ring twice"}]}
    reply = rest.post(path, good)
    assert reply.status == 200, reply.body
    assert reply.body["serviceOrderItem"][0]["wait"][-1]["resolution"] == "answered"
    assert wait_for_order(stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    again = rest.post(path, good)
    assert again.status == 409, again.body
    assert again.headers["X-Interlude-Reason"] == "ORDER_INFORMATION_NOT_REQUIRED"
    assert _cir_of(stubs, "alpha-ovc-1-ep-2") == 190


def test_the_cli_answers_with_the_python_client_and_follows_the_order_to_its_end(
    server: ServerProcess, stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    order = _pending(stubs, _change(stubs, "INFO-CLI", "alpha-ovc-1-ep-1", 230))
    base = ["--target", server.target, "--buyer", "sp-alpha", "orders", "answer", order.id, "1"]
    assert cli.main([*base, "--set", f"{CIR}=235"]) == exits.REFUSED  # no note, but the Partner asked one
    assert "note" in capsys.readouterr().err
    code = cli.main([*base, "--set", f"{CIR}=235", "--note", "badge at reception", "--follow"])
    out = capsys.readouterr().out
    assert code == exits.OK, out
    assert "COMPLETED" in out.splitlines()[-1]
    assert _cir_of(stubs, "alpha-ovc-1-ep-1") == 235


def test_an_item_nobody_resolves_fails_after_the_wait_timeout(tmp_path: Path) -> None:
    running = _launch(tmp_path, "--order-wait-timeout", "0.5")
    try:
        with grpc.insecure_channel(running.target) as channel:
            stubs = Stubs.on(channel)
            order_id = _change(stubs, "WAIT-1", "alpha-ovc-1-ep-1", 200)
            done = wait_for_order(stubs, order_id)
            before = _cir_of(stubs, "alpha-ovc-1-ep-1")
    finally:
        assert running.stop() == 0
    assert done.state == Ord.SERVICE_ORDER_STATE_FAILED
    item = done.service_order_item[0]
    assert item.state == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
    assert item.wait[-1].resolution == "expired"
    [error] = item.termination_error
    assert "no action within the agreed timeframe: pending" in error.reason
    assert "a site survey nobody books" in error.reason
    assert before != 200


def test_orders_waiting_across_a_restart_resume_without_reapplying(tmp_path: Path) -> None:
    first = _launch(tmp_path)
    with grpc.insecure_channel(first.target) as channel:
        stubs = Stubs.on(channel)
        asking = _pending(stubs, _change(stubs, "INFO-R", "alpha-ovc-1-ep-1", 210))
        held_id = _change(stubs, "LONGHOLD-R", "alpha-ovc-1-ep-2", 220)
        _until(stubs, held_id, lambda o: o.state == Ord.SERVICE_ORDER_STATE_HELD)
    assert first.stop() == 0
    second = _launch(tmp_path)
    try:
        with grpc.insecure_channel(second.target) as channel:
            stubs = Stubs.on(channel)
            assert wait_for_order(stubs, held_id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
            still = _pending(stubs, asking.id)
            assert still.etag == asking.etag  # it waited for the buyer, untouched
            stubs.ordering.ProvideOrderInformation(
                _answer(still, _cir_values(215), "after the restart"), metadata=ALPHA
            )
            assert wait_for_order(stubs, asking.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
            assert _cir_of(stubs, "alpha-ovc-1-ep-1") == 215
            assert _cir_of(stubs, "alpha-ovc-1-ep-2") == 220
    finally:
        assert second.stop() == 0
    applied = [json.loads(line) for line in second.logs().splitlines() if '"order.item_applied"' in line]
    # After the restart the asking item was applied once: after the answer, not while it waited.
    assert [a["ok"] for a in applied if a["order_id"] == asking.id] == [True]
