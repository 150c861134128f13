"""The Node.js client (clients/node, @grpc/grpc-js + @grpc/proto-loader on the .proto files)
against a real server: the contract serves another language, rich errors included."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from interlude_client import InterludeClient
from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from tests.support.paths import REPO
from tests.support.server_process import ServerProcess

DEMO = REPO / "clients" / "node" / "demo.js"


def _run_node(target: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is required (make install brings the packages)"
    assert (REPO / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make install` (npm ci)"
    done = subprocess.run(
        [
            node,
            str(DEMO),
            "--target",
            target,
            "--buyer",
            "sp-alpha",
            "--a",
            "alpha-uni-1",
            "--b",
            "alpha-uni-3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_node_client_lists_orders_follows_and_reads_rich_errors(demo_server: ServerProcess) -> None:
    steps = _run_node(demo_server.target)
    by_step: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        by_step.setdefault(step["step"], []).append(step)

    with InterludeClient(demo_server.target, buyer="sp-alpha") as python:
        # the seeded services (the node client's order added connectivity services since)
        expected_ids = [s.id for s in python.list_services() if s.id.startswith("alpha-")]
        listing = by_step["list"][0]
        assert listing["ids"] == expected_ids
        assert listing["pages"] == -(-len(expected_ids) // 5)  # page_size 5: every page was read
        assert by_step["get"][0]["id"] == expected_ids[0]
        assert by_step["get"][0]["state"] == "SERVICE_STATE_ACTIVE"

        order = by_step["order"][0]
        assert order["state"] == "SERVICE_ORDER_STATE_ACKNOWLEDGED"
        assert order["items"] == 3
        progress = [p["state"] for p in by_step["progress"]]
        assert progress[-1] == "SERVICE_ORDER_STATE_COMPLETED"
        assert by_step["final"][0] == {
            "step": "final",
            "id": order["id"],
            "state": "SERVICE_ORDER_STATE_COMPLETED",
        }
        stored = python.get_service_order(order["id"])
        assert stored.external_id == "node-demo"
        assert stored.state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED

    error = by_step["error"][0]
    assert error["code"] == "FAILED_PRECONDITION"
    assert error["reason"] == "POLICY_VIOLATION"
    assert error["domain"] == "mef.lso.interlude"
    assert [v["field"] for v in error["fieldViolations"]] == [
        "service.service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue",
        "service.service_configuration.attributes.vlanId",
    ]
