"""Complex queries on PM jobs and reports (MEF `performanceJobComplexQuery`,
`performanceReportComplexQuery`): QueryPerformanceJobs and QueryPerformanceReports, which
the REST complex queries call.

A query is the List RPC's filter (run as SQL by the store) and the clauses a filter has not:
a job's schedule and inline settings, a report's several subjects, granularity and
service-specific configuration. Those are matched on each stored resource (`job_query`,
`report_query` give the filter and that predicate) with one rule, `matches`: every field
the clause sets must be in the resource with the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import InvalidArgument, Violation

Pm = performance_pb2
R = TypeVar("R", bound=Message)
# Compared whole: their unset fields (e.g. nanos 0) are part of the value.
_ATOMIC = ("google.protobuf.Timestamp", "google.protobuf.Duration")
_STRUCTS = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")


@dataclass(frozen=True)
class Query(Generic[R]):
    """What the store runs (`filter`) and what it keeps of the rows it reads (`keep`);
    `empty` when the clauses contradict each other (nothing can match)."""

    filter: Message
    keep: Callable[[R], bool]
    empty: bool = False


def subset(pattern: Any, value: Any) -> bool:
    """Whether the JSON `value` has everything `pattern` has: objects key by key, arrays item by
    item (each pattern item matching some value item), other values by equality."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and subset(v, value[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(subset(p, v) for v in value) for p in pattern)
    return bool(pattern == value)


def _same(field: FieldDescriptor, pattern: Any, value: Any) -> bool:
    if field.message_type is None:
        return bool(pattern == value)
    name = field.message_type.full_name
    if name in _STRUCTS:
        return subset(json_format.MessageToDict(pattern), json_format.MessageToDict(value))
    if name in _ATOMIC:
        return bool(pattern == value)
    return matches(pattern, value)


def matches(pattern: Message, value: Message) -> bool:
    """Whether `value` has every field `pattern` sets with the same value: a message field by the
    same rule, each item of a repeated field equal to some item of the value's, a Struct as JSON
    (`subset`), timestamps and durations whole. A field at its default value, or an empty
    message, is no clause."""
    if pattern.DESCRIPTOR.full_name in _STRUCTS:
        return subset(json_format.MessageToDict(pattern), json_format.MessageToDict(value))
    for field, given in pattern.ListFields():
        have = getattr(value, field.name)
        if field.message_type is not None and not field.is_repeated and not given.ListFields():
            continue  # an empty message (e.g. a Struct with no key) is no clause
        if field.is_repeated:
            if not all(any(_same(field, p, v) for v in have) for p in given):
                return False
        elif not ((not field.has_presence or value.HasField(field.name)) and _same(field, given, have)):
            return False
    return True


def _is_set(message: Message) -> bool:
    return bool(message.ListFields())


def _merge_value_clauses(f: Pm.PerformanceJobFilter, value: Pm.PerformanceProfileValue) -> bool:
    """Let SQL narrow on the value clause's type and priority too; False when they contradict
    the filter's."""
    if value.job_type:
        if f.job_type and value.job_type not in f.job_type:
            return False
        del f.job_type[:]
        f.job_type.append(value.job_type)
    if value.HasField("job_priority"):
        if f.HasField("job_priority") and f.job_priority != value.job_priority:
            return False
        f.job_priority = value.job_priority
    return True


def job_query(request: Pm.QueryPerformanceJobsRequest) -> Query[Pm.PerformanceJob]:
    """The store's filter and the predicate of a QueryPerformanceJobs request."""
    f = Pm.PerformanceJobFilter()
    f.CopyFrom(request.filter)
    schedule, value = request.schedule_definition, request.performance_profile_value
    possible = _merge_value_clauses(f, value)

    def keep(job: Pm.PerformanceJob) -> bool:
        if _is_set(schedule) and not matches(schedule, job.schedule_definition):
            return False
        if _is_set(value):
            inline = job.HasField("performance_profile_value")
            return inline and matches(value, job.performance_profile_value)
        return True

    return Query(f, keep, empty=not possible)


def _check_subjects(objects: Sequence[Pm.MonitoredObjectRef]) -> None:
    kinds = {o.WhichOneof("ref") for o in objects}
    problems = []
    if None in kinds:
        problems.append(Violation("monitored_object", "each item must be a service, a pair or an entity"))
    if len(kinds - {None}) > 1:
        problems.append(Violation("monitored_object", "all items must be of one kind"))
    if problems:
        raise InvalidArgument("the query is not valid", problems, reason="INVALID_FILTER")


def report_query(request: Pm.QueryPerformanceReportsRequest) -> Query[Pm.PerformanceReport]:
    """The store's filter and the predicate of a QueryPerformanceReports request. The subjects
    are matched on each report's list (the store indexes only a report's first subject)."""
    _check_subjects(request.monitored_object)
    objects = list(request.monitored_object)
    granularity, config = request.granularity, request.service_specific_configuration

    def keep(report: Pm.PerformanceReport) -> bool:
        if not all(any(matches(o, have) for have in report.monitored_object) for o in objects):
            return False
        if _is_set(granularity) and not matches(granularity, report.granularity):
            return False
        return not _is_set(config) or matches(config, report.service_specific_configuration)

    return Query(request.filter, keep)
