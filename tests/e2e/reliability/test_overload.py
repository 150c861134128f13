"""Overload and misbehaving clients (F10 part 3), against real server processes.

The database's write lock, held from the test process as a long transaction elsewhere
would hold it, makes "the server is busy" deterministic: every write the server accepts
waits behind it, so calls in flight pile up exactly as under load, without a timing in
any assertion.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from interlude_client.channel import create_channel
from interlude_client.errors import InterludeError
from interlude_client.streams import stream_events
from interlude_grpc.mef.lso.interlude.v1 import (
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    ordering_pb2,
    ordering_pb2_grpc,
    performance_pb2,
    performance_pb2_grpc,
)
from interlude_server.rest.mapping import INVENTORY_BASE
from tests.e2e.conftest import launch_demo
from tests.support.crash import connectivity_request
from tests.support.helpers import ALPHA, Stubs, rich_error
from tests.support.overload import log_events, retry_delay_s, wait_until, write_locked
from tests.support.rest import RestClient
from tests.support.server_process import ServerProcess
from tests.support.streams import Collector, StreamCollector, event_log

MAX_INFLIGHT = 4
MAX_STREAMS = 3
RETRY_AFTER = 0.5
GET_UNI = inventory_pb2.GetServiceRequest(id="alpha-uni-1")


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a tiny bound on calls and streams in flight, and the REST adapter."""
    running = launch_demo(
        tmp_path_factory.mktemp("bounded"),
        *("--max-inflight-rpcs", str(MAX_INFLIGHT), "--max-streams", str(MAX_STREAMS)),
        *("--overload-retry-after", str(RETRY_AFTER), "--rest-listen", "127.0.0.1:0"),
    )
    yield running
    assert running.stop() == 0


def _connectivity(n: int, tag: str) -> ordering_pb2.CreateConnectivityRequest:
    request = connectivity_request(n, f"{tag}-{uuid.uuid4()}")
    request.external_id = f"{tag}-{n}"
    return request


def _all_orders(stubs: Stubs) -> list[ordering_pb2.ServiceOrder]:
    orders: list[ordering_pb2.ServiceOrder] = []
    token = ""
    while True:
        page = stubs.ordering.ListServiceOrders(
            ordering_pb2.ListServiceOrdersRequest(page_size=500, page_token=token), metadata=ALPHA
        )
        orders.extend(page.service_orders)
        if not (token := page.next_page_token):
            return orders


def test_a_burst_past_the_bound_is_shed_at_once_and_nothing_accepted_is_lost(
    bounded: ServerProcess,
) -> None:
    burst = 16
    requests = [_connectivity(n, "burst") for n in range(burst)]
    rest = RestClient(bounded.rest_url)

    with grpc.insecure_channel(bounded.target) as channel:
        stub = ordering_pb2_grpc.ServiceOrderingServiceStub(channel)
        with write_locked(bounded.workdir / "interlude.db"):
            calls = [stub.CreateConnectivity.future(r, metadata=ALPHA, timeout=30) for r in requests]
            # While the accepted writes wait for the database, every other call is answered:
            # shed at once, not queued behind them.
            wait_until(
                lambda: sum(c.done() for c in calls) >= burst - MAX_INFLIGHT,
                "the calls past the bound to be answered while the others wait",
            )
            assert sum(c.done() for c in calls) == burst - MAX_INFLIGHT
            # Health is never shed, and REST shares the bound (the in-flight writes hold it).
            check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
            refused = rest.get(f"{INVENTORY_BASE}/service/alpha-uni-1")
        wait_until(lambda: all(c.done() for c in calls), "the admitted calls to finish")
    assert refused.status == 429, refused
    assert refused.headers["Retry-After"] == "1"  # 0.5 s, rounded up to whole seconds
    assert refused.body["code"] == "tooManyRequests"
    assert refused.body["referenceError"].endswith(":OVERLOADED")
    shed = [e for c in calls if isinstance(e := c.exception(), grpc.RpcError)]
    acked = [c.result() for c in calls if c.exception() is None]
    assert len(acked) == MAX_INFLIGHT, "every call admitted under the bound must succeed"
    assert len(shed) == burst - MAX_INFLIGHT
    for error in shed:
        detail = rich_error(error)
        assert detail.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert detail.reason == "OVERLOADED"
        assert detail.metadata == {"limit": "unary_calls", "bound": str(MAX_INFLIGHT)}
        assert retry_delay_s(error) == RETRY_AFTER

    with grpc.insecure_channel(bounded.target) as channel:
        stubs = Stubs.on(channel)
        by_external = {o.external_id: o for o in _all_orders(stubs)}
        # Nothing accepted is lost; nothing shed was done.
        for response in acked:
            assert by_external[response.service_order.external_id].id == response.service_order.id
        made = {r.service_order.external_id for r in acked}
        assert not ({r.external_id for r in requests} - made) & set(by_external)
        # Once the load is gone, the shed calls succeed when retried (same request_ids).
        retried = {
            stubs.ordering.CreateConnectivity(r, metadata=ALPHA, timeout=30).service_order.id
            for r in requests
        }
        assert len(retried) == burst
        assert {r.service_order.id for r in acked} <= retried
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert log_events(bounded, "overload.shed"), "shedding is logged for the operator"


