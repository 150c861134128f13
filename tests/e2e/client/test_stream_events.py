"""The resumable event iterator against a real server process: it survives a server restart
in the middle of a stream of changes with no event lost or repeated, and the server's
stream errors reach the caller as typed exceptions without retries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2, timestamp_pb2

from interlude_client import InterludeClient
from interlude_client import errors as ce
from interlude_client.streams import Backoff, stream_events
from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    ordering_pb2,
)
from tests.support.helpers import ALPHA, Stubs, wait_for_order
from tests.support.server_process import ServerProcess, launch
from tests.support.streams import completed_orders

FAST = ("--seed", "demo", "--sim-step-delay", "0.01")
CIR = "service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
OVC_END_POINTS = ("alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")
# The consumer's channel retries connecting quickly, so the test does not wait out
# grpc's default reconnect backoff (up to 2 minutes) after the restart.
QUICK_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 300),
]
EVERY_SECOND = duration_pb2.Duration(seconds=1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cir_update(service_id: str, amount: float) -> ordering_pb2.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}})
    return ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=[CIR]),
    )


def _change_cir(target: str, amounts: Iterable[int], *, wait: bool = True) -> list[str]:
    """CIR changes on the demo OVC end points (values within the policy's [10, 1000]); the orders."""
    orders = []
    with grpc.insecure_channel(target) as channel:
        stubs = Stubs.on(channel)
        for n, amount in enumerate(amounts):
            request = _cir_update(OVC_END_POINTS[n % 2], amount)
            order = stubs.ordering.UpdateService(request, metadata=ALPHA, wait_for_ready=True).service_order
            if wait:
                wait_for_order(stubs, order.id)
            orders.append(order.id)
    return orders


def _log_after(target: str, token: str) -> list[events_pb2.Event]:
    """What the server's log holds after `token`: a plain call's replay, up to its sync marker."""
    with grpc.insecure_channel(target) as channel:
        call = events_pb2_grpc.EventServiceStub(channel).StreamEvents(
            events_pb2.StreamEventsRequest(resume_token=token), metadata=ALPHA
        )
        events = []
        for response in call:
            if response.HasField("sync"):
                break
            events.append(response.event)
        call.cancel()
    return events


class Consumer:
    """Reads `InterludeClient.stream_events` on a thread, as an SP's event loop would, until stopped.

    Heartbeats every second let it notice the stop request on a quiet stream."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.responses: list[events_pb2.StreamEventsResponse] = []
        self.reconnects: list[tuple[int, type[ce.InterludeError], str]] = []
        self.error: ce.InterludeError | None = None
        # Through the typed client, as an SP would: its stream_events resumes by token.
        self._stream = InterludeClient(channel=channel, buyer="sp-alpha").stream_events(
            events_pb2.StreamEventsRequest(heartbeat_interval=EVERY_SECOND),
            backoff=Backoff(maximum=0.5),
            on_reconnect=lambda attempt, error: self.reconnects.append((attempt, type(error), error.reason)),
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consumer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for response in self._stream:
                with self._lock:
                    self.responses.append(response)
                if self._stop.is_set():
                    break
        except ce.InterludeError as error:
            self.error = error
        finally:
            self._stream.close()

    def events(self) -> list[events_pb2.Event]:
        with self._lock:
            return [r.event for r in self.responses if r.HasField("event")]

    def last_sequence(self) -> int:
        events = self.events()
        return events[-1].sequence if events else 0

    def first_sync_token(self) -> str:
        with self._lock:
            return next((r.sync.resume_token for r in self.responses if r.HasField("sync")), "")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.error is None, f"the iterator gave up: {self.error}"
            assert time.monotonic() < deadline, "timed out waiting on the consumer"
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()


def test_the_event_iterator_survives_a_server_restart_with_no_loss_or_duplicates(tmp_path: Path) -> None:
    workdir = tmp_path / "restart"
    listen = (
        "--grpc-listen",
        f"127.0.0.1:{_free_port()}",
    )  # the restarted server comes back at the same address
    servers: list[ServerProcess] = [launch(workdir, *FAST, *listen)]
    target = servers[0].target
    with grpc.insecure_channel(target, options=QUICK_RECONNECT) as channel:
        consumer = Consumer(channel)
        try:
            consumer.wait_for(lambda: consumer.first_sync_token() != "")
            before = _change_cir(target, range(100, 400, 20))
            in_flight = _change_cir(target, (700, 710), wait=False)  # one per end point
            assert servers[0].stop() == 0  # SIGTERM while the consumer reads and orders progress
            (workdir / "ready").unlink(missing_ok=True)
            servers.append(launch(workdir, *FAST, *listen))
            assert servers[1].target == target
            with grpc.insecure_channel(target) as check:
                for order_id in in_flight:  # finished by the restarted server if not before
                    wait_for_order(Stubs.on(check), order_id)
            after = _change_cir(target, range(400, 700, 20))
            expected = _log_after(target, consumer.first_sync_token())
            consumer.wait_for(lambda: consumer.last_sequence() >= expected[-1].sequence)
            time.sleep(0.3)  # nothing more may arrive
            got = consumer.events()
        finally:
            consumer.stop()
            for server in servers:
                server.stop()
    assert [e.sequence for e in got] == [e.sequence for e in expected]
    assert [e.event_id for e in got] == [e.event_id for e in expected]
    assert len({e.sequence for e in got}) == len(got)
    assert set(before + in_flight + after) <= completed_orders(got)
    assert consumer.error is None
    assert (1, ce.Unavailable, "SHUTTING_DOWN") in consumer.reconnects


def test_stream_errors_are_typed_and_final(tmp_path: Path) -> None:
    server = launch(
        tmp_path / "expiry", *FAST, "--event-retention-count", "20", "--event-prune-interval", "0.1"
    )
    reconnects: list[ce.InterludeError] = []

    def record(_attempt: int, error: ce.InterludeError) -> None:
        reconnects.append(error)

    try:
        _change_cir(server.target, (50,))
        with grpc.insecure_channel(server.target) as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            oldest = events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=0))
            first = next(r for r in stream_events(stub, oldest, ALPHA) if r.HasField("event"))
            _change_cir(server.target, (60, 70, 80, 90, 100, 110))
            time.sleep(0.5)  # a retention round keeps only the newest 20 events
            stale = events_pb2.StreamEventsRequest(resume_token=first.event.resume_token)
            try:
                next(stream_events(stub, stale, ALPHA, on_reconnect=record))
                raise AssertionError("an expired token was accepted")
            except ce.ResumeTokenExpired as error:
                expired = error
            try:
                next(stream_events(stub, events_pb2.StreamEventsRequest(resume_token="garbage"), ALPHA))
                raise AssertionError("a garbage token was accepted")
            except ce.InvalidArgument as error:
                garbage = error
    finally:
        server.stop()
    assert expired.code == grpc.StatusCode.OUT_OF_RANGE
    assert expired.reason == "RESUME_TOKEN_EXPIRED"
    assert reconnects == []
    assert garbage.reason == "INVALID_RESUME_TOKEN"
    assert [v.field for v in garbage.field_violations] == ["resume_token"]
