"""A server whose Partner network is out of process: `--partner remote` plus the simulator
as a network worker attached to it, the Python one (`python -m interlude_server.partner.worker`)
or the Node.js one (tests/node/sim_backend.js, same flags)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tests.support.paths import REPO
from tests.support.server_process import START_TIMEOUT_S, ServerProcess, launch

ATTACHED = '"event": "network.worker_attached"'
NODE_SIM = REPO / "tests" / "node" / "sim_backend.js"
Runtime = Literal["python", "node"]


@dataclass
class NetworkWorker:
    """A running worker process, its log."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _worker_command(runtime: Runtime) -> list[str]:
    if runtime == "python":
        return [sys.executable, "-m", "interlude_server.partner.worker"]
    node = shutil.which("node")
    assert node is not None, "node is required (make install brings the packages)"
    return [node, str(NODE_SIM)]


def start_worker(
    server: ServerProcess, *args: str, name: str = "sim-1", runtime: Runtime = "python"
) -> NetworkWorker:
    """Start the simulator worker (in `runtime`) against `server`'s network listener (not
    waiting for it)."""
    log_path = server.workdir / f"worker-{name}.log"
    command = [*_worker_command(runtime), "--server", server.network]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--name", name, "--log-format", "json", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return NetworkWorker(proc, log_path)


class Logged(Protocol):
    def logs(self) -> str: ...


def wait_for_log(process: Logged, needle: str, count: int = 1) -> None:
    """Until the process's log (a server's or a worker's) holds `needle` `count` times
    (bounded: raises TimeoutError)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while process.logs().count(needle) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} not logged {count} time(s):\n{process.logs()[-4000:]}")
        time.sleep(0.05)


def serve_remote(
    workdir: Path,
    *server_args: str,
    worker_args: tuple[str, ...] = (),
    db: str | None = None,
    runtime: Runtime = "python",
) -> Iterator[ServerProcess]:
    """For a fixture: a `--partner remote` server with one simulator worker (in `runtime`)
    attached; both stopped after (the server with exit code 0)."""
    server = launch(workdir, "--partner", "remote", "--network-listen", "127.0.0.1:0", *server_args, db=db)
    worker = start_worker(server, *worker_args, runtime=runtime)
    try:
        wait_for_log(server, ATTACHED)
        yield server
    finally:
        worker.stop()
        assert server.stop() == 0
