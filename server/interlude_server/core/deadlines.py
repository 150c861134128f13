"""The deadline of the call being served, so work stops once its caller has given up.

The API layer binds the call's deadline (`bind`) in the task that serves it; the store
reads it (`bounded`) when a write is submitted and checks it again on the writer thread
just before the write runs, inside the transaction. A write whose deadline passed while it
waited (in the writer's queue, behind a busy or locked database) is not done: it fails
with DeadlineExceeded and is rolled back, and a retry with the same request_id creates it
once. A write that began before its deadline commits; the caller, gone, retries with the
same request_id and gets that write's answer.

The deadline belongs to the task that bound it: tasks spawned while serving a call (which
inherit its context) are not bound by it, since they outlive the call by design.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from interlude_server.core.errors import DeadlineExceeded

T = TypeVar("T")
A = TypeVar("A")

# The owner is held weakly: the value lives in the owner task's own context, and a strong
# reference would make every call's task, coroutine and context a reference cycle, freed only
# by the cyclic collector (full collections of 40-110 ms under load, measured).
_deadline: ContextVar[tuple[weakref.ref[asyncio.Task[object]] | None, float] | None] = ContextVar(
    "interlude_deadline", default=None
)


def bind(seconds_left: float | None) -> None:
    """The call served by the current task must end within `seconds_left` (None: no deadline)."""
    if seconds_left is None:
        _deadline.set(None)
        return
    task = asyncio.current_task()
    _deadline.set((weakref.ref(task) if task is not None else None, time.monotonic() + seconds_left))


def current() -> float | None:
    """The time.monotonic() deadline of the call the current task serves, if any."""
    bound = _deadline.get()
    if bound is None:
        return None
    owner, at = bound
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not on an event loop
        return None
    return at if owner is not None and task is owner() else None


def check(deadline: float | None, what: str) -> None:
    """Raise DeadlineExceeded if `deadline` has passed (`what` names the work not done)."""
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExceeded(f"the call's deadline passed before {what}; nothing was changed")


def bounded(fn: Callable[[A], T]) -> Callable[[A], T]:
    """`fn` refusing to start once the current call's deadline has passed (checked now and
    again when it is called, e.g. on the store's writer thread)."""
    deadline = current()
    if deadline is None:
        return fn
    check(deadline, "the write was queued")

    def within_deadline(arg: A) -> T:
        check(deadline, "the write began")
        return fn(arg)

    return within_deadline
