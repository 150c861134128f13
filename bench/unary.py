"""Unary workloads against the raw echo ceiling: GetService at 100k services, durable modify orders.

- **GetService, 100k-service inventory.** A server whose SQLite file holds
  `services` services of one buyer (written through the store before the
  server starts, as bench/store_paging.py builds them) answers GetService for
  the service in the middle; the echo server answers the same path with the
  very bytes our server returned. Load: h2load (64 streams) when available,
  else the Python generator.
- **Durable modify orders, 64 in flight.** CreateServiceOrder MODIFY orders
  (each flips a UNI's maximumFrameSize) from 64 closed-loop Python callers, round
  robin over 200 UNIs of 100 buyers; the echo server answers with a recorded
  CreateServiceOrderResponse. An ack is the server's word that the order is
  committed: after the rounds the server is stopped, started again on the same
  file, and every acknowledged order id must be there. During these rounds the
  simulator holds fulfilment back (`--sim-step-delay` of an hour), so the rounds
  measure the acknowledgement path alone: validation, policy, the durable write.
- **Order lifecycle.** On the restarted server (simulator without step delay), once
  the backlog of the ack rounds is fulfilled, one round of the same load whose
  every order is then awaited to completion: the server's CPU per order from the
  first ack to the last completion, and orders completed per second. Completion is
  read from the SQLite file (orders by state), which costs the server nothing.

Rounds alternate echo and ours (ABBA...); each side reports the median of its
rounds: calls/s, p50/p99 latency, server CPU µs per call (from /proc/PID/stat).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, timestamp_pb2

from bench.events_fanout import BUYERS, write_seed
from bench.harness import RawServer, ServerProcess, cpu_seconds, launch, median
from bench.load import LoadResult, Metadata, h2load, python_load
from bench.store_paging import BUYER as INVENTORY_BUYER
from bench.store_paging import build, make_service
from interlude_grpc.mef.lso.interlude.v1 import events_pb2, inventory_pb2, ordering_pb2
from interlude_server.domain import audit
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore

GET_SERVICE = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
CREATE_ORDER = "/mef.lso.interlude.v1.ServiceOrderingService/CreateServiceOrder"
GET_ORDER = "/mef.lso.interlude.v1.ServiceOrderingService/GetServiceOrder"
BUYER_HEADER = "x-interlude-buyer"
FRAME_SIZES = (1522, 2000)
HOLD_FULFILMENT = "3600"  # --sim-step-delay of the ack rounds: no order starts during them
OPEN_ORDER_STATES = (
    ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED,
    ordering_pb2.SERVICE_ORDER_STATE_IN_PROGRESS,
)
EVENT_BATCH = 2_000  # events appended per write by log_changes


@dataclass(frozen=True)
class Side:
    """One server under load: its name in the report, address and process id."""

    name: str
    target: str
    pid: int


def alternate(
    sides: tuple[Side, Side],
    rounds: int,
    run: Callable[[Side], LoadResult],
    cpu: Callable[[int], float] = cpu_seconds,
) -> dict[str, Any]:
    """Run `run` on both sides, alternating which goes first (ABBA...), `rounds` times; the
    per-round figures, the median of each side and the ratios of the second to the first.
    `cpu(pid)` is a side's CPU seconds so far (bench/workers.py counts a process tree)."""
    per_round: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
    for n in range(rounds):
        for side in sides if n % 2 == 0 else sides[::-1]:
            cpu_before = cpu(side.pid)
            result = run(side)
            used = cpu(side.pid) - cpu_before
            figures: dict[str, Any] = {
                **result.summary(),
                "calls": result.calls,
                "cpu_us_per_call": round(used * 1e6 / result.calls, 1) if result.calls else None,
                "errors": result.errors,
                "generator": result.generator,
            }
            per_round[side.name].append(figures)
            print(f"  round {n + 1} {side.name}: {figures}", flush=True)
    medians = {
        name: {
            key: round(median([r[key] for r in rows if r[key] is not None]), 3)
            for key in ("calls_per_s", "p50_ms", "p99_ms", "cpu_us_per_call")
        }
        for name, rows in per_round.items()
    }
    base, ours = (medians[side.name] for side in sides)
    return {
        "generator": per_round[sides[1].name][0]["generator"],
        "rounds": per_round,
        "median": medians,
        "ratio_calls_per_s": round(ours["calls_per_s"] / base["calls_per_s"], 3),
        "ratio_cpu_us_per_call": round(ours["cpu_us_per_call"] / base["cpu_us_per_call"], 3),
    }


