"""Unary load generators: h2load (Debian's nghttp2-client) and a Python grpc.aio one.

h2load is a C client, so it does not run out of CPU before a Python server does;
it speaks plain HTTP/2, so it sends a gRPC frame as the request body and counts
HTTP 200s, blind to `grpc-status` in the trailers. The benchmarks therefore
check, with one Python call, that the exact request succeeds before timing it
with h2load, and use the Python generator (which checks every status) where a
call can fail for reasons of its own (orders) or when h2load is missing. Every
result records which generator produced it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from bench.harness import percentile


@dataclass
class LoadResult:
    """One timed run: successful calls, failures by status, their latencies."""

    generator: str  # "h2load" or "python"
    calls: int
    seconds: float
    latencies_ms: list[float]
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "calls_per_s": round(self.calls_per_s, 1),
            "p50_ms": round(percentile(self.latencies_ms, 50), 3),
            "p99_ms": round(percentile(self.latencies_ms, 99), 3),
        }


def ensure_h2load(install: bool = True) -> str | None:
    """The h2load executable; with `install`, installed with apt-get when missing and running
    as root. None when it cannot be had (the caller falls back to the Python generator)."""
    found = shutil.which("h2load")
    if found or not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
    subprocess.run(["apt-get", "update", "-qq"], **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "-qq", "nghttp2-client"], **quiet)  # type: ignore[call-overload]
    return shutil.which("h2load")


def grpc_frame(request: bytes) -> bytes:
    """A request as gRPC sends it in an HTTP/2 DATA frame: uncompressed flag, length, bytes."""
    return struct.pack(">BI", 0, len(request)) + request


_FINISHED = re.compile(r"finished in ([\d.]+)(m?s)")
_REQUESTS = re.compile(
    r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def h2load(
    exe: str,
    target: str,
    path: str,
    request: bytes,
    metadata: dict[str, str],
    *,
    seconds: float,
    connections: int,
    streams: int,
) -> LoadResult:
    """`connections` x `streams` concurrent gRPC calls of `path` for `seconds` (to the
    millisecond: h2load's -D takes a unit, so the smoke run's fractions of a second work)."""
    with tempfile.TemporaryDirectory(prefix="h2load-") as tmp:
        body, log = Path(tmp) / "body", Path(tmp) / "log"
        body.write_bytes(grpc_frame(request))
        headers = {"content-type": "application/grpc", "te": "trailers", **metadata}
        duration = f"{max(1, round(seconds * 1000))}ms"
        cmd = [exe, "-t", "1", "-c", str(connections), "-m", str(streams), "-D", duration]
        cmd += ["-d", str(body), f"--log-file={log}"]
        for name, value in headers.items():
            cmd += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            [*cmd, f"http://{target}{path}"], capture_output=True, text=True, check=True
        ).stdout
        elapsed, requests, status = h2load_seconds(out), _REQUESTS.search(out), _STATUS.search(out)
        if not (elapsed is not None and requests and status):
            raise RuntimeError(f"unexpected h2load output:\n{out}")
        latencies = [
            int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line.count("\t") == 2
        ]
    succeeded = int(status.group(1))
    errors = {"http_failed": int(requests.group(2)), "http_errored": int(requests.group(3))}
    return LoadResult("h2load", succeeded, elapsed, latencies, {k: v for k, v in errors.items() if v})


def h2load_seconds(out: str) -> float | None:
    """The run's length from h2load's output: "finished in 5.00s", or "208.48ms" under a second."""
    found = _FINISHED.search(out)
    return None if found is None else float(found[1]) / (1000 if found[2] == "ms" else 1)


Metadata = tuple[tuple[str, str], ...]
Request = Callable[[int], tuple[bytes, Metadata]]  # the n-th call: serialized request, metadata


async def _python(
    target: str,
    path: str,
    request: Request,
    seconds: float,
    concurrency: int,
    on_ok: Callable[[int, bytes], None] | None,
) -> LoadResult:
    channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, concurrency // 16))]
    calls: list[Any] = [
        ch.unary_unary(path, request_serializer=None, response_deserializer=None) for ch in channels
    ]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    stop_at = started + seconds

    async def worker(w: int) -> None:
        call, n = calls[w % len(calls)], w
        while time.perf_counter() < stop_at:
            body, metadata = request(n)
            sent = time.perf_counter()
            try:
                response = await call(body, metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError as error:
                errors[error.code().name] = errors.get(error.code().name, 0) + 1
            else:
                latencies.append((time.perf_counter() - sent) * 1000)
                if on_ok is not None:
                    on_ok(n, response)
            n += concurrency

    try:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    finally:
        for channel in channels:
            await channel.close()
    return LoadResult("python", len(latencies), time.perf_counter() - started, latencies, errors)


def python_load(
    target: str,
    path: str,
    request: Request,
    *,
    seconds: float,
    concurrency: int,
    on_ok: Callable[[int, bytes], None] | None = None,
) -> LoadResult:
    """`concurrency` closed-loop grpc.aio callers for `seconds`; every status is checked and
    `on_ok(n, response)` sees each successful response."""
    return asyncio.run(_python(target, path, request, seconds, concurrency, on_ok))
