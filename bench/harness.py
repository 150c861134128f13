"""What the benchmarks share: processes under test, statistics and result files.

Every benchmark measures our server and its baseline in the same run, on the
same machine, with the same load generator, alternating A/B over rounds so
that the machine's noise hits both alike, and reports medians and ratios.
Results go to bench/results/NAME.json (everything measured) and NAME.md
(the table a person reads).
"""

from __future__ import annotations

import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.support import server_process
from tests.support.server_process import ServerProcess

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# BENCH_RESULTS moves every result file elsewhere (the smoke run writes to a temporary directory)
RESULTS = Path(os.environ.get("BENCH_RESULTS") or BENCH / "results")
# The bench measures the server as shipped: its default access log (`changes`), not the
# `all` the test harness asks for, unless BENCH_ACCESS_LOG says otherwise (all, changes,
# errors) to measure what a choice costs.
ACCESS_LOG = os.environ.get("BENCH_ACCESS_LOG", "changes")


def launch(workdir: Path, *extra_args: str, **kwargs: Any) -> ServerProcess:
    """tests.support.server_process.launch, with the access log of BENCH_ACCESS_LOG."""
    if not any(a.startswith("--access-log") for a in extra_args):
        extra_args = ("--access-log", ACCESS_LOG, *extra_args)
    return server_process.launch(workdir, *extra_args, **kwargs)


__all__ = [
    "ROOT",
    "MachineLoad",
    "RawServer",
    "ServerProcess",
    "compile_sources",
    "cpu_seconds",
    "launch",
    "memory_mib",
    "percentile",
    "start_echo",
    "start_raw",
    "start_together",
    "tree_cpu_seconds",
    "write_results",
]
START_TIMEOUT_S = 15.0
T = TypeVar("T")
# What the processes a benchmark starts import from this repository (the rest is installed)
SOURCES = (
    "server/interlude_server",
    "interlude_grpc",
    "bench",
    "tests/__init__.py",
    "tests/support/__init__.py",
    "tests/support/server_process.py",
)


def compile_sources() -> None:
    """Write the bytecode of SOURCES (to their __pycache__, as an import would) unless it is
    fresh. With PYTHONDONTWRITEBYTECODE set no import writes it, and then every server and
    baseline process the suite starts compiles the server's modules from source again: about
    0.4 s of CPU each, a dozen times per run."""
    for source in SOURCES:
        path = ROOT / source
        if path.is_dir():
            compileall.compile_dir(path, quiet=1)
        else:
            compileall.compile_file(path, quiet=1)


@dataclass
class RawServer:
    """A raw grpc.aio baseline (bench/raw_stream.py or bench/echo.py) in its own process."""

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
    args = ["--messages", str(messages), "--message-type", message_type]
    return start_baseline(workdir, "raw_stream", args)


def start_echo(workdir: Path, responses: dict[str, bytes]) -> RawServer:
    """Start the raw unary echo baseline (bench/echo.py) answering each path with its bytes."""
    args: list[str] = []
    for n, (path, body) in enumerate(responses.items()):
        file = workdir / f"echo-{n}.bin"
        file.write_bytes(body)
        args += ["--response", f"{path}={file}"]
    return start_baseline(workdir, "echo", args)


def start_baseline(workdir: Path, module: str, args: Sequence[str]) -> RawServer:
    """Start bench.`module` with `args` and a ready file; wait (bounded) until it listens."""
    ready = workdir / f"{module}.ready"
    ready.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", f"bench.{module}", *args, "--ready-file", str(ready)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None:
            raise RuntimeError(f"bench.{module} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"bench.{module} did not start")
        time.sleep(0.05)
    return RawServer(proc, ready.read_text().strip())


def start_together(starts: Sequence[Callable[[], T]], stop: Callable[[T], object]) -> list[T]:
    """Run independent start-ups at once, each in a thread (each mostly waits for a process of
    its own to come up; start-up is never measured); their results in order. If one fails,
    the others that came up are stopped with `stop` and the first error is raised."""
    with ThreadPoolExecutor(len(starts)) as pool:
        futures = [pool.submit(start) for start in starts]
    errors = [error for error in (future.exception() for future in futures) if error is not None]
    if errors:
        for future in futures:
            if future.exception() is None:
                stop(future.result())
        raise errors[0]
    return [future.result() for future in futures]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/PID/stat utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat(5)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants (a `--workers N` supervisor and its workers)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        total += sum(tree_cpu_seconds(int(child)) for child in children)
    return total


def memory_mib(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of a process, in MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return {key: round(int(status[key].split()[0]) / 1024, 1) for key in ("VmHWM", "VmRSS")}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(total, idle + iowait, steal) of the whole machine from /proc/stat; None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]), fields[3] + fields[4], steal


class MachineLoad:
    """How busy the whole machine was between its creation and `sample()`: the share of CPU
    time not idle (every process, ours and others'), the share a hypervisor stole, and the
    load average. Latency has no baseline to be a ratio of, so these say how loud the noise
    was while it was measured."""

    def __init__(self) -> None:
        self._start = _cpu_jiffies()

    def sample(self) -> dict[str, float]:
        end = _cpu_jiffies()
        out = {"load_average_1m": round(os.getloadavg()[0], 2)}
        if self._start is None or end is None or end[0] <= self._start[0]:
            return out
        total = end[0] - self._start[0]
        out["machine_busy_pct"] = round(100 * (total - (end[1] - self._start[1])) / total, 1)
        out["steal_pct"] = round(100 * (end[2] - self._start[2]) / total, 1)
        return out


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
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def write_results(
    name: str, data: dict[str, Any], header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Path:
    """Write RESULTS/name.json and RESULTS/name.md (a markdown table); the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
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
