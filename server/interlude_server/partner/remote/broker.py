"""The server's side of the southbound stream: attached workers, requests waiting for one,
and results matched to their requests by request id.

Dispatch: each request goes to one attached worker that declared the request's capability,
round-robin over those workers in the order they attached. A request whose worker detaches
before answering goes back to the front of the queue and is sent again, with the same
request id, to the next capable worker (at once if another is attached, else when one
attaches): workers must treat requests as idempotent.

Waiting: a *patient* call (order items) waits without limit for a worker to take it, then
up to `timeout` seconds for that worker's answer (restarting if the worker detaches); a
*bounded* call (test steps, measurements) waits at most `timeout` seconds in all. Either
raises NoWorkerAnswered when its time is up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from interlude_grpc.interlude.network.v1 import network_pb2
from interlude_server.partner.remote.reports import AlarmReport, NetworkReports, report_of

Net = network_pb2
_log = structlog.get_logger("interlude_server.partner.network")
# Which result answers which request.
RESULT_OF = {
    "apply_item": "apply_item_result",
    "run_test_step": "test_step_result",
    "take_measurements": "measurement_result",
}
CAPABILITY_OF = {
    "apply_item": Net.CAPABILITY_ORDERING,
    "run_test_step": Net.CAPABILITY_TESTING,
    "take_measurements": Net.CAPABILITY_MEASUREMENTS,
}


class NoWorkerAnswered(Exception):
    """No network worker answered a request in time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no network worker answered within {seconds:g} s")


@dataclass(eq=False)
class Session:
    """One attached worker: what it does, the messages waiting to be sent to it, the requests
    it holds. `outbox` yields None when the session is to end."""

    session_id: str
    name: str
    capabilities: frozenset[int]
    outbox: asyncio.Queue[Net.AttachResponse | None] = field(default_factory=asyncio.Queue)
    held: dict[str, _Request] = field(default_factory=dict)


@dataclass(eq=False)
class _Request:
    request_id: str
    kind: str  # the AttachResponse field: apply_item, run_test_step, take_measurements
    message: Net.AttachResponse
    future: asyncio.Future[Net.AttachRequest]
    sent: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    session: Session | None = None


class NetworkBroker:
    """Sends requests to attached workers and awaits their results; hands reports to `reports`."""

    def __init__(self, timeout: float, reports: NetworkReports) -> None:
        self.timeout = timeout
        self.reports = reports
        self._sessions: list[Session] = []
        self._waiting: collections.deque[_Request] = collections.deque()
        self._requests: dict[str, _Request] = {}
        self._turn = itertools.count()

    @property
    def sessions(self) -> tuple[Session, ...]:
        return tuple(self._sessions)

    def attach(self, hello: Net.Hello) -> Session:
        """Register a worker that said hello; requests waiting for its capabilities go to it."""
        session = Session(uuid.uuid4().hex[:12], hello.worker_name, frozenset(hello.capabilities))
        self._sessions.append(session)
        _log.info(
            "network.worker_attached",
            session=session.session_id,
            worker=session.name,
            version=hello.version,
            capabilities=sorted(Net.Capability.Name(c) for c in hello.capabilities),
            workers=len(self._sessions),
        )
        self._dispatch()
        return session

    def detach(self, session: Session) -> None:
        """The worker is gone: what it held goes back to the front of the queue."""
        if session not in self._sessions:
            return
        self._sessions.remove(session)
        held = list(session.held.values())
        session.held.clear()
        for request in reversed(held):
            request.session = None
            request.sent.clear()
            request.lost.set()
            self._waiting.appendleft(request)
        _log.info(
            "network.worker_detached",
            session=session.session_id,
            worker=session.name,
            requeued=len(held),
            workers=len(self._sessions),
        )
        self._dispatch()

    def close(self) -> None:
        """End every session's stream (server shutdown)."""
        for session in self._sessions:
            session.outbox.put_nowait(None)

    def _dispatch(self) -> None:
        """Send every waiting request that some attached worker can take."""
        still: collections.deque[_Request] = collections.deque()
        while self._waiting:
            request = self._waiting.popleft()
            if request.future.done():
                continue
            capable = [s for s in self._sessions if CAPABILITY_OF[request.kind] in s.capabilities]
            if not capable:
                still.append(request)
                continue
            session = capable[next(self._turn) % len(capable)]
            request.session = session
            session.held[request.request_id] = request
            request.lost.clear()
            request.sent.set()
            session.outbox.put_nowait(request.message)
        self._waiting = still

    async def received(self, session: Session, message: Net.AttachRequest) -> None:
        """Handle one message of an attached worker (anything but its hello)."""
        kind = message.WhichOneof("kind")
        if kind == "heartbeat":
            session.outbox.put_nowait(Net.AttachResponse(heartbeat=Net.Heartbeat()))
        elif kind == "report":
            await self._report(session, message.report)
        elif kind is not None and kind in RESULT_OF.values():
            request_id: str = getattr(message, kind).request_id
            request = self._requests.get(request_id)
            session.held.pop(request_id, None)
            if request is None or request.future.done() or RESULT_OF[request.kind] != kind:
                _log.info("network.result_ignored", session=session.session_id, request_id=request_id)
                return
            request.future.set_result(message)
        else:
            _log.warning("network.message_ignored", session=session.session_id, kind=kind)

    async def _report(self, session: Session, message: Net.Report) -> None:
        report = report_of(message)
        if report is None:
            _log.warning("network.report_ignored", session=session.session_id)
        elif isinstance(report, AlarmReport):
            await self.reports.alarm(report)
        else:
            await self.reports.state_changed(report)

    async def call(
        self, kind: str, build: Callable[[str], Net.AttachResponse], patient: bool
    ) -> Net.AttachRequest:
        """Send the request `build(request_id)` (an AttachResponse whose `kind` is set) to a
        worker and return the worker's result message; raises NoWorkerAnswered."""
        request_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        request = _Request(request_id, kind, build(request_id), loop.create_future())
        self._requests[request_id] = request
        self._waiting.append(request)
        self._dispatch()
        try:
            if patient:
                return await self._patient(request)
            done, _ = await asyncio.wait({request.future}, timeout=self.timeout)
            if not done:
                raise NoWorkerAnswered(self.timeout)
            return request.future.result()
        finally:
            self._forget(request)

    async def _patient(self, request: _Request) -> Net.AttachRequest:
        """Wait for a worker to take the request, then for its answer; again if it detaches."""
        while True:
            await request.sent.wait()
            lost: asyncio.Future[Any] = asyncio.ensure_future(request.lost.wait())
            waited: set[asyncio.Future[Any]] = {request.future, lost}
            try:
                await asyncio.wait(waited, timeout=self.timeout, return_when="FIRST_COMPLETED")
                was_lost = lost.done()
            finally:
                lost.cancel()
            if request.future.done():
                return request.future.result()
            if not was_lost:
                raise NoWorkerAnswered(self.timeout)

    def _forget(self, request: _Request) -> None:
        self._requests.pop(request.request_id, None)
        with contextlib.suppress(ValueError):
            self._waiting.remove(request)
        if request.session is not None:
            request.session.held.pop(request.request_id, None)
        if not request.future.done():
            request.future.cancel()
