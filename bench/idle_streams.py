"""1,000 idle streams + one slow consumer + write load, against a real server.

One run has two phases of the same write load (`writers` closed-loop clients placing
connectivity orders for sp-alpha) with one fast reader following sp-alpha's events:

1. without idle streams;
2. with `idle` StreamEvents streams of sp-beta open (they receive nothing: every event is
   sp-alpha's, yet the hub offers each one to every subscription) over a few grpc.aio
   channels, each its own connection, and one slow consumer of sp-alpha that stops
   reading until the phase ends (small windows: it overflows its subscriber buffer and is
   cut with SLOW_CONSUMER, then resumes from its token with the Python client).

`run` returns the facts (acks, errors, what each reader received, the log's truth, the
server's resident memory); tests/e2e/reliability/test_idle_streams.py asserts on them, and `main`
reports writes/s with idle streams as a ratio of writes/s without, measured in the same
run (no absolute timing is asserted anywhere):

    .venv/bin/python -m bench.idle_streams [--idle 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2

from bench.harness import ServerProcess, launch, memory_mib
from interlude_client.errors import InterludeError
from interlude_client.streams import astream_events
from interlude_grpc.mef.lso.interlude.v1 import events_pb2, events_pb2_grpc, ordering_pb2_grpc
from interlude_server.events import tokens
from tests.support.crash import connectivity_request

ALPHA = (("x-interlude-buyer", "sp-alpha"),)
BETA = (("x-interlude-buyer", "sp-beta"),)
STREAMS_PER_CHANNEL = 100  # well under the server's default --max-concurrent-streams
SUBSCRIBER_BUFFER = 64  # --event-subscriber-buffer: small, so the slow consumer overflows
# No BDP probing: the slow consumer's HTTP/2 window stays at 64 KiB, so its back-pressure
# reaches the server after a few dozen events. Its socket buffer is left alone: a 4 KiB one
# (tried before) also throttled the catch-up once the consumer read again, at times to ~45
# events/s for the rest of the run (a full window per delayed TCP ack), and the run ended
# with the consumer still behind (the test failed about 1 run in 30 under load).
SLOW_OPTIONS = [("grpc.http2.bdp_probe", 0)]


@dataclass
class Phase:
    acks: int = 0
    seconds: float = 0.0

    @property
    def per_s(self) -> float:
        return self.acks / self.seconds if self.seconds else 0.0


@dataclass
class IdleStreamsReport:
    """What one run saw; sequences are event log positions."""

    idle: int
    without: Phase = field(default_factory=Phase)
    with_idle: Phase = field(default_factory=Phase)
    write_errors: list[str] = field(default_factory=list)
    idle_synced: int = 0
    idle_ended: int = 0  # idle streams that ended before the run closed them
    idle_events: int = 0  # events an idle stream received (none is sp-beta's)
    fast: list[int] = field(default_factory=list)
    fast_start: int = 0  # the log position each reader started after
    slow: list[int] = field(default_factory=list)
    slow_start: int = 0
    slow_cuts: list[str] = field(default_factory=list)  # reasons the slow consumer was cut
    log: list[int] = field(default_factory=list)  # sp-alpha's events since the run began
    rss_mib: float = 0.0  # the server's resident memory with every stream open

    @property
    def ratio(self) -> float:
        """Writes/s with the idle streams and the slow consumer over writes/s without."""
        return self.with_idle.per_s / self.without.per_s if self.without.per_s else 0.0


def _channel(target: str, options: list[tuple[str, int]] | None = None) -> grpc.aio.Channel:
    # A local subchannel pool: a connection of its own, not one shared with other channels.
    return grpc.aio.insecure_channel(
        target, options=[("grpc.use_local_subchannel_pool", 1), *(options or [])]
    )


async def _log_since(target: str, after: int) -> list[int]:
    """The sequences of sp-alpha's events after `after` in the durable log (a replay to sync)."""
    async with _channel(target) as channel:
        call = events_pb2_grpc.EventServiceStub(channel).StreamEvents(
            events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1)), metadata=ALPHA
        )
        found: list[int] = []
        async for response in call:
            if response.HasField("sync"):
                call.cancel()
                break
            if response.event.sequence > after:
                found.append(response.event.sequence)
        return found


async def _write(
    target: str, writers: int, seconds: float, counter: itertools.count[int], report: IdleStreamsReport
) -> Phase:
    """`writers` closed-loop clients placing orders for `seconds`; every call must succeed."""
    phase = Phase()
    async with _channel(target) as channel:
        stub = ordering_pb2_grpc.ServiceOrderingServiceStub(channel)
        stop_at = time.monotonic() + seconds

        async def writer() -> None:
            while time.monotonic() < stop_at:
                request = connectivity_request(next(counter), str(uuid.uuid4()))
                try:
                    await stub.CreateConnectivity(request, metadata=ALPHA, timeout=30)
                except grpc.aio.AioRpcError as error:
                    report.write_errors.append(f"{error.code().name}: {error.details()}")
                else:
                    phase.acks += 1

        started = time.monotonic()
        await asyncio.gather(*(writer() for _ in range(writers)))
        phase.seconds = time.monotonic() - started
    return phase