def call_once(target: str, path: str, request: bytes, buyer: str) -> bytes:
    """One call with the generator's raw bytes; its response bytes (raises on a failed status)."""
    with grpc.insecure_channel(target) as channel:
        method: Any = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        response: bytes = method(request, metadata=((BUYER_HEADER, buyer),), timeout=10)
        return response


# ---- GetService at 100k ------------------------------------------------------------------


def build_inventory(workdir: Path, services: int, events: int = 0) -> Path:
    """workdir/interlude.db holding `services` services of INVENTORY_BUYER and `events`
    logged changes of them; its path."""
    workdir.mkdir(parents=True, exist_ok=True)

    async def seed() -> None:
        store, _, _ = await build(workdir / "interlude.db", services)
        await log_changes(store, services, events)
        await store.close()

    asyncio.run(seed())
    return workdir / "interlude.db"


async def log_changes(store: SqliteStore, services: int, events: int) -> None:
    """`events` attributeValueChange events of INVENTORY_BUYER's services, each carrying
    its service, built as the server builds its own (audit.emit)."""
    rnd = random.Random(events)
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    for start in range(0, events, EVENT_BATCH):

        def append(tx: SqlTx, start: int = start) -> None:
            for i in range(start, min(events, start + EVENT_BATCH)):
                service = make_service(i % services, rnd)
                audit.emit(tx, events_pb2.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE, service, now)

        await store.write(append)


def inventory_server(workdir: Path, services: int, events: int = 0) -> ServerProcess:
    """A server on a SQLite file holding `services` services of INVENTORY_BUYER and `events`
    logged changes (the newest of which it reloads into its replay tail at start)."""
    build_inventory(workdir, services, events)
    return launch(workdir, "--seed", "none")


def get_service_request(services: int) -> bytes:
    return inventory_pb2.GetServiceRequest(id=f"svc-{services // 2:07d}").SerializeToString()


def get_service_load(
    services: int, *, h2load_exe: str | None, seconds: float, connections: int = 4, spread: bool = False
) -> Callable[[Side], LoadResult]:
    """One round of GetService load on a side: 64 calls in flight over `connections`
    connections with h2load, else the Python generator (64 concurrent callers). All of one
    service, or with `spread` every service in a shuffled order (the Python generator: h2load
    sends one request body)."""
    request = get_service_request(services)
    headers = {BUYER_HEADER: INVENTORY_BUYER}
    if spread:
        ids = list(range(services))
        random.Random(services).shuffle(ids)
        calls = [
            (inventory_pb2.GetServiceRequest(id=f"svc-{i:07d}").SerializeToString(), tuple(headers.items()))
            for i in ids
        ]
        return lambda side: python_load(
            side.target, GET_SERVICE, lambda n: calls[n % len(calls)], seconds=seconds, concurrency=64
        )

    def run(side: Side) -> LoadResult:
        if h2load_exe:
            streams = 64 // connections
            return h2load(
                h2load_exe,
                side.target,
                GET_SERVICE,
                request,
                headers,
                seconds=seconds,
                connections=connections,
                streams=streams,
            )
        call = (request, tuple(headers.items()))
        return python_load(side.target, GET_SERVICE, lambda _: call, seconds=seconds, concurrency=64)

    return run


