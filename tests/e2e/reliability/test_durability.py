"""Crash safety: every order acknowledged before a SIGKILL is there after a restart, with its effects."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import grpc

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from tests.support.crash import run_crash_rounds
from tests.support.helpers import ALPHA, EVC, Stubs, wait_for_order
from tests.support.server_process import launch

Ord = ordering_pb2
UNIS = ["alpha-uni-1", "alpha-uni-2", "alpha-uni-3"]
WORKERS = 8
ACKS_BEFORE_KILL = 40


def _request(n: int, request_id: str) -> ordering_pb2.CreateConnectivityRequest:
    a, b = UNIS[n % 3], UNIS[(n + 1) % 3]
    return ordering_pb2.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[
            Ord.ConnectivityEndPoint(interface_service_id=a),
            Ord.ConnectivityEndPoint(interface_service_id=b),
        ],
        external_id=f"crash-{n}",
        request_id=request_id,
    )


def test_acknowledged_orders_survive_sigkill_and_finish_after_restart(tmp_path: Path) -> None:
    workdir = tmp_path / "crash"
    server = launch(workdir, "--seed", "demo", "--sim-step-delay", "0.05")
    acked: dict[str, tuple[int, str]] = {}  # order id -> (request number, request_id)
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs.on(channel)
            n = worker
            while not stop.is_set():
                rid = str(uuid.uuid4())
                try:
                    order = stubs.ordering.CreateConnectivity(_request(n, rid), metadata=ALPHA, timeout=5)
                except grpc.RpcError:
                    return  # the server died under us: this request was never acknowledged
                with lock:
                    acked[order.service_order.id] = (n, rid)
                    if len(acked) >= ACKS_BEFORE_KILL:
                        stop.set()
                n += WORKERS

    threads = [threading.Thread(target=client, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    assert stop.wait(timeout=60), f"only {len(acked)} orders acknowledged"
    server.proc.kill()  # SIGKILL while requests and orders are in flight
    server.proc.wait()
    for thread in threads:
        thread.join(timeout=10)
    with lock:
        survivors = dict(acked)
    (workdir / "ready").unlink(missing_ok=True)

    restarted = launch(workdir, "--seed", "demo", "--sim-step-delay", "0.01")
    try:
        with grpc.insecure_channel(restarted.target) as channel:
            stubs = Stubs.on(channel)
            for order_id, (n, rid) in survivors.items():
                done = wait_for_order(stubs, order_id, timeout=30)
                assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED, order_id
                for item in done.service_order_item:
                    service = stubs.inventory.GetService(
                        inventory_pb2.GetServiceRequest(id=item.service.id), metadata=ALPHA
                    ).service
                    assert service.state == common_pb2.SERVICE_STATE_ACTIVE
                retry = stubs.ordering.CreateConnectivity(_request(n, rid), metadata=ALPHA)
                assert retry.service_order.id == order_id  # the retry after the crash creates nothing
            started = next(
                json.loads(line) for line in restarted.logs().splitlines() if "server.started" in line
            )
            assert started["orders_resumed"] > 0, "the kill should have caught orders in flight"
            total = stubs.ordering.ListServiceOrders(
                ordering_pb2.ListServiceOrdersRequest(
                    filter=Ord.ServiceOrderFilter(state=[Ord.SERVICE_ORDER_STATE_IN_PROGRESS])
                ),
                metadata=ALPHA,
            ).total_size
            deadline = time.monotonic() + 30
            while total and time.monotonic() < deadline:  # unacknowledged-but-committed orders finish too
                time.sleep(0.1)
                total = stubs.ordering.ListServiceOrders(
                    ordering_pb2.ListServiceOrdersRequest(
                        filter=Ord.ServiceOrderFilter(state=[Ord.SERVICE_ORDER_STATE_IN_PROGRESS])
                    ),
                    metadata=ALPHA,
                ).total_size
            assert total == 0, "no half-applied order may remain"
    finally:
        assert restarted.stop() == 0


def test_mixed_load_survives_ten_sigkills(tmp_path: Path) -> None:
    """64 writers in flight (orders, modifies, admin-state changes), SIGKILL, restart: 10 times
    (`make soak` sets INTERLUDE_CRASH_ROUNDS and INTERLUDE_CRASH_ACKS higher)."""
    rounds = int(os.environ.get("INTERLUDE_CRASH_ROUNDS", "10"))
    acks = int(os.environ.get("INTERLUDE_CRASH_ACKS", "12"))
    report = run_crash_rounds(tmp_path / "rounds", rounds=rounds, in_flight=64, acks=acks)
    assert report.faults == []
    kinds = {write.kind for write in report.acked.values()}
    assert kinds == {"connectivity", "modify", "admin"}, f"the load was not mixed: {kinds}"
    assert report.retries_checked == len(report.acked) >= rounds * acks
    assert report.lost_in_crash > 0, "the kills should have cut calls off in flight"
    assert sum(report.resumed) > 0, "the simulator should have resumed orders caught by a kill"