class _Reader:
    """Follows sp-alpha's events with the resumable client iterator; `gate` pauses it."""

    def __init__(self, target: str, options: list[tuple[str, int]] | None = None) -> None:
        self.channel = _channel(target, options)
        self.seen: list[int] = []
        self.start = -1  # the log position of its first sync marker: it follows what comes after
        self.cuts: list[str] = []
        self.synced = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.task = asyncio.ensure_future(self._follow())

    def _cut(self, _attempt: int, error: InterludeError) -> None:
        self.cuts.append(error.reason)

    async def _follow(self) -> None:
        stub = events_pb2_grpc.EventServiceStub(self.channel)
        responses = astream_events(stub, events_pb2.StreamEventsRequest(), ALPHA, on_reconnect=self._cut)
        async with contextlib.aclosing(responses):
            async for response in responses:
                if response.HasField("event"):
                    self.seen.append(response.event.sequence)
                elif response.HasField("sync") and self.start < 0:
                    self.start = tokens.decode(response.sync.resume_token).seq
                self.synced.set()
                await self.gate.wait()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.channel.close()


async def _idle_streams(
    target: str, count: int, report: IdleStreamsReport
) -> tuple[list[grpc.aio.Channel], list[asyncio.Task[None]]]:
    """Open `count` sp-beta streams, STREAMS_PER_CHANNEL per connection; return once all synced."""
    channels = [_channel(target) for _ in range(-(-count // STREAMS_PER_CHANNEL))]
    synced = asyncio.Semaphore(0)

    async def idle(channel: grpc.aio.Channel) -> None:
        call = events_pb2_grpc.EventServiceStub(channel).StreamEvents(
            events_pb2.StreamEventsRequest(), metadata=BETA
        )
        try:
            async for response in call:
                if response.HasField("sync"):
                    report.idle_synced += 1
                    synced.release()
                elif response.HasField("event"):
                    report.idle_events += 1
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                report.idle_ended += 1
                synced.release()
            return
        report.idle_ended += 1

    # One connection's worth at a time: thousands of streams opened in one burst left some
    # unanswered for good, with a bare grpc.aio server too (README, Reliability).
    tasks: list[asyncio.Task[None]] = []
    for first in range(0, count, STREAMS_PER_CHANNEL):
        batch = range(first, min(count, first + STREAMS_PER_CHANNEL))
        tasks += [asyncio.ensure_future(idle(channels[i // STREAMS_PER_CHANNEL])) for i in batch]
        for _ in batch:
            await asyncio.wait_for(synced.acquire(), 60)
    return channels, tasks


async def _caught_up(target: str, readers: list[_Reader], after: int, within: float) -> list[int]:
    """Wait (bounded) until every reader has every sp-alpha event of the log after its start."""
    deadline = time.monotonic() + within
    while True:
        log = await _log_since(target, after)
        if all({s for s in log if s > r.start} <= set(r.seen) for r in readers):
            return log
        if time.monotonic() > deadline:
            return log
        await asyncio.sleep(0.2)


async def _run(server: ServerProcess, idle: int, writers: int, seconds: float) -> IdleStreamsReport:
    report = IdleStreamsReport(idle)
    counter = itertools.count()
    start = max(await _log_since(server.target, 0), default=0)
    fast = _Reader(server.target)
    await asyncio.wait_for(fast.synced.wait(), 15)
    report.without = await _write(server.target, writers, seconds, counter, report)

    channels, idle_tasks = await _idle_streams(server.target, idle, report)
    slow = _Reader(server.target, SLOW_OPTIONS)
    await asyncio.wait_for(slow.synced.wait(), 15)
    slow.gate.clear()  # the slow consumer stops reading while the writes go on
    try:
        report.with_idle = await _write(server.target, writers, seconds, counter, report)
        report.rss_mib = memory_mib(server.proc.pid)["VmRSS"]
        slow.gate.set()
        report.log = await _caught_up(server.target, [fast, slow], start, 30)
    finally:
        for task in idle_tasks:
            task.cancel()
        await asyncio.gather(*idle_tasks, return_exceptions=True)
        for channel in channels:
            await channel.close()
        await slow.close()
        await fast.close()
    report.fast, report.slow, report.slow_cuts = fast.seen, slow.seen, slow.cuts
    report.fast_start, report.slow_start = fast.start, slow.start
    return report


def server_args() -> list[str]:
    """The flags of the server `run` expects (defaults otherwise: the production limits)."""
    return ["--seed", "demo", "--sim-step-delay", "0.02", "--event-subscriber-buffer", str(SUBSCRIBER_BUFFER)]


def run(server: ServerProcess, idle: int = 1000, writers: int = 8, seconds: float = 3.0) -> IdleStreamsReport:
    """One run against `server` (started with `server_args()`)."""
    return asyncio.run(_run(server, idle, writers, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000, help="idle streams (default 1000)")
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idle-streams-") as tmp:
        server = launch(Path(tmp), *server_args())
        try:
            report = run(server, args.idle, args.writers, args.seconds)
        finally:
            server.stop()
    summary = {
        "idle_streams": report.idle,
        "writes_per_s_without": round(report.without.per_s, 1),
        "writes_per_s_with": round(report.with_idle.per_s, 1),
        "ratio": round(report.ratio, 3),
        "write_errors": len(report.write_errors),
        "slow_consumer_cuts": report.slow_cuts,
        "events": len(report.log),
        "server_rss_mib": report.rss_mib,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
