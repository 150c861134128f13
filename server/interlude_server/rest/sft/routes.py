"""`/mefApi/interlude/serviceFunctionTesting/v3/` onto ServiceTestService (Mplify 149).

Handlers follow `rest.app`: parse -> call the backend -> map to MEF JSON, with
the same helpers, paging and error middleware. The task resources
(`cancelTestJob`, `modifyTestJob`, `suspendTestJob`, `resumeTestJob`) are one
handler set parameterised by `rest.sft.mapping.TaskKind`; a task id of another kind
is 404, as MEF keeps them as separate resources. Where the file lists another status for an
error than the error table's, the route says so (`_TASK_ERRORS`, `_BAD_BODY_IS_400`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.errors import NotFound
from interlude_server.rest import common as a
from interlude_server.rest import query
from interlude_server.rest.backend import Backend, RpcFailure
from interlude_server.rest.errors import AnswerAs
from interlude_server.rest.routing import Route, RouteTable, create_route, list_route, retrieve_route
from interlude_server.rest.sft import inbound as sft_inbound
from interlude_server.rest.sft import mapping as sm
from interlude_server.rest.sft import query as sft_query

St = service_test_pb2
Render = Callable[[Any, sm.SftHrefs], Any]
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
# What the file lists instead of the error table's status. A task POST lists no 404 and no
# 409: a job that does not exist (or is another buyer's) is a 422 `referenceNotFound` at
# `/testJob/id`, a job whose state refuses the task a 422 `otherIssue`. modifyTestProfile
# lists no 422: a body it cannot apply is a 400 `invalidBody`.
_TASK_ERRORS = (
    (404, AnswerAs(422, "referenceNotFound", "/testJob/id")),
    (409, AnswerAs(422, "otherIssue")),
)
_BAD_BODY_IS_400 = ((422, AnswerAs(400, "invalidBody")),)
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


class SftApi:
    """The Service Function Testing routes over one backend. A resource's create, list and
    retrieve are one handler each, told the resource by the route table: its `noun` names
    the RPCs (`Create{noun}`, `List{noun}s`, `Get{noun}`), their messages and fields."""

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

    async def listing(
        self, request: web.Request, noun: str, spec: Callable[[query.Params], Any], render: Render
    ) -> web.Response:
        """One MEF page of List{noun}s, its filter read from the query by `spec`."""
        given = a.params(request)
        method, req_filter = f"List{noun}s", spec(given)
        win = query.window(given)
        h = _hrefs(request)
        req = getattr(St, method + "Request")(filter=req_filter)
        field = a.field_name(noun) + "s"
        return await a.page_response(
            win, req, partial(self._call, request, method), field, lambda x: render(x, h)
        )

    async def create(
        self, request: web.Request, noun: str, parse: Callable[[Any], Any], render: Render
    ) -> web.Response:
        """create{noun} (`TestProfile`, `TestJob`): 201 with the resource, its Location and ETag."""
        field, req = await a.create_request(request, St, noun, parse)
        made = getattr(await self._call(request, f"Create{noun}", req), field)
        body = render(made, _hrefs(request))
        return a.respond(body, 201, {"Location": body["href"], **a.etag(made.etag)})

    async def retrieve(self, request: web.Request, noun: str, render: Render) -> web.Response:
        """retrieve{noun}: the resource, with its ETag if it has one (a test result has none)."""
        req = getattr(St, f"Get{noun}Request")(id=request.match_info["id"])
        found = getattr(await self._call(request, f"Get{noun}", req), a.field_name(noun))
        return a.respond(render(found, _hrefs(request)), headers=a.etag(getattr(found, "etag", "")))

    # -- testProfile ------------------------------------------------------

    async def patch_profile(self, request: web.Request) -> web.Response:
        body = await a.json_body(request)
        profile = sft_inbound.profile(body)
        profile.id = request.match_info["id"]
        request[a.BODY_ROOT] = "test_profile"
        req = St.UpdateTestProfileRequest(
            test_profile=profile, etag=a.if_match(request), request_id=a.request_id(request)
        )
        req.update_mask.paths.extend(_PROFILE_MASK[k] for k in body if k in _PROFILE_MASK)
        p = (await self._call(request, "UpdateTestProfile", req)).test_profile
        return a.respond(sm.profile(p, _hrefs(request)), headers=a.etag(p.etag))

    async def delete_profile(self, request: web.Request) -> web.Response:
        req = St.DeleteTestProfileRequest(
            id=request.match_info["id"], etag=a.if_match(request), request_id=a.request_id(request)
        )
        await self._call(request, "DeleteTestProfile", req)
        return web.Response(status=204)

    # -- cancelTestJob, modifyTestJob, suspendTestJob, resumeTestJob ------

    async def create_task(self, request: web.Request, kind: sm.TaskKind) -> web.Response:
        method, request_type = _TASK_METHODS[kind.task_type]
        job_id, reason, mod = sft_inbound.task(await a.json_body(request), kind)
        fields: dict[str, Any] = {"id": job_id, "reason": reason, "etag": a.if_match(request)}
        if mod is not None:
            fields["modification"] = mod
            request[a.BODY_ROOT] = "modification"
        req = request_type(request_id=a.request_id(request), **fields)
        t = (await self._call(request, method, req, _TASK_FIELDS)).test_job_task
        h = _hrefs(request)
        return a.respond(sm.task(t, h), 201, {"Location": h.task(t.task_type, t.id)})

    async def get_task(self, request: web.Request, kind: sm.TaskKind) -> web.Response:
        task_id = request.match_info["id"]
        t = (await self._call(request, "GetTestJobTask", St.GetTestJobTaskRequest(id=task_id))).test_job_task
        if t.task_type != kind.task_type:  # another kind of task: not a resource of this path
            raise NotFound(kind.resource, task_id, _NOT_FOUND)
        return a.respond(sm.task(t, _hrefs(request)))


def _task_routes(kind: sm.TaskKind) -> tuple[Route[SftApi], ...]:
    """A task resource (`cancelTestJob`, ...): create is the task's RPC; reads are the task reads."""
    path, name = "/" + kind.resource, kind.resource[0].upper() + kind.resource[1:]
    create = _TASK_METHODS[kind.task_type][0]
    listing = partial(
        SftApi.listing,
        noun="TestJobTask",
        spec=partial(sft_query.task_filter, task_type=kind.task_type),
        render=sm.task,
    )
    return (
        Route(
            "POST", path, partial(SftApi.create_task, kind=kind), f"create{name}", create, errors=_TASK_ERRORS
        ),
        Route("GET", path, listing, f"list{name}", "ListTestJobTasks"),
        Route(
            "GET", path + "/{id}", partial(SftApi.get_task, kind=kind), f"retrieve{name}", "GetTestJobTask"
        ),
    )


