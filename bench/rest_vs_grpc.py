"""Is the in-process MEF REST form as fast as gRPC? `GET /service/{id}` vs `GetService`.

Starts one `interlude-server` (demo seed, REST adapter on) and drives it with
the same closed-loop load generator class for both forms: N concurrent
workers, each sending its next call as soon as the previous one answered,
for a fixed time. Rounds alternate gRPC and REST so machine noise hits both
alike; the result is the median calls/s of each and the ratio REST/gRPC
(goal >= 1.0). Both forms log every call, as in production.

Writes bench/results/rest_vs_grpc.json.

    .venv/bin/python -m bench.rest_vs_grpc [--seconds 8] [--rounds 3] [--concurrency 32] [--warm-seconds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import grpc

from bench.harness import RESULTS as HARNESS_RESULTS
from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, inventory_pb2_grpc

RESULTS = HARNESS_RESULTS / "rest_vs_grpc.json"
SERVICE_ID = "alpha-uni-1"
BUYER = "sp-alpha"


class ClosedLoop:
    """`concurrency` workers calling `call` back to back for `seconds`; completed calls/s."""

    def __init__(self, concurrency: int, seconds: float) -> None:
        self.concurrency = concurrency
        self.seconds = seconds

    async def run(self, call: Callable[[], Awaitable[None]]) -> float:
        done = 0
        stop_at = time.perf_counter() + self.seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await call()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return done / (time.perf_counter() - started)


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    ready = workdir / "ready"
    command = [
        sys.executable, "-m", "interlude_server.runtime.main", "--grpc-listen", "127.0.0.1:0",
        "--rest-listen", "127.0.0.1:0", "--db", f"sqlite:///{workdir / 'bench.db'}", "--seed", "demo",
        "--ready-file", str(ready), "--log-format", "json",
    ]  # fmt: skip
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.05)
    grpc_target, rest = ready.read_text().split()
    return proc, grpc_target, rest.removeprefix("rest=")


async def measure(
    grpc_target: str, rest: str, load: ClosedLoop, rounds: int, warm_seconds: float = 1.0
) -> dict[str, list[float]]:
    url = f"http://{rest}/mefApi/interlude/serviceInventory/v2/service/{SERVICE_ID}"
    headers = {"X-Interlude-Buyer": BUYER}
    connector = aiohttp.TCPConnector(limit=load.concurrency)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        grpc.aio.insecure_channel(grpc_target) as ch,
    ):
        stub = inventory_pb2_grpc.ServiceInventoryServiceStub(ch)
        request = inventory_pb2.GetServiceRequest(id=SERVICE_ID)
        metadata = (("x-interlude-buyer", BUYER),)

        async def grpc_call() -> None:
            response = await stub.GetService(request, metadata=metadata)
            assert response.service.id == SERVICE_ID

        async def rest_call() -> None:
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                assert response.status == 200, body

        forms = {"grpc": grpc_call, "rest": rest_call}
        warm = ClosedLoop(load.concurrency, warm_seconds)
        for call in forms.values():
            await warm.run(call)
        results: dict[str, list[float]] = {name: [] for name in forms}
        for _ in range(rounds):
            for name, call in forms.items():
                results[name].append(await load.run(call))
        return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="per round and form (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent calls (default 32)")
    parser.add_argument("--warm-seconds", type=float, default=1.0, help="unmeasured calls of each form first")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        proc, grpc_target, rest = start_server(Path(tmp))
        try:
            load = ClosedLoop(ns.concurrency, ns.seconds)
            results = asyncio.run(measure(grpc_target, rest, load, ns.rounds, ns.warm_seconds))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    grpc_rate = statistics.median(results["grpc"])
    rest_rate = statistics.median(results["rest"])
    report = {
        "benchmark": "REST GET /service/{id} (in-process adapter) vs gRPC GetService, same server process",
        "load_generator": f"ClosedLoop(concurrency={ns.concurrency}, seconds={ns.seconds}), rounds alternate",
        "rounds": ns.rounds,
        "calls_per_s": {name: [round(r, 1) for r in rates] for name, rates in results.items()},
        "median_calls_per_s": {"grpc": round(grpc_rate, 1), "rest": round(rest_rate, 1)},
        "ratio_rest_over_grpc": round(rest_rate / grpc_rate, 3),
        "goal": ">= 1.0",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
