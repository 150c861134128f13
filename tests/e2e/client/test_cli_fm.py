"""`interlude fm ...` against a real server process: an FM link trace job created and
followed to its report, its FM settings echoed in the job and the report, the lists
narrowed to FM jobs and reports, a job cancelled, and the documented exit codes."""

from __future__ import annotations

import pytest

from interlude_client import InterludeClient, builders
from interlude_client.cli import exits
from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from tests.e2e.client.test_cli import Run
from tests.support.server_process import ServerProcess

St = service_test_pb2
ENDS = ("alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")


@pytest.fixture
def run(demo_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(demo_server.target, capsys)


def test_a_link_trace_job_is_followed_to_its_report(run: Run) -> None:
    code, out, err = run(
        "fm", "jobs", "create", "linktrace", *ENDS, "--set", "ttl=8", "--priority", "2",
        "--granularity", "1sec", "--execution-duration", "1 min", "--follow",
    )  # fmt: skip
    assert code == exits.OK, err
    lines = out.splitlines()
    job_id = lines[0].split()[1]
    assert lines[0].endswith(f"fm linktrace {ENDS[0]} -> {ENDS[1]}")
    assert [line.split()[2] for line in lines if " state " in line] == [
        "ACKNOWLEDGED",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    assert any(" measure " in line for line in lines)  # each responding hop
    (summary,) = [line for line in lines if " summary " in line]
    assert summary.split()[3] == "PASS"

    job = run.json("fm", "job", "get", job_id)
    assert job["testType"] == "TEST_TYPE_ETHERNET_LINK_TRACE"
    assert job["state"] == "TEST_JOB_STATE_COMPLETED"
    assert job["faultManagement"]["jobPriority"] == 2
    assert job["faultManagement"]["granularity"] == {"value": "1", "units": "TIME_DURATION_UNITS_SEC"}
    assert job["faultManagement"]["executionDuration"] == {"value": "1", "units": "TIME_DURATION_UNITS_MIN"}

    code, out, _ = run("fm", "reports", "list", "--job", job_id)
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["ID", "JOB", "RUN", "TYPE"]
    assert [r.split()[1:5] for r in rows] == [[job_id, "1", "ETHERNET_LINK_TRACE", "PASS"]]
    report = run.json("fm", "report", "get", rows[0].split()[0])
    assert report["testJob"]["id"] == job_id
    assert report["faultManagement"]["jobPriority"] == 2
    assert report["measurements"]
    assert run("fm", "jobs", "get", job_id, "--follow")[0] == exits.OK  # replayed: the same end


def test_lists_hold_fm_jobs_only_and_a_job_is_cancelled(run: Run, demo_server: ServerProcess) -> None:
    with InterludeClient(demo_server.target, buyer="sp-alpha") as client:
        sat = client.create_test_job(builders.sft_job("y1564-sat", *ENDS, name="not fm"))
    code, out, err = run("fm", "jobs", "get", sat.id)
    assert code == exits.NOT_FOUND
    assert "not an FM job" in err
    job = run.json("fm", "jobs", "create", "loopback", *ENDS, "--set", "count=100", "--name", "fm-cancel")
    assert job["testType"] == "TEST_TYPE_ETHERNET_LOOPBACK"
    assert job["faultManagement"] == {}  # nothing given: MEF's defaults apply
    task = run.json("fm", "jobs", "cancel", job["id"], "--reason", "enough")
    assert (task["taskType"], task["reason"]) == ("TEST_JOB_TASK_TYPE_CANCEL", "enough")
    code, out, _ = run("fm", "jobs", "get", job["id"], "-f")
    assert code == exits.NOT_COMPLETED
    assert "CANCELLED" in out
    listed = run.json("fm", "jobs", "list")
    ids = {j["id"] for j in listed}
    assert job["id"] in ids
    assert sat.id not in ids
    fm_types = {"ETHERNET_LOOPBACK", "ETHERNET_LINK_TRACE", "IP_PING", "IP_TRACEROUTE"}
    assert {j["testType"].removeprefix("TEST_TYPE_") for j in listed} <= fm_types
    code, out, _ = run("fm", "jobs", "list", "--procedure", "loopback", "--state", "cancelled")
    assert code == exits.OK
    rows = [r.split() for r in out.splitlines()[1:]]
    assert job["id"] in [r[0] for r in rows]
    assert all(r[2:4] == ["ETHERNET_LOOPBACK", "CANCELLED"] for r in rows)


def test_validate_only_and_refusals(run: Run) -> None:
    code, out, err = run(
        "fm", "jobs", "create", "ping", "alpha-ip-uni-1", "alpha-ip-uni-2", "--validate-only"
    )
    assert code == exits.OK, err
    assert "TEST_TYPE_IP_PING" in out
    assert "validate-only: the server checked the request and accepted it; nothing was stored" in err
    code, _, err = run("fm", "jobs", "create", "ping", *ENDS)  # ping runs on IP services only
    assert code == exits.REFUSED
    assert run("fm", "jobs", "get", "no-such-job")[0] == exits.NOT_FOUND