def get_service(
    server: ServerProcess,
    echo: RawServer,
    services: int,
    *,
    h2load_exe: str | None,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    run = get_service_load(services, h2load_exe=h2load_exe, seconds=seconds)
    sides = (Side("echo", echo.target, echo.proc.pid), Side("ours", server.target, server.proc.pid))
    return {"services": services, "concurrency": 64, **alternate(sides, rounds, run)}


# ---- durable modify orders ----------------------------------------------------------------


@dataclass
class Uni:
    buyer: str
    service: inventory_pb2.Service


def order_server(
    workdir: Path, db: str | None = None, buyers: int = BUYERS, step_delay: str = HOLD_FULFILMENT
) -> tuple[ServerProcess, list[Uni]]:
    """A server seeded with `buyers` (100) buyers of two UNIs each; the UNIs. `step_delay`: its
    simulator's (default an hour: orders are acknowledged, not fulfilled, so the load
    measures the acknowledgement path). `db`: its --db (default a SQLite file in its directory)."""
    workdir.mkdir(parents=True, exist_ok=True)
    services_of = write_seed(workdir / "seed.json", buyers)
    seed = str(workdir / "seed.json")
    server = launch(workdir / "server", "--seed", seed, "--sim-step-delay", step_delay, db=db)
    unis = []
    for who, ids in services_of.items():
        for sid in ids:
            raw = call_once(
                server.target, GET_SERVICE, inventory_pb2.GetServiceRequest(id=sid).SerializeToString(), who
            )
            unis.append(Uni(who, inventory_pb2.GetServiceResponse.FromString(raw).service))
    return server, unis


def modify_request(uni: Uni, frame_size: int) -> bytes:
    """A MODIFY order setting the UNI's maximumFrameSize (a customizable characteristic)."""
    config = json_format.MessageToDict(uni.service.service_configuration.attributes)
    config["maximumFrameSize"] = frame_size
    desired = inventory_pb2.Service(id=uni.service.id, state=uni.service.state)
    desired.service_configuration.type = uni.service.service_configuration.type
    desired.service_configuration.attributes.update(config)
    item = ordering_pb2.ServiceOrderItem(id="1", action=ordering_pb2.SERVICE_ACTION_MODIFY, service=desired)
    order = ordering_pb2.ServiceOrder(service_order_item=[item], external_id=f"bench-{uuid.uuid4()}")
    return ordering_pb2.CreateServiceOrderRequest(service_order=order).SerializeToString()


def modify_orders(
    server: ServerProcess,
    unis: list[Uni],
    echo: RawServer,
    *,
    rounds: int,
    seconds: float,
    concurrency: int = 64,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Alternating rounds of MODIFY orders; the figures and every acknowledged order id (to its buyer)."""
    # Requests are built ahead (two frame sizes per UNI), so building them costs no client time.
    calls = [[(modify_request(u, size), ((BUYER_HEADER, u.buyer),)) for size in FRAME_SIZES] for u in unis]
    acked: dict[str, str] = {}  # order id -> buyer

    def run(side: Side) -> LoadResult:
        ours = side.name == "ours"

        def request(n: int) -> tuple[bytes, Metadata]:
            # caller w sends n = w, w + 64, ...: round robin over the UNIs, flipping frame sizes
            return calls[n % len(unis)][(n // len(unis)) % 2]

        def on_ok(n: int, response: bytes) -> None:
            if ours:
                order_id = ordering_pb2.CreateServiceOrderResponse.FromString(response).service_order.id
                acked[order_id] = unis[n % len(unis)].buyer

        return python_load(
            side.target, CREATE_ORDER, request, seconds=seconds, concurrency=concurrency, on_ok=on_ok
        )

    sides = (Side("echo", echo.target, echo.proc.pid), Side("ours", server.target, server.proc.pid))
    result = alternate(sides, rounds, run)
    return {"concurrency": concurrency, "unis": len(unis), **result}, acked


def acks_after_restart(
    server: ServerProcess, acked: dict[str, str], db: str | None = None
) -> tuple[ServerProcess, dict[str, Any]]:
    """Stop the server, start it again on the same database (its SQLite file, or `db`) and
    read back every acknowledged order; the restarted server and the count found / missing."""
    server.stop()
    (server.workdir / "ready").unlink(missing_ok=True)
    restarted = launch(server.workdir, "--seed", "none", "--sim-step-delay", "0", db=db)

    async def read_back() -> list[str]:
        missing: list[str] = []
        semaphore = asyncio.Semaphore(32)
        async with grpc.aio.insecure_channel(restarted.target) as channel:
            get: Any = channel.unary_unary(GET_ORDER, request_serializer=None, response_deserializer=None)

            async def check(order_id: str, buyer: str) -> None:
                request = ordering_pb2.GetServiceOrderRequest(id=order_id).SerializeToString()
                async with semaphore:
                    try:
                        await get(request, metadata=((BUYER_HEADER, buyer),), timeout=30)
                    except grpc.aio.AioRpcError:
                        missing.append(order_id)

            await asyncio.gather(*(check(i, b) for i, b in acked.items()))
        return missing

    missing = asyncio.run(read_back())
    return restarted, {
        "acked": len(acked),
        "found_after_restart": len(acked) - len(missing),
        "missing": missing[:20],
    }


# ---- the whole lifecycle: ack through completion -------------------------------------------


def open_orders(server: ServerProcess) -> int:
    """How many orders the server's SQLite file holds acknowledged or in progress (read
    beside the server, which spends nothing on it)."""
    db = server.workdir / "interlude.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        marks = ", ".join("?" for _ in OPEN_ORDER_STATES)
        sql = f"SELECT COUNT(*) FROM orders WHERE state IN ({marks})"
        (count,) = conn.execute(sql, [int(s) for s in OPEN_ORDER_STATES]).fetchone()
    return int(count)


def drain(server: ServerProcess, timeout: float = 600.0) -> float:
    """Wait until every order is completed (or failed); the seconds it took."""
    started = time.monotonic()
    while open_orders(server):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"orders still open after {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - started


def lifecycle(
    server: ServerProcess,
    unis: list[Uni],
    *,
    seconds: float,
    ack_cpu_us: float | None = None,
    concurrency: int = 64,
    cpu: Callable[[int], float] = cpu_seconds,
) -> dict[str, Any]:
    """One round of MODIFY orders on a server that fulfils them (no step delay), every order
    awaited to completion: server CPU per order from the first ack to the last completion,
    orders completed per second, and (given the ack path's CPU per order) what fulfilment adds."""
    drain(server)  # what earlier rounds left is not this round's
    calls = [[(modify_request(u, size), ((BUYER_HEADER, u.buyer),)) for size in FRAME_SIZES] for u in unis]
    cpu_before, started = cpu(server.proc.pid), time.monotonic()
    result = python_load(
        server.target,
        CREATE_ORDER,
        lambda n: calls[n % len(unis)][(n // len(unis)) % 2],
        seconds=seconds,
        concurrency=concurrency,
    )
    acked_s = time.monotonic() - started
    cpu_acked = cpu(server.proc.pid) - cpu_before
    drain_s = drain(server)
    used, elapsed = cpu(server.proc.pid) - cpu_before, acked_s + drain_s
    orders = max(result.calls, 1)
    figures: dict[str, Any] = {
        "orders": result.calls,
        "errors": result.errors,
        "acks_per_s": round(result.calls / acked_s, 1),
        "completed_per_s": round(result.calls / elapsed, 1),
        "drain_s": round(drain_s, 3),
        "cpu_us_per_order": round(used * 1e6 / orders, 1),
        "cpu_us_per_order_until_last_ack": round(cpu_acked * 1e6 / orders, 1),
    }
    if ack_cpu_us is not None:
        figures["ack_cpu_us_per_order"] = ack_cpu_us
        figures["fulfilment_cpu_us_per_order"] = round(figures["cpu_us_per_order"] - ack_cpu_us, 1)
    print(f"   lifecycle: {figures}", flush=True)
    return figures
