"""How a servicer is bound to the gRPC server (and to the in-process REST adapter)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class ServiceBinding:
    """A real servicer for one contract service, e.g.
    ServiceBinding(name, lambda server: add_XServicer_to_server(XServicer(...), server))."""

    service_name: str
    add_to_server: Callable[[grpc.aio.Server], None]
    # The servicer itself, so the in-process REST adapter calls the very same code.
    servicer: object | None = None
