"""What does the access log cost? GetService on one inventory, two servers in the same run:
`--access-log all` (a line per call) and the default `--access-log changes` (reads that
succeed are not logged; metrics count them either way).

Same method as bench/workers.py: both servers on one SQLite file, h2load (4 connections x
16 streams) or the Python generator, alternating which goes first (ABBA...); the result is the
median calls/s and server CPU per call of each and the ratios changes / all.

Writes bench/results/access_log.json and access_log.md.

    .venv/bin/python -m bench.access_log [--services 10000] [--seconds 5] [--rounds 3]
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
from bench.harness import ServerProcess, launch, start_together, write_results
from bench.load import ensure_h2load


def measure(workdir: Path, services: int, seconds: float, rounds: int) -> dict[str, Any]:
    exe = ensure_h2load(install=False)
    run = unary.get_service_load(services, h2load_exe=exe, seconds=seconds)
    db = f"sqlite:///{unary.build_inventory(workdir / 'all', services)}"
    every, changes = start_together(
        [
            lambda: launch(workdir / "all", "--seed", "none", "--access-log", "all"),
            lambda: launch(workdir / "changes", "--seed", "none", "--db", db, "--access-log", "changes"),
        ],
        ServerProcess.stop,
    )
    with contextlib.ExitStack() as running:
        running.callback(every.stop)
        running.callback(changes.stop)
        sides = (
            unary.Side("all", every.target, every.proc.pid),
            unary.Side("changes", changes.target, changes.proc.pid),
        )
        result = unary.alternate(sides, rounds, run)
    return {"services": services, "load_average": os.getloadavg(), **result}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-access-log-") as tmp:
        data = measure(Path(tmp), args.services, args.seconds, args.rounds)
    every, changes = data["median"]["all"], data["median"]["changes"]
    rows = [
        [
            f"GetService, --access-log changes vs all ({data['generator']})",
            f"{changes['calls_per_s']:,.0f}/s, {changes['cpu_us_per_call']:.0f} µs CPU/call",
            f"{every['calls_per_s']:,.0f}/s, {every['cpu_us_per_call']:.0f} µs CPU/call",
            f"{data['ratio_calls_per_s']:.2f}x calls/s, {data['ratio_cpu_us_per_call']:.2f}x CPU",
        ]
    ]
    path = write_results("access_log", data, ["workload", "changes (default)", "all", "ratio"], rows)
    print(path.with_suffix(".md").read_text())
    print(f"load average during the run: {data['load_average']}")


if __name__ == "__main__":
    main()
