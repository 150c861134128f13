"""MEF hub callbacks fed from the durable event log: every event, in order, exactly once.

A real server process delivers to a real aiohttp listener in the test; the
truth it is checked against is the event log itself, read over gRPC
(StreamEvents from the beginning).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, ordering_pb2
from tests.support.helpers import Stubs, wait_for_order
from tests.support.mef_names import EVENT, EVENT_PAYLOAD, HUB, HUB_EXTENSIONS, unknown_in
from tests.support.rest import INV, ORD, Listener, RestClient
from tests.support.server_process import ServerProcess, launch
from tests.support.streams import event_log

OUTAGE_S = 30.0  # the listener outage the issue asks delivery to survive
INV_LISTENER = "/buyer/mefApi/interlude/serviceInventoryNotification/v2/listener/"
ORD_LISTENER = "/buyer/mefApi/interlude/serviceOrderingNotification/v1/listener/"
E = events_pb2
INV_TYPES = {
    E.EVENT_TYPE_SERVICE_CREATE,
    E.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE,
    E.EVENT_TYPE_SERVICE_STATE_CHANGE,
    E.EVENT_TYPE_SERVICE_DELETE,
}
ORD_TYPES = {
    E.EVENT_TYPE_SERVICE_ORDER_CREATE,
    E.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE,
    E.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE,
}
FAST_RETRY = ("--hub-backoff-initial", "0.2", "--hub-backoff-max", "1")


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


def _args(*extra: str) -> tuple[str, ...]:
    return ("--seed", "demo", "--sim-step-delay", "0.02", "--rest-listen", "127.0.0.1:0", *extra)


def _change(rest: RestClient, service_id: str, amount: int) -> str:
    """Order a CIR change of an OVC end point over REST; the order id."""
    service = rest.get(f"{INV}/service/{service_id}").body
    config = service["serviceConfiguration"]
    config["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"] = amount
    body = {
        "requestedStartDate": "2026-01-01T00:00:00Z",
        "requestedCompletionDate": "2026-01-02T00:00:00Z",
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "modify",
                "service": {
                    "id": service_id,
                    "state": service["state"],
                    "serviceConfiguration": config,
                    "serviceRelationship": [
                        {"relationshipType": r["relationshipType"], "service": {"id": r["service"]["id"]}}
                        for r in service["serviceRelationship"]
                    ],
                },
            }
        ],
    }
    reply = rest.post(f"{ORD}/serviceOrder", body)
    assert reply.status == 201, reply.body
    order_id: str = reply.body["id"]
    return order_id


def _changes(rest: RestClient, amount: int) -> list[str]:
    return [_change(rest, sid, amount) for sid in ("alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")]


def _finish(server: ServerProcess, order_ids: list[str]) -> None:
    with grpc.insecure_channel(server.target) as channel:
        stubs = Stubs.on(channel)
        for order_id in order_ids:
            assert wait_for_order(stubs, order_id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED


def _log(server: ServerProcess) -> list[events_pb2.Event]:
    return event_log(server.target)


def _register(rest: RestClient, api: str, body: dict[str, Any]) -> tuple[str, int]:
    reply = rest.post(f"{api}/hub", body)
    assert reply.status == 201, reply.body
    assert set(reply.body) == HUB
    assert reply.body["callback"] == body["callback"]
    status = rest.get(f"{api}/hub/{reply.body['id']}").body
    assert unknown_in(status, HUB | HUB_EXTENSIONS) == []
    assert status["deliveryStatus"]["state"] == "active"
    return reply.body["id"], status["deliveryStatus"]["deliveredThroughSequence"]


def _delivered_through(rest: RestClient, api: str, hub_id: str) -> int:
    seq: int = rest.get(f"{api}/hub/{hub_id}").body["deliveryStatus"]["deliveredThroughSequence"]
    return seq


def test_listener_gets_every_event_in_order_across_a_restart_and_a_30s_outage(
    tmp_path: Path, listener: Listener
) -> None:
    workdir = tmp_path / "server"
    args = _args(*FAST_RETRY, "--hub-max-attempts", "1000")
    server = launch(workdir, *args)
    try:
        rest = RestClient(server.rest_url)
        inv_hub, inv_from = _register(rest, INV, {"callback": listener.url})
        query = (
            "eventType=serviceOrderCreateEvent,serviceOrderStateChangeEvent"
            "&eventType=serviceOrderItemStateChangeEvent"
        )
        ord_hub, ord_from = _register(rest, ORD, {"callback": listener.url, "query": query})

        _finish(server, _changes(rest, 101))  # all up

        in_flight = _changes(rest, 102)  # restart while the orders are being carried out
        assert server.stop() == 0
        server = launch(workdir, *args)
        rest = RestClient(server.rest_url)
        _finish(server, in_flight)

        listener.down()  # the listener is away for OUTAGE_S while changes keep coming
        down_at = time.monotonic()
        _finish(server, _changes(rest, 103))
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert rest.get(f"{ORD}/hub/{ord_hub}").body["deliveryStatus"]["failedAttempts"] > 0
        listener.up()

        log = _log(server)
        want_inv = [e for e in log if e.sequence > inv_from and e.event_type in INV_TYPES]
        want_ord = [e for e in log if e.sequence > ord_from and e.event_type in ORD_TYPES]
        assert len(want_inv) >= 6
        assert len(want_ord) >= 6 * 3

        def caught_up(_bodies: object) -> bool:
            paths = [d.path for d in listener.deliveries()]
            inv = sum(p.startswith(INV_LISTENER) for p in paths)
            return inv >= len(want_inv) and len(paths) - inv >= len(want_ord)

        listener.wait_for(caught_up, timeout=30)
        assert _delivered_through(rest, INV, inv_hub) == want_inv[-1].sequence
        assert _delivered_through(rest, ORD, ord_hub) == want_ord[-1].sequence
    finally:
        assert server.stop() == 0
    got = listener.deliveries()
    got_inv = [d for d in got if d.path.startswith(INV_LISTENER)]
    got_ord = [d for d in got if d.path.startswith(ORD_LISTENER)]
    assert len(got_inv) + len(got_ord) == len(got)
    assert [d.body["eventId"] for d in got_inv] == [
        e.event_id for e in want_inv
    ]  # none lost, none twice, in order
    assert [d.body["eventId"] for d in got_ord] == [e.event_id for e in want_ord]
    for d in got:
        assert d.path.rsplit("/", 1)[1] == d.body["eventType"]
        assert unknown_in(d.body, EVENT) == []
        assert unknown_in(d.body["event"], EVENT_PAYLOAD) == []
        assert d.headers["Content-Type"].startswith("application/json")


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that gives up quickly: three failed attempts dead-letter a registration."""
    running = launch(
        tmp_path_factory.mktemp("fragile"),
        *_args("--hub-backoff-initial", "0.05", "--hub-backoff-max", "0.1", "--hub-max-attempts", "3"),
    )
    yield running
    assert running.stop() == 0


