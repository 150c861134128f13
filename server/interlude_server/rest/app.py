"""The aiohttp application: MEF Interlude REST paths onto the contract's RPCs.

Each API's routes live with their feature (rest/service, rest/performance, rest/sft) and
every API carries a `/hub` (rest/hub); rest/middleware says what every request passes.
"""

from __future__ import annotations

from aiohttp import web

from interlude_server.api.overload import LoadLimiter
from interlude_server.rest import mapping as m
from interlude_server.rest.admission import Admission
from interlude_server.rest.backend import Backend
from interlude_server.rest.hub.routes import hub_routes
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.middleware import ADMISSION, LIMITER, admitted, errors_and_logging, limited
from interlude_server.rest.performance.mapping import PM_BASE
from interlude_server.rest.performance.routes import PmRestApi
from interlude_server.rest.service.routes import ServiceApi
from interlude_server.rest.sft.mapping import SFT_BASE
from interlude_server.rest.sft.routes import SftApi

# (base path, the API name hub registrations are kept under)
HUBS = (
    (m.INVENTORY_BASE, "serviceInventory"),
    (m.ORDERING_BASE, "serviceOrdering"),
    (PM_BASE, "performanceMonitoring"),
    (SFT_BASE, "serviceFunctionTesting"),
)


def routes(backend: Backend, hub: HubApi | None) -> list[web.RouteDef]:
    """Every route of the adapter."""
    hubs = [route for base, api in HUBS for route in hub_routes(hub, base, api)]
    return [*ServiceApi(backend).routes(), *hubs, *SftApi(backend).routes(), *PmRestApi(backend).routes()]


def build_app(
    backend: Backend,
    hub: HubApi | None,
    admission: Admission,
    max_body_bytes: int,
    limiter: LoadLimiter | None = None,
) -> web.Application:
    """The adapter; `max_body_bytes` caps a request body (413 beyond), as --max-message-bytes
    caps a gRPC message; `limiter` (None: nothing is shed) bounds the requests in flight."""
    app = web.Application(middlewares=[errors_and_logging, limited, admitted], client_max_size=max_body_bytes)
    app[ADMISSION] = admission
    if limiter is not None:
        app[LIMITER] = limiter
    app.add_routes(routes(backend, hub))
    return app