def _create(noun: str, parse: Callable[[Any], Any], render: Render) -> Route[SftApi]:
    return create_route(noun, partial(SftApi.create, noun=noun, parse=parse, render=render))


def _reads(
    noun: str, spec: Callable[[query.Params], Any], listed: Render, render: Render | None = None
) -> tuple[Route[SftApi], ...]:
    """list{noun} (`spec` reads its filter; items rendered by `listed`) and retrieve{noun}
    (rendered by `render`, by default as listed), both answering HEAD too."""
    return (
        list_route(noun, partial(SftApi.listing, noun=noun, spec=spec, render=listed), allow_head=True),
        retrieve_route(noun, partial(SftApi.retrieve, noun=noun, render=render or listed), allow_head=True),
    )


_S = SftApi
# The reads outside the task resources answer HEAD too (`allow_head`), as they always have.
ROUTES: RouteTable[SftApi] = RouteTable(
    sm.SFT_BASE,
    _SFT,
    (
        _create("TestProfile", sft_inbound.profile, sm.profile),
        *_reads("TestProfile", sft_query.profile_filter, sm.profile),
        Route(
            "PATCH",
            "/testProfile/{id}",
            _S.patch_profile,
            "modifyTestProfile",
            "UpdateTestProfile",
            errors=_BAD_BODY_IS_400,
        ),
        Route("DELETE", "/testProfile/{id}", _S.delete_profile, "deleteTestProfile", "DeleteTestProfile"),
        _create("TestJob", sft_inbound.job, sm.job),
        *_reads("TestJob", sft_query.job_filter, sm.job_find, sm.job),
        *_reads("TestResult", sft_query.result_filter, partial(sm.result, listed=True), sm.result),
        *(route for kind in sm.TASKS for route in _task_routes(kind)),
    ),
    lambda backend, _hub: SftApi(backend),
)
