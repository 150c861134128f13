"""`interlude pm ...` for the rest of MEF PM v5 against a real, time-scaled server: a job
modified and cancelled through tasks followed to their end, tasks and tracking records,
a profile updated, a recurring job, and an ad-hoc report fetched as a CSV file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from interlude_client import InterludeClient
from interlude_client.cli import exits
from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from tests.e2e.client.test_cli import Run
from tests.support.pm_helpers import launch_pm_server, profile
from tests.support.server_process import ServerProcess

Pm = performance_pb2
CSV_HEADER = "monitoredObjectType,monitoredObjectId,measurementStartDate,measurementEndDate,resultType"


@pytest.fixture(scope="module")
def pm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_pm_server(tmp_path_factory.mktemp("pm-v5-cli"))
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
    path.write_text(json_format.MessageToJson(profile(description="v5")))
    return path


def _wait_for_state(client: InterludeClient, job_id: str, state: Pm.PerformanceJobState.ValueType) -> None:
    deadline = time.monotonic() + 15
    while client.get_performance_job(job_id).state != state:
        assert time.monotonic() < deadline, f"job {job_id} never reached {Pm.PerformanceJobState.Name(state)}"
        time.sleep(0.05)


def _job(run: Run, profile_file: Path, *options: str) -> dict[str, Any]:
    made = run.json("pm", "profiles", "create", str(profile_file))
    job: dict[str, Any] = run.json(
        "pm", "job", "create", "--profile", made["id"], "--service", "alpha-evc-1", *options
    )
    return job


def test_a_job_is_modified_then_cancelled_through_followed_tasks(
    run: Run, profile_file: Path, client: InterludeClient
) -> None:
    job = _job(run, profile_file)
    _wait_for_state(client, job["id"], Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    code, _, err = run("pm", "jobs", "modify", job["id"], "--description", "too early")
    assert code == exits.REFUSED  # only a scheduled or suspended job can be modified
    assert "INVALID_STATE_TRANSITION" in err
    run.json("pm", "jobs", "suspend", job["id"])

    code, out, err = run("pm", "jobs", "modify", job["id"], "--validate-only", "--description", "x")
    assert code == exits.OK, err
    assert "validate-only: the server checked the request and accepted it; nothing was stored" in err
    code, out, err = run(
        "pm", "job", "modify", job["id"], "--description", "quieter", "--granularity", "30min",
        "--reason", "less data", "--follow",
    )  # fmt: skip
    assert code == exits.OK, err
    lines = out.splitlines()
    assert all(line.startswith("task ") and f"job {job['id']}" in line for line in lines)
    assert lines[-1].split()[2:4] == ["MODIFY", "COMPLETED"]
    modify_id = lines[-1].split()[1]
    changed = run.json("pm", "jobs", "get", job["id"])
    assert changed["description"] == "quieter"

    code, items = run.json_lines("pm", "jobs", "cancel", job["id"], "--reason", "done", "-f")
    assert code == exits.OK
    assert items[-1]["taskType"] == "PERFORMANCE_JOB_TASK_TYPE_CANCEL"
    assert items[-1]["state"] == "PERFORMANCE_JOB_PROCESS_STATE_COMPLETED"
    assert items[-1]["reason"] == "done"
    _wait_for_state(client, job["id"], Pm.PERFORMANCE_JOB_STATE_CANCELLED)

    tasks = run.json("pm", "tasks", "list", "--job", job["id"])
    assert {(t["id"], t["taskType"]) for t in tasks} == {
        (modify_id, "PERFORMANCE_JOB_TASK_TYPE_MODIFY"),
        (items[-1]["id"], "PERFORMANCE_JOB_TASK_TYPE_CANCEL"),
    }
    code, out, _ = run("pm", "tasks", "list", "--job", job["id"], "--type", "modify")
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["ID", "TYPE", "STATE", "JOB"]
    assert [r.split()[:3] for r in rows] == [[modify_id, "MODIFY", "COMPLETED"]]
    got = run.json("pm", "tasks", "get", modify_id)
    assert got["modification"]["description"] == "quieter"
    assert got["reason"] == "less data"
    assert run("pm", "tasks", "get", "no-such-task")[0] == exits.NOT_FOUND

    code, out, _ = run("pm", "tracking", "list", "--object", job["id"])
    assert code == exits.OK
    header, *rows = out.splitlines()
    assert header.split() == ["CREATED", "TYPE", "OBJECT", "SOURCE", "DESCRIPTION"]
    assert len(rows) >= 3
    assert all(job["id"] in r and "PERFORMANCE_JOB" in r for r in rows)


def test_a_profile_is_updated(run: Run, profile_file: Path) -> None:
    made = run.json("pm", "profiles", "create", str(profile_file))
    code, _out, err = run("pm", "profiles", "update", made["id"], "--description", "x", "--validate-only")
    assert code == exits.OK, err
    assert "nothing was stored" in err
    updated = run.json(
        "pm", "profile", "update", made["id"], "--status", "deprecated", "--granularity", "5 min",
        "--etag", made["etag"],
    )  # fmt: skip
    assert updated["lifecycleStatus"] == "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_DEPRECATED"
    assert updated["granularity"] == {"value": "5", "units": "TIME_DURATION_UNITS_MIN"}
    assert updated["description"] == "v5"  # not in the mask: unchanged
    code, _, err = run("pm", "profiles", "update", made["id"], "--description", "y", "--etag", made["etag"])
    assert code == exits.REFUSED  # a stale etag
    assert "ABORTED" in err
    code, _, err = run("pm", "profiles", "update", made["id"])
    assert code == exits.USAGE
    assert "nothing to update" in err


def test_a_recurring_job_is_created_with_its_schedule(run: Run, profile_file: Path) -> None:
    options = ("--cron", "0 */5 * * * *", "--execution-duration", "15min")
    checked = _job(run, profile_file, "--validate-only", *options)
    assert "id" not in checked
    job = _job(run, profile_file, *options)
    schedule = job["scheduleDefinition"]
    assert schedule["recurringSchedule"] == {
        "second": "0", "minute": "*/5", "hour": "*", "dayOfMonth": "*", "month": "*", "dayOfWeek": "*",
    }  # fmt: skip
    assert schedule["executionDuration"] == {"value": "15", "units": "TIME_DURATION_UNITS_MIN"}
    assert run.json("pm", "jobs", "get", job["id"])["scheduleDefinition"] == schedule
    code, _, err = run(
        "pm", "jobs", "create", "--profile", job["performanceProfileRef"]["id"], "--service", "alpha-evc-1",
        "--cron", "0 nonsense * * * *",
    )  # fmt: skip
    assert code == exits.REFUSED
    assert "minute" in err


def test_an_adhoc_report_is_followed_and_fetched_as_a_csv_file(run: Run, tmp_path: Path) -> None:
    end = (int(time.time()) // 3600) * 3600
    frame = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (end - 3600, end)]
    code, out, err = run(
        "pm", "reports", "create", "--service", "alpha-evc-1", "--start", frame[0], "--end", frame[1],
        "--format", "csv", "--delivery", "attachment", "--follow",
    )  # fmt: skip
    assert code == exits.OK, err
    lines = out.splitlines()
    report_id = lines[0].split()[1]
    assert [line.split()[2] for line in lines][-1] == "COMPLETED"
    assert all(line.split()[1] == report_id for line in lines)

    saved = tmp_path / "report.csv"
    code, out, err = run("pm", "report", "file", report_id, "--format", "csv", "-o", str(saved))
    assert code == exits.OK, err
    assert out.startswith(f"wrote {saved}: ")
    assert " bytes, text/csv" in out
    header, *rows = saved.read_text().splitlines()
    assert header.startswith(CSV_HEADER + ",")
    assert len(rows) == 4  # an hour in 15-minute intervals
    assert all(r.startswith("ServiceRef,alpha-evc-1,") for r in rows)
    code, out, _ = run("pm", "reports", "file", report_id)
    assert (code, out.splitlines()[0]) == (exits.OK, header)
    code, _, err = run("pm", "reports", "file", report_id, "--format", "json")
    assert code == exits.USAGE
    assert "text/csv" in err
    assert run("pm", "reports", "file", "no-such-report")[0] == exits.NOT_FOUND

    code, _, err = run("pm", "reports", "create", "--service", "alpha-evc-1", "--format", "csv")
    assert code == exits.USAGE
    assert "--start" in err
    code, _, err = run(
        "pm", "reports", "create", "--service", "alpha-evc-1", "--start", frame[0], "--end", frame[1],
        "--format", "csv",
    )  # fmt: skip
    assert code == exits.REFUSED  # csv cannot be inline
    assert "output_format" in err
