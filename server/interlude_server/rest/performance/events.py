"""PM notifications (performanceNotification v5): which events the PM `/hub` carries and
the references their payloads add to the thin `{id, href, state}` body.

Kept apart from `rest.hub` and `rest.delivery`, which only register these.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.rest.performance.mapping import PmHrefs

E = events_pb2
PM_NOTIFICATION_BASE = "/mefApi/interlude/performanceNotification/v5"
PM_EVENTS: tuple[int, ...] = (
    E.EVENT_TYPE_PERFORMANCE_PROFILE_CREATE,
    E.EVENT_TYPE_PERFORMANCE_PROFILE_ATTRIBUTE_VALUE_CHANGE,
    E.EVENT_TYPE_PERFORMANCE_PROFILE_DELETE,
    E.EVENT_TYPE_PERFORMANCE_JOB_CREATE,
    E.EVENT_TYPE_PERFORMANCE_JOB_ATTRIBUTE_VALUE_CHANGE,
    E.EVENT_TYPE_PERFORMANCE_JOB_STATE_CHANGE,
    E.EVENT_TYPE_PERFORMANCE_JOB_REPORT_READY,
    E.EVENT_TYPE_PERFORMANCE_JOB_REPORT_PREPARATION_ERROR,
    E.EVENT_TYPE_CANCEL_PERFORMANCE_JOB_STATE_CHANGE,
    E.EVENT_TYPE_MODIFY_PERFORMANCE_JOB_STATE_CHANGE,
    E.EVENT_TYPE_PERFORMANCE_REPORT_CREATE,
    E.EVENT_TYPE_PERFORMANCE_REPORT_STATE_CHANGE,
)
PM_RESOURCES = frozenset(
    (
        E.RESOURCE_TYPE_PERFORMANCE_PROFILE,
        E.RESOURCE_TYPE_PERFORMANCE_JOB,
        E.RESOURCE_TYPE_PERFORMANCE_JOB_TASK,
        E.RESOURCE_TYPE_PERFORMANCE_REPORT,
    )
)


def pm_refs(event: events_pb2.Event, base_url: str) -> dict[str, str]:
    """`href` of the PM resource an event is about, plus `reportId`/`reportHref` on a
    report-ready event (PerformanceJobReportReadyEventPayload)."""
    hrefs = PmHrefs(base_url)
    ref = event.resource
    kind = ref.resource_type
    if kind == E.RESOURCE_TYPE_PERFORMANCE_PROFILE:
        return {"href": hrefs.profile(ref.id)}
    if kind == E.RESOURCE_TYPE_PERFORMANCE_REPORT:
        return {"href": hrefs.report(ref.id)}
    if kind == E.RESOURCE_TYPE_PERFORMANCE_JOB_TASK:
        if event.event_type == E.EVENT_TYPE_CANCEL_PERFORMANCE_JOB_STATE_CHANGE:
            return {"href": hrefs.cancel_task(ref.id)}
        return {"href": hrefs.modify_task(ref.id)}
    out = {"href": hrefs.job(ref.id)}
    if ref.report_id:
        out |= {"reportId": ref.report_id, "reportHref": hrefs.report(ref.report_id)}
    return out
