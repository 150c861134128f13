"""`--metrics-listen`: a real server under a mixed load, scraped over HTTP.

Every count is checked against the calls the test made (exact, per method and code or
route and status), the histograms against the same counts, and the gauges against what
the server holds. With `--workers 2`, one scrape sums both workers: the test opens
connections until the logs show that both served some, then checks the total.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from tests.support.helpers import ALPHA, Stubs, wait_for_order
from tests.support.metrics import Scrape, scrape, scrape_until
from tests.support.rest import INV, ORD, Listener, RestClient
from tests.support.server_process import ServerProcess, launch
from tests.support.streams import Collector

pytestmark = pytest.mark.e2e

EVENTS = "mef.lso.interlude.v1.EventService"
INVENTORY = "mef.lso.interlude.v1.ServiceInventoryService"
ORDERING = "mef.lso.interlude.v1.ServiceOrderingService"
GETS = 7  # successful GetService calls of the mixed load
SERVICE_ROUTE = f"{INV}/service/{{id}}"
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def _args(*extra: str) -> tuple[str, ...]:
    return (
        "--seed",
        "demo",
        "--sim-step-delay",
        "0.02",
        "--rest-listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        *extra,
    )


@pytest.fixture(scope="module")
def listeners() -> Iterator[tuple[Listener, Listener]]:
    """A listener that accepts, and one whose port is closed (every delivery fails)."""
    up, down = Listener(), Listener()
    down.down()
    yield up, down
    up.close()
    down.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    fast_hub = ("--hub-max-attempts", "2", "--hub-backoff-initial", "0.05", "--hub-backoff-max", "0.1")
    running = launch(tmp_path_factory.mktemp("metrics"), *_args(*fast_hub))
    yield running
    assert running.stop() == 0


def _get(stubs: Stubs, service_id: str) -> grpc.StatusCode:
    try:
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id=service_id), metadata=ALPHA)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _order(stubs: Stubs) -> str:
    request = ordering_pb2.SetAdministrativeStateRequest(
        service_id="alpha-uni-1", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
    )
    order = stubs.ordering.SetAdministrativeState(request, metadata=ALPHA).service_order
    assert wait_for_order(stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    return order.id


def _active_events_streams(got: Scrape) -> float:
    return got.total("interlude_grpc_active_streams", service=EVENTS, method="StreamEvents")


def test_a_mixed_load_moves_the_counters_and_histograms_with_its_labels(
    server: ServerProcess, listeners: tuple[Listener, Listener]
) -> None:
    up, down = listeners
    rest = RestClient(server.rest_url)
    for listener in (up, down):
        assert rest.post(f"{ORD}/hub", {"callback": listener.url}).status == 201
    with grpc.insecure_channel(server.target) as channel:
        stubs = Stubs.on(channel)
        assert [_get(stubs, "alpha-uni-1") for _ in range(GETS)] == [grpc.StatusCode.OK] * GETS
        assert _get(stubs, "no-such-service") == grpc.StatusCode.NOT_FOUND
        stream = Collector(channel, events_pb2.StreamEventsRequest())
        stream.wait_for(stream.synced)
        assert _active_events_streams(scrape(server.metrics)) == 1
        order_id = _order(stubs)
        stream.stop()
    assert rest.get(f"{INV}/service/alpha-uni-2").status == 200
    assert rest.get(f"{INV}/service/alpha-uni-2").status == 200
    assert rest.get("/no/such/path").status == 404

    got = scrape_until(
        server.metrics,
        lambda s: (
            s.total("interlude_hub_dead_letters_total") == 1
            and s.total("interlude_hub_delivery_lag_seconds_count") >= 1
            and _active_events_streams(s) == 0
        ),
    )
    ok = {"service": INVENTORY, "method": "GetService", "code": "OK"}
    assert got.total("interlude_grpc_requests_total", **ok) == GETS
    assert got.total("interlude_grpc_request_duration_seconds_count", **ok) == GETS
    assert got.total("interlude_grpc_request_duration_seconds_sum", **ok) > 0
    assert got.total("interlude_grpc_request_duration_seconds_bucket", **ok, le="+Inf") == GETS
    not_found = {**ok, "code": "NOT_FOUND"}
    assert got.total("interlude_grpc_requests_total", **not_found) == 1
    assert got.total("interlude_grpc_request_duration_seconds_count", **not_found) == 1
    assert got.total("interlude_grpc_requests_total", service=ORDERING, method="SetAdministrativeState") == 1
    # The stream counts once, when it ended (the client cancelled it), in the stream histogram.
    stream_labels = {"service": EVENTS, "method": "StreamEvents", "code": "CANCELLED"}
    assert got.total("interlude_grpc_requests_total", **stream_labels) == 1
    assert got.total("interlude_grpc_stream_duration_seconds_count", **stream_labels) == 1
    assert got.total("interlude_grpc_request_duration_seconds_count", service=EVENTS) == 0

    route = {"method": "GET", "route": SERVICE_ROUTE, "status": "200"}
    assert got.total("interlude_rest_requests_total", **route) == 2
    assert got.total("interlude_rest_request_duration_seconds_count", **route) == 2
    assert got.total("interlude_rest_requests_total", route="unmatched", status="404") == 1
    assert got.total("interlude_rest_requests_total", route=f"{ORD}/hub", status="201") == 2

    # The order: in the store's counts by state, in the event log's head, in hub delivery.
    assert got.total("interlude_orders", state="completed") >= 1
    assert got.total("interlude_log_head_sequence", log="events") > 0
    assert got.total("interlude_hub_delivery_lag_seconds_count") >= 1
    assert got.total("interlude_hub_delivery_retries_total") == 1  # --hub-max-attempts 2
    assert got.total("interlude_store_commit_seconds_count") > 0
    assert got.total("interlude_store_commit_batch_size_sum") >= got.total(
        "interlude_store_commit_seconds_count"
    )
    assert got.total("process_resident_memory_bytes") > 0
    assert order_id


def test_every_metric_the_dashboard_queries_is_exported(server: ServerProcess) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = dashboard_metrics(dashboard)
    assert len(names) >= 10  # the dashboard is built on these names, not on a few
    got = scrape(server.metrics)
    assert sorted(n for n in names if not got.exports(n)) == []


def dashboard_metrics(dashboard: dict[str, object]) -> set[str]:
    """The metric names of every `expr` in the dashboard's panels."""
    found: set[str] = set()
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            exprs.extend(v for k, v in node.items() if k == "expr" and isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard)
    for expr in exprs:
        found.update(re.findall(r"\b((?:interlude|process|python)_[a-z_]+)\b", expr))
    return found


