"""MEF Service Function Testing v3 list queries -> the ServiceTestService filters.

The rules of `rest.query` apply: only the parameters the MEF operation lists,
anything else (or a malformed value) is 400 `invalidQuery` with reason
INVALID_FILTER; ranges use the `.gt`/`.lt` suffixes.
"""

from __future__ import annotations

from collections.abc import Mapping

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.rest import query as q
from interlude_server.rest.sft import mapping as sm

St = service_test_pb2
_PROCESS_STATE = {name: number for number, name in sm.PROCESS_STATE.items()}
_REQUESTED = {
    "requestedStartDateTime": "requested_start_date_time",
    "requestedEndDateTime": "requested_end_date_time",
}
_CREATED = {"creationDate": "creation_date"}
_PROFILE_RANGES = {"creationDate": "creation_date", "lastUpdate": "last_update"}


def _ranged(names: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(f"{n}.{op}" for n in names for op in ("gt", "lt"))


# The flat parameters of each list, by MEF name -> filter field.
_JOB_FIELDS = {
    "relatedServiceIdFrom": "related_service_id_from",
    "relatedServiceIdTo": "related_service_id_to",
    "testProfileId": "test_profile_id",
    "name": "name",
}
_RESULT_FIELDS = {
    "testJobId": "test_job_id",
    "relatedServiceIdFrom": "related_service_id_from",
    "relatedServiceIdTo": "related_service_id_to",
    "relatedServiceSpecificationId": "related_service_specification_id",
    "relatedContactInformationName": "related_contact_information_name",
}
_PROFILE_FIELDS = {"relatedServiceSpecificationId": "related_service_specification_id"}
_TASK_FIELDS = {"testJobId": "test_job_id"}


def _filter(
    params: q.Params,
    target: St.TestJobFilter | St.TestResultFilter | St.TestProfileFilter | St.TestJobTaskFilter,
    fields: Mapping[str, str],
    ranges: Mapping[str, str],
    extra: tuple[str, ...] = (),
) -> q.QueryErrors:
    errors = q.QueryErrors()
    allowed = (*fields, *extra, *_ranged(ranges), *q.PAGING)
    q._check_names(params, allowed, errors)
    for mef, proto in fields.items():
        setattr(target, proto, q._single(params, mef, errors))
    q._ranges(params, ranges, target, errors)
    return errors


def job_filter(params: q.Params) -> St.TestJobFilter:
    """The TestJobFilter of a `GET /testJob` query (listTestJob)."""
    f = St.TestJobFilter()
    _filter(params, f, _JOB_FIELDS, _REQUESTED).raise_if_any()
    return f


def result_filter(params: q.Params) -> St.TestResultFilter:
    """The TestResultFilter of a `GET /testResult` query (listTestResult)."""
    f = St.TestResultFilter()
    _filter(params, f, _RESULT_FIELDS, _REQUESTED).raise_if_any()
    return f


def profile_filter(params: q.Params) -> St.TestProfileFilter:
    """The TestProfileFilter of a `GET /testProfile` query (listTestProfile)."""
    f = St.TestProfileFilter()
    _filter(params, f, _PROFILE_FIELDS, _PROFILE_RANGES).raise_if_any()
    return f


def task_filter(params: q.Params, task_type: int) -> St.TestJobTaskFilter:
    """The TestJobTaskFilter of a `GET /cancelTestJob` (... `/resumeTestJob`) query."""
    f = St.TestJobTaskFilter(task_type=[task_type])  # type: ignore[list-item]
    errors = _filter(params, f, _TASK_FIELDS, _CREATED, ("state",))
    f.state.extend(q._states(params, _PROCESS_STATE, errors))  # type: ignore[arg-type]
    errors.raise_if_any()
    return f