def test_streams_past_the_bound_are_shed_and_a_closed_one_frees_its_place(bounded: ServerProcess) -> None:
    with grpc.insecure_channel(bounded.target) as channel:
        open_streams = [Collector(channel, events_pb2.StreamEventsRequest()) for _ in range(MAX_STREAMS)]
        for stream in open_streams:
            stream.wait_for(stream.synced)
        extra = Collector(channel, events_pb2.StreamEventsRequest())
        extra.wait_for(extra.ended)
        assert extra.error is not None
        detail = rich_error(extra.error)
        assert (detail.code, detail.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "OVERLOADED")
        assert detail.metadata["limit"] == "streams"
        assert retry_delay_s(extra.error) == RETRY_AFTER
        # Unary calls have their own bound: they are still served.
        got = Stubs.on(channel).inventory.GetService(GET_UNI, metadata=ALPHA, timeout=10)
        assert got.service.id == GET_UNI.id
        open_streams[0].stop()

        def reopened() -> bool:
            again = Collector(channel, events_pb2.StreamEventsRequest())
            again.wait_for(lambda: again.synced() or again.ended())
            if again.synced():
                open_streams[0] = again
                return True
            return False

        wait_until(reopened, "a place freed by the cancelled stream")
        for stream in open_streams:
            stream.stop()


def test_a_write_whose_deadline_passes_while_queued_is_not_done(demo_server: ServerProcess) -> None:
    """The line: a write that has not begun when the call's deadline passes is not done (its
    queued job is skipped, or refused when the writer reaches it); one that began commits."""
    request = _connectivity(9000, "deadline")
    with grpc.insecure_channel(demo_server.target) as channel:
        stubs = Stubs.on(channel)
        with write_locked(demo_server.workdir / "interlude.db"):
            with pytest.raises(grpc.RpcError) as caught:
                stubs.ordering.CreateConnectivity(request, metadata=ALPHA, timeout=1.0)
            assert isinstance(caught.value, grpc.Call)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

            def server_saw_it() -> bool:
                return any(
                    e.get("request_id") == request.request_id and e.get("code") == "DEADLINE_EXCEEDED"
                    for e in log_events(demo_server, "rpc.finished")
                )

            wait_until(server_saw_it, "rpc.finished code=DEADLINE_EXCEEDED for the expired call")
        # The writer takes jobs in order: once a later write is acknowledged, the expired
        # one's job was either skipped or refused by its deadline check.
        later = stubs.ordering.CreateConnectivity(_connectivity(9001, "deadline"), metadata=ALPHA, timeout=30)
        assert later.service_order.id
        assert request.external_id not in {o.external_id for o in _all_orders(stubs)}
        # Nothing was changed, so a retry with the same request_id does the work, once.
        first = stubs.ordering.CreateConnectivity(request, metadata=ALPHA, timeout=30).service_order
        again = stubs.ordering.CreateConnectivity(request, metadata=ALPHA, timeout=30).service_order
        assert first.external_id == request.external_id
        assert again.id == first.id


