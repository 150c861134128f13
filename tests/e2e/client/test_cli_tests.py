"""`interlude tests ...` against a real server process: a test run followed live to its
verdict (table and JSON), the documented exit codes of a failed and a cancelled test,
and the capabilities, profiles, jobs and results listings."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from interlude_client import InterludeClient, builders
from interlude_client.aio import AsyncInterludeClient
from interlude_client.cli import exits
from interlude_client.cli.tests import outcome
from interlude_client.errors import InterludeError
from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from tests.e2e.client.test_cli import Run
from tests.support.paths import README
from tests.support.server_process import ServerProcess

St = service_test_pb2
LOOPBACK = ("ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")
SAT = ("y1564-sat", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")


@pytest.fixture
def run(demo_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(demo_server.target, capsys)


def test_run_follow_prints_every_step_live_and_exits_0_on_pass(run: Run, demo_server: ServerProcess) -> None:
    code, out, err = run("tests", "run", *LOOPBACK, "--set", "count=3", "--follow")
    assert code == exits.OK, err
    lines = out.splitlines()
    job_id = lines[0].split()[1]
    assert [line.split()[2] for line in lines if " state " in line] == [
        "ACKNOWLEDGED",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    assert [line.split()[4] for line in lines if " measure " in line] == ["lbm-1", "lbm-2", "lbm-3"]
    (summary,) = [line for line in lines if " summary " in line]
    assert summary.split()[3] == "PASS"
    with InterludeClient(demo_server.target, buyer="sp-alpha") as client:
        assert client.get_test_job(job_id).state == St.TEST_JOB_STATE_COMPLETED
        (result,) = client.list_test_results(St.TestResultFilter(test_job_id=job_id))
    assert result.summary.verdict == St.TEST_VERDICT_PASS

    code, items = run.json_lines("tests", "run", *LOOPBACK, "--set", "count=2", "-f")
    assert code == exits.OK
    kinds = [next(k for k in item if k != "resumeToken") for item in items]
    assert kinds == [
        "stateChange",
        "stateChange",
        "measurement",
        "stepProgress",
        "measurement",
        "stepProgress",
        "summary",
        "stateChange",
    ]
    assert all(item["resumeToken"] for item in items)
    assert items[-1]["stateChange"]["state"] == "TEST_JOB_STATE_COMPLETED"
    assert [i["summary"]["verdict"] for i in items if "summary" in i] == ["TEST_VERDICT_PASS"]


def test_a_failed_verdict_exits_8_and_prints_why(run: Run) -> None:
    code, out, _ = run("tests", "run", *SAT, "--name", "FAIL-sat", "--follow")
    assert code == exits.TEST_FAILED == 8
    (summary,) = [line for line in out.splitlines() if " summary " in line]
    assert "FAIL" in summary
    assert "frameLossRatio" in summary
    job_id = out.splitlines()[0].split()[1]
    assert run("tests", "jobs", "get", job_id, "--follow")[0] == exits.TEST_FAILED  # replayed: same verdict
    failed = run.json("tests", "results", "list", "--job", job_id, "--verdict", "fail")
    assert [r["summary"]["verdict"] for r in failed] == ["TEST_VERDICT_FAIL"]
    full = run.json("tests", "results", "get", failed[0]["id"])
    assert full["measurements"]
    assert not failed[0].get("measurements")


def test_a_cancelled_job_exits_1_and_jobs_commands_change_it(run: Run, demo_server: ServerProcess) -> None:
    job = run.json("tests", "run", *LOOPBACK, "--set", "count=100", "--name", "cli-cancel")
    with InterludeClient(demo_server.target, buyer="sp-alpha") as client:
        for item in client.stream_test_results(job["id"]):  # live: wait for the first measurement
            if item.HasField("measurement"):
                break
    suspended = run.json("tests", "jobs", "suspend", job["id"], "--reason", "window")
    assert (suspended["taskType"], suspended["state"]) == (
        "TEST_JOB_TASK_TYPE_SUSPEND",
        "TEST_JOB_PROCESS_STATE_ACKNOWLEDGED",
    )
    cancel = run.json("tests", "jobs", "cancel", job["id"], "--reason", "no longer needed")
    assert cancel["reason"] == "no longer needed"
    code, out, _ = run("tests", "jobs", "get", job["id"], "--follow")
    assert code == exits.NOT_COMPLETED
    assert "CANCELLED" in out.splitlines()[-1] or "CANCELLED" in out
    listed = run.json("tests", "jobs", "list", "--name", "cli-cancel")
    assert [(j["id"], j["state"]) for j in listed] == [(job["id"], "TEST_JOB_STATE_CANCELLED")]
    code, _, err = run("tests", "jobs", "resume", job["id"])
    assert code == exits.REFUSED
    assert "INVALID_STATE_TRANSITION" in err
    assert run("tests", "jobs", "get", "no-such-job")[0] == exits.NOT_FOUND


def test_capabilities_and_profiles(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("tests", "capabilities")
    assert code == exits.OK
    assert out.splitlines()[0].split() == ["TYPE", "CONFIGURATION", "MODES", "PARAMETERS"]
    assert any(line.startswith("Y1564_SERVICE_ACTIVATION") for line in out.splitlines())
    caps = run.json("tests", "capabilities", "--type", "ip_ping")
    assert [c["configurationType"] for c in caps] == [builders.sft_configuration_type("ip-ping")]
    profile = {
        "name": "cli ping",
        "lifecycleStatus": "TEST_PROFILE_LIFECYCLE_STATUS_APPROVED",
        "validFor": "2099-01-01T00:00:00Z",
        "relatedServiceSpecificationId": "ip-uni",
        "serviceSpecificTestProfileConfiguration": {
            "type": builders.sft_configuration_type("ip-ping"),
            "attributes": {"count": 2},
        },
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    created = run.json("tests", "profiles", "create", str(path))
    assert created["lifecycleState"] == "TEST_PROFILE_LIFECYCLE_STATE_AVAILABLE"
    code, out, _ = run("tests", "profiles", "list", "--specification", "ip-uni")
    assert created["id"] in out
    with InterludeClient(run.target, buyer="sp-alpha") as client:
        change = St.TestProfile(id=created["id"], description="two pings")
        updated = client.update_test_profile(change, ["description"], etag=created["etag"])
    assert (updated.description, updated.name) == ("two pings", "cli ping")
    assert run.json("tests", "profiles", "get", created["id"])["description"] == "two pings"
    code, out, err = run(
        "tests", "run", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2", "--profile", created["id"], "-f"
    )
    assert code == exits.OK, err
    code, _, err = run("tests", "profiles", "delete", created["id"])
    assert code == exits.REFUSED
    assert "PROFILE_IN_USE" in err
    assert run("tests", "profiles", "get", "nope")[0] == exits.NOT_FOUND
    path.write_text("{not json")
    assert run("tests", "profiles", "create", str(path))[0] == exits.USAGE


def test_the_async_client_runs_and_follows_a_test(demo_server: ServerProcess) -> None:
    async def scenario() -> tuple[list[str], list[int], str]:
        async with AsyncInterludeClient(demo_server.target, buyer="sp-alpha") as client:
            job = await client.create_test_job(builders.sft_job(*LOOPBACK, {"count": 2}))
            kinds = [str(item.WhichOneof("kind")) async for item in client.stream_test_results(job.id)]
            filter_ = St.TestResultFilter(test_job_id=job.id)
            verdicts = [int(r.summary.verdict) async for r in client.list_test_results(filter_)]
            try:
                await client.change_test_job(builders.sft_task_request("cancel", job.id))
            except InterludeError as refused:  # the job is over: nothing to cancel
                return kinds, verdicts, refused.reason
            return kinds, verdicts, ""

    kinds, verdicts, reason = asyncio.run(scenario())
    assert kinds.count("measurement") == 2
    assert "sync" in kinds
    assert kinds[-1] == "state_change"
    assert verdicts == [St.TEST_VERDICT_PASS]
    assert reason == "INVALID_STATE_TRANSITION"


def test_the_exit_codes_of_a_followed_test_are_those_documented() -> None:
    assert outcome(St.TEST_JOB_STATE_COMPLETED, [St.TEST_VERDICT_PASS, St.TEST_VERDICT_PASS]) == exits.OK
    assert outcome(St.TEST_JOB_STATE_COMPLETED, [St.TEST_VERDICT_PASS, St.TEST_VERDICT_FAIL]) == 8
    assert outcome(St.TEST_JOB_STATE_COMPLETED, [St.TEST_VERDICT_ERROR]) == 9
    assert outcome(St.TEST_JOB_STATE_CANCELLED, [St.TEST_VERDICT_INCONCLUSIVE]) == exits.NOT_COMPLETED
    readme = README.read_text()
    rows = {int(line.split("|")[1]) for line in readme.splitlines() if re.match(r"^\| \d+ \| ", line)}
    codes = {v for k, v in vars(exits).items() if k.isupper() and isinstance(v, int)}
    assert codes <= rows
    assert all(f"  {code} " in exits.EPILOG for code in codes)
