"""A write acknowledged to its caller survives the process being killed (kill -9)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER
from tests.support.paths import REPO

ACKS_BEFORE_KILL = 400
TIMEOUT_S = 30.0


def run_writer_and_kill(db: Path) -> list[str]:
    """Start the writer, SIGKILL it mid-stream, return every id it acknowledged."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("durability_writer.py")), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(acked) < ACKS_BEFORE_KILL:
            line = proc.stdout.readline().decode()
            assert line, (
                f"writer exited early: {proc.wait()} {proc.stderr.read().decode() if proc.stderr else ''}"
            )
            assert time.monotonic() < deadline, "writer too slow"
            if line.startswith("ack "):
                acked.append(line.split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
    # Lines already in the pipe were acknowledged before the kill, too.
    acked.extend(
        line.split()[1] for line in rest.decode().splitlines() if line.startswith("ack ") and " " in line
    )
    assert proc.returncode == -signal.SIGKILL
    return acked


async def missing_after_restart(db: Path, acked: list[str]) -> list[str]:
    store = SqliteStore(db)
    await store.open()
    try:
        return [sid for sid in acked if await store.get_service(BUYER, sid) is None]
    finally:
        await store.close()


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    acked = run_writer_and_kill(db)

    assert len(acked) >= ACKS_BEFORE_KILL
    assert asyncio.run(missing_after_restart(db, acked)) == []
