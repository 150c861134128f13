"""Runtime tuning: objects alive at start leave the cyclic collector's full passes, young passes
are spaced, and a call's task is freed without the collector."""

from __future__ import annotations

import asyncio
import gc
import weakref

from interlude_server.core import deadlines
from interlude_server.observability.runtime import (
    YOUNG_PASS_EVERY,
    freeze_startup_objects,
    space_young_collections,
)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_startup_objects_are_frozen_and_startup_garbage_is_collected_first() -> None:
    gc.unfreeze()
    was_enabled = gc.isenabled()
    gc.disable()  # no automatic pass may free the cycle before the freeze does
    try:
        _Cycle()  # unreachable at once: a cycle only the collector frees
        assert any(isinstance(o, _Cycle) for o in gc.get_objects())
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 1000  # the modules, at least
        assert not any(isinstance(o, _Cycle) for o in gc.get_objects())  # freed, not frozen
        made_after = [_Cycle()]
        tracked = gc.get_objects()
        assert any(o is made_after[0] for o in tracked)  # new objects are still collected
        assert len(tracked) < frozen  # and a full pass no longer walks the frozen ones
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def test_young_passes_are_spaced_and_older_thresholds_kept() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 7, 9)
        assert space_young_collections() == (YOUNG_PASS_EVERY, 7, 9) == gc.get_threshold()
    finally:
        gc.set_threshold(*before)


async def _bind_deadline_and_finish() -> None:
    deadlines.bind(30.0)
    assert deadlines.current() is not None  # bound to this task


def test_a_bound_deadline_leaves_no_cycle_through_its_task() -> None:
    """The deadline lives in the task's own context; holding the task strongly there made every
    call's task, coroutine and context garbage only the cyclic collector could free."""

    async def run() -> weakref.ref[asyncio.Task[None]]:
        task = asyncio.create_task(_bind_deadline_and_finish())
        await task
        return weakref.ref(task)

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        finished = asyncio.run(run())
        assert finished() is None  # freed by reference counting alone
    finally:
        if was_enabled:
            gc.enable()
