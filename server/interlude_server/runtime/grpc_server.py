"""Assemble the grpc.aio server: the interceptor (its stages: api.stages), servicers, health,
reflection.

Every contract service is served: by its real servicer where one is given
(a ServiceBinding), otherwise by the descriptor-built UNIMPLEMENTED handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from interlude_server.api import contract
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.health import SERVICE_NAME as HEALTH_SERVICE_NAME
from interlude_server.api.health import Health
from interlude_server.api.interceptors import RpcStages
from interlude_server.api.overload import LoadLimiter
from interlude_server.api.principal import AuthGate
from interlude_server.api.reflection import enable_reflection
from interlude_server.api.unimplemented import unimplemented_handlers
from interlude_server.auth.settings import DEFAULT_MAX_MESSAGE_BYTES
from interlude_server.config import Listen
from interlude_server.limits import Limits, grpc_options
from interlude_server.observability.access import AccessPolicy
from interlude_server.observability.metrics import Metrics


@dataclass(frozen=True)
class ServerSecurity:
    """How the server is reached and who may call: TLS credentials (None = plaintext), the
    gate that admits each RPC (None = the x-interlude-buyer development behaviour), and the
    largest request message accepted."""

    credentials: grpc.ServerCredentials | None = None
    gate: AuthGate | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class RunningServer:
    """A started server and what it serves."""

    server: grpc.aio.Server
    health: Health
    listen: Listen  # with the port actually bound
    reflected_services: tuple[str, ...]

    async def stop(self, grace: float, on_draining: Callable[[], None] | None = None) -> None:
        """Report NOT_SERVING everywhere, end long-lived streams (`on_draining`), then drain
        in-flight RPCs for up to `grace` seconds."""
        await self.health.shutting_down()
        if on_draining is not None:
            on_draining()
        await self.server.stop(grace)


async def start_server(
    listen: Listen,
    bindings: Sequence[ServiceBinding] = (),
    default_buyer: str = "",
    security: ServerSecurity | None = None,
    limits: Limits | None = None,
    limiter: LoadLimiter | None = None,
    reuse_port: bool = False,
    metrics: Metrics | None = None,
    access: AccessPolicy | None = None,
) -> RunningServer:
    """Build, bind and start the server; health reads SERVING when this returns. `reuse_port`:
    the processes of `--workers N` share the port (SO_REUSEPORT).

    `limits` sets the per-connection channel arguments (concurrent streams, keepalive,
    connection age); `limiter` sheds calls past the server's bound on work in flight
    (shared with the in-process REST adapter; None: nothing is shed); `metrics` counts every
    call (None: no metrics are kept); `access` chooses which finished calls are logged
    (None: every one; the command's default is `--access-log changes`).

    Raises RuntimeError if the address cannot be bound, ValueError if a binding
    names a service that is not in the contract.
    """
    names = contract.service_names()
    bound = {binding.service_name for binding in bindings}
    if unknown := bound - set(names):
        raise ValueError(f"not contract services: {sorted(unknown)}")
    security = security or ServerSecurity()
    stages = RpcStages(default_buyer, security.gate, limiter, metrics, access)
    server = grpc.aio.server(
        options=[
            # A second server on a port in use must fail, not silently share it,
            # unless it is one of the `--workers N` processes, which share it on purpose.
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", security.max_message_bytes),
            *grpc_options(limits or Limits()),
        ],
    )
    registrar = stages.registrar(server)  # every handler through the stages
    for binding in bindings:
        binding.add_to_server(registrar)
    registrar.add_generic_rpc_handlers(
        unimplemented_handlers(s for s in contract.services() if s.full_name not in bound)
    )
    health = Health(names)
    await health.not_serving()
    health.register(registrar)
    reflected = enable_reflection(registrar, [*names, HEALTH_SERVICE_NAME])
    server.add_generic_rpc_handlers((stages.unknown_methods(),))  # asked last
    port: int = (
        server.add_insecure_port(listen.address)
        if security.credentials is None
        else server.add_secure_port(listen.address, security.credentials)
    )
    await server.start()
    await health.serving()
    return RunningServer(server, health, Listen(listen.host, port), reflected)
