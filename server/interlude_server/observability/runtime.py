"""Process-level tuning of the Python runtime for a long-running server."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Move everything alive once the server has started (modules, generated message classes,
    the server and its stores, the hubs' reloaded tails) out of the cyclic collector's reach.

    Those objects live as long as the process, yet each full collection traversed all of them
    again: about 50,000 objects, 23-41 ms with the whole process paused on this machine, a
    stall every event in flight waited through. After the freeze a full collection walks only
    what was made since (1-6 ms measured). Frozen objects are still freed by reference
    counting. Returns how many objects were frozen."""
    gc.collect()  # garbage made while starting is freed, not frozen
    gc.freeze()
    return gc.get_freeze_count()
