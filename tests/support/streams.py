"""Test helpers for event streams: a background collector and a change generator."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, events_pb2_grpc, ordering_pb2
from tests.support.helpers import ALPHA, Stubs, wait_for_order

Metadata = tuple[tuple[str, str], ...]
LOCK_TOGGLE = ["alpha-uni-1", "alpha-uni-2", "alpha-ovc-1-ep-1", "alpha-evc-1-ep-1"]


class StreamCollector:
    """Reads a server-streaming call on a thread, keeping every response and the final error.

    Works for any stream envelope with a `kind` oneof whose members carry `resume_token`."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.responses: list[Any] = []
        self.error: grpc.RpcError | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                with self._lock:
                    self.responses.append(response)
        except grpc.RpcError as error:
            self.error = error

    def of_kind(self, kind: str) -> list[Any]:
        """The payloads of the responses of one `kind`, e.g. "update" or "heartbeat"."""
        with self._lock:
            return [getattr(r, kind) for r in self.responses if r.WhichOneof("kind") == kind]

    def ended(self) -> bool:
        """The call finished (OK or with an error)."""
        return not self._thread.is_alive()

    def last_token(self) -> str:
        with self._lock:
            for r in reversed(self.responses):
                kind = r.WhichOneof("kind")
                if kind is not None:
                    token: str = getattr(r, kind).resume_token
                    return token
        return ""

    def wait_for(self, predicate: object, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():  # type: ignore[operator]
            assert self.error is None or predicate(), f"stream ended: {self.error}"  # type: ignore[operator]
            assert time.monotonic() < deadline, "timed out waiting on the stream"
            time.sleep(0.02)

    def synced(self) -> bool:
        with self._lock:
            return any(r.HasField("sync") for r in self.responses)

    def stop(self) -> None:
        self.call.cancel()
        self._thread.join(timeout=5)


class Collector(StreamCollector):
    """Collects a StreamEvents call."""

    def __init__(
        self, channel: grpc.Channel, request: events_pb2.StreamEventsRequest, metadata: Metadata = ALPHA
    ) -> None:
        super().__init__(events_pb2_grpc.EventServiceStub(channel).StreamEvents(request, metadata=metadata))

    def events(self) -> list[events_pb2.Event]:
        return list(self.of_kind("event"))


def toggle_admin_states(
    stubs: Stubs, orders_per_service: int, services: Sequence[str] = LOCK_TOGGLE
) -> list[str]:
    """Lock/unlock services, one worker per service, each order awaited; the order ids."""
    made: list[str] = []
    lock = threading.Lock()

    def work(service_id: str) -> None:
        for i in range(orders_per_service):
            state = (
                common_pb2.ADMINISTRATIVE_STATE_LOCKED
                if i % 2 == 0
                else common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
            )
            request = ordering_pb2.SetAdministrativeStateRequest(
                service_id=service_id, administrative_state=state
            )
            order = stubs.ordering.SetAdministrativeState(request, metadata=ALPHA).service_order
            wait_for_order(stubs, order.id)
            with lock:
                made.append(order.id)

    threads = [threading.Thread(target=work, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == orders_per_service * len(services)
    return made


def completed_orders(events: list[events_pb2.Event]) -> set[str]:
    return {
        e.resource.id
        for e in events
        if e.event_type == events_pb2.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE and e.state == "completed"
    }


def event_log(target: str, metadata: Metadata = ALPHA) -> list[events_pb2.Event]:
    """Every event of the buyer in the durable log, in log order (a gRPC replay from the
    beginning up to its sync marker): the truth hub deliveries are checked against."""
    with grpc.insecure_channel(target) as channel:
        request = events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1))
        collector = Collector(channel, request, metadata)
        collector.wait_for(collector.synced)
        events = collector.events()
        collector.stop()
    return events
