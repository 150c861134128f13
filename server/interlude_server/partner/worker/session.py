"""One network worker: attach to the server, answer its requests with the simulators,
reattach after a broken stream.

Each request runs in a task of its own, so a slow item never holds up a test step; the
answers go out on the same stream in the order they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import structlog
from google.protobuf import timestamp_pb2

from interlude_grpc.interlude.network.v1 import network_pb2, network_pb2_grpc
from interlude_server.core import versions
from interlude_server.partner.ordering.simulator import SimulatedPartner
from interlude_server.partner.performance.measure import SimulatedMeter
from interlude_server.partner.remote import wire
from interlude_server.partner.sft.simulator import SimulatedTester

Net = network_pb2
_log = structlog.get_logger("interlude_server.partner.worker")
CAPABILITIES = (Net.CAPABILITY_ORDERING, Net.CAPABILITY_TESTING, Net.CAPABILITY_MEASUREMENTS)


@dataclass(frozen=True)
class Simulators:
    """What carries out each kind of request."""

    partner: SimulatedPartner
    tester: SimulatedTester
    meter: SimulatedMeter


async def answer(sims: Simulators, request: network_pb2.AttachResponse) -> network_pb2.AttachRequest | None:
    """The result of one request (None for a message that needs no answer)."""
    kind = request.WhichOneof("kind")
    if kind == "apply_item":
        r = request.apply_item
        item = next((i for i in r.order.service_order_item if i.id == r.item_id), None)
        if item is None:
            failed = Net.ApplyItemResult(
                request_id=r.request_id, outcome=Net.APPLY_OUTCOME_FAILED, reason=f"no item {r.item_id!r}"
            )
            return Net.AttachRequest(apply_item_result=failed)
        outcome = await sims.partner.apply(r.buyer_id, r.order, item)
        return Net.AttachRequest(apply_item_result=wire.result_of(r.request_id, outcome))
    if kind == "run_test_step":
        s = request.run_test_step
        resolved = wire.resolved_of(s.job, s.configuration)
        step = await sims.tester.run_step(s.job, resolved, s.run_number, s.step_index, wire.step_of(s.step))
        result = Net.TestStepResult(
            request_id=s.request_id,
            measurements=step.measurements,
            error_code=step.error_code,
            reason=step.reason,
        )
        return Net.AttachRequest(test_step_result=result)
    if kind == "take_measurements":
        m = request.take_measurements
        values = await sims.meter.measure(m.job, m.settings, m.interval_start_time, m.interval_end_time)
        return Net.AttachRequest(
            measurement_result=Net.MeasurementResult(request_id=m.request_id, measurements=values)
        )
    return None


class Worker:
    """Attaches as `name` to `target` over `channel_credentials` (None: plaintext)."""

    def __init__(
        self,
        target: str,
        name: str,
        sims: Simulators,
        credentials: grpc.ChannelCredentials | None = None,
        heartbeat: float = 20.0,
    ) -> None:
        self.target, self.name, self.sims = target, name, sims
        self.credentials = credentials
        self.heartbeat = heartbeat

    def _channel(self) -> grpc.aio.Channel:
        if self.credentials is None:
            return grpc.aio.insecure_channel(self.target)
        return grpc.aio.secure_channel(self.target, self.credentials)

    async def run(self, reconnect_delay: float) -> None:
        """Attach, serve until the stream breaks, and attach again, forever."""
        while True:
            try:
                await self.attach_once()
                _log.info("worker.detached", server=self.target)
            except grpc.RpcError as exc:
                _log.warning(
                    "worker.attach_failed", server=self.target, code=str(exc.code()), error=exc.details()
                )
            await asyncio.sleep(reconnect_delay)

    async def attach_once(self) -> None:
        """One session: hello, then answer requests until the server ends the stream."""
        outbox: asyncio.Queue[network_pb2.AttachRequest] = asyncio.Queue()
        hello = Net.Hello(
            worker_name=self.name,
            version=versions.package_version(versions.DISTRIBUTION),
            capabilities=CAPABILITIES,
        )
        outbox.put_nowait(Net.AttachRequest(hello=hello))
        tasks: set[asyncio.Task[None]] = set()
        beat = asyncio.create_task(self._beat(outbox))
        try:
            async with self._channel() as channel:
                stub = network_pb2_grpc.NetworkServiceStub(channel)
                async for request in stub.Attach(_drain(outbox)):
                    if request.HasField("welcome"):
                        _log.info("worker.attached", server=self.target, session=request.welcome.session_id)
                        continue
                    if request.HasField("heartbeat"):
                        continue
                    task = asyncio.create_task(self._handle(request, outbox))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in (beat, *tasks):
                task.cancel()
            for task in (beat, *tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _handle(
        self, request: network_pb2.AttachResponse, outbox: asyncio.Queue[network_pb2.AttachRequest]
    ) -> None:
        kind = request.WhichOneof("kind")
        _log.info("worker.request", kind=kind, request_id=getattr(request, kind).request_id if kind else "")
        try:
            result = await answer(self.sims, request)
        except Exception:
            _log.exception("worker.request_failed", kind=kind)
            return
        if result is not None:
            outbox.put_nowait(result)

    async def _beat(self, outbox: asyncio.Queue[network_pb2.AttachRequest]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            sent = timestamp_pb2.Timestamp()
            sent.GetCurrentTime()
            outbox.put_nowait(Net.AttachRequest(heartbeat=Net.Heartbeat(sent_time=sent)))


async def _drain(
    outbox: asyncio.Queue[network_pb2.AttachRequest],
) -> AsyncIterator[network_pb2.AttachRequest]:
    while True:
        yield await outbox.get()
