"""An in-process grpc.aio server, on its own thread and loop, whose failures a test scripts.

It serves `EventService.StreamEvents` over a scripted log of `events` events
(tokens `ev-N`, heartbeats `hb-N` after every `heartbeat_every`-th event, then
a sync marker `sync-N`) that resumes after the position a token names, and ends
the call at scripted positions with rich statuses built by the server's own
code (interlude_server.api.errors) or with plain statuses. A unary
`interlude.test.Probe/Fail` aborts with whatever status a test registers.
Sync and aio clients both reach it through a real channel.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, events_pb2_grpc
from interlude_server.api.errors import abort

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
PROBE_SERVICE = "interlude.test.Probe"
FAIL_METHOD = f"/{PROBE_SERVICE}/Fail"


@dataclass
class Cut:
    """End the call once everything up to event `after` (and its heartbeat) was sent:
    with the rich google.rpc.Status `status`, or else a plain `code` without details."""

    after: int
    status: Any = None
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    message: str = "connection reset"


@dataclass
class Script:
    """What the probe's StreamEvents does, and what it saw (requests, cancellations)."""

    events: int = 20
    heartbeat_every: int = 4
    cuts: list[Cut] = field(default_factory=list)
    hold: bool = False  # after the sync marker, keep the call open instead of ending it
    requests: list[events_pb2.StreamEventsRequest] = field(default_factory=list)
    cancelled: int = 0

    def tokens_requested(self) -> list[str]:
        return [r.resume_token for r in self.requests]


def position(token: str) -> int:
    """The event sequence a probe token names (`ev-5`, `hb-8`, `sync-20` → 5, 8, 20)."""
    return int(token.rsplit("-", 1)[1])


def _event(seq: int) -> events_pb2.StreamEventsResponse:
    return events_pb2.StreamEventsResponse(
        event=events_pb2.Event(event_id=f"e{seq}", sequence=seq, resume_token=f"ev-{seq}")
    )


class ScriptedEvents(events_pb2_grpc.EventServiceServicer):
    def __init__(self) -> None:
        self.script = Script()

    async def _cut_if_due(self, at: int, context: Context) -> None:
        cuts = self.script.cuts
        if cuts and at >= cuts[0].after:
            cut = cuts.pop(0)
            if cut.status is not None:
                await abort(context, cut.status)
            await context.abort(cut.code, cut.message)

    async def StreamEvents(
        self, request: events_pb2.StreamEventsRequest, context: Context
    ) -> AsyncIterator[events_pb2.StreamEventsResponse]:
        script = self.script
        script.requests.append(events_pb2.StreamEventsRequest.FromString(request.SerializeToString()))
        at = position(request.resume_token) if request.HasField("resume_token") else 0
        ended = False  # by the script: finished or cut; otherwise the client went away
        try:
            for seq in range(at + 1, script.events + 1):
                ended = True
                await self._cut_if_due(at, context)
                ended = False
                yield _event(seq)
                at = seq
                if seq % script.heartbeat_every == 0:
                    yield events_pb2.StreamEventsResponse(
                        heartbeat=common_pb2.StreamHeartbeat(resume_token=f"hb-{seq}")
                    )
            ended = True
            await self._cut_if_due(at, context)
            ended = not script.hold
            yield events_pb2.StreamEventsResponse(sync=common_pb2.StreamSync(resume_token=f"sync-{at}"))
            if script.hold:
                await asyncio.Event().wait()
        finally:
            if not ended:  # cancelled while waiting, or closed at a yield after the client left
                script.cancelled += 1


class ProbeServer:
    """The probe server running on a background thread's event loop."""

    def __init__(self) -> None:
        self.events = ScriptedEvents()
        self.fail_with: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="probe-server", daemon=True)
        self._thread.start()
        self.target = self._run(self._start())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _start(self) -> str:
        self._server = grpc.aio.server()
        events_pb2_grpc.add_EventServiceServicer_to_server(self.events, self._server)
        self._server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    PROBE_SERVICE, {"Fail": grpc.unary_unary_rpc_method_handler(self._fail)}
                )
            ]
        )
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return f"127.0.0.1:{port}"

    async def _fail(self, request: bytes, context: Context) -> bytes:
        """Abort with the status registered under the request's name: a google.rpc.Status
        (sent by the server's `abort`) or a (code, message) pair (a plain status)."""
        status = self.fail_with[request.decode()]
        if isinstance(status, tuple):
            await context.abort(*status)
        await abort(context, status)

    def script(self, **fields: Any) -> Script:
        """Replace the StreamEvents script for the next calls."""
        self.events.script = Script(**fields)
        return self.events.script

    def stop(self) -> None:
        self._run(self._server.stop(None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
