"""A real server with the demo seed and a fast Partner simulator, shared per test module.

Its data lives where `db_for` (tests/conftest.py) says: on SQLite, or once per store in
modules marked `pytest.mark.stores("sqlite", "postgresql")`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import DbFor
from tests.support.helpers import Stubs
from tests.support.network import Runtime, serve_remote
from tests.support.server_process import ServerProcess, launch

# Where the Partner network runs: in the server (the embedded simulator), or out of process
# behind the southbound contract (`--partner remote` and the simulator as a network worker:
# "remote" the Python one, "node" the Node.js one, tests/node/sim_backend.js).
PARTNERS = ("simulator", "remote", "node")
# The out-of-process variants: the contract is store-independent, so they run on SQLite only.
OUT_OF_PROCESS: dict[str, Runtime] = {"remote": "python", "node": "node"}

FAULTS = {
    "faults": [{"externalId": "FAIL-*", "reason": "simulated: the Partner's NE rejected the change"}],
    # A test job named FAIL-* misses its loss threshold in every CIR step (verdict FAIL).
    "testFaults": [
        {
            "jobName": "FAIL-*",
            "effect": "breach",
            "step": "cir-step-*",
            "metric": "frameLossRatio",
            "value": 2.5,
        },
        # A test (or FM) job named BROKEN-FM-* cannot run: its first step's test head is gone.
        {
            "jobName": "BROKEN-FM-*",
            "effect": "error",
            "step": "*",
            "errorCode": "TEST_HEAD_UNAVAILABLE",
            "reason": "simulated: the test head did not answer",
        },
    ],
}


def launch_demo(workdir: Path, *extra: str, db: str | None = None) -> ServerProcess:
    """A server with the demo seed, a fast simulator and the FAULTS rules, plus `extra` flags."""
    faults = workdir / "faults.json"
    faults.write_text(json.dumps(FAULTS))
    return launch(
        workdir, "--seed", "demo", "--sim-step-delay", "0.02", "--sim-faults", str(faults), *extra, db=db
    )


def serve_demo_as(partner: str, workdir: Path, db: str | None) -> Iterator[ServerProcess]:
    """For a fixture: `launch_demo`'s server, its Partner network in `partner` (PARTNERS)."""
    if partner == "simulator":
        running = launch_demo(workdir, db=db)
        yield running
        assert running.stop() == 0
        return
    faults = workdir / "worker-faults.json"
    workdir.mkdir(parents=True, exist_ok=True)
    faults.write_text(json.dumps(FAULTS))
    worker = ("--sim-step-delay", "0.02", "--sim-faults", str(faults))
    yield from serve_remote(
        workdir, "--seed", "demo", worker_args=worker, db=db, runtime=OUT_OF_PROCESS[partner]
    )


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("demo")
    running = launch_demo(workdir, db=db_for(workdir))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def stubs(demo_server: ServerProcess) -> Iterator[Stubs]:
    with grpc.insecure_channel(demo_server.target) as channel:
        yield Stubs.on(channel)
