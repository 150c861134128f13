"""Resumable streams against the probe server: every item once and in order across forced
disconnects, typed errors without retry when a retry cannot help, backoff, cancellation."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from interlude_client import errors as ce
from interlude_client.streams import (
    Backoff,
    aevents_only,
    astream_events,
    event_token,
    events_only,
    resumable,
    stream_events,
)
from interlude_grpc.mef.lso.interlude.v1 import events_pb2, events_pb2_grpc
from interlude_server.api.errors import status_for
from interlude_server.api.overload import LoadLimiter, Overloaded
from interlude_server.core import errors as de
from tests.support.probe import Cut, ProbeServer, Script, wait_until

Response = events_pb2.StreamEventsResponse
METADATA = (("x-interlude-buyer", "sp-alpha"),)
FIXED = Backoff(jitter=lambda: 1.0)  # delays at their cap: 0.1, 0.2, 0.4, ... 5
SHUTTING_DOWN = status_for(de.ShuttingDown("the server is shutting down; resume from your last token"))
EXPIRED = status_for(de.ResumeTokenExpired("the events after this resume token are no longer kept"))


def slow_consumer(token: str) -> object:
    return status_for(de.SlowConsumer("you fell too far behind; resume from your last token", token))


# A subscriber with a filter, a heartbeat interval and a start time; cut three times:
# by a shutdown after event 5, as a slow consumer right after the heartbeat of event 8
# (the server's token in the error is older than the client's own), and by a plain
# connection reset after event 13.
THREE_CUTS = [
    Cut(5, SHUTTING_DOWN),
    Cut(8, slow_consumer("ev-3")),
    Cut(13, code=grpc.StatusCode.UNAVAILABLE, message="connection reset"),
]
REQUEST = events_pb2.StreamEventsRequest(
    filter=events_pb2.EventFilter(resource_ids=["alpha-ovc-1-ep-1"]),
    start_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
    heartbeat_interval=duration_pb2.Duration(seconds=5),
)


class Reconnects:
    """Records on_reconnect calls and the (injected) sleeps."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, type[ce.InterludeError], str]] = []
        self.sleeps: list[float] = []

    def __call__(self, attempt: int, error: ce.InterludeError) -> None:
        self.calls.append((attempt, type(error), error.reason))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture(scope="module")
def stub(probe: ProbeServer) -> Iterator[events_pb2_grpc.EventServiceStub]:
    with grpc.insecure_channel(probe.target) as channel:
        yield events_pb2_grpc.EventServiceStub(channel)


def _kinds(responses: list[Response]) -> list[str]:
    return [f"{r.WhichOneof('kind')}-{event_token(r).rsplit('-', 1)[1]}" for r in responses]


def _assert_survived_three_cuts(script: Script, responses: list[Response], reconnects: Reconnects) -> None:
    events = [r.event.sequence for r in responses if r.HasField("event")]
    assert events == list(range(1, 21))  # every event exactly once, in order
    assert _kinds(responses).count("sync-20") == 1
    assert [event_token(r) for r in responses if r.HasField("heartbeat")] == [
        f"hb-{n}" for n in (4, 8, 12, 16, 20)
    ]
    # Each reconnect resumed from the last token seen, whatever kind of item carried it.
    assert script.tokens_requested() == ["", "ev-5", "hb-8", "ev-13"]
    assert script.requests[0].HasField("start_time")
    for resumed in script.requests[1:]:
        assert resumed.WhichOneof("start_point") == "resume_token"
        assert resumed.filter == REQUEST.filter
        assert resumed.heartbeat_interval == REQUEST.heartbeat_interval
    assert reconnects.calls == [
        (1, ce.Unavailable, "SHUTTING_DOWN"),
        (1, ce.ResourceExhausted, "SLOW_CONSUMER"),
        (1, ce.Unavailable, ""),
    ]
    assert reconnects.sleeps == [0.1, 0.1, 0.1]  # each connection made progress: backoff reset


