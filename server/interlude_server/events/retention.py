"""Event retention: prune the log by age and by count, periodically, in the writer."""

from __future__ import annotations

import asyncio

import structlog
from google.protobuf import timestamp_pb2

from interlude_server.core import clock
from interlude_server.store.interface.store import Store

_log = structlog.get_logger("interlude_server.events")


async def prune_once(store: Store, max_age_s: float, keep_last: int) -> int:
    cutoff = timestamp_pb2.Timestamp()
    cutoff.FromNanoseconds(clock.now().ToNanoseconds() - int(max_age_s * 1e9))
    return await store.write(lambda tx: tx.prune_events(cutoff, keep_last))


async def run_retention(store: Store, max_age_s: float, keep_last: int, interval_s: float) -> None:
    """Prune every `interval_s` seconds until cancelled; a failed round is logged and retried."""
    while True:
        try:
            deleted = await prune_once(store, max_age_s, keep_last)
            if deleted:
                _log.info("events.pruned", deleted=deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("events.prune_failed")
        await asyncio.sleep(interval_s)
