"""The `interlude` command against a real server process: every command, as a table and as
JSON; errors with their reason and every field violation; the documented exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from interlude_client import cli
from interlude_client.cli import exits
from tests.support.server_process import ServerProcess

CIR = "ingressBandwidthProfilePerOvcEndPoint.cir.irValue"


class Run:
    """`interlude --target T --buyer sp-alpha ...` in-process: exit code, stdout, stderr."""

    def __init__(self, target: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.target = target
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = cli.main(["--target", self.target, "--buyer", "sp-alpha", *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self("-o", "json", *args)
        assert code == exits.OK, err
        return json.loads(out)

    def json_lines(self, *args: str) -> tuple[int, list[Any]]:
        code, out, _ = self("-o", "json", *args)
        return code, [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def run(demo_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(demo_server.target, capsys)


def test_services_list_and_get(run: Run) -> None:
    code, out, _ = run("services", "list", "--page-size", "2")
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["ID", "TYPE", "STATE", "ADMIN", "OPER"]
    assert len(rows) == 16
    assert all(r.startswith("alpha-") for r in rows)
    listed = run.json("services", "list", "--page-size", "3", "--limit", "5")
    assert [s["id"] for s in listed] == [r.split()[0] for r in rows[:5]]
    assert run.json("services", "list", "--state", "active", "--related", "alpha-ovc-1")
    code, out, _ = run("services", "get", "alpha-uni-1")
    assert code == exits.OK
    assert "serviceConfiguration" in out
    assert "alpha-uni-1" in out
    service = run.json("services", "get", "alpha-uni-1")
    assert service["id"] == "alpha-uni-1"
    assert service["state"] == "SERVICE_STATE_ACTIVE"


def test_catalog_lists_gets_and_shows_policies(run: Run) -> None:
    code, out, _ = run("catalog")
    assert code == exits.OK
    assert "carrier-ethernet-evc" in out
    specs = run.json("catalog", "list")
    assert {"carrier-ethernet-evc", "carrier-ethernet-ovc"} <= {s["id"] for s in specs}
    assert run.json("catalog", "get", "carrier-ethernet-evc")["id"] == "carrier-ethernet-evc"
    policy = run.json("catalog", "policy", "carrier-ethernet-ovc-end-point")
    assert any(p["path"].endswith("/cir/irValue") for p in policy["characteristicPolicy"])
    code, out, _ = run("catalog", "policies")
    assert code == exits.OK
    assert out.startswith("SPECIFICATION")


def test_update_follows_the_order_to_completion(run: Run) -> None:
    code, out, _ = run("update", "alpha-ovc-1-ep-1", "--set", f"{CIR}=300", "--follow")
    assert code == exits.OK
    lines = out.splitlines()
    assert "COMPLETED" in lines[-1]
    order_id = lines[-1].split()[1]
    code, snapshots = run.json_lines("update", "alpha-ovc-1-ep-1", "--set", f"{CIR}=310", "-f")
    assert code == exits.OK
    assert snapshots[-1]["state"] == "SERVICE_ORDER_STATE_COMPLETED"
    assert run.json("orders", "get", order_id)["state"] == "SERVICE_ORDER_STATE_COMPLETED"
    code, out, _ = run("orders", "get", order_id, "--follow")  # already over: one line, at once
    assert code == exits.OK
    assert len(out.splitlines()) == 1
    assert "COMPLETED" in out
    service = run.json("services", "get", "alpha-ovc-1-ep-1")
    assert (
        service["serviceConfiguration"]["attributes"]["ingressBandwidthProfilePerOvcEndPoint"]["cir"][
            "irValue"
        ]
        == 310
    )


def test_a_refused_change_prints_the_reason_and_every_field_violation(run: Run) -> None:
    code, _, err = run("update", "alpha-ovc-1-ep-1", "--set", f"{CIR}=5000", "--set", "vlanId=7")
    assert code == exits.REFUSED
    assert "FAILED_PRECONDITION POLICY_VIOLATION" in err
    assert f"field service.service_configuration.attributes.{CIR}: 5000" in err
    assert "field service.service_configuration.attributes.vlanId:" in err
    code, _, err = run("-o", "json", "update", "alpha-ovc-1-ep-1", "--set", f"{CIR}=5000")
    error = json.loads(err)
    assert code == exits.REFUSED
    assert error["reason"] == "POLICY_VIOLATION"
    assert [v["field"] for v in error["fieldViolations"]] == [
        f"service.service_configuration.attributes.{CIR}"
    ]


def test_set_admin_state_validates_and_changes(run: Run) -> None:
    dry = run.json("set-admin-state", "alpha-uni-2", "locked", "--validate-only")
    assert dry["serviceOrderItem"][0]["action"] == "SERVICE_ACTION_MODIFY"
    code, snapshots = run.json_lines("set-admin-state", "alpha-uni-2", "locked", "--follow")
    assert code == exits.OK
    assert snapshots[-1]["state"] == "SERVICE_ORDER_STATE_COMPLETED"
    assert run.json("services", "get", "alpha-uni-2")["administrativeState"] == "ADMINISTRATIVE_STATE_LOCKED"
    code, _, err = run("set-admin-state", "alpha-uni-2", "sideways")
    assert code == exits.USAGE
    assert "unknown value 'sideways'" in err


def test_connect_creates_connectivity_and_reports_a_failed_order(run: Run) -> None:
    code, out, _ = run("connect", "alpha-uni-1", "alpha-uni-3", "--spec", "carrier-ethernet-evc", "--follow")
    assert code == exits.OK
    progress = [line for line in out.splitlines() if not line.startswith("created ")]
    assert "COMPLETED" in progress[-1]  # then the ids of the services it created
    failing = f"FAIL-{uuid.uuid4()}"
    code, out, err = run("connect", "alpha-uni-1", "alpha-uni-2", "--spec", "carrier-ethernet-evc",
                         "--external-id", failing, "-f")  # fmt: skip
    assert code == exits.NOT_COMPLETED
    assert "FAILED" in out.splitlines()[-1]
    assert "NE rejected" in err
    code, _, err = run("connect", "alpha-uni-1", "alpha-enni-2", "--spec", "carrier-ethernet-ovc")
    assert code == exits.DENIED
    assert "CONNECTIVITY_NOT_PERMITTED" in err
    code, _, err = run("connect", "alpha-uni-1", "alpha-uni-2", "--spec", "no-such-thing")
    assert code == exits.USAGE
    assert "no service specification" in err


def test_orders_create_list_get_and_cancel(run: Run, tmp_path: Path) -> None:
    external_id = f"CLI-{uuid.uuid4()}"
    order_file = tmp_path / "order.json"
    configuration = run.json("services", "get", "alpha-uni-3")["serviceConfiguration"]
    order_file.write_text(
        json.dumps(
            {
                "externalId": external_id,
                "requestedStartDate": "2099-01-01T00:00:00Z",  # held back, so it can be cancelled
                "serviceOrderItem": [
                    {"id": "1", "action": "SERVICE_ACTION_MODIFY",
                     "service": {"id": "alpha-uni-3", "serviceConfiguration": configuration}}
                ],
            }
        )
    )  # fmt: skip
    created = run.json("orders", "create", str(order_file), "--request-id", external_id)
    assert run.json("orders", "create", str(order_file), "--request-id", external_id)["id"] == created["id"]
    listed = run.json("orders", "list", "--external-id", external_id)
    assert [o["id"] for o in listed] == [created["id"]]
    code, out, _ = run("orders", "list", "--limit", "1")
    assert code == exits.OK
    assert out.startswith("ID")
    assert len(out.splitlines()) == 2  # the header and one order
    assert run.json("orders", "get", created["id"])["externalId"] == external_id
    cancelled = run.json("orders", "cancel", created["id"], "--reason", "changed my mind")
    assert cancelled["state"] in {
        "SERVICE_ORDER_STATE_ASSESSING_CANCELLATION",
        "SERVICE_ORDER_STATE_CANCELLED",
    }
    code, snapshots = run.json_lines("orders", "cancel", created["id"], "--follow")
    assert snapshots or code == exits.REFUSED
    assert code in (exits.NOT_COMPLETED, exits.REFUSED)  # followed to `cancelled`, or already cancelling
    code, _, err = run("orders", "create", str(tmp_path / "missing.json"))
    assert code == exits.USAGE
    assert "missing.json" in err


def test_events_watch_replays_and_streams_as_json(run: Run) -> None:
    code, _, _ = run("set-admin-state", "alpha-uni-1", "unlocked", "--follow")  # events to replay
    assert code == exits.OK
    code, out, _ = run("events", "watch", "--since", "2000-01-01T00:00:00Z", "--limit", "3")
    assert code == exits.OK
    assert len(out.splitlines()) == 3
    code, events = run.json_lines(
        "events", "watch", "--since", "2000-01-01T00:00:00Z", "--type", "service_order_create", "--until-sync"
    )
    assert code == exits.OK
    assert events
    assert {e["eventType"] for e in events} == {"EVENT_TYPE_SERVICE_ORDER_CREATE"}
    code, out, _ = run("events", "watch", "--show-markers", "--until-sync", "--resource", "no-such-resource")
    assert code == exits.OK
    assert out.startswith("-- sync ")  # from now: nothing to replay, then the sync marker
    token = events[0]["resumeToken"]
    code, after = run.json_lines("events", "watch", "--from-token", token, "--limit", "1")
    assert code == exits.OK
    assert int(after[0]["sequence"]) > int(events[0]["sequence"])


def test_not_found_and_unreachable_have_their_exit_codes(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run("services", "get", "beta-uni-1")
    assert code == exits.NOT_FOUND
    assert "SERVICE_NOT_FOUND" in err
    assert (
        cli.main(["--target", "127.0.0.1:1", "--timeout", "2", "services", "get", "x"]) == exits.UNAVAILABLE
    )
    assert capsys.readouterr().err.startswith(("error: UNAVAILABLE", "error: DEADLINE_EXCEEDED"))
    assert cli.main([]) == exits.USAGE
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0


def test_the_console_script_runs(demo_server: ServerProcess) -> None:
    script = shutil.which("interlude", path=str(Path(sys.executable).parent))
    assert script is not None, "the interlude console script is not installed"
    done = subprocess.run(
        [script, "--target", demo_server.target, "-o", "json", "services", "get", "alpha-enni-1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "alpha-enni-1"  # sp-alpha is the server's default buyer
    assert (
        "exit codes:" in subprocess.run([script, "--help"], capture_output=True, text=True, check=True).stdout
    )
