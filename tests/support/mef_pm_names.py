"""The property names MEF Performance Monitoring v5 (Mplify 143) defines for the PM resources
the REST adapter emits; `unknown_in_profile` / `unknown_in_job` name every property MEF does
not define. `serviceSpecificConfiguration` is an extension point and is not walked."""

from __future__ import annotations

from typing import Any

from tests.support.mef_names import unknown_in

TIME_DURATION = {"timeDurationValue", "timeDurationUnits"}
SETTINGS = {
    "granularity",
    "jobPriority",
    "jobType",
    "outputFormat",
    "reportingPeriod",
    "resultFormat",
    "serviceSpecificConfiguration",
}
PROFILE = SETTINGS | {
    "id",
    "href",
    "creationDateTime",
    "lastTimeModified",
    "isAssigned",
    "lifecycleStatus",
    "description",
}
PROFILE_REF = {"@type", "performanceProfileId", "performanceProfileHref"}
PROFILE_VALUE = SETTINGS | {"@type"}
MONITORED_OBJECT = {
    "@type",
    "serviceId",
    "serviceHref",
    "serviceFrom",
    "serviceTo",
    "entityId",
    "entityHref",
}
SCHEDULE = {
    "scheduleDefinitionStartTime",
    "scheduleDefinitionEndTime",
    "recurringSchedule",
    "executionDuration",
}
JOB = {
    "id",
    "href",
    "creationDateTime",
    "lastTimeModified",
    "state",
    "terminationError",
    "buyerJobId",
    "consumingApplicationId",
    "producingApplicationId",
    "description",
    "monitoredObject",
    "performanceProfile",
    "scheduleDefinition",
}
_DURATIONS: dict[str, Any] = {"granularity": (TIME_DURATION, {}), "reportingPeriod": (TIME_DURATION, {})}


def unknown_in_profile(doc: Any) -> list[str]:
    return unknown_in(doc, PROFILE, _DURATIONS)


def unknown_in_job(doc: Any) -> list[str]:
    children = {
        "monitoredObject": (MONITORED_OBJECT, {}),
        "performanceProfile": (PROFILE_REF | PROFILE_VALUE, _DURATIONS),
        "scheduleDefinition": (SCHEDULE, {"executionDuration": (TIME_DURATION, {})}),
    }
    return unknown_in(doc, JOB, children)


JOB_REF = {"@type", "performanceJobId", "performanceJobHref"}
CANCEL_TASK = {"id", "href", "creationDateTime", "state", "performanceJob"}
REPORT = {
    "id",
    "href",
    "creationDateTime",
    "state",
    "performanceJob",
    "reportContent",
    "reportUrl",
    "terminationError",
    "description",
    "granularity",
    "monitoredObject",
    "outputFormat",
    "reportingTimeframe",
    "resultFormat",
    "serviceSpecificConfiguration",
}
REPORT_CONTENT = {"monitoredObject", "reportContentItem"}
REPORT_ITEM = {"measurementTime", "measurementData"}
MEASUREMENT_TIME = {"measurementStartDate", "measurementEndDate", "measurementInterval"}


def unknown_in_cancel_task(doc: Any) -> list[str]:
    return unknown_in(doc, CANCEL_TASK, {"performanceJob": (JOB_REF, {})})


def unknown_in_report(doc: Any) -> list[str]:
    item: dict[str, Any] = {
        "measurementTime": (MEASUREMENT_TIME, {"measurementInterval": (TIME_DURATION, {})})
    }
    children = {
        "performanceJob": (JOB_REF, {}),
        "granularity": (TIME_DURATION, {}),
        "monitoredObject": (MONITORED_OBJECT, {}),
        "reportingTimeframe": ({"reportingStartDate", "reportingEndDate"}, {}),
        "reportUrl": ({"url", "retentionPeriod"}, {}),
        "reportContent": (
            REPORT_CONTENT,
            {"monitoredObject": (MONITORED_OBJECT, {}), "reportContentItem": (REPORT_ITEM, item)},
        ),
    }
    return unknown_in(doc, REPORT, children)
