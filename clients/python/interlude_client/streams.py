"""Resumable server streams: reconnect with backoff from the last resume token.

Every item of our server streams (an event, a heartbeat, the sync marker)
carries a resume token meaning "continue right after this point". The
iterators here remember the last token they saw; when the stream breaks in a
way a retry can fix (UNAVAILABLE, e.g. the server restarting or a connection
aged out, or RESOURCE_EXHAUSTED with reason SLOW_CONSUMER or OVERLOADED) they
wait (exponential backoff, full jitter, reset by every message that arrives; at
least the server's RetryInfo delay when it sent one) and open a new call from
that token, so the caller sees every item once, in order, across reconnects.
Any other error is raised as an `interlude_client.errors.InterludeError`;
a token the server no longer keeps raises `ResumeTokenExpired`, whose
docstring gives the resync path.

    request = events_pb2.StreamEventsRequest(heartbeat_interval=Duration(seconds=10))
    for event in events_only(stream_events(stub, request, metadata)):
        ...

Generic over the call: `resumable(open_stream, token_of)` works for any server
stream, given how to open it from a token and how to read an item's token.
Async code uses the `a*` twins; close them (`contextlib.aclosing`) when you stop
early so the underlying call is cancelled at once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Generic, TypedDict, TypeVar, Unpack

import grpc

from interlude_client.errors import (
    OVERLOADED,
    SLOW_CONSUMER,
    InterludeError,
    ResourceExhausted,
    Unavailable,
    from_rpc_error,
)
from interlude_grpc.mef.lso.interlude.v1 import (
    events_pb2,
    events_pb2_grpc,
    performance_pb2,
    performance_pb2_grpc,
    service_test_pb2,
    service_test_pb2_grpc,
)

Resp = TypeVar("Resp")
Metadata = Sequence[tuple[str, str]]
OnReconnect = Callable[[int, InterludeError], None]
Retryable = Callable[[InterludeError], bool]

# A library logs through stdlib logging, silent unless the application configures it
# (a structlog setup with stdlib integration picks these up as events with fields).
_log = logging.getLogger(__name__)
_MAX_EXPONENT = 64  # beyond this the cap is `maximum` anyway; keeps the power finite


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: before reconnect attempt n (1-based) wait a
    random time in [0, min(maximum, initial * multiplier**(n-1))). `jitter` draws from
    [0, 1); inject a constant to make delays deterministic."""

    initial: float = 0.1
    maximum: float = 5.0
    multiplier: float = 2.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def cap(self, attempt: int) -> float:
        """The upper bound of the delay before reconnect attempt `attempt`."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        return min(self.maximum, self.initial * self.multiplier**exponent)

    def delay(self, attempt: int) -> float:
        return self.cap(attempt) * self.jitter()


def is_retryable(error: InterludeError) -> bool:
    """Whether resuming from the last token can fix the error: UNAVAILABLE (the server is
    restarting, shutting down or unreachable, or the connection aged out) or
    RESOURCE_EXHAUSTED with reason SLOW_CONSUMER (the server cut a subscriber that fell
    behind) or OVERLOADED (the server is at its bound of open streams; retried after the
    delay it gives)."""
    if isinstance(error, Unavailable):
        return True
    return isinstance(error, ResourceExhausted) and error.reason in (SLOW_CONSUMER, OVERLOADED)


class ResumeOptions(TypedDict, total=False):
    """How a resumable stream reconnects (all optional).

    initial_token: where the first call starts ("" means the call's own start point).
    backoff: the delays between reconnects (default `Backoff()`: 0.1 s doubling to 5 s).
    max_attempts: give up after this many consecutive failed attempts, raising the last
        error; an attempt that delivers a message resets the count. None: never give up.
    on_reconnect: called with (attempt, error) before each reconnect's wait.
    retryable: which errors to reconnect on (default `is_retryable`).
    """

    initial_token: str
    backoff: Backoff
    max_attempts: int | None
    on_reconnect: OnReconnect | None
    retryable: Retryable


class _End(enum.Enum):
    END = enum.auto()


class _Progress(Generic[Resp]):
    """What the sync and async iterators share: the last token and the retry decision."""

    def __init__(self, token_of: Callable[[Resp], str], options: ResumeOptions) -> None:
        self.token_of = token_of
        self.token = options.get("initial_token", "")
        self.backoff = options.get("backoff") or Backoff()
        self.max_attempts = options.get("max_attempts")
        self.on_reconnect = options.get("on_reconnect")
        self.retryable = options.get("retryable", is_retryable)
        self.failures = 0
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None)")

    def seen(self, response: Resp) -> None:
        self.failures = 0
        self.token = self.token_of(response) or self.token

    def retry_after(self, rpc_error: grpc.RpcError) -> float:
        """The delay before reconnecting after `rpc_error`; raises it (typed) if it is final."""
        error = from_rpc_error(rpc_error)
        if not self.retryable(error):
            raise error from rpc_error
        self.failures += 1
        if self.max_attempts is not None and self.failures >= self.max_attempts:
            raise error from rpc_error
        # Our own last token is as good as the server's; the server's helps only when
        # nothing arrived yet (e.g. cut as a slow consumer before the first item).
        self.token = self.token or error.metadata.get("resume_token", "")
        # Never sooner than the server asked (RetryInfo, e.g. with OVERLOADED).
        delay = max(self.backoff.delay(self.failures), error.retry_delay or 0.0)
        _log.info(
            "stream.reconnecting attempt=%d code=%s reason=%s delay_s=%.3f resumed=%s",
            self.failures,
            error.code.name,
            error.reason,
            delay,
            bool(self.token),
        )
        if self.on_reconnect is not None:
            self.on_reconnect(self.failures, error)
        return delay


def _cancel(call: object) -> None:
    cancel = getattr(call, "cancel", None)
    if callable(cancel):
        cancel()


def _open(open_stream: Callable[[str], Iterable[Resp]], token: str) -> Generator[Resp, None, None]:
    """One call's responses; cancels the call when closed early."""
    call = open_stream(token)
    try:
        yield from call
    finally:
        _cancel(call)


async def _aopen(open_stream: Callable[[str], AsyncIterable[Resp]], token: str) -> AsyncGenerator[Resp, None]:
    call = open_stream(token)
    try:
        async for response in call:
            yield response
    finally:
        _cancel(call)


def resumable(
    open_stream: Callable[[str], Iterable[Resp]],
    token_of: Callable[[Resp], str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    **options: Unpack[ResumeOptions],
) -> Generator[Resp, None, None]:
    """Every response of a server stream, reconnecting from the last token on retryable errors.

    `open_stream(token)` opens a new call resuming right after `token` ("" means the
    original start point); `token_of(response)` is a response's resume token ("" if it
    has none). Ends when a call ends normally; raises an InterludeError subclass when a
    call fails for good. Close it (or let it go) to cancel the current call.

    Until the first item arrives there is no token, so a retry reopens the original start
    point: for a stream "from now" that is the moment the retry connects. Our streams
    send their sync marker (with a token) first thing, which keeps that window short.
    """
    progress = _Progress(token_of, options)
    while True:
        responses = _open(open_stream, progress.token)
        try:
            while True:
                try:
                    response = next(responses, _End.END)
                except grpc.RpcError as rpc_error:
                    delay = progress.retry_after(rpc_error)
                    break
                if response is _End.END:
                    return
                progress.seen(response)
                yield response
        finally:
            responses.close()
        sleep(delay)


async def aresumable(
    open_stream: Callable[[str], AsyncIterable[Resp]],
    token_of: Callable[[Resp], str],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **options: Unpack[ResumeOptions],
) -> AsyncGenerator[Resp, None]:
    """The asyncio twin of `resumable`: `open_stream(token)` returns an async iterable
    (e.g. a grpc.aio call). Close it with `contextlib.aclosing` when stopping early."""
    progress = _Progress(token_of, options)
    while True:
        responses = _aopen(open_stream, progress.token)
        try:
            while True:
                try:
                    response = await anext(responses, _End.END)
                except grpc.RpcError as rpc_error:
                    delay = progress.retry_after(rpc_error)
                    break
                if response is _End.END:
                    return
                progress.seen(response)
                yield response
        finally:
            await responses.aclose()
        await sleep(delay)


# --- EventService.StreamEvents ---------------------------------------------------------


def event_token(response: events_pb2.StreamEventsResponse) -> str:
    """The resume token of a StreamEvents response: its event's, heartbeat's or sync marker's."""
    if response.HasField("event"):
        return response.event.resume_token
    if response.HasField("heartbeat"):
        return response.heartbeat.resume_token
    if response.HasField("sync"):
        return response.sync.resume_token
    return ""


def resume_request(request: events_pb2.StreamEventsRequest, token: str) -> events_pb2.StreamEventsRequest:
    """`request` resumed right after `token` (same filter and heartbeat; the token replaces
    any start_time); `request` itself when `token` is ""."""
    if not token:
        return request
    resumed = events_pb2.StreamEventsRequest()
    resumed.CopyFrom(request)
    resumed.resume_token = token  # a oneof with start_time: this clears it
    return resumed


def stream_events(
    stub: events_pb2_grpc.EventServiceStub,
    request: events_pb2.StreamEventsRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], None] = time.sleep,
    **options: Unpack[ResumeOptions],
) -> Generator[events_pb2.StreamEventsResponse, None, None]:
    """Every StreamEvents response (events, heartbeats, sync markers), resuming on
    reconnect with the last token seen; see `resumable`."""
    return resumable(
        lambda token: stub.StreamEvents(resume_request(request, token), metadata=tuple(metadata)),
        event_token,
        sleep=sleep,
        **options,
    )


