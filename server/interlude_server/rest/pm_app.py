"""`/mefApi/interlude/performanceMonitoring/v5/`: the read side of PM over REST.

performanceProfile and performanceJob list and retrieve, onto PerformanceService
through the same backend, paging (`offset`/`limit`, `X-Total-Count`, `X-Result-Count`)
and error mapping as the other APIs. Lists take only `offset` and `limit` so far;
another query parameter is refused as a bad parameter rather than ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.rest import pm_mapping as pm
from interlude_server.rest import query
from interlude_server.rest.backend import Backend
from interlude_server.rest.mapping import Json

_PM = "PerformanceService"
Pm = performance_pb2


@functools.lru_cache(maxsize=64)
def _hrefs(base: str) -> pm.PmHrefs:
    return pm.PmHrefs(base)


def hrefs(request: web.Request) -> pm.PmHrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


class PmRestApi:
    """The PM v5 routes over one backend; `respond` and `buyer` are the adapter's own."""

    def __init__(
        self,
        backend: Backend,
        respond: Callable[..., web.Response],
        buyer: Callable[[web.Request], str],
    ) -> None:
        self.backend = backend
        self.respond = respond
        self.buyer = buyer

    async def _get(
        self,
        request: web.Request,
        method: str,
        req: Message,
        field: str,
        to_json: Callable[[Any, pm.PmHrefs], Json],
    ) -> web.Response:
        r = await self.backend.call(_PM, method, req, self.buyer(request))
        return self.respond(to_json(getattr(r, field), hrefs(request)))

    async def _list(
        self,
        request: web.Request,
        method: str,
        req: Any,
        field: str,
        to_json: Callable[[Any, pm.PmHrefs], Json],
    ) -> web.Response:
        given = {name: request.query.getall(name) for name in request.query}
        for name in given:
            if name not in query.PAGING:
                raise query.bad_parameter(name, "this list takes only offset and limit so far")
        win = query.window(given)
        who = self.buyer(request)

        async def fetch(size: int, token: str, _skipping: bool) -> tuple[Sequence[Any], str, int]:
            req.page_size, req.page_token = size, token
            r = await self.backend.call(_PM, method, req, who)
            return getattr(r, field), r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        h = hrefs(request)
        return self.respond([to_json(x, h) for x in page.items], headers=page.headers(win.offset))

    async def list_profiles(self, request: web.Request) -> web.Response:
        req = Pm.ListPerformanceProfilesRequest()
        return await self._list(request, "ListPerformanceProfiles", req, "performance_profiles", pm.profile)

    async def get_profile(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceProfileRequest(id=request.match_info["id"])
        return await self._get(request, "GetPerformanceProfile", req, "performance_profile", pm.profile)

    async def list_jobs(self, request: web.Request) -> web.Response:
        req = Pm.ListPerformanceJobsRequest()
        return await self._list(request, "ListPerformanceJobs", req, "performance_jobs", pm.job)

    async def get_job(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceJobRequest(id=request.match_info["id"])
        return await self._get(request, "GetPerformanceJob", req, "performance_job", pm.job)

    def routes(self) -> list[web.RouteDef]:
        base = pm.PM_BASE
        return [
            web.get(base + "/performanceProfile", self.list_profiles, allow_head=False),
            web.get(base + "/performanceProfile/{id}", self.get_profile, allow_head=False),
            web.get(base + "/performanceJob", self.list_jobs, allow_head=False),
            web.get(base + "/performanceJob/{id}", self.get_job, allow_head=False),
        ]
