"""AlarmService messages -> MEF Alarm Management v3 JSON (Mplify 146), and the alarm
notifications (`alarmCreateEvent`, ...) whose `event` carries the whole alarm.

Same rules as `rest.mapping`: camelCase, MEF enum spellings, RFC 3339 date-times,
`href`s from the request's base URL.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2, events_pb2
from interlude_server.rest import mapping as m

Al = alarm_pb2
E = events_pb2
Json = m.Json
ALARM_BASE = "/mefApi/interlude/alarmManagement/v3"
ALARM_NOTIFICATION_BASE = "/mefApi/interlude/alarmNotification/v3"
STATE = m.spellings(Al.AlarmState, Al.AlarmState.values())
ALARM_TYPE = m.spellings(Al.AlarmType, Al.AlarmType.values())
SEVERITY = m.spellings(Al.PerceivedSeverity, Al.PerceivedSeverity.values())
CAUSE = m.spellings(Al.ProbableCause, Al.ProbableCause.values())
OUTAGE = m.spellings(Al.PlannedOutageIndicator, Al.PlannedOutageIndicator.values())
ALARM_EVENTS: tuple[int, ...] = (
    E.EVENT_TYPE_ALARM_CREATE,
    E.EVENT_TYPE_ALARM_ATTRIBUTE_VALUE_CHANGE,
    E.EVENT_TYPE_ALARM_STATE_CHANGE,
    E.EVENT_TYPE_ALARM_DELETE,
)


def alarm_href(base_url: str, alarm_id: str) -> str:
    return f"{base_url}{ALARM_BASE}/alarm/{alarm_id}"


def _ref(base_url: str, alarm_id: str) -> Json:
    return {"id": alarm_id, "href": alarm_href(base_url, alarm_id)}


def _times(a: alarm_pb2.Alarm, out: Json) -> None:
    for field, name in (
        ("alarm_raised_time", "alarmRaisedTime"),
        ("alarm_reporting_time", "alarmReportingTime"),
        ("alarm_changed_time", "alarmChangedTime"),
        ("alarm_cleared_time", "alarmClearedTime"),
    ):
        if a.HasField(field):  # type: ignore[arg-type]
            out[name] = m.time(getattr(a, field))


def alarm(a: alarm_pb2.Alarm, hrefs: m.Hrefs) -> Json:
    """A MEF `Alarm` (a superset of `Alarm_Common`, which list items are)."""
    out: Json = {
        "id": a.id,
        "href": alarm_href(hrefs.base, a.id),
        "alarmType": ALARM_TYPE.get(a.alarm_type, "communicationsAlarm"),
        "perceivedSeverity": SEVERITY.get(a.perceived_severity, "indeterminate"),
        "state": STATE.get(a.state, "unAcknowledged"),
        "alarmDetails": a.alarm_details,
        "serviceAffecting": a.service_affecting,
        "isRootCause": a.is_root_cause,
        "alarmedObject": [
            {"id": o.id, "@referredType": o.referred_type or "Service"}
            | ({"href": hrefs.service(o.id)} if o.referred_type == "Service" else {})
            for o in a.alarmed_object
        ],
    }
    _times(a, out)
    if a.probable_cause:
        out["probableCause"] = CAUSE[a.probable_cause]
    if a.planned_outage_indicator:
        out["plannedOutageIndicator"] = OUTAGE[a.planned_outage_indicator]
    m._optional(
        out,
        specificProblem=a.specific_problem,
        alarmedObjectType=a.alarmed_object_type,
        externalAlarmId=a.external_alarm_id,
        reportingSystemId=a.reporting_system_id,
        sourceSystemId=a.source_system_id,
    )
    if a.affected_service:
        out["affectedService"] = [{"id": s.id, "href": hrefs.service(s.id)} for s in a.affected_service]
    if a.correlated_alarm:
        out["correlatedAlarm"] = [_ref(hrefs.base, r.id) for r in a.correlated_alarm]
    if a.parent_alarm.id:
        out["parentAlarm"] = _ref(hrefs.base, a.parent_alarm.id)
    if a.comment:
        out["comment"] = [_comment(c) for c in a.comment]
    if a.HasField("alarm_specific_attributes"):
        out["alarmSpecificAttributes"] = m.extension(a.alarm_specific_attributes)
    return out


def _comment(c: alarm_pb2.AlarmComment) -> Json:
    out: Json = {}
    m._optional(
        out, comment=c.comment, systemIdentifier=c.system_identifier, userIdentifier=c.user_identifier
    )
    if c.HasField("time"):
        out["time"] = m.time(c.time)
    return out


def notification_payload(event: events_pb2.Event, base_url: str) -> Json:
    """The `event` of an alarm notification (MEF `AlarmEventPayload`): the whole alarm."""
    return {"alarm": alarm(event.alarm, m.Hrefs(base_url))}
