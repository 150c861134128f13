"""Side by side: this checkout's server against another checkout's, under the same load.

The claims of "What changed" in bench/README.md are measured so: two servers at once on the
same machine, each from its own checkout, the rounds of one workload alternating between
them (ABBA...); each side's medians, and the ratios of this checkout to the base. Noise
that moves the machine between rounds hits both alike, which two `make bench` runs an hour
apart cannot promise.

    .venv/bin/python -m bench.ab --base ../base --workload get-service|ack|lifecycle \
        [--rounds 6] [--seconds 5] [--services 100000]

`--base` is a checkout of the code to compare with (`git worktree add ../base <commit>` is
the easy way); the base server imports its server/ and interlude_grpc/, both use this
checkout's virtualenv. Workloads:
- get-service: GetService of one service of a `--services` inventory, 64 calls in flight
  (h2load when installed, else the Python generator), as `make bench` measures it;
- ack: durable MODIFY orders, 64 in flight, fulfilment held back (the acknowledgement path);
- lifecycle: the same orders, each fulfilled as it comes (acknowledgement and fulfilment).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import ROOT, ServerProcess, launch
from bench.load import LoadResult, python_load
from bench.unary import (
    BUYER_HEADER,
    CREATE_ORDER,
    FRAME_SIZES,
    HOLD_FULFILMENT,
    Side,
    Uni,
    alternate,
    build_inventory,
    get_service_load,
    modify_request,
    order_server,
)

WORKLOADS = ("get-service", "ack", "lifecycle")


@contextmanager
def imports_from(checkout: Path) -> Iterator[None]:
    """Servers started inside import the server and its bindings from `checkout`."""
    saved = os.environ.get("PYTHONPATH")
    paths = [str(checkout / "server"), str(checkout), *([saved] if saved else [])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _inventory_servers(workdir: Path, services: int, checkouts: dict[str, Path]) -> dict[str, ServerProcess]:
    """A server per checkout, each on its own copy of one `services` inventory."""
    built = build_inventory(workdir / "inventory", services)
    servers: dict[str, ServerProcess] = {}
    for name, checkout in checkouts.items():
        (workdir / name).mkdir()
        db = workdir / name / "interlude.db"
        shutil.copy(built, db)
        with imports_from(checkout):
            servers[name] = launch(workdir / name, "--seed", "none", db=f"sqlite:///{db}")
    return servers


def _order_load(unis: list[Uni], seconds: float) -> Callable[[Side], LoadResult]:
    calls = [[(modify_request(u, size), ((BUYER_HEADER, u.buyer),)) for size in FRAME_SIZES] for u in unis]

    def request(n: int) -> tuple[bytes, tuple[tuple[str, str], ...]]:
        return calls[n % len(calls)][(n // len(calls)) % len(FRAME_SIZES)]

    return lambda side: python_load(side.target, CREATE_ORDER, request, seconds=seconds, concurrency=64)


def compare(
    base: Path, workload: str, *, rounds: int, seconds: float, services: int, workdir: Path
) -> dict[str, Any]:
    """Run `workload` on a server of `base` and one of this checkout, rounds alternating; the
    per-round figures, medians and the ratios of this checkout to the base."""
    checkouts = {"base": base.resolve(), "this": ROOT}
    servers: dict[str, ServerProcess] = {}
    try:
        if workload == "get-service":
            servers = _inventory_servers(workdir, services, checkouts)
            run = get_service_load(services, h2load_exe=shutil.which("h2load"), seconds=seconds)
        else:
            delay = HOLD_FULFILMENT if workload == "ack" else "0"
            unis: dict[str, list[Uni]] = {}
            for name, checkout in checkouts.items():
                with imports_from(checkout):
                    servers[name], unis[name] = order_server(workdir / name, step_delay=delay)
            loads = {name: _order_load(unis[name], seconds) for name in checkouts}

            def run(side: Side) -> LoadResult:
                return loads[side.name](side)

        sides = tuple(Side(name, servers[name].target, servers[name].proc.pid) for name in checkouts)
        assert len(sides) == 2
        result = alternate((sides[0], sides[1]), rounds, run)
    finally:
        for server in servers.values():
            server.stop()
    return {"workload": workload, "base": str(base), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and side")
    parser.add_argument("--services", type=int, default=100_000, help="get-service's inventory")
    args = parser.parse_args()
    if not (args.base / "server" / "interlude_server").is_dir():
        parser.error(f"--base {args.base}: no server/interlude_server there (a checkout of this repository?)")
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        result = compare(
            args.base,
            args.workload,
            rounds=args.rounds,
            seconds=args.seconds,
            services=args.services,
            workdir=Path(tmp),
        )
    print(json.dumps(result["median"], indent=2))
    print(
        f"{args.workload}: this/base {result['ratio_calls_per_s']}x calls/s, "
        f"{result['ratio_cpu_us_per_call']}x CPU per call ({args.rounds} rounds of {args.seconds:g} s)"
    )


if __name__ == "__main__":
    main()
