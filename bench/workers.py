"""Does `--workers 2` scale GetService? One server process vs two sharing the port, same run.

Builds one SQLite file holding `--services` services of one buyer (as
bench/unary.py does), starts a single-process server and a `--workers 2`
server on that same file (read-only load: they do not disturb each other),
and drives both with the same load generator (h2load, 16 connections x 4
streams, so the kernel's SO_REUSEPORT spreads connections over both workers;
the Python generator if h2load is missing). Rounds alternate the two sides
(ABBA...); the result is the median calls/s of each, and the ratio workers/1
(the issue's goal: >= 1.6 on a 2-core machine). CPU per call counts every
process of a side (the supervisor and its workers). The load generator runs
on the same cores, and so does whatever else the machine is doing: read the
ratio with the load average that is recorded beside it.

Writes bench/results/workers.json and workers.md.

    .venv/bin/python -m bench.workers [--services 10000] [--seconds 5] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import unary
from bench.harness import ServerProcess, launch, start_together, tree_cpu_seconds, write_results
from bench.load import ensure_h2load


def measure(workdir: Path, services: int, seconds: float, rounds: int, workers: int) -> dict[str, Any]:
    exe = ensure_h2load(install=False)
    # 16 connections x 4 streams: the kernel spreads connections, not calls, over the workers.
    run = unary.get_service_load(services, h2load_exe=exe, seconds=seconds, connections=16)
    db = f"sqlite:///{unary.build_inventory(workdir / 'one', services)}"
    single, group = start_together(
        [
            lambda: launch(workdir / "one", "--seed", "none"),
            lambda: launch(workdir / "group", "--seed", "none", "--db", db, "--workers", str(workers)),
        ],
        ServerProcess.stop,
    )
    with contextlib.ExitStack() as running:
        running.callback(single.stop)
        running.callback(group.stop)
        sides = (
            unary.Side("1 process", single.target, single.proc.pid),
            unary.Side(f"{workers} workers", group.target, group.proc.pid),
        )
        result = unary.alternate(sides, rounds, run, cpu=tree_cpu_seconds)
    return {"services": services, "workers": workers, "load_average": os.getloadavg(), **result}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        data = measure(Path(tmp), args.services, args.seconds, args.rounds, args.workers)
    one, many = data["median"]["1 process"], data["median"][f"{args.workers} workers"]
    ratio = data["ratio_calls_per_s"]
    rows = [
        [
            f"GetService, {args.workers} workers vs 1 process ({data['generator']})",
            f"{many['calls_per_s']:,.0f}/s, {many['cpu_us_per_call']:.0f} µs CPU/call",
            f"{one['calls_per_s']:,.0f}/s, {one['cpu_us_per_call']:.0f} µs CPU/call",
            f"{ratio:.2f}x",
            "≥ 1.6x",
            "met" if ratio >= 1.6 else "NOT met",
        ]
    ]
    path = write_results("workers", data, ["workload", "workers", "1 process", "ratio", "goal", ""], rows)
    print(path.with_suffix(".md").read_text())
    print(f"load average during the run: {data['load_average']}")


if __name__ == "__main__":
    main()
