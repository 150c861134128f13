"""Background work runs in the one process that holds its lease in the store.

Each component that drives in-flight work (the order processor, the test
runner, the PM engine, hub delivery) has a lease named after it. Every process
tries to take or renew every lease each `ttl / 3` seconds; the store does it
atomically (store/base.SharedStore), so at most one process holds a lease at a
time. A process that gains a lease resumes the component's in-flight work from
the store (`take_over`); one that loses it stops driving (`hand_over`). A
process that dies stops renewing: after at most `ttl` seconds another process
takes the lease over and resumes the work where the store says it stood. A
clean shutdown releases the leases, so another process takes over at its next
renewal round.

Work accepted by a process that does not hold the lease (an order placed
through it) is only written to the store; the holder learns of it from the
log (cluster/work.py) and drives it. Every step of every component is one
transaction that re-reads its resource, so a step repeated across a takeover
does no harm beyond the repetition itself. The lease is not a fence: a holder
that stalls for longer than the TTL (a frozen VM) may overlap with its
successor for one step before its next renewal tells it to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Protocol

import structlog

from interlude_server.store.interface.store import SharedStore

_log = structlog.get_logger("interlude_server.cluster")


class LeasedWork(Protocol):
    """A component whose in-flight work one process at a time drives."""

    async def take_over(self) -> int:
        """Start driving: resume every in-flight item from the store; how many."""

    async def hand_over(self) -> None:
        """Stop driving (new submissions are ignored until the next take_over)."""


def process_owner() -> str:
    """This process's name in the leases table: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseKeeper:
    """Takes, renews and releases one lease per component for this process."""

    def __init__(self, store: SharedStore, work: Mapping[str, LeasedWork], ttl: float, owner: str) -> None:
        self.store = store
        self.work = dict(work)
        self.ttl = ttl
        self.owner = owner
        self.held: set[str] = set()
        self._renewed: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Hand every component over (nothing runs before its lease is held), take the free
        leases (before the process serves, so its role is settled when it is ready), then keep them."""
        for work in self.work.values():
            await work.hand_over()
        await self.renew()
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def renew(self) -> None:
        """One round: take or renew each lease; start or stop each component accordingly."""
        for name in self.work:
            await self._round(name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.renew()

    async def _round(self, name: str) -> None:
        try:
            held = await self.store.acquire_lease(name, self.owner, self.ttl)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is busy or failing: keep the lease while it is surely ours
            _log.warning("lease.renew_failed", lease=name, error=str(exc))
            held = name in self.held and time.monotonic() - self._renewed.get(name, 0.0) < self.ttl / 2
        if held:
            self._renewed[name] = time.monotonic()
        if held and name not in self.held:
            self.held.add(name)
            try:
                resumed = await self.work[name].take_over()
            except Exception:  # e.g. the resume read failed: try again at the next round
                _log.exception("lease.take_over_failed", lease=name)
                self.held.discard(name)
                await self.work[name].hand_over()
                return
            _log.info("lease.acquired", lease=name, owner=self.owner, resumed=resumed)
        elif not held and name in self.held:
            self.held.discard(name)
            await self.work[name].hand_over()
            _log.warning("lease.lost", lease=name, owner=self.owner)

    async def halt(self) -> None:
        """Stop taking and renewing leases (shutdown: the components stop next)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def release(self) -> None:
        """Give up every lease held, so another process takes over at once (after the components stopped)."""
        await self.halt()
        for name in sorted(self.held):
            try:
                await self.store.release_lease(name, self.owner)
            except Exception as exc:
                _log.warning("lease.release_failed", lease=name, error=str(exc))
        self.held.clear()


async def with_lease(store: SharedStore, name: str, owner: str, ttl: float) -> None:
    """Wait until this process holds lease `name` (e.g. to seed an empty store only once)."""
    while True:
        if await store.acquire_lease(name, owner, ttl):
            return
        await asyncio.sleep(min(0.05, ttl / 3))
