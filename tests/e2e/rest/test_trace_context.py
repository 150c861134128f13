"""A buyer's W3C trace context followed through a real server: the `traceparent` sent with an
order (gRPC metadata, or a REST header) names every log line of the request and of the
order's fulfilment, and reaches the buyer's hub listener on every notification of the order
(same trace id, a new span id, the tracestate passed on). An invalid one is ignored: the
request is served in a new trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2
from interlude_server.observability import tracing
from tests.support.helpers import ALPHA, Stubs, wait_for_order
from tests.support.rest import INV, ORD, Delivery, Listener, RestClient
from tests.support.server_process import ServerProcess, launch

GRPC_TRACE = "0af7651916cd43dd8448eb211c80319c"
REST_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "b7ad6b7169203331"
ORDER_EVENTS = (
    "eventType=serviceOrderCreateEvent,serviceOrderStateChangeEvent"
    "&eventType=serviceOrderItemStateChangeEvent"
)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = launch(
        tmp_path / "server", "--seed", "demo", "--sim-step-delay", "0.02", "--rest-listen", "127.0.0.1:0"
    )
    yield running
    assert running.stop() == 0


def _log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    lines = []
    for line in server.logs().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _grpc_order(server: ServerProcess) -> str:
    """Lock a UNI over gRPC, with the buyer's trace context as metadata; the order id."""
    metadata = (
        *ALPHA,
        ("traceparent", f"00-{GRPC_TRACE}-{CALLER_SPAN}-01"),
        ("tracestate", "sp=grpc"),
    )
    with grpc.insecure_channel(server.target) as channel:
        stubs = Stubs.on(channel)
        request = ordering_pb2.SetAdministrativeStateRequest(
            service_id="alpha-uni-1", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
        )
        order = stubs.ordering.SetAdministrativeState(request, metadata=metadata).service_order
        assert wait_for_order(stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    return order.id


def _rest_order(rest: RestClient) -> str:
    """Order a CIR change over REST, with the buyer's trace context as headers; the order id."""
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-1").body
    config = service["serviceConfiguration"]
    config["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"] = 77
    body = {
        "requestedStartDate": "2026-01-01T00:00:00Z",
        "requestedCompletionDate": "2026-01-02T00:00:00Z",
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "modify",
                "service": {
                    "id": service["id"],
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
    headers = {"traceparent": f"00-{REST_TRACE}-{CALLER_SPAN}-01", "tracestate": "sp=rest,other=1"}
    reply = rest.post(f"{ORD}/serviceOrder", body, headers)
    assert reply.status == 201, reply.body
    order_id: str = reply.body["id"]
    return order_id


def _of_order(deliveries: list[Delivery], order_id: str) -> list[Delivery]:
    return [d for d in deliveries if d.body["event"]["id"] == order_id]


def _completed(bodies: list[dict[str, Any]], order_id: str) -> bool:
    return any(b["event"]["id"] == order_id and b["event"].get("state") == "completed" for b in bodies)


def _assert_traced(deliveries: list[Delivery], trace_id: str, state: str) -> None:
    assert len(deliveries) >= 3  # created, item and order state changes
    for delivery in deliveries:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        parent = tracing.parse_traceparent(headers.get("traceparent"))
        assert parent is not None, headers
        assert parent.trace_id == trace_id
        assert parent.span_id != CALLER_SPAN  # a span of the server's, not the caller's
        assert parent.flags == "01"
        assert headers.get("tracestate") == state


def test_a_buyers_traceparent_reaches_the_logs_and_the_hub_callbacks(
    server: ServerProcess, listener: Listener
) -> None:
    rest = RestClient(server.rest_url)
    reply = rest.post(f"{ORD}/hub", {"callback": listener.url, "query": ORDER_EVENTS})
    assert reply.status == 201, reply.body

    grpc_order = _grpc_order(server)
    rest_order = _rest_order(rest)
    with grpc.insecure_channel(server.target) as channel:
        wait_for_order(Stubs.on(channel), rest_order)
    listener.wait_for(lambda bodies: _completed(bodies, grpc_order) and _completed(bodies, rest_order))
    invalid = rest.call(
        "GET",
        f"{INV}/service/alpha-uni-1",
        headers={"traceparent": f"00-{'0' * 32}-{CALLER_SPAN}-01", "X-Request-Id": "invalid-trace"},
    )
    assert invalid.status == 200
    deliveries = listener.deliveries()
    _assert_traced(_of_order(deliveries, grpc_order), GRPC_TRACE, "sp=grpc")
    _assert_traced(_of_order(deliveries, rest_order), REST_TRACE, "sp=rest,other=1")

    lines = _log_lines(server)
    by_trace = {
        trace: [line for line in lines if line.get("trace_id") == trace] for trace in (GRPC_TRACE, REST_TRACE)
    }
    grpc_lines = by_trace[GRPC_TRACE]
    assert any(
        line["event"] == "rpc.finished" and line["method"].endswith("/SetAdministrativeState")
        for line in grpc_lines
    )
    assert any(
        line["event"] == "order.item_applied" and line["order_id"] == grpc_order for line in grpc_lines
    )
    rest_lines = by_trace[REST_TRACE]
    assert any(line["event"] == "rest.finished" and line["method"] == "POST" for line in rest_lines)
    assert any(
        line["event"] == "order.item_applied" and line["order_id"] == rest_order for line in rest_lines
    )
    for line in grpc_lines + rest_lines:
        assert len(line["span_id"]) == 16
        assert line["span_id"] != CALLER_SPAN
    # The invalid traceparent was ignored, not refused: that request got a trace of its own.
    (get,) = [
        line for line in lines if line["event"] == "rest.finished" and line["request_id"] == "invalid-trace"
    ]
    assert get["trace_id"] not in ("0" * 32, GRPC_TRACE, REST_TRACE)
    assert tracing.parse_traceparent(f"00-{get['trace_id']}-{get['span_id']}-00") is not None
