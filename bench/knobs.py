"""What does a server knob cost or save? GetService on one inventory, two servers in the same
run that differ only in that knob:

- `--knob access-log`: `--access-log all` (a line per call) vs the default `--access-log
  changes` (reads that succeed are not logged; metrics count them either way);
- `--knob read-cache`: `--read-cache 0` (every GetService reads its row) vs the default read
  cache (the service's stored bytes kept in memory, dropped as its writes commit);
- `--knob sqlite-mmap`: `--sqlite-mmap-mb 0` vs the default 1024 (readers map the file), both
  with `--read-cache 0` and GetService spread over every service in a shuffled order (the
  Python generator), so that every call reads a row and most miss SQLite's own cache.

Same method as bench/workers.py: both servers on one SQLite file, h2load (4 connections x
16 streams) or the Python generator, alternating which goes first (ABBA...); the result is the
median calls/s and server CPU per call of each and the ratios default / other.

Writes bench/results/KNOB.json and KNOB.md (access_log, read_cache, sqlite_mmap).

    .venv/bin/python -m bench.knobs --knob access-log|read-cache|sqlite-mmap \
        [--services 10000] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import unary
from bench.harness import ServerProcess, launch, start_together, write_results
from bench.load import ensure_h2load


@dataclass(frozen=True)
class Knob:
    results: str  # the name of its result files
    title: str  # what its row in the suite's table says
    other: tuple[str, tuple[str, ...]]  # the side compared with the default: name, flags
    default: tuple[str, tuple[str, ...]]  # the shipped default: name, flags
    spread: bool = False  # GetService over every service, not always the same one


KNOBS = {
    "access-log": Knob(
        "access_log",
        "--access-log changes (default) vs all",
        ("all", ("--access-log", "all")),
        ("changes", ("--access-log", "changes")),
    ),
    "read-cache": Knob(
        "read_cache",
        "--read-cache 16384 (default) vs 0",
        ("off", ("--read-cache", "0")),
        ("on", ("--read-cache", "16384")),
    ),
    "sqlite-mmap": Knob(
        "sqlite_mmap",
        "--sqlite-mmap-mb 1024 (default) vs 0, --read-cache 0, every service",
        ("unmapped", ("--read-cache", "0", "--sqlite-mmap-mb", "0")),
        ("mapped", ("--read-cache", "0", "--sqlite-mmap-mb", "1024")),
        spread=True,
    ),
}


def measure(knob: Knob, workdir: Path, services: int, seconds: float, rounds: int) -> dict[str, Any]:
    exe = ensure_h2load(install=False)
    run = unary.get_service_load(services, h2load_exe=exe, seconds=seconds, spread=knob.spread)
    (other, other_flags), (default, default_flags) = knob.other, knob.default
    db = f"sqlite:///{unary.build_inventory(workdir / other, services)}"
    first, second = start_together(
        [
            lambda: launch(workdir / other, "--seed", "none", *other_flags),
            lambda: launch(workdir / default, "--seed", "none", "--db", db, *default_flags),
        ],
        ServerProcess.stop,
    )
    with contextlib.ExitStack() as running:
        running.callback(first.stop)
        running.callback(second.stop)
        sides = (
            unary.Side(other, first.target, first.proc.pid),
            unary.Side(default, second.target, second.proc.pid),
        )
        result = unary.alternate(sides, rounds, run)
    return {"knob": knob.results, "services": services, "load_average": os.getloadavg(), **result}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--knob", choices=sorted(KNOBS), required=True)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    knob = KNOBS[args.knob]
    with tempfile.TemporaryDirectory(prefix=f"bench-{knob.results}-") as tmp:
        data = measure(knob, Path(tmp), args.services, args.seconds, args.rounds)
    other, default = data["median"][knob.other[0]], data["median"][knob.default[0]]
    rows = [
        [
            f"GetService, {knob.title} ({data['generator']})",
            f"{default['calls_per_s']:,.0f}/s, {default['cpu_us_per_call']:.0f} µs CPU/call",
            f"{other['calls_per_s']:,.0f}/s, {other['cpu_us_per_call']:.0f} µs CPU/call",
            f"{data['ratio_calls_per_s']:.2f}x calls/s, {data['ratio_cpu_us_per_call']:.2f}x CPU",
        ]
    ]
    headers = ["workload", f"{knob.default[0]} (default)", knob.other[0], "ratio"]
    path = write_results(knob.results, data, headers, rows)
    print(path.with_suffix(".md").read_text())
    print(f"load average during the run: {data['load_average']}")


if __name__ == "__main__":
    main()