def astream_events(
    stub: events_pb2_grpc.EventServiceAsyncStub,
    request: events_pb2.StreamEventsRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **options: Unpack[ResumeOptions],
) -> AsyncGenerator[events_pb2.StreamEventsResponse, None]:
    """The asyncio twin of `stream_events`, over a stub on a grpc.aio channel."""
    return aresumable(
        lambda token: stub.StreamEvents(resume_request(request, token), metadata=tuple(metadata)),
        event_token,
        sleep=sleep,
        **options,
    )


def events_only(
    responses: Iterable[events_pb2.StreamEventsResponse],
) -> Generator[events_pb2.Event, None, None]:
    """Just the events of a StreamEvents response stream (closing it when closed)."""
    iterator = iter(responses)
    try:
        for response in iterator:
            if response.HasField("event"):
                yield response.event
    finally:
        _close = getattr(iterator, "close", None)
        if callable(_close):
            _close()


async def aevents_only(
    responses: AsyncIterable[events_pb2.StreamEventsResponse],
) -> AsyncGenerator[events_pb2.Event, None]:
    """The asyncio twin of `events_only`."""
    iterator = aiter(responses)
    try:
        async for response in iterator:
            if response.HasField("event"):
                yield response.event
    finally:
        aclose = getattr(iterator, "aclose", None)
        if callable(aclose):
            await aclose()