def test_cancelled_streams_give_their_subscriptions_back(demo_server: ServerProcess) -> None:
    before = len(log_events(demo_server, "stream.closed"))
    with grpc.insecure_channel(demo_server.target) as channel:
        events = [Collector(channel, events_pb2.StreamEventsRequest()) for _ in range(3)]
        pm_stub = performance_pb2_grpc.PerformanceServiceStub(channel)
        measurements = StreamCollector(
            pm_stub.StreamPerformanceData(performance_pb2.StreamPerformanceDataRequest(), metadata=ALPHA)
        )
        for stream in [*events, measurements]:
            stream.wait_for(stream.synced)
        for stream in [*events, measurements]:
            stream.stop()

        def closed() -> list[dict[str, object]]:
            return log_events(demo_server, "stream.closed")[before:]

        wait_until(lambda: len(closed()) == 4, "a stream.closed event per cancelled stream")
    by_stream = {"events": [], "performance": []}  # type: dict[str, list[object]]
    for entry in closed():
        assert entry["why"] == "cancelled", entry
        by_stream[str(entry["stream"])].append(entry["subscribers"])
    # The hub's subscriber gauge counts down to zero: no subscription outlives its stream.
    assert sorted(by_stream["events"], key=str) == [0, 1, 2]
    assert by_stream["performance"] == [0]

    def streams_finished() -> list[dict[str, object]]:
        return [
            e
            for e in log_events(demo_server, "rpc.finished")
            if str(e["method"]).endswith(("/StreamEvents", "/StreamPerformanceData"))
        ]

    def cancelled() -> list[dict[str, object]]:
        return [e for e in streams_finished() if e["code"] == "CANCELLED"]

    # Each call's rpc.finished is logged once its stream.closed is, a moment later.
    # (A write racing the cancellation fails instead of being cancelled: still CANCELLED, see
    # tests/unit/api/test_stage_cancellation.py.) On a miss, the message shows what was logged.
    try:
        wait_until(lambda: len(cancelled()) >= 4, "rpc.finished code=CANCELLED for each cancelled stream")
    except AssertionError as miss:
        raise AssertionError(f"{miss}; the streams' rpc.finished: {streams_finished()!r}") from None


def test_streams_resume_across_connection_age_outs_without_loss(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Connections age out every ~2 s (+1 s grace): the resumable iterator follows
    StreamEvents across the cuts and receives every event once, in order."""
    server = launch_demo(
        tmp_path_factory.mktemp("age"),
        *("--max-connection-age", "2", "--max-connection-age-grace", "1"),
        *("--keepalive-time", "1", "--keepalive-timeout", "5"),
    )
    try:
        before = max((e.sequence for e in event_log(server.target)), default=0)
        received: list[events_pb2.Event] = []
        cuts: list[InterludeError] = []
        stop = threading.Event()
        synced = threading.Event()
        request = events_pb2.StreamEventsRequest(heartbeat_interval=duration_pb2.Duration(seconds=1))

        def follow() -> None:
            with create_channel(server.target) as channel:
                stub = events_pb2_grpc.EventServiceStub(channel)
                responses = stream_events(
                    stub, request, ALPHA, on_reconnect=lambda _attempt, error: cuts.append(error)
                )
                for response in responses:
                    if response.HasField("event"):
                        received.append(response.event)
                    synced.set()
                    if stop.is_set():
                        responses.close()
                        return

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        assert synced.wait(15)
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs.on(channel)
            n = 0
            while len(cuts) < 2:
                stubs.ordering.CreateConnectivity(_connectivity(n, "age"), metadata=ALPHA, timeout=30)
                n += 1
                assert n < 2000, "no age-out cut the stream"

        def logged_since_start() -> list[int]:
            return [e.sequence for e in event_log(server.target) if e.sequence > before]

        wait_until(
            lambda: set(logged_since_start()) <= {e.sequence for e in received[:]},
            "the stream to catch up with the log",
            timeout=20,
        )
        stop.set()
        reader.join(timeout=10)
        assert [c.code for c in cuts] == [grpc.StatusCode.UNAVAILABLE] * len(cuts)
        seqs = [e.sequence for e in received]
        assert seqs == sorted(set(seqs)), "an event was received twice or out of order"
        # Every event the log holds since the stream started, and nothing else.
        assert seqs == logged_since_start()[: len(seqs)]
    finally:
        assert server.stop() == 0
