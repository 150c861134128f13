"""`--metrics-listen`: the Prometheus scrape endpoint, `GET /metrics`, on its own port.

A scrape first brings this process's sampled gauges up to date (where each log's head
is, how far behind its slowest live subscription is, and with `--workers N` this
process's CPU and memory), reads what the store holds by state, then renders every
metric (observability.metrics). With `--workers N` every worker binds the port
(SO_REUSEPORT) and whichever answers sums all workers' metric files; each worker also
samples its gauges every SAMPLE_S seconds, so the others' are at most that old.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from interlude_server.config import Listen
from interlude_server.events.hub import Hub
from interlude_server.observability.metrics import Metrics
from interlude_server.store.interface.store import Store

SAMPLE_S = 5.0
_log = structlog.get_logger("interlude_server")


@dataclass
class MetricsEndpoint:
    """What a scrape reads: the metrics, the store and the hubs of the logs, by log name."""

    metrics: Metrics
    store: Store
    hubs: Mapping[str, Hub[Any, Any]]

    def sample(self) -> None:
        """Bring this process's sampled gauges up to date (on the event loop: the hubs' thread)."""
        for name, hub in self.hubs.items():
            self.metrics.log_position(name, hub.last_seq, hub.slowest_lag())
        self.metrics.sample_process()

    async def scrape(self, _request: web.Request) -> web.Response:
        self.sample()
        work = await self.store.work_by_state()
        body = await asyncio.to_thread(self.metrics.render, work)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def sample_forever(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            self.sample()


@dataclass
class MetricsServer:
    """The running endpoint: its HTTP server and, with several workers, the sampler."""

    runner: web.AppRunner
    listen: Listen  # with the port actually bound
    sampler: asyncio.Task[None] | None

    @property
    def url(self) -> str:
        return f"http://{self.listen.address}/metrics"

    async def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sampler
        await self.runner.cleanup()


async def start_metrics(listen: Listen, endpoint: MetricsEndpoint, reuse_port: bool = False) -> MetricsServer:
    """Serve `GET /metrics` on `listen` (port 0 picks one); raises OSError if it cannot bind."""
    app = web.Application()
    app.router.add_get("/metrics", endpoint.scrape)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, listen.host, listen.port, reuse_port=reuse_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    endpoint.sample()
    sampler = asyncio.create_task(endpoint.sample_forever()) if endpoint.metrics.multiprocess else None
    bound = Listen(listen.host, int(runner.addresses[0][1]))
    return MetricsServer(runner, bound, sampler)