def _workers_served(server: ServerProcess) -> set[int]:
    """The workers that logged a GetService call."""
    served = set()
    for line in server.logs().splitlines():
        if '"rpc.finished"' in line and "GetService" in line:
            served.add(int(json.loads(line)["worker"]))
    return served


def test_one_scrape_sums_every_worker(tmp_path: Path) -> None:
    running = launch(tmp_path / "workers", *_args("--workers", "2"))
    try:
        calls = 0
        # The kernel spreads connections over the workers: new connections until both served.
        while _workers_served(running) != {0, 1}:
            assert calls < 200, "the kernel never gave the second worker a connection"
            with grpc.insecure_channel(running.target) as channel:
                assert _get(Stubs.on(channel), "alpha-uni-1") == grpc.StatusCode.OK
            calls += 1
        ok = {"service": INVENTORY, "method": "GetService", "code": "OK"}
        got = scrape_until(running.metrics, lambda s: s.total("interlude_grpc_requests_total", **ok) >= calls)
        assert got.total("interlude_grpc_requests_total", **ok) == calls
        assert got.total("interlude_grpc_request_duration_seconds_count", **ok) == calls
        # Per worker: one series of each process metric per live worker.
        assert len(got.label_values("process_resident_memory_bytes", "pid")) == 2
    finally:
        assert running.stop() == 0


def test_a_metrics_port_in_use_stops_the_server_with_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "interlude_server.runtime.main",
                "--grpc-listen",
                "127.0.0.1:0",
                "--db",
                f"sqlite:///{tmp_path / 'db.sqlite'}",
                "--metrics-listen",
                address,
                "--log-format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    failed = [json.loads(line) for line in result.stderr.splitlines() if '"server.bind_failed"' in line]
    assert [f["address"] for f in failed] == [address]
