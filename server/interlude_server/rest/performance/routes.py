"""`/mefApi/interlude/performanceMonitoring/v5/`: PM over REST, onto PerformanceService.

performanceProfile create/list/retrieve/delete, performanceJob create/list/retrieve,
the v5 job actions `POST /performanceJob/{id}/suspend|resume` (204), the cancel task
resource `cancelPerformanceJob` (create, retrieve), and performanceReport list/retrieve.
Same backend, paging (`offset`/`limit`, `X-Total-Count`, `X-Result-Count`) and error
mapping as the other APIs (`rest.app`). Lists take only `offset` and `limit` so far;
another query parameter is refused as a bad parameter rather than ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import NotFound
from interlude_server.rest import common, query
from interlude_server.rest.backend import Backend
from interlude_server.rest.mapping import Json
from interlude_server.rest.performance import inbound as inbound
from interlude_server.rest.performance import mapping as pm
from interlude_server.rest.routing import Route, RouteTable, create_route, list_route, retrieve_route

_PM = "PerformanceService"
Pm = performance_pb2
ToJson = Callable[[Any, pm.PmHrefs], Json]


@lru_cache(maxsize=64)
def _hrefs(base: str) -> pm.PmHrefs:
    return pm.PmHrefs(base)


def hrefs(request: web.Request) -> pm.PmHrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


class PmRestApi:
    """The PM v5 routes over one backend. A resource's create and reads are one handler each,
    told the resource by the route table: its `noun` names the RPCs (`Create{noun}`,
    `Get{noun}`, `List{noun}s`), their messages and the field that carries it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _call(self, request: web.Request, method: str, req: Message) -> Any:
        return await self.backend.call(_PM, method, req, common.caller(request))

    async def _created(
        self, request: web.Request, method: str, req: Message, field: str, to_json: ToJson
    ) -> web.Response:
        body = to_json(getattr(await self._call(request, method, req), field), hrefs(request))
        return common.respond(body, 201, {"Location": body["href"]})

    async def create(
        self, request: web.Request, noun: str, parse: Callable[[Any], Message], to_json: ToJson
    ) -> web.Response:
        field, req = await common.create_request(request, Pm, noun, parse)
        return await self._created(request, f"Create{noun}", req, field, to_json)

    async def retrieve(self, request: web.Request, noun: str, to_json: ToJson) -> web.Response:
        req = getattr(Pm, f"Get{noun}Request")(id=request.match_info["id"])
        r = await self._call(request, f"Get{noun}", req)
        return common.respond(to_json(getattr(r, common.field_name(noun)), hrefs(request)))

    async def listing(self, request: web.Request, noun: str, to_json: ToJson) -> web.Response:
        given = common.params(request)
        query.paging_only(given, "this list takes only offset and limit so far")
        method, h = f"List{noun}s", hrefs(request)
        call = partial(self._call, request, method)
        req = getattr(Pm, method + "Request")()
        return await common.page_response(
            query.window(given), req, call, common.field_name(noun) + "s", lambda x: to_json(x, h)
        )

    async def no_content(self, request: web.Request, method: str) -> web.Response:
        """An operation on the resource at `{id}` answered with 204 (delete, suspend, resume)."""
        make = getattr(Pm, method + "Request")
        await self._call(
            request, method, make(id=request.match_info["id"], request_id=common.request_id(request))
        )
        return web.Response(status=204)

    # -- the task resources cancelPerformanceJob and modifyPerformanceJob -----------

    async def create_cancel(self, request: web.Request) -> web.Response:
        job_id = inbound.cancel_job_id(await common.json_body(request))
        req = Pm.CancelPerformanceJobRequest(id=job_id, request_id=common.request_id(request))
        return await self._created(
            request, "CancelPerformanceJob", req, "performance_job_task", pm.cancel_task
        )

    async def create_modify(self, request: web.Request) -> web.Response:
        job_id, change = inbound.modification(await common.json_body(request))
        request[common.BODY_ROOT] = "modification"
        req = Pm.ModifyPerformanceJobRequest(
            id=job_id, modification=change, request_id=common.request_id(request)
        )
        return await self._created(
            request, "ModifyPerformanceJob", req, "performance_job_task", pm.modify_task
        )

    async def task(self, request: web.Request, kind: int, to_json: ToJson) -> web.Response:
        req = Pm.GetPerformanceJobTaskRequest(id=request.match_info["id"])
        task = (await self._call(request, "GetPerformanceJobTask", req)).performance_job_task
        if task.task_type != kind:  # a cancel task is not a modifyPerformanceJob, and back
            raise NotFound("PerformanceJobTask", task.id, "PERFORMANCE_RESOURCE_NOT_FOUND")
        return common.respond(to_json(task, hrefs(request)))


def _create(noun: str, parse: Callable[[Any], Message], to_json: ToJson) -> Route[PmRestApi]:
    return create_route(noun, partial(PmRestApi.create, noun=noun, parse=parse, to_json=to_json))


def _reads(noun: str, to_json: ToJson) -> tuple[Route[PmRestApi], ...]:
    return (
        list_route(noun, partial(PmRestApi.listing, noun=noun, to_json=to_json)),
        retrieve_route(noun, partial(PmRestApi.retrieve, noun=noun, to_json=to_json)),
    )


def _no_content(method: str, path: str, operation_id: str, rpc: str) -> Route[PmRestApi]:
    return Route(method, path, partial(PmRestApi.no_content, method=rpc), operation_id, rpc)


_P, _CANCEL, _MODIFY = PmRestApi, Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL, Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY
ROUTES: RouteTable[PmRestApi] = RouteTable(
    pm.PM_BASE,
    _PM,
    (
        _create("PerformanceProfile", inbound.profile, pm.profile),
        *_reads("PerformanceProfile", pm.profile),
        _no_content(
            "DELETE", "/performanceProfile/{id}", "deletePerformanceProfile", "DeletePerformanceProfile"
        ),
        _create("PerformanceJob", inbound.job, pm.job),
        *_reads("PerformanceJob", pm.job),
        _no_content("POST", "/performanceJob/{id}/suspend", "suspendPerformanceJob", "SuspendPerformanceJob"),
        _no_content("POST", "/performanceJob/{id}/resume", "resumePerformanceJob", "ResumePerformanceJob"),
        Route(
            "POST",
            "/cancelPerformanceJob",
            _P.create_cancel,
            "createCancelPerformanceJob",
            "CancelPerformanceJob",
        ),
        Route(
            "GET",
            "/cancelPerformanceJob/{id}",
            partial(_P.task, kind=_CANCEL, to_json=pm.cancel_task),
            "retrieveCancelPerformanceJob",
            "GetPerformanceJobTask",
        ),
        Route(
            "POST",
            "/modifyPerformanceJob",
            _P.create_modify,
            "createModifyPerformanceJob",
            "ModifyPerformanceJob",
        ),
        Route(
            "GET",
            "/modifyPerformanceJob/{id}",
            partial(_P.task, kind=_MODIFY, to_json=pm.modify_task),
            "retrieveModifyPerformanceJob",
            "GetPerformanceJobTask",
        ),
        *_reads("PerformanceReport", pm.report),
    ),
    lambda backend, _hub: PmRestApi(backend),
)
