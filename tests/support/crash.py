"""Repeated SIGKILL under mixed write load, shared by the `make test` and `make soak` variants.

Each round starts the server on the same SQLite file, drives `in_flight` concurrent clients
(connectivity orders, configuration modifies, administrative-state changes, each with its own
request_id) until `acks` writes of the round are acknowledged, then SIGKILLs the process while
the rest are still in flight. After every restart the acknowledged writes of that round are
checked (present, retried with the same request_id without a second order); after the last
round every order ever acknowledged must have reached a final state with its effects and its
events, and no order may be left half-applied.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2, struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    ordering_pb2,
    ordering_pb2_grpc,
)
from tests.support.helpers import ALPHA, EVC, TERMINAL, Stubs, wait_for_order
from tests.support.server_process import ServerProcess, launch

Ord = ordering_pb2
UNIS = ["alpha-uni-1", "alpha-uni-2", "alpha-uni-3"]
OVC_END_POINTS = ["alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2"]
CIR = "service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
# What a client may see when the server dies under it; anything else must be a domain answer.
_DEATH = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED}
_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@dataclass(frozen=True)
class Write:
    """One change a client sent: which RPC, the request (with its request_id)."""

    kind: str  # connectivity | modify | admin
    method: str
    request: Any


@dataclass
class CrashReport:
    """What the rounds did, for the assertions and for the README figures."""

    acked: dict[str, Write] = field(default_factory=dict)  # order id -> the write that made it
    refused: int = 0  # domain answers (e.g. a lock while an order is in flight): not acknowledged
    lost_in_crash: int = 0  # calls the kill cut off: never acknowledged
    resumed: list[int] = field(default_factory=list)  # orders_resumed logged by each restart
    retries_checked: int = 0
    faults: list[str] = field(default_factory=list)  # INTERNAL/UNKNOWN answers: must stay empty


def connectivity_request(n: int, rid: str) -> Ord.CreateConnectivityRequest:
    a, b = UNIS[n % 3], UNIS[(n + 1) % 3]
    return Ord.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[Ord.ConnectivityEndPoint(interface_service_id=s) for s in (a, b)],
        external_id=f"crash-{n}",
        request_id=rid,
    )


def _modify(n: int, rid: str) -> Ord.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 100 + n % 50}}})
    return Ord.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=OVC_END_POINTS[n % 2], service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=[CIR]),
        request_id=rid,
    )


def _admin(n: int, rid: str) -> Ord.SetAdministrativeStateRequest:
    state = common_pb2.ADMINISTRATIVE_STATE_LOCKED if n % 2 else common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    return Ord.SetAdministrativeStateRequest(
        service_id=UNIS[n % 3], component_id="link-1", administrative_state=state, request_id=rid
    )


_KINDS: list[tuple[str, str, Callable[[int, str], Any]]] = [
    ("connectivity", "CreateConnectivity", connectivity_request),
    ("modify", "UpdateService", _modify),
    ("admin", "SetAdministrativeState", _admin),
]


def _call(stub: Any, write: Write, timeout: float | None = None) -> Any:
    return getattr(stub, write.method)(write.request, metadata=ALPHA, timeout=timeout)


async def _load(
    target: str, in_flight: int, acks: int, counter: itertools.count[int], report: CrashReport
) -> list[asyncio.Task[None]]:
    """Start `in_flight` concurrent writers and return once `acks` are acknowledged, with the
    writers still running (their calls in flight)."""
    done = asyncio.Event()
    acked_here = 0

    async def writer() -> None:
        nonlocal acked_here
        async with grpc.aio.insecure_channel(target) as channel:
            stub = ordering_pb2_grpc.ServiceOrderingServiceStub(channel)
            while not done.is_set():
                n = next(counter)
                kind, method, build = _KINDS[n % len(_KINDS)]
                write = Write(kind, method, build(n, str(uuid.uuid4())))
                try:
                    response = await _call(stub, write, timeout=10)
                except grpc.aio.AioRpcError as error:
                    if error.code() in _FAULTS:
                        report.faults.append(f"{method}: {error.code()} {error.details()}")
                    if error.code() in _DEATH:
                        report.lost_in_crash += 1
                        return
                    report.refused += 1
                    continue
                report.acked[response.service_order.id] = write
                acked_here += 1
                if acked_here >= acks:
                    done.set()

    tasks = [asyncio.create_task(writer()) for _ in range(in_flight)]
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        done.set()  # the writers stop after their current call: the kill cuts those off
    return tasks


def _drive_and_kill(
    server: ServerProcess, in_flight: int, acks: int, counter: itertools.count[int], report: CrashReport
) -> dict[str, Write]:
    """One round of load ended by SIGKILL; the writes acknowledged in it."""
    before = set(report.acked)

    async def go() -> None:
        writers = await _load(server.target, in_flight, acks, counter, report)
        server.proc.kill()  # SIGKILL with the other writers' calls in flight
        server.proc.wait()
        for result in await asyncio.wait_for(asyncio.gather(*writers, return_exceptions=True), 15):
            if isinstance(result, BaseException):
                raise result

    asyncio.run(go())
    return {oid: w for oid, w in report.acked.items() if oid not in before}


def _orders_resumed(server: ServerProcess) -> int:
    started = next(json.loads(line) for line in server.logs().splitlines() if "server.started" in line)
    return int(started["orders_resumed"])


def _check_round(stubs: Stubs, round_acks: dict[str, Write], report: CrashReport) -> None:
    """Every write acknowledged before the kill is there; its retry returns the same order."""
    for order_id, write in round_acks.items():
        order = stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order_id), metadata=ALPHA)
        assert order.service_order.id == order_id
        retry = _call(stubs.ordering, write)
        assert retry.service_order.id == order_id, f"the retry of {write.method} made a second order"
        report.retries_checked += 1


def _order_events(channel: grpc.Channel) -> dict[str, set[int]]:
    """Order id -> the event types the durable log holds for it (replayed from the start)."""
    request = events_pb2.StreamEventsRequest(
        start_time=timestamp_pb2.Timestamp(seconds=0),
        filter=events_pb2.EventFilter(resource_types=[events_pb2.RESOURCE_TYPE_SERVICE_ORDER]),
    )
    call = events_pb2_grpc.EventServiceStub(channel).StreamEvents(request, metadata=ALPHA, timeout=30)
    seen: dict[str, set[int]] = {}
    for response in call:
        if response.HasField("sync"):
            call.cancel()
            break
        if response.HasField("event"):
            seen.setdefault(response.event.resource.id, set()).add(response.event.event_type)
    return seen


def _check_final(stubs: Stubs, channel: grpc.Channel, report: CrashReport) -> None:
    """No order is left half-applied: each acknowledged one ends with its effects and events."""
    for order_id, write in report.acked.items():
        order = wait_for_order(stubs, order_id, timeout=60)
        assert order.state == Ord.SERVICE_ORDER_STATE_COMPLETED, (order_id, write.kind, order.state)
        if write.kind == "connectivity":
            for item in order.service_order_item:
                service = stubs.inventory.GetService(
                    inventory_pb2.GetServiceRequest(id=item.service.id), metadata=ALPHA
                ).service
                assert service.state == common_pb2.SERVICE_STATE_ACTIVE, item.service.id
    in_progress = Ord.ServiceOrderFilter(
        state=[s for s in Ord.ServiceOrderState.values() if s and s not in TERMINAL]
    )
    deadline = time.monotonic() + 60
    while stubs.ordering.ListServiceOrders(
        Ord.ListServiceOrdersRequest(filter=in_progress), metadata=ALPHA
    ).total_size:  # committed-but-unacknowledged orders finish too
        assert time.monotonic() < deadline, "orders left in flight after the last restart"
        time.sleep(0.1)
    events = _order_events(channel)
    for order_id in report.acked:
        types = events.get(order_id, set())
        assert events_pb2.EVENT_TYPE_SERVICE_ORDER_CREATE in types, order_id
        assert events_pb2.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE in types, order_id


def run_crash_rounds(
    workdir: Path, rounds: int, in_flight: int, acks: int, step_delay: float = 0.05
) -> CrashReport:
    """Kill the server `rounds` times under load and check what survived (see the module doc)."""
    report = CrashReport()
    counter = itertools.count()
    server = launch(workdir, "--seed", "demo", "--sim-step-delay", str(step_delay))
    for _ in range(rounds):
        round_acks = _drive_and_kill(server, in_flight, acks, counter, report)
        (workdir / "ready").unlink(missing_ok=True)
        server = launch(workdir, "--seed", "demo", "--sim-step-delay", str(step_delay))
        report.resumed.append(_orders_resumed(server))
        with grpc.insecure_channel(server.target) as channel:
            _check_round(Stubs.on(channel), round_acks, report)
    try:
        with grpc.insecure_channel(server.target) as channel:
            _check_final(Stubs.on(channel), channel, report)
    finally:
        assert server.stop() == 0
    return report
