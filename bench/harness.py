"""What the benchmarks share: processes under test, statistics and result files.

Every benchmark measures our server and its baseline in the same run, on the
same machine, with the same load generator, alternating A/B over rounds so
that the machine's noise hits both alike, and reports medians and ratios.
Results go to bench/results/NAME.json (everything measured) and NAME.md
(the table a person reads).
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.server_process import ServerProcess, launch

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

__all__ = ["ROOT", "RawServer", "ServerProcess", "launch", "percentile", "start_raw", "write_results"]
START_TIMEOUT_S = 15.0


@dataclass
class RawServer:
    """The raw grpc.aio streaming baseline (bench/raw_stream.py) in its own process."""

    proc: subprocess.Popen[bytes]
    target: str

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_raw(workdir: Path, messages: Path, message_type: str) -> RawServer:
    """Start the baseline streaming `messages` (a raw_stream.write_messages file)."""
    ready = workdir / "raw.ready"
    ready.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(BENCH / "raw_stream.py"),
        "--messages",
        str(messages),
        "--message-type",
        message_type,
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None:
            raise RuntimeError(f"raw stream server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("raw stream server did not start")
        time.sleep(0.05)
    return RawServer(proc, ready.read_text().strip())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def environment() -> dict[str, Any]:
    import grpc

    return {
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "platform": platform.platform(),
        "cpus": _cpus(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def write_results(
    name: str, data: dict[str, Any], header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Path:
    """Write RESULTS/name.json and RESULTS/name.md (a markdown table); the JSON path."""
    RESULTS.mkdir(exist_ok=True)
    data = {"benchmark": name, **data, "environment": environment()}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    return path
