"""Fault Management v3 list queries and complex queries -> ServiceTestService filters.

The rules of `rest.query` apply (a parameter the operation does not list, or a malformed
value, is 400 `invalidQuery`). Every filter is narrowed to the FM procedures. A criterion
that no FM job or report of this Partner can meet (a `serviceId` or `entityId` subject, the
job state `resourcesUnavailable`, a report format other than json/payload) selects nothing;
one the test store cannot evaluate (`jobType`, `jobPriority`, reporting timeframes) is
refused as a bad parameter rather than ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.domain.sft.fault import FM_JOB_STATE, FM_TASK_STATE, FM_TYPES
from interlude_server.rest import query as q

St = service_test_pb2
_JOB_STATE = {name: number for number, name in FM_JOB_STATE.items()} | {"resourcesUnavailable": -1}
_TASK_STATE = {name: number for number, name in FM_TASK_STATE.items()} | {"inProgress": -1}
_REPORT_STATE: dict[str, tuple[int, ...]] = {
    "completed": (St.TEST_VERDICT_PASS, St.TEST_VERDICT_FAIL, St.TEST_VERDICT_INCONCLUSIVE),
    "failed": (St.TEST_VERDICT_ERROR,),
    "acknowledged": (),
    "inProgress": (),
    "rejected": (),
}
_NO_SUBJECT = ("serviceId", "entityId")  # FM jobs here always have a ServiceFromToRef subject


@dataclass
class Selection:
    """A filter, or `nothing`: no FM resource of this Partner can match the criteria."""

    filter: Any
    nothing: bool = False


def _states(values: list[str], table: Mapping[str, Any], errors: q.QueryErrors) -> list[Any]:
    out = []
    for v in values:
        if v in table:
            out.append(table[v])
        else:
            errors.add("state", f"{v!r} is not one of {', '.join(table)}")
    return out


def _common(
    params: q.Params, allowed: tuple[str, ...], f: Any, ends: bool = True
) -> tuple[q.QueryErrors, bool]:
    errors = q.QueryErrors()
    q._check_names(params, (*allowed, *q.PAGING), errors)
    nothing = any(name in params for name in _NO_SUBJECT)
    if ends:
        f.related_service_id_from = q._single(params, "serviceFromId", errors)
        f.related_service_id_to = q._single(params, "serviceToId", errors)
    return errors, nothing


def job_filter(params: q.Params) -> Selection:
    """`GET /faultManagementJob` (listFaultManagementJob)."""
    f = St.TestJobFilter(test_type=FM_TYPES)
    errors, nothing = _common(params, ("serviceFromId", "serviceToId", *_NO_SUBJECT, "state"), f)
    states = _states(q._values(params, "state"), _JOB_STATE, errors)
    errors.raise_if_any()
    f.state.extend(s for s in states if s > 0)
    return Selection(f, nothing or (bool(states) and not f.state))


def report_filter(params: q.Params) -> Selection:
    """`GET /faultManagementReport` (listFaultManagementReport)."""
    f = St.TestResultFilter(test_type=FM_TYPES)
    names = ("faultManagementJobId", "serviceFromId", "serviceToId", *_NO_SUBJECT, "state")
    errors, nothing = _common(params, (*names, "outputFormat", "resultFormat"), f)
    f.test_job_id = q._single(params, "faultManagementJobId", errors)
    verdicts = _states(q._values(params, "state"), _REPORT_STATE, errors)
    errors.raise_if_any()
    f.verdict.extend(v for group in verdicts for v in group)
    formats = {"outputFormat": "json", "resultFormat": "payload"}
    other_format = any(v != want for k, want in formats.items() for v in q._values(params, k))
    return Selection(f, nothing or other_format or (bool(verdicts) and not f.verdict))


def task_filter(params: q.Params, task_type: int) -> Selection:
    """`GET /cancelFaultManagementJob`, `GET /modifyFaultManagementJob`."""
    f = St.TestJobTaskFilter(task_type=[task_type], test_type=FM_TYPES)  # type: ignore[list-item]
    allowed = ("faultManagementJobId", "state", "creationDateTime.gt", "creationDateTime.lt")
    errors, _ = _common(params, allowed, f, ends=False)
    f.test_job_id = q._single(params, "faultManagementJobId", errors)
    q._ranges(params, {"creationDateTime": "creation_date"}, f, errors)
    states = _states(q._values(params, "state"), _TASK_STATE, errors)
    errors.raise_if_any()
    f.state.extend(s for s in states if s > 0)
    return Selection(f, bool(states) and not f.state)


@dataclass
class Tracking:
    """What `GET /trackingRecord` asks for."""

    job_id: str
    report_id: str
    after: str
    before: str

    def keeps(self, when: str) -> bool:
        return (not self.after or when > self.after) and (not self.before or when < self.before)


def tracking_filter(params: q.Params) -> Tracking:
    errors = q.QueryErrors()
    names = ("relatedFaultManagementJobId", "relatedFaultManagementReportId")
    q._check_names(params, (*names, "creationDateTime.gt", "creationDateTime.lt", *q.PAGING), errors)
    ids = [q._single(params, name, errors) for name in names]
    bounds = St.TestJobTaskFilter()
    q._ranges(params, {"creationDateTime": "creation_date"}, bounds, errors)
    errors.raise_if_any()
    rng = bounds.creation_date
    after = rng.after.ToJsonString() if rng.HasField("after") else ""
    before = rng.before.ToJsonString() if rng.HasField("before") else ""
    return Tracking(ids[0], ids[1], after, before)


def _refuse(key: str) -> InvalidArgument:
    why = "not a criterion this Partner can search on; use state, monitoredObject"
    return InvalidArgument("the query is not valid", [Violation(f"/{key}", why, "invalidValue")])


def complex_query(body: Any, report: bool) -> Selection:
    """The body of `faultManagementJobComplexQuery` / `faultManagementReportComplexQuery`:
    `state`, `monitoredObject` (and a report's `faultManagementJob`) are searched on."""
    if not isinstance(body, dict):
        raise InvalidArgument(
            "the body must be an object", [Violation("/", "must be an object", "invalidFormat")]
        )
    params: dict[str, list[str]] = {}
    for key, value in body.items():
        subject = value if key == "monitoredObject" and isinstance(value, dict) else None
        if key == "state" and isinstance(value, str):
            params["state"] = [value]
        elif subject is not None and subject.get("@type") == "ServiceFromToRef":
            ends = [(end, subject.get(end, {})) for end in ("serviceFrom", "serviceTo")]
            wrong = [end for end, part in ends if not isinstance(part, dict)]
            if wrong:  # e.g. a list: not a reference to search by
                raise InvalidArgument(
                    "the query is not valid",
                    [
                        Violation(f"/monitoredObject/{end}", "must be an object", "invalidFormat")
                        for end in wrong
                    ],
                )
            for end, part in ends:
                params[f"{end}Id"] = [str(part.get(f"{end}Id", ""))]
        elif subject is not None and subject.get("@type") in ("ServiceRef", "EntityRef"):
            params["serviceId"] = ["-"]
        elif report and key == "faultManagementJob" and isinstance(value, dict):
            params["faultManagementJobId"] = [str(value.get("faultManagementJobId", ""))]
        else:
            raise _refuse(key)
    params = {k: v for k, v in params.items() if all(v)}
    return report_filter(params) if report else job_filter(params)
