"""`/mefApi/interlude/faultManagement/v3/` (Mplify 148) onto ServiceTestService.

FM jobs are test jobs of the FM procedures (domain.sft.fault), so every operation calls
the test RPCs: jobs (create, list, retrieve, suspend, resume, complex query), the task
resources cancelFaultManagementJob and modifyFaultManagementJob, reports (a run's
result: list, retrieve, complex query). A test job or result of another test type is not
an FM resource: 404 here. `listTrackingRecord` is derived: one record per state change of
a job (its `state_history`), one per report's creation. Where the file lists
another status than the error table's, the route says so (`errors=`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core import clock
from interlude_server.core.errors import NotFound
from interlude_server.domain.sft.fault import FM_TYPES, is_fm
from interlude_server.rest import common as a
from interlude_server.rest import query
from interlude_server.rest.backend import Backend, RpcFailure
from interlude_server.rest.errors import AnswerAs
from interlude_server.rest.fm import inbound
from interlude_server.rest.fm import mapping as fm
from interlude_server.rest.fm import query as fq
from interlude_server.rest.routing import Route, RouteTable

St = service_test_pb2
_SFT = "ServiceTestService"
_NOT_FOUND = "TEST_RESOURCE_NOT_FOUND"
_RUN_FOR = timedelta(days=1)  # the end time an FM job without one is given
# gRPC field paths (below the body's root message) -> the FM body's JSON Pointers.
_FIELDS = {
    "related_service_from": "/monitoredObject/serviceFrom/serviceFromId",
    "related_service_to": "/monitoredObject/serviceTo/serviceToId",
    "requested_start_date_time": "/scheduleDefinition/scheduleDefinitionStartTime",
    "requested_end_date_time": "/scheduleDefinition/scheduleDefinitionEndTime",
    "service_specific_test_job_configuration": "/serviceSpecificConfiguration",
    "test_mode": "/serviceSpecificConfiguration",
    "id": "/faultManagementJob/faultManagementJobId",
}
_TASK_ERRORS = (
    (404, AnswerAs(422, "referenceNotFound", "/faultManagementJob/faultManagementJobId")),
    (409, AnswerAs(422, "otherIssue")),
)
_CREATE_ERRORS = (
    (404, AnswerAs(422, "referenceNotFound", "/monitoredObject")),
    (409, AnswerAs(422, "otherIssue")),
)
_ACTION_ERRORS = ((409, AnswerAs(422, "otherIssue")),)
_LIST_ERRORS = ((404, AnswerAs(422, "referenceNotFound")),)
Render = Callable[[Any, fm.FmHrefs], Any]


def _fm_field(field: str) -> str:
    head, sep, pointer = field.partition("/")
    tokens = head.split(".")
    if tokens[0] in ("test_job", "modification"):
        tokens = tokens[1:]
    if tokens and tokens[0] in _FIELDS:
        return _FIELDS[tokens[0]] + (sep + pointer if sep else "")
    return field


def _rename(status: status_pb2.Status) -> None:
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for violation in bad.field_violations:
                violation.field = _fm_field(violation.field)
            detail.Pack(bad)


def _hrefs(request: web.Request) -> fm.FmHrefs:
    return fm.FmHrefs(a.hrefs(request).base)


class FmApi:
    """The Fault Management routes over one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _call(self, request: web.Request, method: str, req: Any) -> Any:
        try:
            return await self.backend.call(_SFT, method, req, a.caller(request))
        except RpcFailure as failure:
            _rename(failure.status)
            raise

    async def _job(self, request: web.Request, job_id: str) -> St.TestJob:
        """The caller's FM job `job_id`: NOT_FOUND if missing, another buyer's or no FM job."""
        found: St.TestJob = (
            await self._call(request, "GetTestJob", St.GetTestJobRequest(id=job_id))
        ).test_job
        if not is_fm(found.test_type):
            raise NotFound("FaultManagementJob", job_id, _NOT_FOUND)
        return found

    async def create_job(self, request: web.Request) -> web.Response:
        job = inbound.job(await a.json_body(request))
        if not job.HasField("requested_end_date_time"):
            start = (
                job.requested_start_date_time if job.HasField("requested_start_date_time") else clock.now()
            )
            job.requested_end_date_time.FromDatetime(start.ToDatetime() + _RUN_FOR)
        request[a.BODY_ROOT] = "test_job"
        req = St.CreateTestJobRequest(test_job=job, request_id=a.request_id(request))
        made = (await self._call(request, "CreateTestJob", req)).test_job
        body = fm.job(made, _hrefs(request))
        return a.respond(body, 201, {"Location": body["href"]})

    async def retrieve_job(self, request: web.Request) -> web.Response:
        return a.respond(fm.job(await self._job(request, request.match_info["id"]), _hrefs(request)))

    async def _page(
        self, request: web.Request, selection: fq.Selection, method: str, field: str, render: Render
    ) -> web.Response:
        win = query.window(a.params(request)) if request.method == "GET" else query.window({})
        if selection.nothing:
            return a.respond([], headers={"X-Total-Count": "0", "X-Result-Count": "0"})
        h = _hrefs(request)
        req = getattr(St, method + "Request")(filter=selection.filter)
        call = partial(self._call, request, method)
        return await a.page_response(win, req, call, field, lambda x: render(x, h))

    async def list_jobs(self, request: web.Request) -> web.Response:
        return await self._page(
            request, fq.job_filter(a.params(request)), "ListTestJobs", "test_jobs", fm.job
        )

    async def list_reports(self, request: web.Request) -> web.Response:
        selection = fq.report_filter(a.params(request))
        render = partial(fm.report, listed=True)
        return await self._page(request, selection, "ListTestResults", "test_results", render)

    async def query(self, request: web.Request, report: bool) -> web.Response:
        selection = fq.complex_query(await a.json_body(request), report)
        if report:
            return await self._page(request, selection, "ListTestResults", "test_results", fm.report)
        return await self._page(request, selection, "ListTestJobs", "test_jobs", fm.job)

    async def retrieve_report(self, request: web.Request) -> web.Response:
        report_id = request.match_info["id"]
        found = (
            await self._call(request, "GetTestResult", St.GetTestResultRequest(id=report_id))
        ).test_result
        if not is_fm(found.test_type):
            raise NotFound("FaultManagementReport", report_id, _NOT_FOUND)
        return a.respond(fm.report(found, _hrefs(request)))

    async def action(self, request: web.Request, method: str) -> web.Response:
        """suspendFaultManagementJob, resumeFaultManagementJob: 204 once the task is taken."""
        job = await self._job(request, request.match_info["id"])
        make = getattr(St, method + "Request")
        await self._call(request, method, make(id=job.id, etag=job.etag, request_id=a.request_id(request)))
        return web.Response(status=204)

    async def create_task(self, request: web.Request, task_type: int) -> web.Response:
        body = await a.json_body(request)
        if task_type == St.TEST_JOB_TASK_TYPE_CANCEL:
            job_id, method, extra = inbound.cancel(body), "CancelTestJob", {}
        else:
            job_id, mod = inbound.modification(body)
            method, extra = "ModifyTestJob", {"modification": mod}
            request[a.BODY_ROOT] = "modification"
        await self._job(request, job_id)
        req = getattr(St, method + "Request")(id=job_id, request_id=a.request_id(request), **extra)
        t = (await self._call(request, method, req)).test_job_task
        body = fm.task(t, _hrefs(request))
        return a.respond(body, 201, {"Location": body["href"]})

    async def get_task(self, request: web.Request, task_type: int) -> web.Response:
        task_id = request.match_info["id"]
        t = (await self._call(request, "GetTestJobTask", St.GetTestJobTaskRequest(id=task_id))).test_job_task
        if t.task_type != task_type:
            raise NotFound("FaultManagementJobTask", task_id, _NOT_FOUND)
        await self._job(request, t.test_job.id)
        return a.respond(fm.task(t, _hrefs(request)))

    async def list_tasks(self, request: web.Request, task_type: int) -> web.Response:
        selection = fq.task_filter(a.params(request), task_type)
        return await self._page(request, selection, "ListTestJobTasks", "test_job_tasks", fm.task)

    async def tracking(self, request: web.Request) -> web.Response:
        """listTrackingRecord: the records of the jobs' state histories (and of reports' creation)."""
        given = a.params(request)
        spec = fq.tracking_filter(given)
        if spec.report_id:
            get = St.GetTestResultRequest(id=spec.report_id)
            found = (await self._call(request, "GetTestResult", get)).test_result
            records = [fm.report_record(found)] if is_fm(found.test_type) else []
        else:
            if spec.job_id:
                jobs = [await self._job(request, spec.job_id)]
            else:
                req = St.ListTestJobsRequest(filter=St.TestJobFilter(test_type=FM_TYPES), page_size=1000)
                jobs = list((await self._call(request, "ListTestJobs", req)).test_jobs)
            records = [record for j in jobs for record in fm.job_records(j, _hrefs(request))]
        records = [r for r in records if spec.keeps(r["creationDateTime"])]
        win = query.window(given)
        page = records[win.offset : win.offset + win.limit]
        return a.respond(page, headers={"X-Total-Count": str(len(records)), "X-Result-Count": str(len(page))})


