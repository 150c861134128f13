"""AlarmService: the alarms on the caller's services (MEF Alarm Management v3), read-only.

Alarms are raised, changed and cleared by the Partner (partner/network/observer.py, the PM
engine's threshold crossings); their changes are events of EventService. A buyer sees only
the alarms on its services: another buyer's alarm id is NOT_FOUND like an unknown one.
"""

from __future__ import annotations

import functools
from typing import Any

import grpc

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2, alarm_pb2_grpc
from interlude_server.api import paging
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.common import get
from interlude_server.api.principal import BuyerResolver
from interlude_server.store.interface.store import Store

Al = alarm_pb2
Context = grpc.aio.ServicerContext[Any, Any]
_RANGES = ("alarm_raised_time", "alarm_reporting_time", "alarm_changed_time", "alarm_cleared_time")


class AlarmServicer(alarm_pb2_grpc.AlarmServiceServicer):
    """Scopes everything to the calling buyer."""

    def __init__(self, store: Store, buyer_of: BuyerResolver) -> None:
        self.store = store
        self.buyer_of = buyer_of

    async def GetAlarm(self, request: Al.GetAlarmRequest, context: Context) -> Al.GetAlarmResponse:
        alarm = await get(
            self.store.get_alarm, self.buyer_of(context), request.id, "Alarm", "ALARM_NOT_FOUND"
        )
        return Al.GetAlarmResponse(alarm=alarm)

    async def ListAlarms(self, request: Al.ListAlarmsRequest, context: Context) -> Al.ListAlarmsResponse:
        fetch = functools.partial(self.store.list_alarms, self.buyer_of(context), request.filter)
        return await paging.listed(request, Al.ListAlarmsResponse, "alarms", fetch, _RANGES)


def alarm_binding(store: Store, buyer_of: BuyerResolver) -> ServiceBinding:
    servicer = AlarmServicer(store, buyer_of)
    return ServiceBinding(
        "mef.lso.interlude.v1.AlarmService",
        lambda server: alarm_pb2_grpc.add_AlarmServiceServicer_to_server(servicer, server),
        servicer,
    )
