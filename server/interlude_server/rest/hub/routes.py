"""The `/hub` routes every MEF API carries, onto the hub's registrations.

The gateway serves no hub (it needs the event log): there `/hub` answers 501.
"""

from __future__ import annotations

from aiohttp import web

from interlude_server.rest.common import caller, hrefs, json_body, respond
from interlude_server.rest.errors import AnswerAs
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.routing import Route, RouteTable


class HubRoutes:
    """The hub's registrations of one API (`api`: the name they are kept under; `base`: the
    API's base path, under which `/hub/{id}` is a registration's resource)."""

    def __init__(self, hub: HubApi, api: str, base: str) -> None:
        self.hub = hub
        self.api = api
        self.base = base

    async def register(self, request: web.Request) -> web.Response:
        """registerListener: 201 with the registration and its `Location` (`{base}/hub/{id}`)."""
        data = await json_body(request)
        origin = hrefs(request).base
        created = await self.hub.register(self.api, caller(request).buyer, origin, data)
        return respond(created, 201, {"Location": f"{origin}{self.base}/hub/{created['id']}"})

    async def retrieve(self, request: web.Request) -> web.Response:
        return respond(await self.hub.retrieve(self.api, caller(request).buyer, request.match_info["id"]))

    async def unregister(self, request: web.Request) -> web.Response:
        await self.hub.unregister(self.api, caller(request).buyer, request.match_info["id"])
        return web.Response(status=204)


def hub_routes(base: str, api: str, retrieve_id: str, *, invalid_status: int = 422) -> RouteTable[HubRoutes]:
    """`/hub` and `/hub/{id}` under one API's `base`, its registrations kept under `api`;
    `retrieve_id` is the operationId that API gives `GET /hub/{id}`. All three are
    REST-only operations (auth.scopes.REST_ONLY_SCOPES). `invalid_status`: what the API's
    file lists for a registration it refuses (422, or 400 `invalidBody` where 422 is not listed)."""
    refused = ((422, AnswerAs(400, "invalidBody")),) if invalid_status == 400 else ()
    return RouteTable(
        base,
        "",
        (
            Route("POST", "/hub", HubRoutes.register, "registerListener", errors=refused),
            Route("GET", "/hub/{id}", HubRoutes.retrieve, retrieve_id),
            Route("DELETE", "/hub/{id}", HubRoutes.unregister, "unregisterListener"),
        ),
        lambda _backend, hub: HubRoutes(hub, api, base) if hub is not None else None,
        absent="the hub is served by interlude-server, not by the gateway",
    )
