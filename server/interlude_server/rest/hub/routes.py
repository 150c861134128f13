"""The `/hub` routes every MEF API carries, onto the hub's registrations."""

from __future__ import annotations

from aiohttp import web

from interlude_server.rest.backend import RpcFailure, not_implemented
from interlude_server.rest.common import caller, hrefs, json_body, respond
from interlude_server.rest.hub.subscriptions import HubApi


def hub_routes(hub: HubApi | None, base: str, api: str) -> list[web.RouteDef]:
    """`/hub` and `/hub/{id}` under one API's base; the gateway (no hub) answers 501."""

    async def unavailable(_request: web.Request) -> web.Response:
        raise RpcFailure(not_implemented("the hub is served by interlude-server, not by the gateway"))

    if hub is None:
        return [
            web.route("*", base + "/hub", unavailable),
            web.route("*", base + "/hub/{id}", unavailable),
        ]

    async def register(request: web.Request) -> web.Response:
        data = await json_body(request)
        return respond(await hub.register(api, caller(request).buyer, hrefs(request).base, data), 201)

    async def retrieve(request: web.Request) -> web.Response:
        return respond(await hub.retrieve(api, caller(request).buyer, request.match_info["id"]))

    async def unregister(request: web.Request) -> web.Response:
        await hub.unregister(api, caller(request).buyer, request.match_info["id"])
        return web.Response(status=204)

    return [
        web.post(base + "/hub", register),
        web.get(base + "/hub/{id}", retrieve, allow_head=False),
        web.delete(base + "/hub/{id}", unregister),
    ]
