"""MEF Performance Monitoring v5 list queries -> the PerformanceService filters.

The rules of `rest.query` apply: only the parameters the MEF operation lists,
anything else (or a malformed value) is 400 `invalidQuery` with reason
INVALID_FILTER; ranges use the `.gt`/`.lt` suffixes; enumerations take MEF's
spellings and may repeat (values of one parameter match any).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.text import is_decimal
from interlude_server.rest import query as q
from interlude_server.rest.performance import mapping as pm

Pm = performance_pb2
_CREATED = {"creationDateTime": "creation_date_time"}
_REPORT_RANGES = {
    **_CREATED,
    "reportingTimeframe.startDate": "reporting_timeframe_start_date",
    "reportingTimeframe.endDate": "reporting_timeframe_end_date",
}
_SUBJECT = {
    "serviceId": "service_id",
    "serviceFromId": "service_from_id",
    "serviceToId": "service_to_id",
    "entityId": "entity_id",
}
_JOB_FIELDS = {
    "buyerJobId": "buyer_job_id",
    "performanceProfileId": "performance_profile_id",
    "consumingApplicationId": "consuming_application_id",
    "producingApplicationId": "producing_application_id",
    **_SUBJECT,
}
_REPORT_FIELDS = {"performanceJobId": "performance_job_id", **_SUBJECT}
_TASK_FIELDS = {"performanceJobId": "performance_job_id"}
# trackingRecord: each `related...Id` names the record's object and its kind.
_RELATED = {
    "relatedPerformanceJobId": Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_JOB,
    "relatedPerformanceProfileId": Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_PROFILE,
    "relatedPerformanceReportId": Pm.PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_REPORT,
}


def _reverse(table: Mapping[int, str]) -> dict[str, int]:
    return {name: number for number, name in table.items() if name}


JOB_STATES = _reverse(pm.JOB_STATE)
REPORT_STATES = _reverse(pm.REPORT_STATE)
TASK_STATES = _reverse(pm.TASK_STATE)
LIFECYCLE = _reverse(pm.LIFECYCLE_STATUS)
JOB_TYPES = _reverse(pm.JOB_TYPE)
OUTPUT_FORMATS = _reverse(pm.OUTPUT_FORMAT)
RESULT_FORMATS = _reverse(pm.RESULT_FORMAT)


def _ranged(names: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(f"{n}.{op}" for n in names for op in ("gt", "lt"))


def enums(params: q.Params, name: str, table: Mapping[str, int], errors: q.QueryErrors) -> list[int]:
    """Every value of the enumeration parameter `name`, each one of `table`'s spellings."""
    out = []
    for v in q._values(params, name):
        if v in table:
            out.append(table[v])
        else:
            errors.add(name, f"{v!r} is not one of {', '.join(table)}")
    return out


def _priority(params: q.Params, target: Any, errors: q.QueryErrors) -> None:
    text = q._single(params, "jobPriority", errors)
    if not text:
        return
    if not is_decimal(text) or int(text) >= 2**31:
        errors.add("jobPriority", "must be a non-negative 32-bit integer")
        return
    target.job_priority = int(text)


def _filter(
    params: q.Params,
    target: Any,
    fields: Mapping[str, str],
    ranges: Mapping[str, str],
    extra: tuple[str, ...] = (),
) -> q.QueryErrors:
    errors = q.QueryErrors()
    q._check_names(params, (*fields, *extra, *_ranged(ranges), *q.PAGING), errors)
    for mef, proto in fields.items():
        setattr(target, proto, q._single(params, mef, errors))
    q._ranges(params, ranges, target, errors)
    return errors


def job_filter(params: q.Params) -> Pm.PerformanceJobFilter:
    """The PerformanceJobFilter of a `GET /performanceJob` query (listPerformanceJob)."""
    f = Pm.PerformanceJobFilter()
    errors = _filter(params, f, _JOB_FIELDS, _CREATED, ("state", "jobType", "jobPriority"))
    f.state.extend(enums(params, "state", JOB_STATES, errors))  # type: ignore[arg-type]
    f.job_type.extend(enums(params, "jobType", JOB_TYPES, errors))  # type: ignore[arg-type]
    _priority(params, f, errors)
    errors.raise_if_any()
    return f


def profile_filter(params: q.Params) -> Pm.PerformanceProfileFilter:
    """The PerformanceProfileFilter of a `GET /performanceProfile` query."""
    f = Pm.PerformanceProfileFilter()
    errors = _filter(params, f, {}, _CREATED, ("lifecycleStatus", "jobType", "jobPriority"))
    f.lifecycle_status.extend(enums(params, "lifecycleStatus", LIFECYCLE, errors))  # type: ignore[arg-type]
    f.job_type.extend(enums(params, "jobType", JOB_TYPES, errors))  # type: ignore[arg-type]
    _priority(params, f, errors)
    errors.raise_if_any()
    return f


def report_filter(params: q.Params) -> Pm.PerformanceReportFilter:
    """The PerformanceReportFilter of a `GET /performanceReport` query."""
    f = Pm.PerformanceReportFilter()
    errors = _filter(params, f, _REPORT_FIELDS, _REPORT_RANGES, ("state", "outputFormat", "resultFormat"))
    f.state.extend(enums(params, "state", REPORT_STATES, errors))  # type: ignore[arg-type]
    f.output_format.extend(enums(params, "outputFormat", OUTPUT_FORMATS, errors))  # type: ignore[arg-type]
    f.result_format.extend(enums(params, "resultFormat", RESULT_FORMATS, errors))  # type: ignore[arg-type]
    errors.raise_if_any()
    return f


def task_filter(params: q.Params, task_type: int) -> Pm.PerformanceJobTaskFilter:
    """The PerformanceJobTaskFilter of a `GET /cancelPerformanceJob` (`/modifyPerformanceJob`) query."""
    f = Pm.PerformanceJobTaskFilter(task_type=[task_type])  # type: ignore[list-item]
    errors = _filter(params, f, _TASK_FIELDS, _CREATED, ("state",))
    f.state.extend(enums(params, "state", TASK_STATES, errors))  # type: ignore[arg-type]
    errors.raise_if_any()
    return f


def tracking_filter(params: q.Params) -> Pm.PerformanceTrackingRecordFilter:
    """The PerformanceTrackingRecordFilter of a `GET /trackingRecord` query: at most one
    `related...Id`, which names the object and its kind."""
    f = Pm.PerformanceTrackingRecordFilter()
    errors = _filter(params, f, {}, _CREATED, tuple(_RELATED))
    named = [name for name in _RELATED if name in params]
    if len(named) > 1:
        errors.add(named[1], f"give one of {', '.join(_RELATED)}")
    elif named:
        f.related_object_id = q._single(params, named[0], errors)
        f.related_object_type.append(_RELATED[named[0]])
    errors.raise_if_any()
    return f
