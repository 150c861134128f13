"""The southbound listener (`--network-listen`): NetworkService for network workers.

A listener of its own, so the buyers' port never serves it and a firewall can tell them
apart. With `--tls-cert`/`--tls-key` it speaks TLS with the server's certificate; with
`--tls-client-ca` too, the handshake admits only workers whose certificate that CA signed.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from interlude_grpc.interlude.network.v1 import network_pb2_grpc
from interlude_server.api.network import NetworkServicer
from interlude_server.api.tls import server_credentials
from interlude_server.auth.settings import TlsFiles
from interlude_server.config import Listen
from interlude_server.core import versions
from interlude_server.partner.remote.broker import NetworkBroker


@dataclass(frozen=True)
class NetworkListener:
    """The started southbound server and the address it bound."""

    server: grpc.aio.Server
    listen: Listen
    broker: NetworkBroker

    async def stop(self, grace: float) -> None:
        """End every worker's stream, then stop."""
        self.broker.close()
        await self.server.stop(grace)


async def start_network(listen: Listen, broker: NetworkBroker, tls: TlsFiles | None) -> NetworkListener:
    """Bind and start; raises RuntimeError if the address cannot be bound."""
    server = grpc.aio.server()
    network_pb2_grpc.add_NetworkServiceServicer_to_server(
        NetworkServicer(broker, versions.package_version(versions.DISTRIBUTION)), server
    )
    port = (
        server.add_insecure_port(listen.address)
        if tls is None
        else server.add_secure_port(listen.address, server_credentials(tls))
    )
    await server.start()
    return NetworkListener(server, Listen(listen.host, port), broker)
