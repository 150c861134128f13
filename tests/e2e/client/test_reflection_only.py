"""grpcurl-style use: a client with no local protos (reflection only) lists services, reads,
changes, streams events and decodes rich errors against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.support.paths import SUPPORT
from tests.support.server_process import ServerProcess

SCRIPT = SUPPORT / "reflection_only.py"


def test_a_reflection_only_client_drives_every_flow(demo_server: ServerProcess) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), demo_server.target, "sp-alpha"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    steps: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        step = json.loads(line)
        steps[step.pop("step")] = step
    assert steps["services"]["names"] == sorted(
        f"mef.lso.interlude.v1.{name}"
        for name in (
            "AlarmService",
            "EventService",
            "PerformanceService",
            "ServiceCatalogService",
            "ServiceInventoryService",
            "ServiceOrderingService",
            "ServiceTestService",
        )
    )
    assert len(steps["list"]["ids"]) == steps["list"]["totalSize"] == 16
    assert steps["get"] == {"id": steps["list"]["ids"][0], "state": "SERVICE_STATE_ACTIVE"}
    assert steps["policy"]["rules"] > 0
    assert steps["order"]["state"] == "SERVICE_ORDER_STATE_ACKNOWLEDGED"
    assert "EVENT_TYPE_SERVICE_ORDER_CREATE" in steps["events"]["types"]
    assert steps["error"]["code"] == "INVALID_ARGUMENT"
    assert steps["error"]["reason"] == "INVALID_REQUEST"
    assert steps["error"]["domain"] == "mef.lso.interlude"
    assert steps["error"]["fieldViolations"] == [
        "end_points[0].interface_service_id",
        "end_points[1].interface_service_id",
    ]


def test_the_reflection_only_client_cannot_use_the_local_contract() -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(SCRIPT)!r}); import interlude_grpc"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "may not use the local contract" in done.stderr
