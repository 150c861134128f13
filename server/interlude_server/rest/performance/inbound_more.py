"""MEF JSON -> PerformanceService messages for the v5 bodies beyond the creates of
`rest.performance.inbound`: `PerformanceProfile_Update` (PATCH), `PerformanceReport_Create`
(the ad-hoc report) and the two complex queries.

A complex query becomes a QueryPerformanceJobs (QueryPerformanceReports) request: the
filter's fields for the clauses a List filter has, the request's own fields for the others
(a schedule, profile settings, several monitored objects, a granularity, a configuration).
What matches is decided by the RPC (domain.performance.query), not here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import field_mask_pb2

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.rest.performance import inbound as pin
from interlude_server.rest.performance import query as pq
from interlude_server.rest.service.inbound import Json, Reader

Pm = performance_pb2

# PerformanceProfile_Update property -> the contract's field (the update mask's path).
_UPDATE = {
    "description": "description",
    "granularity": "granularity",
    "jobPriority": "job_priority",
    "lifecycleStatus": "lifecycle_status",
    "outputFormat": "output_format",
    "reportingPeriod": "reporting_period",
    "resultFormat": "result_format",
    "serviceSpecificConfiguration": "service_specific_configuration",
}
_REPORT_KEYS = {
    "description",
    "granularity",
    "monitoredObject",
    "outputFormat",
    "reportingTimeframe",
    "resultFormat",
    "serviceSpecificConfiguration",
}
_REPORT_REQUIRED = tuple(sorted(_REPORT_KEYS - {"description"}))


def profile_update(doc: Any, profile_id: str) -> tuple[Pm.PerformanceProfile, field_mask_pb2.FieldMask]:
    """The profile change and its mask for a `PerformanceProfile_Update` body: the mask names
    exactly the properties given."""
    r = Reader()
    d = r.obj(doc, "", set(_UPDATE))
    out = Pm.PerformanceProfile(id=profile_id, description=r.string(d, "description", ""))
    out.lifecycle_status = r.enum(d, "lifecycleStatus", "", pin._LIFECYCLE)  # type: ignore[assignment]
    pin._settings(r, d, "", out)
    r.raise_if_any()
    return out, field_mask_pb2.FieldMask(paths=[_UPDATE[k] for k in _UPDATE if k in d])


def _monitored_list(r: Reader, d: Json, into: Any) -> None:
    given = r.array(d, "monitoredObject", "")
    if "monitoredObject" in d and not given:
        r.add("/monitoredObject", "must list at least one monitored object")
    kinds = set()
    for where, item in given:
        ref = into.add()
        pin._monitored(r, item, where, ref)
        kinds.add(ref.WhichOneof("ref"))
    if len(kinds) > 1:
        r.add("/monitoredObject", "all items must be of one @type")


def report(doc: Any) -> Pm.PerformanceReport:
    """The contract's PerformanceReport for a `PerformanceReport_Create` body (ad-hoc report)."""
    r = Reader()
    d = r.obj(doc, "", _REPORT_KEYS, _REPORT_REQUIRED)
    out = Pm.PerformanceReport(description=r.string(d, "description", ""))
    _monitored_list(r, d, out.monitored_object)
    if "reportingTimeframe" in d:
        where = "/reportingTimeframe"
        keys = ("reportingStartDate", "reportingEndDate")
        frame = r.obj(d["reportingTimeframe"], where, set(keys), keys)
        r.time(frame, "reportingStartDate", where, out.reporting_timeframe.reporting_start_date)
        r.time(frame, "reportingEndDate", where, out.reporting_timeframe.reporting_end_date)
    value = Pm.PerformanceProfileValue()
    pin._settings(r, {k: v for k, v in d.items() if k in pin._SETTINGS}, "", value)
    out.granularity.CopyFrom(value.granularity)
    out.output_format = value.output_format
    out.result_format = value.result_format
    if "serviceSpecificConfiguration" in d:
        out.service_specific_configuration.CopyFrom(value.service_specific_configuration)
    r.raise_if_any()
    return out


# -- complex queries ---------------------------------------------------------------

_JOB_QUERY_STRINGS = {
    "buyerJobId": "buyer_job_id",
    "consumingApplicationId": "consuming_application_id",
    "producingApplicationId": "producing_application_id",
}
_RANGE_KEYS = {"creationDateTime": "creation_date_time"}
_REPORT_RANGE_KEYS = {
    "creationDateTime": "creation_date_time",
    "reportingTimeframe.startDate": "reporting_timeframe_start_date",
    "reportingTimeframe.endDate": "reporting_timeframe_end_date",
}


