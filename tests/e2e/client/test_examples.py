"""The files in examples/ are what the README says they are: a seed and a policy the
server loads (`interlude-server --seed PATH`), and an order, a PM profile, two PM jobs (one
recurring) and a test profile the `interlude` CLI sends to that server and reads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from interlude_client.cli import exits
from tests.e2e.client.test_cli import Run
from tests.support.paths import EXAMPLES
from tests.support.server_process import ServerProcess, launch

SEED = EXAMPLES / "seed.json"
POLICY = EXAMPLES / "policy.json"
CIR = "ingressBandwidthProfilePerEvcEndPoint.cir.irValue"
EP_SPEC = "carrier-ethernet-evc-end-point"


def _launch(workdir: Path, seed: Path) -> ServerProcess:
    return launch(workdir, "--seed", str(seed), "--sim-step-delay", "0.02")


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = _launch(tmp_path_factory.mktemp("examples"), SEED)
    yield running
    assert running.stop() == 0


@pytest.fixture
def run(example_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(example_server.target, capsys)


def test_the_example_files_are_all_there_and_json() -> None:
    names = {p.name for p in EXAMPLES.glob("*.json")}
    assert names == {
        "order.json",
        "pm-profile.json",
        "pm-job.json",
        "pm-recurring-job.json",
        "test-profile.json",
        "seed.json",
        "policy.json",
    }
    for path in EXAMPLES.glob("*.json"):
        assert isinstance(json.loads(path.read_text()), dict), path


def test_the_seed_loads_its_catalog_policies_and_services(run: Run) -> None:
    seed = json.loads(SEED.read_text())
    assert {s["id"] for s in run.json("catalog", "list")} == {s["id"] for s in seed["specifications"]}
    assert {p["serviceSpecificationId"] for p in run.json("catalog", "policies")} == {
        p["serviceSpecificationId"] for p in seed["policies"]
    }
    assert {s["id"] for s in run.json("services", "list")} == {s["id"] for s in seed["services"]}
    evc = run.json("services", "get", "alpha-evc-1")
    assert evc["serviceConfiguration"]["attributes"]["maximumFrameSize"] == 1522


def test_the_order_is_acknowledged_and_completes(run: Run) -> None:
    path = str(EXAMPLES / "order.json")
    order = json.loads((EXAMPLES / "order.json").read_text())
    code, out, err = run("orders", "create", path, "--follow")
    assert code == exits.OK, err
    lines = out.splitlines()
    assert "ACKNOWLEDGED" in lines[0]
    created = {line.split()[1]: line.split()[3] for line in lines if line.startswith("created ")}
    assert set(created) == {item["id"] for item in order["serviceOrderItem"]}
    (listed,) = run.json("orders", "list", "--external-id", order["externalId"])
    assert listed["state"] == "SERVICE_ORDER_STATE_COMPLETED"
    end_point = run.json("services", "get", created["end-point-1"])
    assert end_point["serviceConfiguration"]["attributes"]["ingressBandwidthProfilePerEvcEndPoint"][
        "cir"
    ] == {"irValue": 200}
    assert {r["service"]["id"] for r in end_point["serviceRelationship"]} == {"alpha-uni-1", created["evc"]}


def test_the_pm_profile_and_job_are_created_and_read_back(run: Run) -> None:
    profile = run.json("pm", "profiles", "create", str(EXAMPLES / "pm-profile.json"))
    assert profile["lifecycleStatus"] == "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_APPROVED"
    assert run.json("pm", "profiles", "get", profile["id"])["granularity"] == {
        "value": "15",
        "units": "TIME_DURATION_UNITS_MIN",
    }
    job = run.json("pm", "jobs", "create", str(EXAMPLES / "pm-job.json"))
    assert job["id"]
    read = run.json("pm", "jobs", "get", job["id"])
    assert read["monitoredObject"] == {"service": {"id": "alpha-evc-1"}}
    assert read["performanceProfileValue"]["reportingPeriod"]["units"] == "TIME_DURATION_UNITS_HOUR"
    assert [j["id"] for j in run.json("pm", "jobs", "list", "--buyer-job-id", "EXAMPLE-PM-1")] == [job["id"]]
    with_profile = run.json("pm", "jobs", "create", "--profile", profile["id"], "--service", "alpha-evc-1")
    assert with_profile["performanceProfileRef"]["id"] == profile["id"]


def test_the_recurring_pm_job_is_created_with_its_schedule(run: Run) -> None:
    sent = json.loads((EXAMPLES / "pm-recurring-job.json").read_text())
    job = run.json("pm", "jobs", "create", str(EXAMPLES / "pm-recurring-job.json"))
    read = run.json("pm", "jobs", "get", job["id"])
    assert read["scheduleDefinition"]["recurringSchedule"] == sent["scheduleDefinition"]["recurringSchedule"]
    assert read["monitoredObject"]["serviceFromTo"]["serviceTo"] == {"id": "alpha-evc-1-ep-2"}
    assert read["performanceProfileValue"]["outputFormat"] == "PERFORMANCE_OUTPUT_FORMAT_CSV"
    assert read["state"] not in (
        "PERFORMANCE_JOB_STATE_REJECTED",
        "PERFORMANCE_JOB_STATE_RESOURCES_UNAVAILABLE",
    )
    listed = run.json("pm", "jobs", "list", "--buyer-job-id", "EXAMPLE-PM-RECURRING")
    assert [j["id"] for j in listed] == [job["id"]]
    code, states = run.json_lines("pm", "jobs", "cancel", job["id"], "--follow")
    assert code == exits.OK
    assert states[-1]["state"] == "PERFORMANCE_JOB_PROCESS_STATE_COMPLETED"


def test_the_test_profile_is_created_read_back_and_runs(run: Run) -> None:
    profile = run.json("tests", "profiles", "create", str(EXAMPLES / "test-profile.json"))
    assert profile["testType"] == "TEST_TYPE_ETHERNET_LOOPBACK"
    read = run.json("tests", "profiles", "get", profile["id"])
    assert read["serviceSpecificTestProfileConfiguration"]["attributes"] == {
        "count": 3,
        "frameSize": 128,
        "maxRoundTripTime": 5,
    }
    code, out, err = run(
        "tests",
        "run",
        "ethernet-loopback",
        "alpha-evc-1-ep-1",
        "alpha-evc-1-ep-2",
        "--profile",
        profile["id"],
        "-f",
    )
    assert code == exits.OK, err
    assert [line.split()[4] for line in out.splitlines() if " measure " in line] == [
        "lbm-1",
        "lbm-2",
        "lbm-3",
    ]


def test_the_policy_raises_the_cir_limit_when_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed allows an EVC end point's CIR up to 1000 Mbps; policy.json (a seed with only
    a policy, loaded on a restart: policies are upserted on every load) raises it to 2000."""
    seeded = _launch(tmp_path, SEED)
    try:
        code, _, err = Run(seeded.target, capsys)("update", "alpha-evc-1-ep-1", "--set", f"{CIR}=1500")
    finally:
        assert seeded.stop() == 0
    assert code == exits.REFUSED
    assert "POLICY_VIOLATION" in err
    restarted = _launch(tmp_path, POLICY)  # the same store: the seed's catalog and services are kept
    try:
        run = Run(restarted.target, capsys)
        policy = run.json("catalog", "policy", EP_SPEC)
        (cir,) = [p for p in policy["characteristicPolicy"] if p["path"].endswith("/cir/irValue")]
        assert cir["range"] == {"min": 10, "max": 2000}
        assert {s["id"] for s in run.json("services", "list")} >= {"alpha-evc-1-ep-1", "alpha-uni-1"}
        code, _, err = run("update", "alpha-evc-1-ep-1", "--set", f"{CIR}=1500", "--follow")
        assert code == exits.OK, err
        attributes = run.json("services", "get", "alpha-evc-1-ep-1")["serviceConfiguration"]["attributes"]
        assert attributes["ingressBandwidthProfilePerEvcEndPoint"]["cir"]["irValue"] == 1500
    finally:
        assert restarted.stop() == 0
