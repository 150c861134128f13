"""Faults a new user found in `interlude`, each against a real server process: integers
printed as floats, a traceback when piped into `head`, streams that hang on a wrong
--target, --validate-only answers that look stored, `connect --follow` without the new
service ids."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from interlude_client.cli import exits
from interlude_client.cli.context import NOTHING_STORED
from tests.e2e.client.test_cli import Run
from tests.support.paths import EXAMPLES
from tests.support.server_process import ServerProcess

GUARD_S = 60  # bounds a hang (the fault) so that it fails the test instead of stalling the suite


@pytest.fixture
def run(demo_server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(demo_server.target, capsys)


def _script() -> str:
    script = shutil.which("interlude", path=str(Path(sys.executable).parent))
    assert script is not None, "the interlude console script is not installed"
    return script


def test_integers_print_as_integers_in_json_and_tables(run: Run) -> None:
    code, out, _ = run("-o", "json", "services", "get", "alpha-uni-1")
    assert code == exits.OK
    assert re.search(r'"maximumFrameSize": 1522[,\n]', out)
    assert "1522.0" not in out
    assert json.loads(out)["serviceConfiguration"]["attributes"]["numberOfLinks"] == 1
    code, out, _ = run("services", "get", "alpha-uni-1")
    assert code == exits.OK
    assert '"maximumFrameSize":1522' in out
    assert "1522.0" not in out
    code, out, _ = run("-o", "json", "catalog", "policy", "carrier-ethernet-ovc-end-point")
    assert code == exits.OK
    assert ".0," not in out
    assert ".0\n" not in out


def test_a_closed_pipe_exits_quietly(demo_server: ServerProcess) -> None:
    """`interlude events watch --show-markers | head -1`: the reader goes away after the
    sync marker; the next heartbeat written meets a closed pipe, and the CLI exits 141
    without a traceback."""
    watch = subprocess.Popen(
        [_script(), "--target", demo_server.target, "events", "watch", "--show-markers",
         "--heartbeat", "1", "--resource", "alpha-uni-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline().startswith("-- sync ")
        watch.stdout.close()  # like `head -1` exiting
        code = watch.wait(timeout=GUARD_S)
        assert watch.stderr is not None
        err = watch.stderr.read()
    finally:
        watch.kill()
        watch.wait()
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert err == ""
    assert code == exits.PIPE_CLOSED


@pytest.fixture
def silent_port() -> Iterator[str]:
    """HOST:PORT of a socket that accepts connections but never speaks gRPC (a wrong --target)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("stream", [["events", "watch"], ["pm", "stream"]])
def test_a_stream_on_a_wrong_target_fails_within_the_connect_timeout(
    stream: list[str], silent_port: str
) -> None:
    """Nothing listening (the timeout from INTERLUDE_CONNECT_TIMEOUT), then a socket that
    is not a gRPC server (from --connect-timeout): exit 6, as a unary command would."""
    env = os.environ | {"INTERLUDE_CONNECT_TIMEOUT": "1"}
    for target, flags in (("127.0.0.1:1", ()), (silent_port, ("--connect-timeout", "1"))):
        done = subprocess.run(
            [_script(), "--target", target, *flags, *stream],
            capture_output=True,
            text=True,
            timeout=GUARD_S,
            check=False,
            env=env,
        )
        assert done.returncode == exits.UNAVAILABLE, done.stderr
        assert done.stderr.startswith("error: UNAVAILABLE")
        assert f"no connection to {target} within 1 s" in done.stderr
        assert done.stdout == ""


def test_validate_only_says_nothing_was_stored_in_every_command(run: Run, tmp_path: Path) -> None:
    external_id = f"DRY-{uuid.uuid4()}"
    order = json.loads((EXAMPLES / "order.json").read_text())
    order["externalId"] = external_id
    order_file = tmp_path / "order.json"
    order_file.write_text(json.dumps(order))
    later = json.loads(order_file.read_text()) | {"requestedStartDate": "2099-01-01T00:00:00Z"}
    held = tmp_path / "held.json"
    held.write_text(json.dumps(later | {"externalId": f"HELD-{uuid.uuid4()}"}))
    held_id = run.json("orders", "create", str(held))["id"]
    profile_id = run.json("pm", "profiles", "create", str(EXAMPLES / "pm-profile.json"))["id"]
    commands = [
        ("orders", "create", str(order_file)),
        ("orders", "cancel", held_id),
        ("connect", "alpha-uni-1", "alpha-uni-3", "--spec", "carrier-ethernet-evc",
         "--external-id", external_id),
        ("set-admin-state", "alpha-uni-2", "locked"),
        ("update", "alpha-ovc-1-ep-1", "--set", "ingressBandwidthProfilePerOvcEndPoint.cir.irValue=250"),
        ("pm", "profiles", "create", str(EXAMPLES / "pm-profile.json")),
        ("pm", "jobs", "create", "--profile", profile_id, "--service", "alpha-evc-1",
         "--buyer-job-id", external_id),
        ("pm", "jobs", "create", str(EXAMPLES / "pm-job.json")),
        ("tests", "profiles", "create", str(EXAMPLES / "test-profile.json")),
        ("tests", "run", "ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2", "--name", external_id),
    ]  # fmt: skip
    for command in commands:
        for form in ((), ("-o", "json")):
            code, out, err = run(*form, *command, "--validate-only")
            assert code == exits.OK, (command, err)
            assert err.strip() == NOTHING_STORED, command
            assert "nothing was stored" in err
            if form:
                json.loads(out)  # stdout stays one JSON document
    assert run.json("orders", "list", "--external-id", external_id) == []
    assert run.json("pm", "jobs", "list", "--buyer-job-id", external_id) == []
    assert run.json("tests", "jobs", "list", "--name", external_id) == []
    assert run.json("orders", "get", held_id)["state"] == "SERVICE_ORDER_STATE_ACKNOWLEDGED"
    code, _, err = run("orders", "cancel", held_id)
    assert code == exits.OK, err
    assert NOTHING_STORED not in err


def test_connect_follow_prints_the_created_service_ids(run: Run) -> None:
    code, out, err = run(
        "connect", "alpha-uni-1", "alpha-uni-3", "--spec", "carrier-ethernet-evc", "--follow"
    )
    assert code == exits.OK, err
    lines = out.splitlines()
    created = [line.split() for line in lines if line.startswith("created ")]
    assert "COMPLETED" in lines[-len(created) - 1]
    assert [(c[1], c[2]) for c in created] == [
        ("connectivity", "carrier-ethernet-evc"),
        ("end-point-1", "carrier-ethernet-evc-end-point"),
        ("end-point-2", "carrier-ethernet-evc-end-point"),
    ]
    evc_id = created[0][3]
    evc = run.json("services", "get", evc_id)
    assert evc["serviceConfiguration"]["@type"].endswith(":carrier-ethernet-evc:v0.0.1:all")
    end_points = {s["id"] for s in run.json("services", "list", "--related", evc_id)}
    assert end_points == {created[1][3], created[2][3]}
