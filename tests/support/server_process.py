"""Real `interlude-server` processes for tests.

A server process is `python -m interlude_server.runtime.main` on 127.0.0.1 port 0 with
its own SQLite path (or the PostgreSQL database given as `db`), JSON logs to a
file and a ready file that tells where it listens; it is started for real and
stopped with SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

START_TIMEOUT_S = 15.0


# The database of a server started without `db`: None keeps it on a SQLite file in its
# directory. With INTERLUDE_TEST_STORE=postgresql, tests/conftest.py sets this to hand
# every server a PostgreSQL database of its own (the same one again on a restart).
def sqlite_in_workdir(workdir: Path) -> str | None:
    return None


default_db: Callable[[Path], str | None] = sqlite_in_workdir


@dataclass
class ServerProcess:
    """A running `interlude-server` process and where it listens."""

    proc: subprocess.Popen[bytes]
    target: str
    log_path: Path
    workdir: Path
    args: list[str] = field(default_factory=list)
    rest: str = ""  # HOST:PORT of the REST adapter, when started with --rest-listen
    metrics: str = ""  # HOST:PORT of /metrics, when started with --metrics-listen
    network: str = ""  # HOST:PORT of the southbound NetworkService, when started with --network-listen

    @property
    def rest_url(self) -> str:
        return f"http://{self.rest}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def server_command(workdir: Path, *extra_args: str, db: str | None = None) -> list[str]:
    """The command line of a test server whose files all live in `workdir` (and whose
    data too, unless `db` names a database). Test servers log every call (`--access-log
    all`, unless the extra arguments choose): many tests read the access log of reads, which
    the server's default (`changes`) leaves out; tests/e2e/grpc/test_access_log.py checks
    the default itself."""
    access = [] if any(a.startswith("--access-log") for a in extra_args) else ["--access-log", "all"]
    return [
        sys.executable,
        "-m",
        "interlude_server.runtime.main",
        "--grpc-listen",
        "127.0.0.1:0",
        "--db",
        db or f"sqlite:///{workdir / 'interlude.db'}",
        "--ready-file",
        str(workdir / "ready"),
        "--log-format",
        "json",
        *access,
        *extra_args,
    ]


def _channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials)


def _wait_until_serving(target: str, deadline: float, credentials: grpc.ChannelCredentials | None) -> None:
    with _channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target} did not report SERVING in time")
            time.sleep(0.05)


def launch(
    workdir: Path,
    *extra_args: str,
    credentials: grpc.ChannelCredentials | None = None,
    db: str | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> ServerProcess:
    """Start a server process and wait (bounded) until it is ready and SERVING
    (health is checked over TLS with `credentials` when given); `db` as in server_command;
    `preexec_fn` runs in the child just before the exec (e.g. to drop privileges)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready"
    log_path = workdir / "server.log"
    args = server_command(workdir, *extra_args, db=db if db is not None else default_db(workdir))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn
        )
    server = ServerProcess(proc, "", log_path, workdir, args)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no ready file after {START_TIMEOUT_S}s:\n{server.logs()}")
            time.sleep(0.05)
        first, *others = ready.read_text().split()
        server.target = first
        server.rest = next((o.removeprefix("rest=") for o in others if o.startswith("rest=")), "")
        server.metrics = next((o.removeprefix("metrics=") for o in others if o.startswith("metrics=")), "")
        server.network = next((o.removeprefix("network=") for o in others if o.startswith("network=")), "")
        _wait_until_serving(server.target, deadline, credentials)
    except BaseException:
        server.stop(timeout=2.0)
        raise
    return server


def serve_demo(
    workdir: Path, *args: str, credentials: grpc.ChannelCredentials | None = None
) -> Iterator[ServerProcess]:
    """A demo-seeded server with a fast simulator, for a module fixture: stopped (exit 0) after."""
    running = launch(workdir, "--seed", "demo", "--sim-step-delay", "0.02", *args, credentials=credentials)
    yield running
    assert running.stop() == 0
