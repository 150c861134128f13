"""The alarm calls of the client core (AlarmService), kept beside core.py: one description
per call, run by both faces like every other (interlude_client.operations)."""

from __future__ import annotations

from interlude_client.connection import ChannelT, Connection, SleepT
from interlude_client.operations import Call, Listing, call, paged, unary
from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2


class AlarmCalls(Connection[ChannelT, SleepT]):
    """GetAlarm and ListAlarms: the alarms on the buyer's services (MEF Alarm Management)."""

    @unary
    def get_alarm(self, alarm_id: str, *, timeout: float | None = None) -> Call[alarm_pb2.Alarm]:
        request = alarm_pb2.GetAlarmRequest(id=alarm_id)
        return call(self.alarms.GetAlarm, request, lambda r: r.alarm, timeout)

    @paged
    def list_alarms(
        self,
        filter: alarm_pb2.AlarmFilter | None = None,
        *,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Listing[alarm_pb2.ListAlarmsResponse, alarm_pb2.Alarm]:
        """The buyer's alarms, newest reported first, every page followed (up to `limit`)."""
        request = alarm_pb2.ListAlarmsRequest(filter=filter, page_size=page_size)
        return Listing(self.alarms.ListAlarms, request, lambda r: r.alarms, limit, timeout)
