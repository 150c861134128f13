"""The southbound contract (interlude.network.v1) end to end: a Node backend as the Partner's
network, orders that wait for a worker, a worker lost mid-item, a test step nobody answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from interlude_grpc.interlude.network.v1 import network_pb2, network_pb2_grpc
from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    inventory_pb2,
    ordering_pb2,
    performance_pb2,
    service_test_pb2,
)
from interlude_server.domain.performance.model import metrics_for
from tests.support.helpers import ALPHA, Stubs, rich_error, wait_for_order
from tests.support.network import ATTACHED, Runtime, start_worker, wait_for_log
from tests.support.paths import REPO
from tests.support.pm_helpers import CE_PM, TIME_SCALE, Pmc, profile
from tests.support.server_process import ServerProcess, launch
from tests.support.sft import SftClient, job

Ord = ordering_pb2
St = service_test_pb2
Pm = performance_pb2
NODE_BACKEND = REPO / "tests" / "node" / "network_backend.js"
# The simulator as a network worker: the Python one and the Node.js one (tests/node/sim_backend.js).
RUNTIMES: tuple[Runtime, ...] = ("python", "node")
EVC = "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all"


def _remote(workdir: Path, *args: str) -> ServerProcess:
    return launch(workdir, "--seed", "demo", "--partner", "remote", "--network-listen", "127.0.0.1:0", *args)


def _evc(external_id: str) -> ordering_pb2.CreateConnectivityRequest:
    return Ord.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[
            Ord.ConnectivityEndPoint(interface_service_id="alpha-uni-1"),
            Ord.ConnectivityEndPoint(interface_service_id="alpha-uni-2"),
        ],
        external_id=external_id,
    )


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[ServerProcess]:
    server = _remote(tmp_path / "server", "--network-timeout", "0.5")
    yield server
    assert server.stop() == 0


def _node_backend(server: ServerProcess) -> subprocess.Popen[bytes]:
    node = shutil.which("node")
    assert node is not None, "node is required (make install brings the packages)"
    command = [node, str(NODE_BACKEND), server.network, "sp-alpha", "alpha-uni-1"]
    log = (server.workdir / "node.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def _wait_for_item_in_progress(stubs: Stubs, order_id: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        order = stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order_id), metadata=ALPHA)
        items = order.service_order.service_order_item
        if any(i.state == Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS for i in items):
            return
        assert time.monotonic() < deadline, f"no item of {order_id} in progress"
        time.sleep(0.05)


def test_a_node_backend_completes_orders_and_tests_and_reports_state(remote: ServerProcess) -> None:
    backend = _node_backend(remote)
    try:
        wait_for_log(remote, ATTACHED)
        with grpc.insecure_channel(remote.target) as channel:
            stubs = Stubs.on(channel)
            order = stubs.ordering.CreateConnectivity(_evc("NODE-1"), metadata=ALPHA).service_order
            done = wait_for_order(stubs, order.id)
            assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
            tests = SftClient(channel)
            created = tests.create(job("node ping", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
            (summary,) = tests.follow(created.id).summaries()
            assert summary.verdict == St.TEST_VERDICT_PASS, summary.reason
            # The report is committed as observed state, as a scenario's would be.
            uni = stubs.inventory.GetService(
                inventory_pb2.GetServiceRequest(id="alpha-uni-1"), metadata=ALPHA
            )
            assert uni.service.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED
            assert uni.service.operational_state_reason == "node: loss of signal"
        reports = [
            json.loads(line) for line in remote.logs().splitlines() if '"event": "network.report"' in line
        ]
        assert [(r["kind"], r["buyer"], r["service_id"], r["operational_state"]) for r in reports] == [
            ("state", "sp-alpha", "alpha-uni-1", common_pb2.OPERATIONAL_STATE_DISABLED)
        ]
    finally:
        backend.terminate()
        backend.wait(timeout=10)


def test_an_order_waits_in_progress_for_a_worker_then_completes(remote: ServerProcess) -> None:
    with grpc.insecure_channel(remote.target) as channel:
        stubs = Stubs.on(channel)
        order = stubs.ordering.CreateConnectivity(_evc("WAIT-1"), metadata=ALPHA).service_order
        _wait_for_item_in_progress(stubs, order.id)
        time.sleep(1.0)  # twice the network timeout: no worker, yet the item is not failed
        waiting = stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order.id), metadata=ALPHA)
        assert waiting.service_order.state == Ord.SERVICE_ORDER_STATE_IN_PROGRESS
        worker = start_worker(remote, "--sim-step-delay", "0.02")
        try:
            done = wait_for_order(stubs, order.id)
        finally:
            worker.stop()
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED, "the network timeout (0.5 s) does not fail it"


def test_an_item_held_by_a_worker_that_is_lost_goes_to_the_next_worker(remote: ServerProcess) -> None:
    slow = start_worker(remote, "--sim-step-delay", "60", name="slow")
    with grpc.insecure_channel(remote.target) as channel:
        stubs = Stubs.on(channel)
        wait_for_log(remote, ATTACHED)
        order = stubs.ordering.CreateConnectivity(_evc("LOST-1"), metadata=ALPHA).service_order
        wait_for_log(slow, '"event": "worker.request"')
        slow.proc.kill()
        slow.proc.wait()
        wait_for_log(remote, '"requeued": 1')
        fast = start_worker(remote, "--sim-step-delay", "0.02", name="fast")
        try:
            done = wait_for_order(stubs, order.id)
        finally:
            fast.stop()
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED


def test_a_test_step_no_worker_answers_ends_the_run_with_an_error(remote: ServerProcess) -> None:
    with grpc.insecure_channel(remote.target) as channel:
        tests = SftClient(channel)
        created = tests.create(job("nobody", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
        (summary,) = tests.follow(created.id).summaries()
    assert summary.verdict == St.TEST_VERDICT_ERROR
    assert summary.error_code == "TEST_HEAD_UNAVAILABLE"
    assert "no network worker answered within 0.5 s" in summary.reason


def test_a_worker_must_say_hello_first(remote: ServerProcess) -> None:
    with grpc.insecure_channel(remote.network) as channel:
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        beat = network_pb2.AttachRequest(heartbeat=network_pb2.Heartbeat())
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Attach(iter([beat]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rich_error(caught.value).reason == "INVALID_REQUEST"


def test_remote_needs_a_network_listener(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--partner remote: needs --network-listen"):
        launch(tmp_path, "--partner", "remote")


def test_the_readme_lists_the_node_backend_as_it_is() -> None:
    assert NODE_BACKEND.read_text() in (REPO / "README.md").read_text()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_worker_holds_an_item_and_asks_for_information_over_the_contract(
    remote: ServerProcess, tmp_path: Path, runtime: Runtime
) -> None:
    # The worker's simulator waits as its fault rules say; the outcome crosses the contract.
    faults = tmp_path / "faults.json"
    rules = [
        {"externalId": "HOLD-*", "reason": "port not patched yet", "outcome": "held", "holdSeconds": 0.3},
        {
            "externalId": "ASK-*",
            "reason": "which VLAN?",
            "outcome": "informationRequired",
            "information": ["/note"],
            "action": "add",
            "serviceConfigurationType": EVC,
        },
    ]
    faults.write_text(json.dumps({"faults": rules}))
    worker = start_worker(remote, "--sim-step-delay", "0.02", "--sim-faults", str(faults), runtime=runtime)
    try:
        with grpc.insecure_channel(remote.target) as channel:
            stubs = Stubs.on(channel)
            held = stubs.ordering.CreateConnectivity(_evc("HOLD-1"), metadata=ALPHA).service_order
            done = wait_for_order(stubs, held.id)
            assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
            waits = [w for item in done.service_order_item for w in item.wait]
            assert waits
            assert waits[0].reason == "port not patched yet"
            asked = stubs.ordering.CreateConnectivity(_evc("ASK-1"), metadata=ALPHA).service_order
            deadline = time.monotonic() + 15
            while True:
                order = stubs.ordering.GetServiceOrder(
                    Ord.GetServiceOrderRequest(id=asked.id), metadata=ALPHA
                ).service_order
                if order.state == Ord.SERVICE_ORDER_STATE_PENDING:
                    break
                assert time.monotonic() < deadline, f"order {asked.id} never pending: {order}"
                time.sleep(0.05)
            item = next(
                i for i in order.service_order_item if i.state == Ord.SERVICE_ORDER_ITEM_STATE_PENDING
            )
            assert list(item.wait[-1].information_required) == ["/note"]
    finally:
        worker.stop()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_pm_job_is_measured_by_a_worker_over_the_contract(tmp_path: Path, runtime: Runtime) -> None:
    server = _remote(tmp_path / "server", "--sim-time-scale", TIME_SCALE)
    worker = start_worker(server, "--sim-step-delay", "0.02", runtime=runtime)
    attributes = struct_pb2.Struct()
    attributes.update({"slsObjectives": {"frameLossRatio": 0.5}})
    config = common_pb2.ExtensionPayload(type=CE_PM, attributes=attributes)
    try:
        with grpc.insecure_channel(server.target) as channel:
            pm = Pmc(channel)
            _, pm_job = pm.running_job(value=profile(service_specific_configuration=config))
            live = pm.stream(performance_job_ids=[pm_job.id], mode=Pm.STREAM_MODE_STREAM)
            live.wait_for(lambda: len(live.of_kind("update")) >= 2)
            live.stop()
            pm.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=pm_job.id), metadata=ALPHA)
        # One measurement per metric of the configuration's type, with the buyer's objective.
        for update in live.of_kind("update")[:2]:
            assert [m.metric_name for m in update.measurements] == [m.name for m in metrics_for(CE_PM)]
            loss = next(m for m in update.measurements if m.metric_name == "frameLossRatio")
            assert loss.sls_objective == 0.5
            assert loss.breached == (loss.value > 0.5)
        # The bins came from the worker: the server asked it for each interval.
        wait_for_log(worker, '"event": "worker.request"')
        assert "take_measurements" in worker.logs()
    finally:
        worker.stop()
        assert server.stop() == 0
