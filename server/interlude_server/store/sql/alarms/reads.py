"""Alarm reads: `AlarmReadsMixin`, mixed into SqliteStore and PgStore.

The ListAlarms filter becomes a `queries.Where` over the columns store.sql.alarms.schema
keeps beside each body; lists are keyset pages, newest reported first.
"""

from __future__ import annotations

from collections.abc import Sequence

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.store.interface.paging import Page, PageRequest
from interlude_server.store.sql import queries as q
from interlude_server.store.sql.bodies import BodyReads

Al = alarm_pb2
_NEWEST_FIRST = q.Ordering(("reporting_time", "id"), descending=True)


def _given(values: Sequence[int]) -> list[int]:
    """The enum values a repeated filter field asks for; unset (0) entries ask for nothing."""
    return [int(v) for v in values if v]


def alarm_where(buyer_id: str, f: alarm_pb2.AlarmFilter) -> q.Where:
    """Every AlarmFilter field, AND across fields, ANY within repeated ones."""
    w = q.Where.of_buyer(buyer_id)
    w.equal("id", f.id)
    w.any_of("state", _given(f.state))
    w.any_of("alarm_type", _given(f.alarm_type))
    w.any_of("severity", _given(f.perceived_severity))
    w.any_of("planned_outage", _given(f.planned_outage_indicator))
    w.equal("alarmed_object_type", f.alarmed_object_type)
    w.equal("reporting_system_id", f.reporting_system_id)
    w.equal("parent_id", f.correlated_alarm_id)
    if f.HasField("service_affecting"):
        w.add("service_affecting = ?", int(f.service_affecting))
    w.time_range("raised_time", f.alarm_raised_time)
    w.time_range("reporting_time", f.alarm_reporting_time)
    w.time_range("changed_time", f.alarm_changed_time)
    w.time_range("cleared_time", f.alarm_cleared_time)
    if f.affected_service_id:
        w.member_of(
            "id",
            "SELECT alarm_id FROM alarm_services WHERE buyer_id = ? AND service_id = ?",
            "alarm_id",
            buyer_id,
            f.affected_service_id,
        )
    return w


class AlarmReadsMixin(BodyReads):
    """The alarm reads of the store."""

    async def get_alarm(self, buyer_id: str, alarm_id: str) -> alarm_pb2.Alarm | None:
        return await self._by_id("alarms", buyer_id, alarm_id, Al.Alarm.FromString)

    async def list_alarms(
        self, buyer_id: str, f: alarm_pb2.AlarmFilter, page: PageRequest
    ) -> Page[alarm_pb2.Alarm]:
        return await self._page_of(
            "alarms", alarm_where(buyer_id, f), _NEWEST_FIRST, page, Al.Alarm.FromString
        )
