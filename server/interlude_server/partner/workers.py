"""One asyncio task per resource that the Partner drives (an order, a test job).

Each task calls a step function until it returns False; a step that raises is
logged and retried after a pause, so a transient failure (e.g. a full disk)
never loses a resource. Used by the order processor and the test runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

Step = Callable[[], Awaitable[bool]]


class Workers:
    """At most one running task per key; `retry_delay` paces retries after a failed step."""

    def __init__(self, kind: str, retry_delay: float) -> None:
        self.kind = kind
        self.retry_delay = retry_delay
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, key: str, step: Step, log: structlog.typing.FilteringBoundLogger) -> None:
        """Drive `key` with `step` until it returns False (a no-op if `key` is being driven)."""
        if key not in self._tasks:
            task = asyncio.create_task(self._run(step, log), name=f"{self.kind}:{key}")
            self._tasks[key] = task
            task.add_done_callback(lambda _t: self._tasks.pop(key, None))

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