def _task_routes(name: str, task_type: int, rpc: str) -> tuple[Route[FmApi], ...]:
    path = f"/{name[0].lower()}{name[1:]}"
    create, listing = (
        partial(FmApi.create_task, task_type=task_type),
        partial(FmApi.list_tasks, task_type=task_type),
    )
    return (
        Route("POST", path, create, f"create{name}", rpc, errors=_TASK_ERRORS),
        Route("GET", path, listing, f"list{name}", "ListTestJobTasks", errors=_LIST_ERRORS),
        Route(
            "GET",
            path + "/{id}",
            partial(FmApi.get_task, task_type=task_type),
            f"retrieve{name}",
            "GetTestJobTask",
        ),
    )


_J = "/faultManagementJob"
ROUTES: RouteTable[FmApi] = RouteTable(
    fm.FM_BASE,
    _SFT,
    (
        Route(
            "POST", _J, FmApi.create_job, "createFaultManagementJob", "CreateTestJob", errors=_CREATE_ERRORS
        ),
        Route("GET", _J, FmApi.list_jobs, "listFaultManagementJob", "ListTestJobs"),
        Route("GET", _J + "/{id}", FmApi.retrieve_job, "retrieveFaultManagementJob", "GetTestJob"),
        Route(
            "POST",
            _J + "/{id}/suspend",
            partial(FmApi.action, method="SuspendTestJob"),
            "suspendFaultManagementJob",
            "SuspendTestJob",
            errors=_ACTION_ERRORS,
        ),
        Route(
            "POST",
            _J + "/{id}/resume",
            partial(FmApi.action, method="ResumeTestJob"),
            "resumeFaultManagementJob",
            "ResumeTestJob",
            errors=_ACTION_ERRORS,
        ),
        *_task_routes("CancelFaultManagementJob", St.TEST_JOB_TASK_TYPE_CANCEL, "CancelTestJob"),
        *_task_routes("ModifyFaultManagementJob", St.TEST_JOB_TASK_TYPE_MODIFY, "ModifyTestJob"),
        Route(
            "POST",
            "/faultManagementJobComplexQuery",
            partial(FmApi.query, report=False),
            "faultManagementJobComplexQuery",
            "ListTestJobs",
            errors=_LIST_ERRORS,
        ),
        Route(
            "GET",
            "/faultManagementReport",
            FmApi.list_reports,
            "listFaultManagementReport",
            "ListTestResults",
        ),
        Route(
            "GET",
            "/faultManagementReport/{id}",
            FmApi.retrieve_report,
            "retrieveFaultManagementReport",
            "GetTestResult",
        ),
        Route(
            "POST",
            "/faultManagementReportComplexQuery",
            partial(FmApi.query, report=True),
            "faultManagementReportComplexQuery",
            "ListTestResults",
            errors=_LIST_ERRORS,
        ),
        Route(
            "GET",
            "/trackingRecord",
            FmApi.tracking,
            "listTrackingRecord",
            "ListTestJobs",
            errors=_LIST_ERRORS,
        ),
    ),
    lambda backend, _hub: FmApi(backend),
)
