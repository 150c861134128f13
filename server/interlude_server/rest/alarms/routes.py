"""`/mefApi/interlude/alarmManagement/v3/`: alarms over REST, onto AlarmService (Mplify 146).

`GET /alarm` (listAlarms) with MEF's query parameters, `GET /alarm/{id}` (retrieveAlarm);
the `/hub` of the API is rest.hub's, its notifications carry the whole alarm
(rest.alarms.mapping). Same backend, paging and error mapping as the other APIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from aiohttp import web

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.rest import common
from interlude_server.rest import query as q
from interlude_server.rest.alarms import mapping as am
from interlude_server.rest.backend import Backend
from interlude_server.rest.routing import Route, RouteTable

Al = alarm_pb2
_ALARM = "AlarmService"
_RANGES = {
    "alarmChangedTime": "alarm_changed_time",
    "alarmClearedTime": "alarm_cleared_time",
    "alarmReportingTime": "alarm_reporting_time",
}
_FIELDS = {
    "id": "id",
    "alarmedObjectType": "alarmed_object_type",
    "reportingSystemId": "reporting_system_id",
    "affectedServiceId": "affected_service_id",
    "correlatedAlarmId": "correlated_alarm_id",
}
_ENUMS: dict[str, tuple[str, Mapping[int, str]]] = {
    "state": ("state", am.STATE),
    "alarmType": ("alarm_type", am.ALARM_TYPE),
    "perceivedSeverity": ("perceived_severity", am.SEVERITY),
    "plannedOutageIndicator": ("planned_outage_indicator", am.OUTAGE),
}
PARAMS = (
    *_FIELDS,
    *_ENUMS,
    "serviceAffecting",
    *(f"{n}.{op}" for n in _RANGES for op in ("gt", "lt")),
    *q.PAGING,
)


def alarm_filter(params: q.Params) -> alarm_pb2.AlarmFilter:
    """The AlarmFilter of a `GET /alarm` query (listAlarms)."""
    f = Al.AlarmFilter()
    errors = q.QueryErrors()
    q._check_names(params, PARAMS, errors)
    for mef, proto in _FIELDS.items():
        setattr(f, proto, q._single(params, mef, errors))
    for mef, (proto, table) in _ENUMS.items():
        by_name = {name: number for number, name in table.items()}
        for value in q._values(params, mef):
            if value in by_name:
                getattr(f, proto).append(by_name[value])
            else:
                errors.add(mef, f"{value!r} is not one of {', '.join(by_name)}")
    affecting = q._single(params, "serviceAffecting", errors)
    if affecting in ("true", "false"):
        f.service_affecting = affecting == "true"
    elif affecting:
        errors.add("serviceAffecting", "must be true or false")
    q._ranges(params, _RANGES, f, errors)
    errors.raise_if_any()
    return f


class AlarmRestApi:
    """The alarm routes over one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def listing(self, request: web.Request) -> web.Response:
        given = common.params(request)
        req = Al.ListAlarmsRequest(filter=alarm_filter(given))
        h = common.hrefs(request)
        call = partial(self.backend.call, _ALARM, "ListAlarms", caller=common.caller(request))
        return await common.page_response(q.window(given), req, call, "alarms", lambda a: am.alarm(a, h))

    async def retrieve(self, request: web.Request) -> web.Response:
        req = Al.GetAlarmRequest(id=request.match_info["id"])
        r = await self.backend.call(_ALARM, "GetAlarm", req, common.caller(request))
        return common.respond(am.alarm(r.alarm, common.hrefs(request)))


ROUTES: RouteTable[AlarmRestApi] = RouteTable(
    am.ALARM_BASE,
    _ALARM,
    (
        Route("GET", "/alarm", AlarmRestApi.listing, "listAlarms", "ListAlarms"),
        Route("GET", "/alarm/{id}", AlarmRestApi.retrieve, "retrieveAlarm", "GetAlarm"),
    ),
    lambda backend, _hub: AlarmRestApi(backend),
)
