"""grpc.health.v1: overall ("") and per-service serving status.

Everything reads NOT_SERVING until the server is ready, SERVING while it
serves, and NOT_SERVING again from the first moment of shutdown, so load
balancers and watchers stop sending work before the drain starts.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE_NAME: str = health.SERVICE_NAME
OVERALL = health.OVERALL_HEALTH


class Health:
    """The health service of one server and the names it reports on."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self.names = (OVERALL, *service_names)
        self._servicer = health.aio.HealthServicer()

    def register(self, server: grpc.aio.Server) -> None:
        """Add grpc.health.v1.Health to a grpc.aio server (before it starts)."""
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def not_serving(self) -> None:
        """Report NOT_SERVING for everything (the state before start)."""
        for name in self.names:
            await self._servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    async def serving(self) -> None:
        """Report SERVING for everything."""
        for name in self.names:
            await self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def shutting_down(self) -> None:
        """Report NOT_SERVING for everything, for good (later changes are ignored)."""
        await self._servicer.enter_graceful_shutdown()
