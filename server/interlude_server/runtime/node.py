"""One server process among several sharing a store: follow the logs, keep the leases.

Wiring (runtime/main.py, when `--shared-store` or `--workers N`): the store's commit
listener only wakes the follower, which publishes from the log (so local and
remote commits reach the hubs through one ordered path); the store's commit
watch wakes it for other processes' commits; what the follower publishes is
routed to the lease holders of background work (cluster/work.py); and the
lease keeper decides which components this process drives (cluster/leases.py).
"""

from __future__ import annotations

import asyncio
import contextlib

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.cluster.follower import LogFollower
from interlude_server.cluster.leases import LeasedWork, LeaseKeeper
from interlude_server.cluster.work import Coalesced, WorkRouter
from interlude_server.events.hub import EventHub, MeasurementHub, Wakeups
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.partner.performance.engine import PmEngine
from interlude_server.partner.sft.runner import SftRunner
from interlude_server.rest.hub.delivery import Dispatcher
from interlude_server.store.interface.store import Committed, Store

# The lease of each component that drives in-flight work.
LEASES = ("orders", "test-jobs", "pm-jobs", "hub-delivery")


class SharedNode:
    """The cross-process parts of one server process; start before serving, halt then close after."""

    def __init__(
        self,
        store: Store,
        owner: str,
        hubs: tuple[EventHub, MeasurementHub],
        components: tuple[OrderProcessor, SftRunner, PmEngine, Dispatcher],
        wakeups: Wakeups,
        *,
        lease_ttl: float,
        follow_interval: float,
        delivers_hub: bool,
    ) -> None:
        """`delivers_hub`: this process runs the REST adapter, so it can deliver hub callbacks; a
        process without it never takes the hub-delivery lease (it could not deliver)."""
        processor, runner, pm_engine, dispatcher = components
        self.store = store
        self.follow_interval = follow_interval
        self.router = WorkRouter(
            processor.submit,
            runner.submit,
            pm_engine.submit,
            {
                events_pb2.RESOURCE_TYPE_TEST_JOB_TASK: Coalesced("test-jobs", runner.start),
                events_pb2.RESOURCE_TYPE_PERFORMANCE_JOB_TASK: Coalesced("pm-jobs", pm_engine.start),
            },
            on_any=Coalesced("hub-delivery", dispatcher.refresh),
        )

        def published(items: list[tuple[str, Committed]]) -> None:
            self.router(items)
            dispatcher.notify()  # after the hubs: delivery reads up to the event hub's last_seq

        self.follower = LogFollower(store, hubs[0], hubs[1], published, woken=wakeups.notify_all)
        work: dict[str, LeasedWork] = dict(zip(LEASES, components, strict=True))
        if not delivers_hub:
            del work["hub-delivery"]
        self.keeper = LeaseKeeper(store, work, lease_ttl, owner)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Catch the hubs up with the log, then follow it; take the leases that are free."""
        await self.follower.catch_up()
        self.store.on_commit(self.follower.wake)
        self._tasks = [
            asyncio.create_task(self.follower.run(), name="log-follower"),
            asyncio.create_task(
                self.store.watch_commits(self.follow_interval, self.follower.wake), name="commit-watch"
            ),
        ]
        await self.keeper.start()

    async def halt(self) -> None:
        """Shutdown, first step: take no lease any more (components then stop)."""
        await self.keeper.halt()

    async def close(self) -> None:
        """Shutdown, last step: release the leases (another process takes over) and stop following."""
        await self.keeper.release()
        await self.router.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