# --- ServiceTestService.StreamTestResults ----------------------------------------------


def _resumed_test_request(
    request: service_test_pb2.StreamTestResultsRequest, token: str
) -> service_test_pb2.StreamTestResultsRequest:
    if not token:
        return request
    resumed = service_test_pb2.StreamTestResultsRequest()
    resumed.CopyFrom(request)
    resumed.resume_token = token
    return resumed


def _test_token(response: service_test_pb2.StreamTestResultsResponse) -> str:
    return response.resume_token


def stream_test_results(
    stub: service_test_pb2_grpc.ServiceTestServiceStub,
    request: service_test_pb2.StreamTestResultsRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], None] = time.sleep,
    **options: Unpack[ResumeOptions],
) -> Generator[service_test_pb2.StreamTestResultsResponse, None, None]:
    """Every StreamTestResults item of one job (state changes, measurements, step progress,
    summaries, heartbeats, the sync marker) until the job's final state, resuming on
    reconnect with the last token seen; see `resumable`."""
    return resumable(
        lambda token: stub.StreamTestResults(_resumed_test_request(request, token), metadata=tuple(metadata)),
        _test_token,
        sleep=sleep,
        **options,
    )


def astream_test_results(
    stub: service_test_pb2_grpc.ServiceTestServiceAsyncStub,
    request: service_test_pb2.StreamTestResultsRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **options: Unpack[ResumeOptions],
) -> AsyncGenerator[service_test_pb2.StreamTestResultsResponse, None]:
    """The asyncio twin of `stream_test_results`, over a stub on a grpc.aio channel."""
    return aresumable(
        lambda token: stub.StreamTestResults(_resumed_test_request(request, token), metadata=tuple(metadata)),
        _test_token,
        sleep=sleep,
        **options,
    )


# --- PerformanceService.StreamPerformanceData ---------------------------------------------


def measurement_token(response: performance_pb2.StreamPerformanceDataResponse) -> str:
    """The resume token of a StreamPerformanceData response: its update's, heartbeat's or sync's."""
    kind = response.WhichOneof("kind")
    return "" if kind is None else str(getattr(response, kind).resume_token)


def _resumed_pm_request(
    request: performance_pb2.StreamPerformanceDataRequest, token: str
) -> performance_pb2.StreamPerformanceDataRequest:
    resumed = performance_pb2.StreamPerformanceDataRequest()
    resumed.CopyFrom(request)
    if token:
        resumed.resume_token = token
    return resumed


def stream_performance_data(
    stub: performance_pb2_grpc.PerformanceServiceStub,
    request: performance_pb2.StreamPerformanceDataRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], None] = time.sleep,
    **options: Unpack[ResumeOptions],
) -> Generator[performance_pb2.StreamPerformanceDataResponse, None, None]:
    """Every StreamPerformanceData response (updates, heartbeats, sync markers), resuming on
    reconnect with the last token seen (which overrides `range.after`); see `resumable`."""
    return resumable(
        lambda token: stub.StreamPerformanceData(
            _resumed_pm_request(request, token), metadata=tuple(metadata)
        ),
        measurement_token,
        sleep=sleep,
        **options,
    )


def astream_performance_data(
    stub: performance_pb2_grpc.PerformanceServiceAsyncStub,
    request: performance_pb2.StreamPerformanceDataRequest,
    metadata: Metadata = (),
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **options: Unpack[ResumeOptions],
) -> AsyncGenerator[performance_pb2.StreamPerformanceDataResponse, None]:
    """The asyncio twin of `stream_performance_data`, over a stub on a grpc.aio channel."""
    return aresumable(
        lambda token: stub.StreamPerformanceData(
            _resumed_pm_request(request, token), metadata=tuple(metadata)
        ),
        measurement_token,
        sleep=sleep,
        **options,
    )
