"""Several server processes on one SQLite file (F11): replicas and `--workers N`.

Each replica is a real `interlude-server` process with `--shared-store` on its
own port; all use the same database file. The truth every check compares with
is the durable event log, read back over gRPC.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
    performance_pb2,
    service_test_pb2,
)
from tests.conftest import DbFor
from tests.support.helpers import ALPHA, TERMINAL, Stubs, wait_for_order
from tests.support.pm_helpers import TIME_SCALE, Pmc, epoch, keys
from tests.support.rest import ORD, Listener, RestClient
from tests.support.server_process import ServerProcess, launch
from tests.support.sft import TERMINAL as SFT_TERMINAL
from tests.support.sft import SftClient, job
from tests.support.streams import LOCK_TOGGLE, Collector, event_log

E = events_pb2
St = service_test_pb2
Pm = performance_pb2
SFT_RUN = ("ethernet-loopback", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2")
ORD_TYPES = {
    E.EVENT_TYPE_SERVICE_ORDER_CREATE,
    E.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE,
    E.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE,
}
LEASE_TTL = "1"


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


@pytest.fixture
def shared_db(tmp_path: Path, db_for: DbFor) -> str:
    """The one database of a test's replicas: tmp_path/shared.db, or a PostgreSQL database."""
    return db_for(tmp_path) or f"sqlite:///{tmp_path / 'shared.db'}"


def _replica(db: str, tmp_path: Path, name: str, *extra: str, delay: str = "0.02") -> ServerProcess:
    """A replica on its own port, sharing the database `db` with the others."""
    args = ("--db", db, "--seed", "demo", "--shared-store", "--lease-ttl", LEASE_TTL)
    return launch(tmp_path / name, *args, "--sim-step-delay", delay, *extra)


def _log_lines(server: ServerProcess, event: str) -> list[dict[str, Any]]:
    """The server's JSON log lines of one event (all workers of a `--workers` group write there)."""
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def _leases(server: ServerProcess) -> set[str]:
    return {line["lease"] for line in _log_lines(server, "lease.acquired")}


def _set_admin(stubs: Stubs, service_id: str, locked: bool) -> str:
    state = common_pb2.ADMINISTRATIVE_STATE_LOCKED if locked else common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    request = ordering_pb2.SetAdministrativeStateRequest(service_id=service_id, administrative_state=state)
    order_id: str = stubs.ordering.SetAdministrativeState(request, metadata=ALPHA).service_order.id
    return order_id


def _admin_states(stubs: Stubs) -> list[int]:
    """The administrative states of the LOCK_TOGGLE services as `stubs`' replica reads them."""
    get = stubs.inventory.GetService
    return [
        get(inventory_pb2.GetServiceRequest(id=sid), metadata=ALPHA).service.administrative_state
        for sid in LOCK_TOGGLE
    ]


def _read_everywhere(replicas: list[Stubs], locked: bool) -> None:
    """Every replica reads the services as the last orders left them, whichever replica ran
    them: each serves GetService from its read cache, which drops what another replica wrote
    (the database's notification on PostgreSQL, the file's change counter on SQLite)."""
    want = common_pb2.ADMINISTRATIVE_STATE_LOCKED if locked else common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    deadline = time.monotonic() + 10
    for stubs in replicas:
        while (states := _admin_states(stubs)) != [want] * len(LOCK_TOGGLE):
            assert time.monotonic() < deadline, f"a replica still reads {states}"
            time.sleep(0.05)


def _settled_log(server: ServerProcess, after: int) -> list[events_pb2.Event]:
    """The log after `after` as `server` replays it, once two reads 0.2 s apart agree: a
    replica replays up to what its follower has seen, which may trail the last commits of
    another replica by a poll interval."""
    deadline = time.monotonic() + 15
    previous: list[events_pb2.Event] | None = None
    while True:
        current = [e for e in event_log(server.target) if e.sequence > after]
        if previous is not None and _ids(current) == _ids(previous):
            return current
        assert time.monotonic() < deadline, "the log did not settle"
        previous = current
        time.sleep(0.2)


def _ids(events: list[events_pb2.Event]) -> list[str]:
    return [e.event_id for e in events]


def _assert_ordered_once(events: list[events_pb2.Event]) -> None:
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences)), "out of order or duplicated"


