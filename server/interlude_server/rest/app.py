"""The aiohttp application: MEF Interlude REST paths onto the contract's RPCs.

Each API's route table lives with its feature (rest/service, rest/performance, rest/sft) and
every API carries a `/hub` (rest/hub); rest.operations lists the tables, and the routes
served are exactly theirs. rest/middleware says what every request passes.
"""

from __future__ import annotations

from aiohttp import web

from interlude_server.api.overload import LoadLimiter
from interlude_server.rest.admission import Admission
from interlude_server.rest.backend import Backend
from interlude_server.rest.health import probe_routes
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.middleware import (
    ADMISSION,
    LIMITER,
    READINESS,
    admitted,
    errors_and_logging,
    limited,
)
from interlude_server.rest.operations import ROUTE_TABLES
from interlude_server.rest.readiness import Readiness


def routes(backend: Backend, hub: HubApi | None) -> list[web.RouteDef]:
    """Every route of the adapter: those of rest.operations' tables, in their order."""
    return [route for table in ROUTE_TABLES for route in table.route_defs(backend, hub)]


def build_app(
    backend: Backend,
    hub: HubApi | None,
    admission: Admission,
    max_body_bytes: int,
    limiter: LoadLimiter | None = None,
    readiness: Readiness | None = None,
) -> web.Application:
    """The adapter; `max_body_bytes` caps a request body (413 beyond), as --max-message-bytes
    caps a gRPC message; `limiter` (None: nothing is shed) bounds the requests in flight;
    `readiness` (None: ready at once, never draining) answers `/readyz` and, once draining,
    refuses new requests. `/healthz` and `/readyz` are served beside the MEF routes."""
    app = web.Application(middlewares=[errors_and_logging, limited, admitted], client_max_size=max_body_bytes)
    app[ADMISSION] = admission
    if limiter is not None:
        app[LIMITER] = limiter
    if readiness is None:
        readiness = Readiness()
        readiness.serving()
    app[READINESS] = readiness
    app.add_routes(probe_routes(readiness))
    app.add_routes(routes(backend, hub))
    return app