def test_a_listener_that_never_answers_is_dead_lettered_and_shown_on_get(
    fragile: ServerProcess, listener: Listener
) -> None:
    rest = RestClient(fragile.rest_url)
    listener.down()
    hub_id, _ = _register(rest, ORD, {"callback": listener.url})
    order_id = _change(rest, "alpha-ovc-1-ep-1", 150)
    _finish(fragile, [order_id])
    deadline = time.monotonic() + 15
    while (status := rest.get(f"{ORD}/hub/{hub_id}").body["deliveryStatus"])["state"] != "deadLettered":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["failedAttempts"] == 3
    assert status["lastError"]
    assert rest.delete(f"{ORD}/hub/{hub_id}").status == 204


def test_signed_filtered_deliveries_reach_only_their_buyer(
    fragile: ServerProcess, listener: Listener
) -> None:
    alpha = RestClient(fragile.rest_url)
    beta = RestClient(fragile.rest_url, "sp-beta")
    body = {
        "callback": listener.url,
        "query": "eventType = serviceOrderStateChangeEvent",
        "signingSecret": "s3cret",
        "authorization": "Bearer listener-token",
    }
    hub_id, _ = _register(alpha, ORD, body)
    assert beta.get(f"{ORD}/hub/{hub_id}").status == 404  # another buyer's registration does not exist
    assert beta.delete(f"{ORD}/hub/{hub_id}").status == 404
    assert alpha.get(f"{INV}/hub/{hub_id}").status == 404  # registrations belong to one API
    order_id = _change(alpha, "alpha-ovc-1-ep-2", 160)
    _finish(fragile, [order_id])
    listener.wait_for(lambda bodies: any(b["event"].get("state") == "completed" for b in bodies))
    deliveries = listener.deliveries()
    assert [d.body["event"]["state"] for d in deliveries] == ["inProgress", "completed"]
    for d in deliveries:
        assert d.body["eventType"] == "serviceOrderStateChangeEvent"
        assert d.body["event"]["id"] == order_id
        expected = "sha256=" + hmac.new(b"s3cret", d.raw, hashlib.sha256).hexdigest()
        assert d.headers["X-Interlude-Signature"] == expected
        assert d.headers["Authorization"] == "Bearer listener-token"
    assert "signingSecret" not in alpha.get(f"{ORD}/hub/{hub_id}").body
    assert alpha.delete(f"{ORD}/hub/{hub_id}").status == 204
    assert alpha.get(f"{ORD}/hub/{hub_id}").status == 404


@pytest.mark.parametrize(
    ("api", "body", "pointer", "code"),
    [
        (ORD, {}, "/callback", "missingProperty"),
        (ORD, {"callback": "not a url"}, "/callback", "invalidValue"),
        (ORD, {"callback": "http://x.example", "query": "state=active"}, "/query", "invalidValue"),
        (
            ORD,
            {"callback": "http://x.example", "query": "eventType=serviceCreateEvent"},
            "/query",
            "invalidValue",
        ),
        (INV, {"callback": "http://x.example", "topic": "x"}, "/topic", "unexpectedProperty"),
    ],
)
def test_bad_registrations_are_422_with_a_pointer(
    fragile: ServerProcess, api: str, body: dict[str, Any], pointer: str, code: str
) -> None:
    reply = RestClient(fragile.rest_url).post(f"{api}/hub", body)
    assert reply.status == 422
    assert [(e["code"], e["propertyPath"]) for e in reply.body] == [(code, pointer)]
