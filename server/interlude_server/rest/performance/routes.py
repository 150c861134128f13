"""`/mefApi/interlude/performanceMonitoring/v5/`: PM over REST, onto PerformanceService.

Every operation of MEF's v5 file: performanceProfile create/list/retrieve/modify (PATCH)/
delete, performanceJob create/list/retrieve, the job actions `POST /performanceJob/{id}/
suspend|resume` (204), the task resources `cancelPerformanceJob` and `modifyPerformanceJob`
(create, list, retrieve), performanceReport create (ad-hoc)/list/retrieve, the two complex
queries, `trackingRecord`, and (REST-only URL of the contract's GetPerformanceReportFile)
a report's file at `performanceReport/{id}/file`. Lists take the query parameters MEF lists
for them (rest.performance.query). Same backend, paging (`offset`/`limit`, `X-Total-Count`,
`X-Result-Count`) and error mapping as the other APIs (`rest.app`); where MEF's file lists
another status than the error table's for an operation, the row says what it answers
instead (`errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.api.paging import MAX_PAGE_SIZE
from interlude_server.core.errors import NotFound
from interlude_server.rest import common, query
from interlude_server.rest.backend import Backend
from interlude_server.rest.errors import AnswerAs
from interlude_server.rest.mapping import Json
from interlude_server.rest.performance import inbound as inbound
from interlude_server.rest.performance import inbound_more as more
from interlude_server.rest.performance import mapping as pm
from interlude_server.rest.performance import query as pq
from interlude_server.rest.routing import (
    ApiHandler,
    Route,
    RouteTable,
    create_route,
    list_route,
    retrieve_route,
)

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

    async def listing(
        self, request: web.Request, noun: str, to_json: ToJson, spec: Callable[[Any], Message], rpc: str = ""
    ) -> web.Response:
        """A list: `spec` reads the query into the List RPC's filter; `rpc` names the RPC when
        it is not `List{noun}s`."""
        given = common.params(request)
        method, h = rpc or f"List{noun}s", hrefs(request)
        call = partial(self._call, request, method)
        req = getattr(Pm, method + "Request")(filter=spec(given))
        field = Pm.DESCRIPTOR.message_types_by_name[method + "Response"].fields[0].name
        return await common.page_response(query.window(given), req, call, field, lambda x: to_json(x, h))

    async def update_profile(self, request: web.Request) -> web.Response:
        change, mask = more.profile_update(await common.json_body(request), request.match_info["id"])
        request[common.BODY_ROOT] = "performance_profile"
        req = Pm.UpdatePerformanceProfileRequest(
            performance_profile=change, update_mask=mask, request_id=common.request_id(request)
        )
        r = await self._call(request, "UpdatePerformanceProfile", req)
        return common.respond(pm.profile(r.performance_profile, hrefs(request)))

    async def complex_query(self, request: web.Request, noun: str, to_json: ToJson) -> web.Response:
        """`POST /{noun}ComplexQuery`: every match, newest first (MEF's answer is one unpaged
        array): the pages of `Query{noun}s`, which decides what matches."""
        read = more.job_query if noun == "PerformanceJob" else more.report_query
        req = read(await common.json_body(request))
        req.page_size = MAX_PAGE_SIZE
        method, field, h = f"Query{noun}s", common.field_name(noun) + "s", hrefs(request)
        out: list[Json] = []
        while True:
            r = await self._call(request, method, req)
            out += [to_json(x, h) for x in getattr(r, field)]
            if not r.next_page_token:
                return common.respond(out)
            req.page_token = r.next_page_token

    async def report_file(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceReportFileRequest(id=request.match_info["id"])
        r = await self._call(request, "GetPerformanceReportFile", req)
        disposition = f'attachment; filename="{r.file_name}"'
        return web.Response(
            body=r.data, headers={"Content-Type": r.content_type, "Content-Disposition": disposition}
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


def _create(
    noun: str, parse: Callable[[Any], Message], to_json: ToJson, errors: tuple[tuple[int, AnswerAs], ...] = ()
) -> Route[PmRestApi]:
    route = create_route(noun, partial(PmRestApi.create, noun=noun, parse=parse, to_json=to_json))
    return Route(route.method, route.path, route.handler, route.operation_id, route.rpc, errors=errors)


def _reads(noun: str, to_json: ToJson, spec: Callable[[Any], Message]) -> tuple[Route[PmRestApi], ...]:
    return (
        list_route(noun, partial(PmRestApi.listing, noun=noun, to_json=to_json, spec=spec)),
        retrieve_route(noun, partial(PmRestApi.retrieve, noun=noun, to_json=to_json)),
    )


# What MEF's file lists instead of the error table's status. A POST that names a job, profile
# or service that does not exist lists no 404: a 422 `referenceNotFound`; a job whose state
# refuses the task or action (409 in the table) is a 422 `otherIssue`. PATCH of a profile
# lists no 422: an invalid body is a 400 `invalidBody`.
_NAMES_ANOTHER = ((404, AnswerAs(422, "referenceNotFound")), (409, AnswerAs(422, "otherIssue")))
_ACTION = ((409, AnswerAs(422, "otherIssue")),)
_PATCH = ((422, AnswerAs(400, "invalidBody")),)


def _no_content(method: str, path: str, operation_id: str, rpc: str) -> Route[PmRestApi]:
    handler = partial(PmRestApi.no_content, method=rpc)
    return Route(method, path, handler, operation_id, rpc, errors=_ACTION)


def _tasks(
    name: str, kind: int, create: ApiHandler[PmRestApi], to_json: ToJson
) -> tuple[Route[PmRestApi], ...]:
    """A task resource (`cancelPerformanceJob`, `modifyPerformanceJob`): create is the task's
    RPC, the reads are the task reads of its kind."""
    path, rpc = "/" + name[0].lower() + name[1:], name
    spec = partial(pq.task_filter, task_type=kind)
    listing = partial(_P.listing, noun="PerformanceJobTask", to_json=to_json, spec=spec)
    return (
        Route("POST", path, create, f"create{name}", rpc, errors=_NAMES_ANOTHER),
        Route("GET", path, listing, f"list{name}", "ListPerformanceJobTasks"),
        Route(
            "GET",
            path + "/{id}",
            partial(_P.task, kind=kind, to_json=to_json),
            f"retrieve{name}",
            "GetPerformanceJobTask",
        ),
    )


def _complex(noun: str, to_json: ToJson) -> Route[PmRestApi]:
    name = noun[0].lower() + noun[1:] + "ComplexQuery"
    handler = partial(_P.complex_query, noun=noun, to_json=to_json)
    return Route("POST", "/" + name, handler, name, f"Query{noun}s", errors=_NAMES_ANOTHER)


_P, _CANCEL, _MODIFY = PmRestApi, Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL, Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY
_TRACKING = partial(
    _P.listing,
    noun="PerformanceTrackingRecord",
    to_json=pm.tracking_record,
    spec=pq.tracking_filter,
    rpc="ListPerformanceTrackingRecords",
)
ROUTES: RouteTable[PmRestApi] = RouteTable(
    pm.PM_BASE,
    _PM,
    (
        _create("PerformanceProfile", inbound.profile, pm.profile),
        *_reads("PerformanceProfile", pm.profile, pq.profile_filter),
        Route(
            "PATCH",
            "/performanceProfile/{id}",
            _P.update_profile,
            "modifyPerformanceProfile",
            "UpdatePerformanceProfile",
            errors=_PATCH,
        ),
        _no_content(
            "DELETE", "/performanceProfile/{id}", "deletePerformanceProfile", "DeletePerformanceProfile"
        ),
        _create("PerformanceJob", inbound.job, pm.job, _NAMES_ANOTHER),
        *_reads("PerformanceJob", pm.job, pq.job_filter),
        _no_content("POST", "/performanceJob/{id}/suspend", "suspendPerformanceJob", "SuspendPerformanceJob"),
        _no_content("POST", "/performanceJob/{id}/resume", "resumePerformanceJob", "ResumePerformanceJob"),
        *_tasks("CancelPerformanceJob", _CANCEL, _P.create_cancel, pm.cancel_task),
        *_tasks("ModifyPerformanceJob", _MODIFY, _P.create_modify, pm.modify_task),
        _complex("PerformanceJob", pm.job),
        _create("PerformanceReport", more.report, pm.report, _NAMES_ANOTHER),
        *_reads("PerformanceReport", pm.report, pq.report_filter),
        Route(
            "GET",
            "/performanceReport/{id}/file",
            _P.report_file,
            "retrievePerformanceReportFile",
            "GetPerformanceReportFile",
        ),
        _complex("PerformanceReport", pm.report),
        Route("GET", "/trackingRecord", _TRACKING, "listTrackingRecord", "ListPerformanceTrackingRecords"),
    ),
    lambda backend, _hub: PmRestApi(backend),
)
