"""New work accepted by one process reaches the process that holds its component's lease.

An RPC that creates an order (or a test job, a PM job, a task, a hub
registration) writes it to the store and submits it to the local component,
which ignores it unless this process holds the component's lease. The holder
learns of it from the log its follower publishes (cluster/follower.py):

- an event about an order, test job or PM job submits that resource to its
  component (a no-op if it is already being driven; one read if it has ended);
- an event about a test-job or PM-job task (which names the task, not the job)
  makes the component re-read its in-flight jobs, coalesced;
- any event makes hub delivery re-read its registrations, coalesced: a
  registration made elsewhere has a cursor at the log's end, so delivery that
  starts at the next event misses nothing, and one removed elsewhere stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.store.interface.store import Committed, LoggedEvent

E = events_pb2
_log = structlog.get_logger("interlude_server.cluster")
Submit = Callable[[str, str], None]


class Coalesced:
    """Runs `fn` after each request, one run at a time; requests during a run cause one more."""

    def __init__(self, name: str, fn: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.fn = fn
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"refresh-{self.name}")

    async def _run(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.fn()
            except Exception:
                _log.exception("refresh_failed", what=self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class WorkRouter:
    """The follower's `published` hook: hands resources named by new events to their components."""

    def __init__(
        self,
        orders: Submit,
        test_jobs: Submit,
        pm_jobs: Submit,
        rescans: dict[int, Coalesced],
        on_any: Coalesced | None = None,
    ) -> None:
        self._direct: dict[int, Submit] = {
            E.RESOURCE_TYPE_SERVICE_ORDER: orders,
            E.RESOURCE_TYPE_TEST_JOB: test_jobs,
            E.RESOURCE_TYPE_PERFORMANCE_JOB: pm_jobs,
        }
        self._rescans = rescans  # resource type -> a coalesced re-read of a component's work
        self._on_any = on_any

    def __call__(self, items: list[tuple[str, Committed]]) -> None:
        saw_event = False
        for buyer_id, item in items:
            if not isinstance(item, LoggedEvent):
                continue
            saw_event = True
            kind = item.event.resource.resource_type
            if (submit := self._direct.get(kind)) is not None:
                submit(buyer_id, item.event.resource.id)
            elif (rescan := self._rescans.get(kind)) is not None:
                rescan.request()
        if saw_event and self._on_any is not None:
            self._on_any.request()

    async def close(self) -> None:
        for refresh in [*self._rescans.values(), *([self._on_any] if self._on_any else [])]:
            await refresh.close()
