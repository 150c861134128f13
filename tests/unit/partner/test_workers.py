"""A resource's task keeps nothing of the call that submitted it: the call's context (its
metadata, log fields, principal) is not held by the task's done callback, and with
`own_context` not by the task either. Held orders live for weeks; each kept about 1.5 KB
of its creating call before."""

from __future__ import annotations

import asyncio
import contextvars
import weakref

import structlog

from interlude_server.partner.workers import Workers

_call_value: contextvars.ContextVar[object] = contextvars.ContextVar("test_call_value")
HOUR = 3600


class _CallState:
    """Stands for what a call leaves in its context."""


async def _submit_from_a_call(workers: Workers, seen: list[object]) -> weakref.ref[_CallState]:
    """Submit a resource from a finished call's task; what the call set, weakly."""

    async def step() -> bool:
        seen.append(_call_value.get(None))
        await asyncio.sleep(HOUR)
        return False

    async def call() -> weakref.ref[_CallState]:
        state = _CallState()
        _call_value.set(state)
        workers.submit("resource-1", step, structlog.get_logger())
        return weakref.ref(state)

    kept = await asyncio.create_task(call())
    await asyncio.sleep(0.01)  # the resource's task runs its step and sleeps
    return kept


async def test_a_task_with_its_own_context_keeps_nothing_of_the_call() -> None:
    workers = Workers("test", 1.0, own_context=True)
    seen: list[object] = []
    try:
        kept = await _submit_from_a_call(workers, seen)
        assert seen == [None]  # the step does not see the call's values
        assert kept() is None  # and nothing holds them: not the task, not its done callback
    finally:
        await workers.stop()


async def test_a_task_without_its_own_context_runs_in_the_calls() -> None:
    """The SFT runner and the PM engine rely on it: their steps' writes carry the trace of
    the call that started the job."""
    workers = Workers("test", 1.0)
    seen: list[object] = []
    try:
        kept = await _submit_from_a_call(workers, seen)
        assert len(seen) == 1
        assert seen[0] is not None
        assert kept() is seen[0]
    finally:
        await workers.stop()
