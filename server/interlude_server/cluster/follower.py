"""Cross-process fan-out: the durable logs are the truth, a commit is only a wake-up.

When several server processes share one store (`--shared-store`, `--workers`),
a commit made by another process never passes through this process's commit
listener. So each process runs one LogFollower: it reads the event log and
the measurement log after the last sequence its hubs published and publishes
what it finds to the local hubs, in sequence order. It is woken at once by
this process's commits and, for other processes' commits, by the store's
commit watch (SQLite: a poll of PRAGMA data_version every few tens of ms;
PostgreSQL: LISTEN/NOTIFY). A wake-up that finds nothing costs one read; a
missed wake-up cannot lose anything, because the next one reads from the
hubs' own position. Because the store guarantees that sequences become
visible gap-free in commit order (store/base.SharedStore), a follower never
skips an item and never publishes one twice.

A single process keeps the direct path (runtime/main.py): the store's commit listener
publishes what each commit appended without reading it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from interlude_server.events.hub import EventHub, MeasurementHub
from interlude_server.store.interface.store import Committed, SharedStore

_log = structlog.get_logger("interlude_server.cluster")
PAGE = 1000
RETRY_S = 0.5


class LogFollower:
    """Publishes both logs to the local hubs from the store; `published` hears of each batch."""

    def __init__(
        self,
        store: SharedStore,
        events: EventHub,
        measurements: MeasurementHub,
        published: Callable[[list[tuple[str, Committed]]], None],
        woken: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.events = events
        self.measurements = measurements
        self.published = published
        # Called after every catch-up, with or without news: streams that read other tables
        # (test-job results) re-read on it.
        self.woken = woken
        self._wake = asyncio.Event()
        self._wake.set()  # catch up once at start

    def wake(self, _items: object = None) -> None:
        """Something may have been committed (a commit listener or the store's commit watch)."""
        self._wake.set()

    async def run(self) -> None:
        """Follow the logs until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("follower.read_failed")
                await asyncio.sleep(RETRY_S)
                self._wake.set()
            self.woken()

    async def catch_up(self) -> None:
        """Publish everything committed after what the hubs published, page by page."""
        while True:
            # Read unparsed: the bytes the log stored are what the hub keeps and streams send.
            rows = await self.store.read_log_bodies_after(self.events.last_seq, PAGE)
            events = self.events.publish_stored(rows) if rows else []
            batches = await self.store.read_measurement_log_after(self.measurements.last_seq, PAGE)
            if batches:
                self.measurements.publish(batches)
            if events or batches:
                self.published([*events, *batches])
            if len(events) < PAGE and len(batches) < PAGE:
                return
