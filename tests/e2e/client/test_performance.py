"""`interlude pm ...` and the clients' PerformanceService methods against a real, time-scaled
server (a 15-minute bin closes every 0.1 s, an hourly report every 0.4 s)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from interlude_client import InterludeClient
from interlude_client.aio import AsyncInterludeClient
from interlude_client.cli import exits
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from tests.e2e.client.test_cli import Run
from tests.support.pm_helpers import epoch, launch_pm_server, profile, service_job
from tests.support.server_process import ServerProcess

Pm = performance_pb2


@pytest.fixture(scope="module")
def pm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("pm-cli"))
    yield running
    assert running.stop() == 0


@pytest.fixture
def run(pm_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(pm_server.target, capsys)


@pytest.fixture(scope="module")
def client(pm_server: ServerProcess) -> Iterator[InterludeClient]:
    with InterludeClient(pm_server.target, buyer="sp-alpha") as made:
        yield made


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json_format.MessageToJson(profile(description="from a file")))
    return path


def _wait_for(check: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def _running_job(run: Run, profile_file: Path, client: InterludeClient) -> dict[str, Any]:
    made = run.json("pm", "profiles", "create", str(profile_file))
    job: dict[str, Any] = run.json(
        "pm", "jobs", "create", "--profile", made["id"], "--service", "alpha-evc-1"
    )
    assert job["performanceProfileRef"]["id"] == made["id"]
    assert job["monitoredObject"]["service"]["id"] == "alpha-evc-1"
    _wait_for(
        lambda: client.get_performance_job(job["id"]).state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS,
        "the job never started",
    )
    return job


def test_profiles_create_list_get_and_delete(run: Run, profile_file: Path) -> None:
    checked = run.json("pm", "profiles", "create", "--validate-only", str(profile_file))
    assert checked["description"] == "from a file"
    made = run.json("pm", "profiles", "create", str(profile_file))
    assert made["id"]
    assert made["lifecycleStatus"] == "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_APPROVED"
    code, out, _ = run("pm", "profiles", "list", "--status", "approved", "--page-size", "1")
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "JOB"]
    assert made["id"] in [r.split()[0] for r in rows]
    assert "carrier-ethernet-performance-monitoring-configuration" in out
    assert run.json("pm", "profiles", "get", made["id"])["description"] == "from a file"
    code, out, _ = run("pm", "profiles", "delete", made["id"])
    assert (code, out.strip()) == (exits.OK, f"deleted {made['id']}")
    code, _, err = run("pm", "profiles", "get", made["id"])
    assert code == exits.NOT_FOUND
    assert "NOT_FOUND" in err


def test_an_invalid_profile_prints_every_field_violation(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"description": "no settings at all"}))
    code, _, err = run("pm", "profiles", "create", str(bad))
    assert code == exits.REFUSED
    fields = {line.split()[1].rstrip(":") for line in err.splitlines() if line.startswith("  field ")}
    assert {"performance_profile.job_type", "performance_profile.granularity"} <= fields, err
    code, out, err = run("-o", "json", "pm", "profiles", "create", str(bad))
    assert code == exits.REFUSED
    assert out == ""
    body = json.loads(err)
    assert body["code"] == "INVALID_ARGUMENT"
    assert len(body["fieldViolations"]) >= 2
    code, _, err = run("pm", "profiles", "create", str(tmp_path / "missing.json"))
    assert code == exits.USAGE


def test_jobs_list_get_suspend_resume_cancel(run: Run, profile_file: Path, client: InterludeClient) -> None:
    job = _running_job(run, profile_file, client)
    code, out, _ = run("pm", "jobs", "list", "--state", "in_progress", "--service", "alpha-evc-1")
    assert code == exits.OK
    assert out.splitlines()[0].split()[:3] == ["ID", "STATE", "PROFILE"]
    assert any(r.split()[:2] == [job["id"], "IN_PROGRESS"] for r in out.splitlines()[1:])
    assert run.json("pm", "jobs", "get", job["id"])["state"] == "PERFORMANCE_JOB_STATE_IN_PROGRESS"

    suspended = run.json("pm", "jobs", "suspend", job["id"], "--reason", "maintenance")
    assert suspended["state"] == "PERFORMANCE_JOB_STATE_SUSPENDED"
    code, _, err = run("pm", "jobs", "suspend", job["id"])
    assert code == exits.REFUSED
    assert "INVALID_STATE_TRANSITION" in err
    assert "current_state: suspended" in err
    assert run.json("pm", "jobs", "resume", job["id"])["state"] == "PERFORMANCE_JOB_STATE_IN_PROGRESS"

    task = run.json("pm", "jobs", "cancel", job["id"], "--reason", "done")
    assert task["taskType"] == "PERFORMANCE_JOB_TASK_TYPE_CANCEL"
    assert task["performanceJob"]["id"] == job["id"]
    _wait_for(
        lambda: client.get_performance_job(job["id"]).state == Pm.PERFORMANCE_JOB_STATE_CANCELLED,
        "the job was never cancelled",
    )
    code, out, _ = run("pm", "jobs", "get", job["id"])
    assert code == exits.OK
    assert "PERFORMANCE_JOB_STATE_CANCELLED" in out


def test_jobs_create_needs_a_file_or_profile_and_service(run: Run, tmp_path: Path) -> None:
    code, _, err = run("pm", "jobs", "create", "--profile", "p-1")
    assert code == exits.USAGE
    assert "--service" in err
    code, _, err = run("pm", "jobs", "create", "--profile", "no-such-profile", "--service", "alpha-evc-1")
    assert code in (exits.REFUSED, exits.NOT_FOUND), err
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps({"monitoredObject": {"service": {"id": "alpha-evc-1"}}}))
    code, _, err = run("pm", "jobs", "create", str(job_file))
    assert code == exits.REFUSED
    assert "performance_profile" in err
    code, _, _ = run("pm", "jobs", "get", "no-such-job")
    assert code == exits.NOT_FOUND


def test_reports_list_and_get(run: Run, profile_file: Path, client: InterludeClient) -> None:
    job = _running_job(run, profile_file, client)
    reports = _wait_for(
        lambda: (
            (found := run.json("pm", "reports", "list", "--job", job["id"], "--page-size", "1"))
            and len(found) >= 2
            and found
        ),
        "fewer than two reports",
    )
    assert {r["performanceJob"]["id"] for r in reports} == {job["id"]}
    code, out, _ = run("pm", "reports", "list", "--job", job["id"], "--limit", "1")
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ID", "STATE", "JOB"]
    assert len(rows) == 1
    full = run.json("pm", "reports", "get", reports[0]["id"])
    assert full["id"] == reports[0]["id"]
    assert full["state"] in ("PERFORMANCE_REPORT_STATE_COMPLETED", "PERFORMANCE_REPORT_STATE_FAILED")
    client.cancel_performance_job(job["id"])


def test_stream_follows_live_measurements_and_replays_once(
    run: Run, profile_file: Path, client: InterludeClient
) -> None:
    job = _running_job(run, profile_file, client)
    code, lines = run.json_lines("pm", "stream", "--job", job["id"], "--limit", "6", "--heartbeat", "1")
    assert code == exits.OK
    assert len(lines) == 6
    assert {m["performanceJobId"] for m in lines} == {job["id"]}
    assert {m["monitoredObject"]["service"]["id"] for m in lines} == {"alpha-evc-1"}
    first_bin = lines[0]["intervalStartTime"]

    code, out, _ = run(
        "pm", "stream", "--job", job["id"], "--once", "--since", "1970-01-01T00:00:01Z",
        "--metric", "availability", "--show-markers",
    )  # fmt: skip
    assert code == exits.OK
    *measured, marker = out.splitlines()
    assert marker.startswith("-- sync ")
    assert len(measured) >= 1
    assert all(job["id"] in line for line in measured)
    assert all("availability" in line for line in measured)
    assert any(line.startswith(first_bin) for line in measured)

    code, _, err = run("pm", "stream", "--once")
    assert code == exits.USAGE
    assert "--since" in err
    client.cancel_performance_job(job["id"])


def test_the_sync_client_pages_profiles_and_resumes_the_measurement_stream(client: InterludeClient) -> None:
    made = [client.create_performance_profile(profile(buyer_profile_id=f"paged-{i}")) for i in range(7)]
    listed = [p.id for p in client.list_performance_profiles(page_size=2)]
    assert {p.id for p in made} <= set(listed)
    assert len(listed) == len(set(listed))
    pager = client.list_performance_profiles(page_size=2)
    assert sum(1 for _ in pager.pages()) > 3

    job = client.create_performance_job(service_job(made[0].id, "alpha-evc-1"))
    stream = client.stream_performance_data(
        Pm.StreamPerformanceDataRequest(
            performance_job_ids=[job.id], range=common_pb2.TimeRange(after=epoch())
        )
    )
    try:
        kinds = []
        for response in stream:
            kinds.append(response.WhichOneof("kind"))
            if kinds.count("update") >= 2 and "sync" in kinds:
                break
    finally:
        stream.close()
    assert "update" in kinds
    task = client.cancel_performance_job(job.id, reason="test over")
    assert task.task_type == Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL


def test_the_async_client_does_the_same(pm_server: ServerProcess) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with AsyncInterludeClient(pm_server.target, buyer="sp-alpha") as aclient:
            made = await aclient.create_performance_profile(profile(buyer_profile_id="async"))
            assert (await aclient.get_performance_profile(made.id)).buyer_profile_id == "async"
            job = await aclient.create_performance_job(service_job(made.id, "alpha-evc-1"))
            jobs = [j.id async for j in aclient.list_performance_jobs(page_size=1)]
            measured = 0
            stream = aclient.stream_performance_data(
                Pm.StreamPerformanceDataRequest(performance_job_ids=[job.id])
            )
            try:
                async for response in stream:
                    measured += len(response.update.measurements)
                    if measured >= 4:
                        break
            finally:
                await stream.aclose()
            # measurements flowed, so the job is running and can be suspended
            suspended = await aclient.suspend_performance_job(job.id)
            resumed = await aclient.resume_performance_job(job.id)
            assert resumed.state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS
            task = await aclient.cancel_performance_job(job.id)
            assert task.performance_job.id == job.id
            return jobs.count(job.id), measured, suspended.state

    count, measured, state = asyncio.run(scenario())
    assert count == 1
    assert measured >= 4
    assert state == Pm.PERFORMANCE_JOB_STATE_SUSPENDED
