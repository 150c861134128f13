"""`/healthz` and `/readyz` on the REST port: probes for load balancers and orchestrators.

Neither is a MEF operation: they sit outside every API's base path and route table, need no
credentials (they reveal no buyer data) and are never shed. `/healthz` is liveness: the
process answers HTTP. `/readyz` is readiness, as gRPC health reports it: ready once the
server has started serving with its store open, not ready again from the first moment of
shutdown (when new REST requests are refused 503 SHUTTING_DOWN while calls in flight drain).
"""

from __future__ import annotations

from aiohttp import web

from interlude_server.rest.common import respond
from interlude_server.rest.readiness import LIVENESS, READINESS, Readiness


def _json(body: dict[str, str], status: int = 200) -> web.Response:
    return respond(body, status, {"Cache-Control": "no-store"})


async def liveness(_request: web.Request) -> web.Response:
    return _json({"status": "ok"})


def probe_routes(readiness: Readiness) -> list[web.RouteDef]:
    """GET (and HEAD) `/healthz` and `/readyz`; `/readyz` is 200 when ready, else 503."""

    async def ready(_request: web.Request) -> web.Response:
        is_ready, body = readiness.state()
        return _json(body, 200 if is_ready else 503)

    return [web.get(LIVENESS, liveness), web.get(READINESS, ready)]