def test_every_item_arrives_once_in_order_across_three_forced_disconnects(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    script = probe.script(cuts=list(THREE_CUTS))
    reconnects = Reconnects()
    responses = list(
        stream_events(stub, REQUEST, METADATA, backoff=FIXED, on_reconnect=reconnects, sleep=reconnects.sleep)
    )
    _assert_survived_three_cuts(script, responses, reconnects)


async def test_the_async_iterator_survives_the_same_three_disconnects(probe: ProbeServer) -> None:
    script = probe.script(cuts=list(THREE_CUTS))
    reconnects = Reconnects()
    async with grpc.aio.insecure_channel(probe.target) as channel:
        stream = astream_events(
            events_pb2_grpc.EventServiceStub(channel),
            REQUEST,
            METADATA,
            backoff=FIXED,
            on_reconnect=reconnects,
            sleep=reconnects.asleep,
        )
        responses = [r async for r in stream]
    _assert_survived_three_cuts(script, responses, reconnects)


def test_an_expired_token_raises_resume_token_expired_without_retrying(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    script = probe.script(cuts=[Cut(3, SHUTTING_DOWN), Cut(3, EXPIRED)])
    reconnects = Reconnects()
    seen: list[int] = []
    stream = stream_events(stub, REQUEST, backoff=FIXED, on_reconnect=reconnects, sleep=reconnects.sleep)
    with pytest.raises(ce.ResumeTokenExpired) as raised:
        seen.extend(event.sequence for event in events_only(stream))  # keeps what arrived before
    assert seen == [1, 2, 3]
    assert script.tokens_requested() == ["", "ev-3"]  # one reconnect, then no retry
    assert reconnects.calls == [(1, ce.Unavailable, "SHUTTING_DOWN")]
    assert reconnects.sleeps == [0.1]
    assert raised.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert raised.value.reason == "RESUME_TOKEN_EXPIRED"
    assert isinstance(raised.value.__cause__, grpc.RpcError)


async def test_the_async_iterator_raises_resume_token_expired_without_retrying(probe: ProbeServer) -> None:
    script = probe.script(cuts=[Cut(0, EXPIRED)])
    reconnects = Reconnects()
    async with grpc.aio.insecure_channel(probe.target) as channel:
        stream = astream_events(
            events_pb2_grpc.EventServiceStub(channel),
            events_pb2.StreamEventsRequest(resume_token="ev-7"),
            on_reconnect=reconnects,
            sleep=reconnects.asleep,
        )
        with pytest.raises(ce.ResumeTokenExpired):
            await anext(aevents_only(stream))
    assert script.tokens_requested() == ["ev-7"]
    assert reconnects.calls == []
    assert reconnects.sleeps == []


def test_a_non_retryable_error_is_raised_typed_with_its_field_violations(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    too_fast = de.InvalidArgument(
        "heartbeat_interval is too short", [de.Violation("heartbeat_interval", "must be at least 1 s")]
    )
    script = probe.script(cuts=[Cut(0, status_for(too_fast))])
    reconnects = Reconnects()
    with pytest.raises(ce.InvalidArgument) as raised:
        next(stream_events(stub, REQUEST, on_reconnect=reconnects, sleep=reconnects.sleep))
    assert raised.value.field_violations == [("heartbeat_interval", "must be at least 1 s")]
    assert len(script.requests) == 1
    assert reconnects.sleeps == []


def test_failures_back_off_exponentially_up_to_the_cap_and_give_up_after_max_attempts(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    script = probe.script(cuts=[Cut(0) for _ in range(10)])
    reconnects = Reconnects()
    with pytest.raises(ce.Unavailable) as raised:
        next(
            stream_events(
                stub,
                REQUEST,
                backoff=Backoff(maximum=0.3, jitter=lambda: 1.0),
                max_attempts=5,
                on_reconnect=reconnects,
                sleep=reconnects.sleep,
            )
        )
    assert raised.value.message == "connection reset"
    assert len(script.requests) == 5
    assert script.tokens_requested() == [""] * 5  # nothing arrived: each retry starts where the first did
    assert reconnects.sleeps == [0.1, 0.2, 0.3, 0.3]
    assert [attempt for attempt, _, _ in reconnects.calls] == [1, 2, 3, 4]


def test_a_message_resets_the_backoff(probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub) -> None:
    script = probe.script(events=4, cuts=[Cut(0), Cut(0), Cut(2), Cut(2)])
    reconnects = Reconnects()
    responses = list(stream_events(stub, REQUEST, backoff=FIXED, max_attempts=3, sleep=reconnects.sleep))
    assert [r.event.sequence for r in responses if r.HasField("event")] == [1, 2, 3, 4]
    assert script.tokens_requested() == ["", "", "", "ev-2", "ev-2"]
    assert reconnects.sleeps == [0.1, 0.2, 0.1, 0.2]


def test_a_slow_consumer_cut_before_any_item_resumes_from_the_token_in_the_error(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    script = probe.script(events=6, cuts=[Cut(0, slow_consumer("ev-2"))])
    responses = list(stream_events(stub, events_pb2.StreamEventsRequest(), sleep=lambda _: None))
    assert [r.event.sequence for r in responses if r.HasField("event")] == [3, 4, 5, 6]
    assert script.tokens_requested() == ["", "ev-2"]


def test_an_initial_token_starts_the_first_call_there(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    script = probe.script(events=6)
    events = list(events_only(stream_events(stub, REQUEST, initial_token="hb-4")))
    assert [e.sequence for e in events] == [5, 6]
    assert script.tokens_requested() == ["hb-4"]


def test_stopping_early_cancels_the_call(probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub) -> None:
    script = probe.script(events=6, hold=True)
    stream = stream_events(stub, REQUEST)
    assert [next(stream).event.sequence for _ in range(3)] == [1, 2, 3]
    stream.close()
    wait_until(lambda: script.cancelled == 1)
    after_sync = probe.script(events=2, hold=True)
    for event in events_only(stream_events(stub, REQUEST)):
        if event.sequence == 2:
            break  # events_only closes the resumable iterator, which cancels the call
    wait_until(lambda: after_sync.cancelled == 1)


async def test_stopping_an_async_iterator_early_cancels_the_call(probe: ProbeServer) -> None:
    script = probe.script(events=3, hold=True)
    async with grpc.aio.insecure_channel(probe.target) as channel:
        stub = events_pb2_grpc.EventServiceStub(channel)
        async with contextlib.aclosing(aevents_only(astream_events(stub, REQUEST))) as events:
            async for event in events:
                if event.sequence == 3:
                    break
        wait_until(lambda: script.cancelled == 1)


def test_resumable_works_for_any_stream_given_how_to_open_it_and_read_its_token() -> None:
    """Generic over the call: here a fake stream of strings whose token is the item itself."""
    log = [f"item-{n}" for n in range(1, 8)]
    opened: list[str] = []

    class Reset(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return "reset"

    def open_stream(token: str) -> Iterator[str]:
        opened.append(token)
        start = log.index(token) + 1 if token else 0
        for n, item in enumerate(log[start:], start=start):
            if n in (2, 5) and len(opened) <= (1 if n == 2 else 2):
                raise Reset()
            yield item

    assert list(resumable(open_stream, lambda item: item, sleep=lambda _: None)) == log
    assert opened == ["", "item-2", "item-5"]


def test_full_jitter_stays_below_a_cap_that_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(jitter=random.Random(7).random)
    assert [backoff.cap(n) for n in range(1, 9)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert backoff.cap(10_000) == 5.0
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(0 <= d < 0.4 for d in delays)
    assert max(delays) > 0.3
    assert min(delays) < 0.1  # full jitter: anywhere from zero to the cap


def test_a_stream_shed_as_overloaded_retries_no_sooner_than_the_server_asks(
    probe: ProbeServer, stub: events_pb2_grpc.EventServiceStub
) -> None:
    limiter = LoadLimiter(max_unary=1, max_streams=0, retry_after=0.7)
    with pytest.raises(Overloaded) as shed:
        limiter.enter(streaming=True)
    script = probe.script(events=3, cuts=[Cut(0, shed.value.status)])
    reconnects = Reconnects()
    responses = list(
        stream_events(stub, REQUEST, backoff=FIXED, on_reconnect=reconnects, sleep=reconnects.sleep)
    )
    assert [r.event.sequence for r in responses if r.HasField("event")] == [1, 2, 3]
    assert reconnects.calls == [(1, ce.ResourceExhausted, "OVERLOADED")]
    assert reconnects.sleeps == [0.7]  # the server's RetryInfo, above the backoff's 0.1
    assert script.tokens_requested() == ["", ""]