def _ranges(r: Reader, d: Json, names: dict[str, str], target: Any) -> None:
    for mef, proto in names.items():
        for op, side in (("gt", "after"), ("lt", "before")):
            key = f"{mef}.{op}"
            if key in d:
                r.time(d, key, "", getattr(getattr(target, proto), side))


def _subject(r: Reader, doc: Any, where: str, target: Any) -> None:
    """A monitored object clause as the filter's subject fields."""
    ref = Pm.MonitoredObjectRef()
    pin._monitored(r, doc, where, ref)
    kind = ref.WhichOneof("ref")
    if kind == "service":
        target.service_id = ref.service.id
    elif kind == "service_from_to":
        target.service_from_id = ref.service_from_to.service_from.id
        target.service_to_id = ref.service_from_to.service_to.id
    elif kind == "entity":
        target.entity_id = ref.entity.id


def _profile_clause(r: Reader, doc: Any, request: Pm.QueryPerformanceJobsRequest) -> None:
    where = "/performanceProfile"
    ref_keys = {"@type", "performanceProfileId", "performanceProfileHref"}
    given = r.obj(doc, where, ref_keys | pin._VALUE_KEYS, ("@type",))
    kind = given.get("@type")
    if kind == "PerformanceProfileRef":
        r.obj(given, where, ref_keys, ("performanceProfileId",))
        request.filter.performance_profile_id = r.string(given, "performanceProfileId", where)
    elif kind == "PerformanceProfileValue_Query":
        r.obj(given, where, pin._VALUE_KEYS)
        pin._settings(r, given, where, request.performance_profile_value)
    elif "@type" in given:
        r.add(f"{where}/@type", "must be one of: PerformanceProfileRef, PerformanceProfileValue_Query")


def job_query(doc: Any) -> Pm.QueryPerformanceJobsRequest:
    """The QueryPerformanceJobs request of a `PerformanceJobComplexQuery_Create` body."""
    r = Reader()
    keys = {*_JOB_QUERY_STRINGS, "creationDateTime.gt", "creationDateTime.lt", "monitoredObject"}
    d = r.obj(doc, "", keys | {"performanceProfile", "scheduleDefinition", "state"})
    out = Pm.QueryPerformanceJobsRequest()
    f = out.filter
    for key, name in _JOB_QUERY_STRINGS.items():
        setattr(f, name, r.string(d, key, ""))
    _ranges(r, d, _RANGE_KEYS, f)
    if state := r.enum(d, "state", "", pq.JOB_STATES):
        f.state.append(state)  # type: ignore[arg-type]
    if "monitoredObject" in d:
        _subject(r, d["monitoredObject"], "/monitoredObject", f)
    if "performanceProfile" in d:
        _profile_clause(r, d["performanceProfile"], out)
    if "scheduleDefinition" in d:
        pin._schedule(r, d["scheduleDefinition"], "/scheduleDefinition", out.schedule_definition)
    r.raise_if_any()
    return out


def report_query(doc: Any) -> Pm.QueryPerformanceReportsRequest:
    """The QueryPerformanceReports request of a `PerformanceReportComplexQuery_Create` body."""
    r = Reader()
    keys = {f"{n}.{op}" for n in _REPORT_RANGE_KEYS for op in ("gt", "lt")}
    keys |= {"granularity", "monitoredObject", "outputFormat", "performanceJob", "resultFormat"}
    d = r.obj(doc, "", keys | {"serviceSpecificConfiguration", "state"})
    out = Pm.QueryPerformanceReportsRequest()
    f = out.filter
    _ranges(r, d, _REPORT_RANGE_KEYS, f)
    for key, table, field in (
        ("state", pq.REPORT_STATES, f.state),
        ("outputFormat", pq.OUTPUT_FORMATS, f.output_format),
        ("resultFormat", pq.RESULT_FORMATS, f.result_format),
    ):
        if value := r.enum(d, key, "", table):
            field.append(value)  # type: ignore[arg-type]
    if "performanceJob" in d:
        f.performance_job_id = pin._job_ref(r, d)
    if "monitoredObject" in d:
        _monitored_list(r, d, out.monitored_object)
    settings = Pm.PerformanceProfileValue()
    given: Json = {k: d[k] for k in ("granularity", "serviceSpecificConfiguration") if k in d}
    pin._settings(r, given, "", settings)
    if "granularity" in d:
        out.granularity.CopyFrom(settings.granularity)
    if "serviceSpecificConfiguration" in d:
        out.service_specific_configuration.CopyFrom(settings.service_specific_configuration)
    r.raise_if_any()
    return out