@pytest.mark.stores("sqlite", "postgresql")
def test_replicas_share_one_log_and_deliver_hub_callbacks_once(
    tmp_path: Path, listener: Listener, shared_db: str
) -> None:
    fast_pm = ("--sim-time-scale", TIME_SCALE)
    a = _replica(shared_db, tmp_path, "a", "--rest-listen", "127.0.0.1:0", *fast_pm)
    b = _replica(shared_db, tmp_path, "b", "--rest-listen", "127.0.0.1:0", *fast_pm)
    try:
        assert "hub-delivery" in _leases(a)  # the first replica drives the work
        assert not _leases(b)
        # Registered through B, which does not deliver: A picks the registration up.
        reply = RestClient(b.rest_url).post(f"{ORD}/hub", {"callback": listener.url})
        assert reply.status == 201, reply.body
        with grpc.insecure_channel(a.target) as ca, grpc.insecure_channel(b.target) as cb:
            replicas = [Stubs.on(ca), Stubs.on(cb)]
            subscriber = Collector(ca, events_pb2.StreamEventsRequest())
            # B commits only the orders placed through it: the rest reaches B by its commit watch.
            subscriber_b = Collector(cb, events_pb2.StreamEventsRequest())
            subscriber.wait_for(subscriber.synced)
            subscriber_b.wait_for(subscriber_b.synced)
            before = max((e.sequence for e in event_log(a.target)), default=0)
            _read_everywhere(replicas, locked=False)  # both replicas now hold them in their caches
            orders: list[str] = []
            for locked in (True, False):  # orders placed alternately through A and B
                placed = [_set_admin(replicas[n % 2], sid, locked) for n, sid in enumerate(LOCK_TOGGLE)]
                for n, order_id in enumerate(placed):  # each read back through the other replica
                    assert wait_for_order(replicas[(n + 1) % 2], order_id).state == (
                        ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
                    )
                _read_everywhere(replicas, locked)
                orders += placed
            log = _settled_log(b, before)
            assert {e.resource.id for e in log if e.event_type == E.EVENT_TYPE_SERVICE_ORDER_CREATE} == set(
                orders
            )
            subscriber.wait_for(lambda: len(subscriber.events()) >= len(log))
            subscriber_b.wait_for(lambda: len(subscriber_b.events()) >= len(log))
            wanted = [e for e in log if e.event_type in ORD_TYPES]
            listener.wait_for(lambda bodies: len(bodies) >= len(wanted))
            time.sleep(0.3)  # a second delivery or a stray event would arrive by now
            got, got_b = subscriber.events(), subscriber_b.events()
            subscriber.stop()
            subscriber_b.stop()
            # A test job created and followed on B is run by A (the test-jobs lease holder):
            # B's stream re-reads on every commit B's watch sees, not only at its heartbeat.
            sft = SftClient(cb)
            test_job = sft.create(job("replicated", *SFT_RUN, test_mode=St.TEST_MODE_IN_SERVICE))
            assert sft.follow(test_job.id).states() == [
                St.TEST_JOB_STATE_ACKNOWLEDGED,
                St.TEST_JOB_STATE_IN_PROGRESS,
                St.TEST_JOB_STATE_COMPLETED,
            ]
            # A PM job created on B is measured by A; B streams its bins from the measurement log.
            pm = Pmc(cb)
            _, pm_job = pm.running_job()
            live = pm.stream(performance_job_ids=[pm_job.id], mode=Pm.STREAM_MODE_STREAM)
            live.wait_for(lambda: len(live.of_kind("update")) >= 3)
            live.stop()
            pm.stub.CancelPerformanceJob(Pm.CancelPerformanceJobRequest(id=pm_job.id), metadata=ALPHA)
            bins = keys(live.of_kind("update"))
            stored = keys(pm.once(performance_job_ids=[pm_job.id], range=common_pb2.TimeRange(after=epoch())))
    finally:
        assert b.stop() == 0
        assert a.stop() == 0
    assert _ids(got) == _ids(log)  # every event of both replicas, in log order, once
    assert _ids(got_b) == _ids(log)
    _assert_ordered_once(got)
    assert [d.body["eventId"] for d in listener.deliveries()] == _ids(wanted)  # once, not per replica
    assert bins == sorted(set(bins))  # in order, none twice
    assert set(bins) <= set(stored)


