"""`interlude-server` flags, checked on the real command line."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from interlude_server.config import parse_args
from tests.support.server_process import ServerProcess


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interlude_server.runtime.main", *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--grpc-listen", "localhost"], ["--grpc-listen", "HOST:PORT", "'localhost'"]),
        (["--grpc-listen", "127.0.0.1:70000"], ["--grpc-listen", "0 to 65535"]),
        (["--seed", "/nonexistent/seed.json"], ["--seed", "/nonexistent/seed.json"]),
        (["--db", "mysql://db/interlude"], ["--db", "sqlite:///PATH", "postgresql://"]),
        (["--rest-listen", "localhost"], ["--rest-listen", "HOST:PORT"]),
        (["--hub-max-attempts", "0"], ["--hub-max-attempts", "at least 1"]),
        (["--shutdown-grace", "-1"], ["--shutdown-grace", ">= 0"]),
        (["--log-format", "xml"], ["--log-format", "json", "console"]),
        (["--sim-time-scale", "0"], ["--sim-time-scale", "positive number"]),
        (["--db-max-bytes", "4096"], ["--db-max-bytes", "at least 65536"]),
        (
            ["--db", "postgresql://u@h/db", "--db-max-bytes", "65536"],
            ["--db-max-bytes", "SQLite only"],
        ),
        (["--sqlite-mmap-mb", "-1"], ["--sqlite-mmap-mb", "must not be negative"]),
        (["--workers", "0"], ["--workers", "at least 1"]),
        (["--lease-ttl", "0"], ["--lease-ttl", "> 0"]),
        (["--event-replay-tail", "-1"], ["--event-replay-tail", "must not be negative"]),
    ],
    ids=[
        "listen-no-port",
        "listen-port-range",
        "seed-missing",
        "db-not-sqlite",
        "rest-listen-no-port",
        "hub-attempts",
        "grace",
        "log",
        "time-scale",
        "db-max-bytes",
        "db-max-bytes-postgresql",
        "sqlite-mmap",
        "workers",
        "lease-ttl",
        "event-replay-tail",
    ],
)
def test_bad_flag_exits_2_naming_the_flag(args: list[str], expected: list[str]) -> None:
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: interlude-server"), result.stderr
    for fragment in expected:
        assert fragment in result.stderr, result.stderr


def test_port_in_use_exits_1_with_a_bind_error(
    launch_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = launch_server()
    result = _run(
        "--grpc-listen", first.target, "--db", f"sqlite:///{tmp_path}/second.db", "--log-format", "json"
    )
    assert result.returncode == 1, result.stderr
    assert '"event": "server.bind_failed"' in result.stderr
    assert first.target in result.stderr


def test_a_worker_group_on_a_port_in_use_exits_1(
    launch_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = launch_server()  # binds without SO_REUSEPORT: workers cannot share its port
    db = f"sqlite:///{tmp_path}/group.db"
    result = _run("--grpc-listen", first.target, "--db", db, "--workers", "2", "--log-format", "json")
    assert result.returncode == 1, result.stderr
    assert '"event": "server.bind_failed"' in result.stderr
    assert '"event": "worker.failed_to_start"' in result.stderr


def test_database_directory_is_created_and_the_demo_seed_is_loaded(
    launch_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    db = tmp_path / "nested" / "dir" / "interlude.db"
    server = launch_server("--db", f"sqlite:///{db}", "--seed", "demo")
    assert db.parent.is_dir()
    logs = server.logs()
    assert db.is_file()
    assert '"event": "seed.loaded"' in logs
    assert "services_loaded=23" in logs


def test_a_bad_sim_seed_or_test_fault_file_exits_2_naming_the_problem(tmp_path: Path) -> None:
    seed = _run("--sim-seed", "abc")
    assert seed.returncode == 2
    assert "--sim-seed" in seed.stderr
    faults = tmp_path / "faults.json"
    faults.write_text('{"testFaults": [{"jobName": "X*", "effect": "melt"}]}')
    bad = _run(
        "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--sim-faults", str(faults), "--log-format", "json"
    )
    assert bad.returncode == 2
    assert "sim_faults.invalid" in bad.stderr
    assert "testFaults[0]" in bad.stderr


def test_db_names_a_sqlite_file_by_url_or_path_or_a_postgresql_database() -> None:
    assert parse_args(["--db", "sqlite:///var/x.db"]).db_path == Path("var/x.db")
    assert parse_args(["--db", "var/y.db"]).db_path == Path("var/y.db")
    pg = parse_args(["--db", "postgresql://u@db.example.net:5433/interlude?sslmode=require"])
    assert pg.db_path is None
    assert pg.db_url == "postgresql://u@db.example.net:5433/interlude?sslmode=require"


def test_an_unreachable_postgresql_exits_1_without_logging_the_password() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _run("--db", f"postgresql://u:hunter2@127.0.0.1:{port}/db", "--log-format", "json")
    assert result.returncode == 1, result.stderr
    assert '"event": "store.unavailable"' in result.stderr
    assert "cannot reach the database" in result.stderr
    assert "hunter2" not in result.stderr
