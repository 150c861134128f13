"""Runtime tuning: objects alive at start leave the cyclic collector's full passes."""

from __future__ import annotations

import gc

from interlude_server.observability.runtime import freeze_startup_objects


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