@pytest.mark.stores("sqlite", "postgresql")
def test_killed_replica_stream_resumes_on_the_other_and_its_work_is_taken_over(
    tmp_path: Path, listener: Listener, shared_db: str
) -> None:
    rest_on = ("--rest-listen", "127.0.0.1:0")
    a = _replica(
        shared_db, tmp_path, "a", *rest_on, delay="0.3"
    )  # slow steps: orders are in flight at the kill
    b = _replica(shared_db, tmp_path, "b", *rest_on, delay="0.3")
    try:
        assert {"orders", "hub-delivery"} <= _leases(a)
        assert not _leases(b)
        reply = RestClient(b.rest_url).post(f"{ORD}/hub", {"callback": listener.url})
        assert reply.status == 201, reply.body
        with grpc.insecure_channel(a.target) as ca, grpc.insecure_channel(b.target) as cb:
            stubs_a, stubs_b = Stubs.on(ca), Stubs.on(cb)
            subscriber = Collector(ca, events_pb2.StreamEventsRequest())
            subscriber.wait_for(subscriber.synced)
            start = subscriber.last_token()
            orders = [
                _set_admin(stubs_a if n % 2 else stubs_b, sid, True) for n, sid in enumerate(LOCK_TOGGLE)
            ]
            sft = SftClient(cb)
            test_job = sft.create(job("taken over", *SFT_RUN, test_mode=St.TEST_MODE_IN_SERVICE))
            subscriber.wait_for(lambda: len(subscriber.events()) >= len(orders) + 2)
            a.proc.kill()  # SIGKILL: no lease release, no goodbye
            a.proc.wait()
            subscriber.wait_for(lambda: subscriber.error is not None)
            token = subscriber.last_token()
            seen = subscriber.events()
            in_flight = [
                o
                for o in orders
                if stubs_b.ordering.GetServiceOrder(
                    ordering_pb2.GetServiceOrderRequest(id=o), metadata=ALPHA
                ).service_order.state
                not in TERMINAL
            ]
            assert in_flight, "every order had ended before the kill: nothing to take over"
            for order_id in orders:  # B takes the orders lease after the TTL and finishes them
                done = wait_for_order(stubs_b, order_id, timeout=20)
                assert done.state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
            assert sft.get(test_job.id).state not in SFT_TERMINAL  # A was running it
            assert (
                sft.wait_for(test_job.id, {int(s) for s in SFT_TERMINAL}).state == St.TEST_JOB_STATE_COMPLETED
            )
            assert {"orders", "test-jobs", "hub-delivery"} <= _leases(b)
            resumed = Collector(cb, events_pb2.StreamEventsRequest(resume_token=token))
            resumed.wait_for(resumed.synced)
            everything = Collector(cb, events_pb2.StreamEventsRequest(resume_token=start))
            everything.wait_for(everything.synced)
            rest, whole = resumed.events(), everything.events()
            resumed.stop()
            everything.stop()
            wanted = [e for e in whole if e.event_type in ORD_TYPES]
            listener.wait_for(lambda bodies: len({b["eventId"] for b in bodies}) >= len(wanted))
    finally:
        b.stop()
        a.stop()
    assert seen
    assert rest
    assert _ids(seen + rest) == _ids(whole)  # no loss, no duplicate across the replicas
    _assert_ordered_once(seen + rest)
    done_ids = {e.resource.id for e in whole if e.state == "completed"}
    assert set(orders) <= done_ids
    # B resumed hub delivery where A's cursor stood: every event, in order; only a delivery cut
    # off by the kill may come twice (its cursor was not yet recorded).
    delivered = [d.body["eventId"] for d in listener.deliveries()]
    assert list(dict.fromkeys(delivered)) == _ids(wanted)
    assert len(delivered) - len(wanted) <= 1


def _served_by(server: ServerProcess, method_suffix: str) -> set[int]:
    """The pids of the workers that logged a finished RPC whose method ends with the suffix."""
    lines = _log_lines(server, "rpc.finished")
    return {int(line["pid"]) for line in lines if str(line["method"]).endswith(method_suffix)}


def _fresh_channel(target: str) -> grpc.Channel:
    """A channel with its own TCP connection: the kernel picks a worker per connection."""
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def test_workers_share_the_port_and_see_each_others_events(tmp_path: Path) -> None:
    server = launch(tmp_path / "workers", "--seed", "demo", "--sim-step-delay", "0.02", "--workers", "2")
    try:
        with grpc.insecure_channel(server.target) as channel:
            subscriber = Collector(channel, events_pb2.StreamEventsRequest())
            subscriber.wait_for(subscriber.synced)
            orders: list[str] = []
            for attempt in range(10):  # until orders went through both workers (nearly always at once)
                for sid in LOCK_TOGGLE:
                    with _fresh_channel(server.target) as fresh:
                        orders.append(_set_admin(Stubs.on(fresh), sid, attempt % 2 == 0))
                for order_id in orders[-len(LOCK_TOGGLE) :]:
                    wait_for_order(Stubs.on(channel), order_id)
                if len(_served_by(server, "/SetAdministrativeState")) == 2:
                    break
            assert len(_served_by(server, "/SetAdministrativeState")) == 2
            log = _settled_log(server, 0)  # whichever worker replays it has followed the other's commits
            subscriber.wait_for(lambda: len(subscriber.events()) >= len(log))
            got = subscriber.events()
            subscriber.stop()
        worker_pids = {int(line["pid"]) for line in _log_lines(server, "server.started")}
        victim = min(worker_pids)
        os.kill(victim, signal.SIGKILL)  # the supervisor starts a replacement
        deadline = time.monotonic() + 15
        while len(_log_lines(server, "server.started")) < 3:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.05)
        assert [line["pid"] for line in _log_lines(server, "worker.died")] == [victim]
        with _fresh_channel(server.target) as fresh:
            assert wait_for_order(Stubs.on(fresh), orders[0]).id == orders[0]
    finally:
        assert server.stop() == 0
    assert len(worker_pids) == 2
    assert server.proc.pid not in worker_pids
    assert _ids(got) == _ids(log)  # the stream's worker saw the other's commits, in order
    _assert_ordered_once(got)
    assert {e.resource.id for e in got if e.event_type == E.EVENT_TYPE_SERVICE_ORDER_CREATE} == set(orders)
