"""`/mefApi/interlude/performanceMonitoring/v5/`: PM over REST, onto PerformanceService.

performanceProfile create/list/retrieve/delete, performanceJob create/list/retrieve,
the v5 job actions `POST /performanceJob/{id}/suspend|resume` (204), the cancel task
resource `cancelPerformanceJob` (create, retrieve), and performanceReport list/retrieve.
Same backend, paging (`offset`/`limit`, `X-Total-Count`, `X-Result-Count`) and error
mapping as the other APIs (`rest.app`). Lists take only `offset` and `limit` so far;
another query parameter is refused as a bad parameter rather than ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
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

_PM = "PerformanceService"
Pm = performance_pb2
ToJson = Callable[[Any, pm.PmHrefs], Json]


@functools.lru_cache(maxsize=64)
def _hrefs(base: str) -> pm.PmHrefs:
    return pm.PmHrefs(base)


def hrefs(request: web.Request) -> pm.PmHrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


def _request_id(request: web.Request) -> str:
    return request.headers.get(common.REQUEST_ID_HEADER, "")


class PmRestApi:
    """The PM v5 routes over one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _call(self, request: web.Request, method: str, req: Message) -> Any:
        return await self.backend.call(_PM, method, req, common.caller(request))

    async def _get(
        self, request: web.Request, method: str, req: Message, field: str, to_json: ToJson
    ) -> web.Response:
        r = await self._call(request, method, req)
        return common.respond(to_json(getattr(r, field), hrefs(request)))

    async def _created(
        self, request: web.Request, method: str, req: Message, field: str, to_json: ToJson
    ) -> web.Response:
        body = to_json(getattr(await self._call(request, method, req), field), hrefs(request))
        return common.respond(body, 201, {"Location": body["href"]})

    async def _no_content(
        self, request: web.Request, method: str, make: Callable[..., Message]
    ) -> web.Response:
        """An operation on the resource at `{id}` answered with 204 (delete, suspend, resume)."""
        await self._call(request, method, make(id=request.match_info["id"], request_id=_request_id(request)))
        return web.Response(status=204)

    async def _list(
        self, request: web.Request, method: str, req: Any, field: str, to_json: ToJson
    ) -> web.Response:
        given = common.params(request)
        for name in given:
            if name not in query.PAGING:
                raise query.bad_parameter(name, "this list takes only offset and limit so far")
        win = query.window(given)

        async def fetch(size: int, token: str, _skipping: bool) -> tuple[Sequence[Any], str, int]:
            req.page_size, req.page_token = size, token
            r = await self._call(request, method, req)
            return getattr(r, field), r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        h = hrefs(request)
        return common.respond([to_json(x, h) for x in page.items], headers=page.headers(win.offset))

    # -- performanceProfile ---------------------------------------------------

    async def create_profile(self, request: web.Request) -> web.Response:
        value = inbound.profile(await common.json_body(request))
        request[common.BODY_ROOT] = "performance_profile"
        req = Pm.CreatePerformanceProfileRequest(performance_profile=value, request_id=_request_id(request))
        return await self._created(
            request, "CreatePerformanceProfile", req, "performance_profile", pm.profile
        )

    async def list_profiles(self, request: web.Request) -> web.Response:
        req = Pm.ListPerformanceProfilesRequest()
        return await self._list(request, "ListPerformanceProfiles", req, "performance_profiles", pm.profile)

    async def get_profile(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceProfileRequest(id=request.match_info["id"])
        return await self._get(request, "GetPerformanceProfile", req, "performance_profile", pm.profile)

    async def delete_profile(self, request: web.Request) -> web.Response:
        return await self._no_content(request, "DeletePerformanceProfile", Pm.DeletePerformanceProfileRequest)

    # -- performanceJob and its actions -----------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        value = inbound.job(await common.json_body(request))
        request[common.BODY_ROOT] = "performance_job"
        req = Pm.CreatePerformanceJobRequest(performance_job=value, request_id=_request_id(request))
        return await self._created(request, "CreatePerformanceJob", req, "performance_job", pm.job)

    async def list_jobs(self, request: web.Request) -> web.Response:
        req = Pm.ListPerformanceJobsRequest()
        return await self._list(request, "ListPerformanceJobs", req, "performance_jobs", pm.job)

    async def get_job(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceJobRequest(id=request.match_info["id"])
        return await self._get(request, "GetPerformanceJob", req, "performance_job", pm.job)

    async def suspend_job(self, request: web.Request) -> web.Response:
        return await self._no_content(request, "SuspendPerformanceJob", Pm.SuspendPerformanceJobRequest)

    async def resume_job(self, request: web.Request) -> web.Response:
        return await self._no_content(request, "ResumePerformanceJob", Pm.ResumePerformanceJobRequest)

    async def create_cancel(self, request: web.Request) -> web.Response:
        job_id = inbound.cancel_job_id(await common.json_body(request))
        req = Pm.CancelPerformanceJobRequest(id=job_id, request_id=_request_id(request))
        return await self._created(
            request, "CancelPerformanceJob", req, "performance_job_task", pm.cancel_task
        )

    async def create_modify(self, request: web.Request) -> web.Response:
        job_id, change = inbound.modification(await common.json_body(request))
        request[common.BODY_ROOT] = "modification"
        req = Pm.ModifyPerformanceJobRequest(id=job_id, modification=change, request_id=_request_id(request))
        return await self._created(
            request, "ModifyPerformanceJob", req, "performance_job_task", pm.modify_task
        )

    async def _task(self, request: web.Request, kind: int, to_json: ToJson) -> web.Response:
        req = Pm.GetPerformanceJobTaskRequest(id=request.match_info["id"])
        task = (await self._call(request, "GetPerformanceJobTask", req)).performance_job_task
        if task.task_type != kind:  # a cancel task is not a modifyPerformanceJob, and back
            raise NotFound("PerformanceJobTask", task.id, "PERFORMANCE_RESOURCE_NOT_FOUND")
        return common.respond(to_json(task, hrefs(request)))

    async def get_cancel(self, request: web.Request) -> web.Response:
        return await self._task(request, Pm.PERFORMANCE_JOB_TASK_TYPE_CANCEL, pm.cancel_task)

    async def get_modify(self, request: web.Request) -> web.Response:
        return await self._task(request, Pm.PERFORMANCE_JOB_TASK_TYPE_MODIFY, pm.modify_task)

    # -- performanceReport --------------------------------------------------------

    async def list_reports(self, request: web.Request) -> web.Response:
        req = Pm.ListPerformanceReportsRequest()
        return await self._list(request, "ListPerformanceReports", req, "performance_reports", pm.report)

    async def get_report(self, request: web.Request) -> web.Response:
        req = Pm.GetPerformanceReportRequest(id=request.match_info["id"])
        return await self._get(request, "GetPerformanceReport", req, "performance_report", pm.report)

    def routes(self) -> list[web.RouteDef]:
        base = pm.PM_BASE
        return [
            web.post(base + "/performanceProfile", self.create_profile),
            web.get(base + "/performanceProfile", self.list_profiles, allow_head=False),
            web.get(base + "/performanceProfile/{id}", self.get_profile, allow_head=False),
            web.delete(base + "/performanceProfile/{id}", self.delete_profile),
            web.post(base + "/performanceJob", self.create_job),
            web.get(base + "/performanceJob", self.list_jobs, allow_head=False),
            web.get(base + "/performanceJob/{id}", self.get_job, allow_head=False),
            web.post(base + "/performanceJob/{id}/suspend", self.suspend_job),
            web.post(base + "/performanceJob/{id}/resume", self.resume_job),
            web.post(base + "/cancelPerformanceJob", self.create_cancel),
            web.get(base + "/cancelPerformanceJob/{id}", self.get_cancel, allow_head=False),
            web.post(base + "/modifyPerformanceJob", self.create_modify),
            web.get(base + "/modifyPerformanceJob/{id}", self.get_modify, allow_head=False),
            web.get(base + "/performanceReport", self.list_reports, allow_head=False),
            web.get(base + "/performanceReport/{id}", self.get_report, allow_head=False),
        ]
