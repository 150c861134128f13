"""One asyncio task per resource that the Partner drives (an order, a test job).

Each task calls a step function until it returns False; a step that raises is
logged and retried after a pause, so a transient failure (e.g. a full disk)
never loses a resource. Used by the order processor, the test runner and the
PM engine. When several processes share the store, only the one holding a
component's lease drives it (cluster/leases.py): the others keep their Workers
inactive, so a submission there is a no-op and the lease holder picks it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

Step = Callable[[], Awaitable[bool]]


class Workers:
    """At most one running task per key; `retry_delay` paces retries after a failed step.

    A task may live as long as its resource waits (weeks, for an order with a later start),
    so it keeps nothing of the call that submitted it beyond what its step needs: its done
    callback runs in an empty context (by default asyncio keeps a copy of the submitter's
    context with the callback: the call's metadata, log fields and principal, over 1 KB per
    held order), and with `own_context` the task itself starts in an empty context (the
    step sets what it needs, e.g. the order processor its trace) instead of a copy of the
    submitter's, as a resource resumed after a restart does anyway.
    """

    def __init__(self, kind: str, retry_delay: float, *, own_context: bool = False) -> None:
        self.kind = kind
        self.retry_delay = retry_delay
        self.own_context = own_context
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.active = True  # False while another process holds this component's lease

    def submit(self, key: str, step: Step, log: structlog.typing.FilteringBoundLogger) -> None:
        """Drive `key` with `step` until it returns False (a no-op if `key` is being driven
        or this process does not drive the component now)."""
        if self.active and key not in self._tasks:
            context = contextvars.Context() if self.own_context else None
            task = asyncio.create_task(self._run(step, log), name=f"{self.kind}:{key}", context=context)
            self._tasks[key] = task
            task.add_done_callback(lambda _t: self._tasks.pop(key, None), context=contextvars.Context())

    async def _run(self, step: Step, log: structlog.typing.FilteringBoundLogger) -> None:
        while True:
            try:
                if not await step():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(f"{self.kind}.step_failed")
                await asyncio.sleep(self.retry_delay)

    async def stop(self) -> None:
        """Cancel every task and wait for them to end."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Owned(Protocol):
    """A resource a component drives: its id and the buyer it belongs to."""

    @property
    def id(self) -> str: ...

    @property
    def buyer_id(self) -> str: ...


class Resumable:
    """`LeasedWork` (cluster/leases.py) for a component that drives its work with Workers:
    `start` resumes every resource the store still has unfinished, `stop` ends the tasks."""

    _workers: Workers

    async def _unfinished(self) -> Sequence[Owned]:
        """The resources left to drive, as the store has them now."""
        raise NotImplementedError

    def submit(self, buyer_id: str, resource_id: str) -> None:
        """Make sure the resource is being driven (a no-op if it already is)."""
        raise NotImplementedError

    async def start(self) -> int:
        """Resume every unfinished resource; returns how many."""
        unfinished = await self._unfinished()
        for resource in unfinished:
            self.submit(resource.buyer_id, resource.id)
        return len(unfinished)

    async def stop(self) -> None:
        await self._workers.stop()

    async def take_over(self) -> int:
        self._workers.active = True
        return await self.start()

    async def hand_over(self) -> None:
        self._workers.active = False
        await self._workers.stop()
