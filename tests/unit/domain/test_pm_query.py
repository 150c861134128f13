"""The complex-query rule of domain.performance.query: a clause is every field a pattern
sets, matched on the stored job or report."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.domain.performance.query import job_query, matches, report_query

Pm = performance_pb2


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def _minutes(n: int) -> Pm.TimeDuration:
    return Pm.TimeDuration(value=n, units=Pm.TIME_DURATION_UNITS_MIN)


def test_set_fields_must_match_and_defaults_are_no_clause() -> None:
    value = Pm.PerformanceProfileValue(granularity=_minutes(5), job_priority=3)
    assert matches(Pm.PerformanceProfileValue(granularity=_minutes(5)), value)
    assert not matches(Pm.PerformanceProfileValue(granularity=_minutes(15)), value)
    assert matches(Pm.PerformanceProfileValue(), value)
    assert not matches(Pm.PerformanceProfileValue(reporting_period=_minutes(60)), value)  # absent there
    assert not matches(Pm.PerformanceProfileValue(job_priority=4), value)


def test_a_configuration_matches_as_a_json_subset() -> None:
    stored = common_pb2.ExtensionPayload(
        type="urn:x", attributes=_struct({"a": {"b": 1, "c": [1, 2]}, "d": 2})
    )
    assert matches(common_pb2.ExtensionPayload(attributes=_struct({"a": {"c": [2]}})), stored)
    assert not matches(common_pb2.ExtensionPayload(attributes=_struct({"a": {"b": 2}})), stored)
    assert matches(common_pb2.ExtensionPayload(type="urn:x", attributes=struct_pb2.Struct()), stored)


def test_a_job_query_narrows_sql_on_type_and_keeps_only_inline_settings() -> None:
    request = Pm.QueryPerformanceJobsRequest(
        performance_profile_value=Pm.PerformanceProfileValue(job_type=Pm.PERFORMANCE_JOB_TYPE_PASSIVE)
    )
    query = job_query(request)
    assert list(query.filter.job_type) == [Pm.PERFORMANCE_JOB_TYPE_PASSIVE]  # type: ignore[attr-defined]
    inline = Pm.PerformanceJob(
        performance_profile_value=Pm.PerformanceProfileValue(job_type=Pm.PERFORMANCE_JOB_TYPE_PASSIVE)
    )
    referenced = Pm.PerformanceJob(performance_profile_ref=Pm.PerformanceProfileRef(id="p"))
    assert query.keep(inline)
    assert not query.keep(referenced)
    request.filter.job_type.append(Pm.PERFORMANCE_JOB_TYPE_PROACTIVE)
    assert job_query(request).empty


def test_a_report_query_needs_every_subject_among_the_reports() -> None:
    one = Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="s1"))
    two = Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="s2"))
    report = Pm.PerformanceReport(monitored_object=[one, two])
    assert report_query(Pm.QueryPerformanceReportsRequest(monitored_object=[two, one])).keep(report)
    three = Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id="s3"))
    assert not report_query(Pm.QueryPerformanceReportsRequest(monitored_object=[one, three])).keep(report)
