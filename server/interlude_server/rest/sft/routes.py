"""`/mefApi/interlude/serviceFunctionTesting/v3/` onto ServiceTestService (Mplify 149).

Handlers follow `rest.app`: parse -> call the backend -> map to MEF JSON, with
the same helpers, paging and error middleware. The task resources
(`cancelTestJob`, `modifyTestJob`, `suspendTestJob`, `resumeTestJob`) are one
handler set parameterised by `rest.sft.mapping.TaskKind`; a task id of another kind
is 404, as MEF keeps them as separate resources.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.errors import NotFound
from interlude_server.rest import common as a
from interlude_server.rest import query
from interlude_server.rest.backend import Backend, RpcFailure
from interlude_server.rest.sft import inbound as sft_inbound
from interlude_server.rest.sft import mapping as sm
from interlude_server.rest.sft import query as sft_query

St = service_test_pb2
_SFT = "ServiceTestService"
_NOT_FOUND = "TEST_RESOURCE_NOT_FOUND"
# TestProfile_Modify property -> the UpdateTestProfile mask path it changes.
_PROFILE_MASK = {
    "name": "name",
    "description": "description",
    "isBundled": "is_bundled",
    "lifecycleStatus": "lifecycle_status",
    "validFor": "valid_for",
    "testProfileRelationship": "test_profile_relationship",
    "serviceSpecificTestProfileConfiguration": "service_specific_test_profile_configuration",
    "relatedServiceSpecification": "related_service_specification_id",
    "relatedContact": "related_contact",
}
_TASK_METHODS: dict[int, tuple[str, Any]] = {
    St.TEST_JOB_TASK_TYPE_CANCEL: ("CancelTestJob", St.CancelTestJobRequest),
    St.TEST_JOB_TASK_TYPE_SUSPEND: ("SuspendTestJob", St.SuspendTestJobRequest),
    St.TEST_JOB_TASK_TYPE_RESUME: ("ResumeTestJob", St.ResumeTestJobRequest),
    St.TEST_JOB_TASK_TYPE_MODIFY: ("ModifyTestJob", St.ModifyTestJobRequest),
}


# gRPC field names whose MEF property has another shape (a reference object), and the
# request-level `id` of a task RPC, which MEF carries as the body's `testJob.id`.
_MEF_SHAPES = {"related_service_specification_id": "related_service_specification.id"}
_TASK_FIELDS = {"id": "test_job.id"}


def _mef_field(field: str, renames: dict[str, str]) -> str:
    head, sep, pointer = field.partition("/")  # a pointer into a document is MEF's already
    if head in renames:
        head = renames[head]
    *parents, leaf = head.split(".")
    if leaf in _MEF_SHAPES:
        head = ".".join([*parents, _MEF_SHAPES[leaf]])
    return head + sep + pointer


def _mef_fields(status: status_pb2.Status, renames: dict[str, str]) -> None:
    """Rename the field violations of `status` (in place) to the MEF shape of the body."""
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for violation in bad.field_violations:
                violation.field = _mef_field(violation.field, renames)
            detail.Pack(bad)


def _hrefs(request: web.Request) -> sm.SftHrefs:
    return sm.SftHrefs(a.hrefs(request))


def _request_id(request: web.Request) -> str:
    return request.headers.get(a.REQUEST_ID_HEADER, "")


def _if_match(request: web.Request) -> str:
    return request.headers.get("If-Match", "").strip('"')


class SftApi:
    """The Service Function Testing routes over one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _call(
        self, request: web.Request, method: str, req: Any, renames: dict[str, str] | None = None
    ) -> Any:
        try:
            return await self.backend.call(_SFT, method, req, a.caller(request))
        except RpcFailure as failure:
            _mef_fields(failure.status, renames or {})
            raise

    async def _list(
        self,
        request: web.Request,
        method: str,
        spec: Any,
        field: str,
        to_json: Callable[[Any, sm.SftHrefs], Any],
    ) -> web.Response:
        """One MEF page of a List RPC: `spec` is its filter; the request type is `{method}Request`."""
        request_type = getattr(St, method + "Request")
        win = query.window(a.params(request))

        async def fetch(size: int, token: str, _skipping: bool) -> tuple[Sequence[Any], str, int]:
            r = await self._call(request, method, request_type(filter=spec, page_size=size, page_token=token))
            return getattr(r, field), r.next_page_token, r.total_size

        page = await query.page_at(fetch, win)
        h = _hrefs(request)
        return a.respond([to_json(x, h) for x in page.items], headers=page.headers(win.offset))

    # -- testProfile ------------------------------------------------------

    async def create_profile(self, request: web.Request) -> web.Response:
        profile = sft_inbound.profile(await a.json_body(request))
        request[a.BODY_ROOT] = "test_profile"
        req = St.CreateTestProfileRequest(test_profile=profile, request_id=_request_id(request))
        p = (await self._call(request, "CreateTestProfile", req)).test_profile
        h = _hrefs(request)
        return a.respond(sm.profile(p, h), 201, {"Location": h.profile(p.id), **a.etag(p.etag)})

    async def get_profile(self, request: web.Request) -> web.Response:
        req = St.GetTestProfileRequest(id=request.match_info["id"])
        p = (await self._call(request, "GetTestProfile", req)).test_profile
        return a.respond(sm.profile(p, _hrefs(request)), headers=a.etag(p.etag))

    async def list_profiles(self, request: web.Request) -> web.Response:
        return await self._list(
            request,
            "ListTestProfiles",
            sft_query.profile_filter(a.params(request)),
            "test_profiles",
            sm.profile,
        )

    async def patch_profile(self, request: web.Request) -> web.Response:
        body = await a.json_body(request)
        profile = sft_inbound.profile(body)
        profile.id = request.match_info["id"]
        request[a.BODY_ROOT] = "test_profile"
        req = St.UpdateTestProfileRequest(
            test_profile=profile, etag=_if_match(request), request_id=_request_id(request)
        )
        req.update_mask.paths.extend(_PROFILE_MASK[k] for k in body if k in _PROFILE_MASK)
        p = (await self._call(request, "UpdateTestProfile", req)).test_profile
        return a.respond(sm.profile(p, _hrefs(request)), headers=a.etag(p.etag))

    async def delete_profile(self, request: web.Request) -> web.Response:
        req = St.DeleteTestProfileRequest(
            id=request.match_info["id"], etag=_if_match(request), request_id=_request_id(request)
        )
        await self._call(request, "DeleteTestProfile", req)
        return web.Response(status=204)

    # -- testJob ----------------------------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        job = sft_inbound.job(await a.json_body(request))
        request[a.BODY_ROOT] = "test_job"
        req = St.CreateTestJobRequest(test_job=job, request_id=_request_id(request))
        j = (await self._call(request, "CreateTestJob", req)).test_job
        h = _hrefs(request)
        return a.respond(sm.job(j, h), 201, {"Location": h.job(j.id), **a.etag(j.etag)})

    async def get_job(self, request: web.Request) -> web.Response:
        j = (
            await self._call(request, "GetTestJob", St.GetTestJobRequest(id=request.match_info["id"]))
        ).test_job
        return a.respond(sm.job(j, _hrefs(request)), headers=a.etag(j.etag))

    async def list_jobs(self, request: web.Request) -> web.Response:
        return await self._list(
            request,
            "ListTestJobs",
            sft_query.job_filter(a.params(request)),
            "test_jobs",
            sm.job_find,
        )

    # -- cancelTestJob, modifyTestJob, suspendTestJob, resumeTestJob ------

    def _task_handlers(self, kind: sm.TaskKind) -> list[web.RouteDef]:
        method, request_type = _TASK_METHODS[kind.task_type]
        base = f"{sm.SFT_BASE}/{kind.resource}"

        async def create(request: web.Request) -> web.Response:
            job_id, reason, mod = sft_inbound.task(await a.json_body(request), kind)
            fields: dict[str, Any] = {"id": job_id, "reason": reason, "etag": _if_match(request)}
            if mod is not None:
                fields["modification"] = mod
                request[a.BODY_ROOT] = "modification"
            req = request_type(request_id=_request_id(request), **fields)
            t = (await self._call(request, method, req, _TASK_FIELDS)).test_job_task
            h = _hrefs(request)
            return a.respond(sm.task(t, h), 201, {"Location": h.task(t.task_type, t.id)})

        async def get(request: web.Request) -> web.Response:
            task_id = request.match_info["id"]
            t = (
                await self._call(request, "GetTestJobTask", St.GetTestJobTaskRequest(id=task_id))
            ).test_job_task
            if t.task_type != kind.task_type:  # another kind of task: not a resource of this path
                raise NotFound(kind.resource, task_id, _NOT_FOUND)
            return a.respond(sm.task(t, _hrefs(request)))

        async def listing(request: web.Request) -> web.Response:
            return await self._list(
                request,
                "ListTestJobTasks",
                sft_query.task_filter(a.params(request), kind.task_type),
                "test_job_tasks",
                sm.task,
            )

        return [
            web.post(base, create),
            web.get(base, listing, allow_head=False),
            web.get(base + "/{id}", get, allow_head=False),
        ]

    # -- testResult -------------------------------------------------------

    async def get_result(self, request: web.Request) -> web.Response:
        req = St.GetTestResultRequest(id=request.match_info["id"])
        r = (await self._call(request, "GetTestResult", req)).test_result
        return a.respond(sm.result(r, _hrefs(request)))

    async def list_results(self, request: web.Request) -> web.Response:
        return await self._list(
            request,
            "ListTestResults",
            sft_query.result_filter(a.params(request)),
            "test_results",
            lambda r, h: sm.result(r, h, listed=True),
        )

    def routes(self) -> list[web.RouteDef]:
        base = sm.SFT_BASE
        handlers: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("POST", "/testProfile", self.create_profile),
            ("GET", "/testProfile", self.list_profiles),
            ("GET", "/testProfile/{id}", self.get_profile),
            ("PATCH", "/testProfile/{id}", self.patch_profile),
            ("DELETE", "/testProfile/{id}", self.delete_profile),
            ("POST", "/testJob", self.create_job),
            ("GET", "/testJob", self.list_jobs),
            ("GET", "/testJob/{id}", self.get_job),
            ("GET", "/testResult", self.list_results),
            ("GET", "/testResult/{id}", self.get_result),
        ]
        routes = [web.route(method, base + path, handler) for method, path, handler in handlers]
        for kind in sm.TASKS:
            routes.extend(self._task_handlers(kind))
        return routes
