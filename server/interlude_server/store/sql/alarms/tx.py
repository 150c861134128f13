"""Alarm writes: `AlarmTxMixin`, mixed into SqlTx (both engines).

Its tables are migration step 10 (store.sql.alarms.schema); its reads are store.sql.alarms.reads.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.core.keys import field_key
from interlude_server.store.sql.bodies import BodyTx

Al = alarm_pb2


class AlarmTxMixin(BodyTx):
    """The alarm part of SqlTx; `_c` is the write connection."""

    def get_alarm(self, buyer_id: str, alarm_id: str) -> alarm_pb2.Alarm | None:
        return self._get("alarms", buyer_id, alarm_id, Al.Alarm.FromString)

    def put_alarm(self, alarm: alarm_pb2.Alarm) -> None:
        self._put(
            "alarms",
            {
                "buyer_id": alarm.buyer_id,
                "id": alarm.id,
                "state": int(alarm.state),
                "alarm_type": int(alarm.alarm_type),
                "severity": int(alarm.perceived_severity),
                "external_id": alarm.external_alarm_id,
                "parent_id": alarm.parent_alarm.id,
                "alarmed_object_type": alarm.alarmed_object_type,
                "service_affecting": int(alarm.service_affecting),
                "planned_outage": int(alarm.planned_outage_indicator),
                "reporting_system_id": alarm.reporting_system_id,
                "raised_time": field_key(alarm, "alarm_raised_time"),
                "reporting_time": field_key(alarm, "alarm_reporting_time"),
                "changed_time": field_key(alarm, "alarm_changed_time"),
                "cleared_time": field_key(alarm, "alarm_cleared_time"),
                "body": alarm.SerializeToString(),
            },
        )
        services = sorted({s.id for s in alarm.affected_service if s.id})
        self._c.execute(
            "DELETE FROM alarm_services WHERE buyer_id = ? AND alarm_id = ?", (alarm.buyer_id, alarm.id)
        )
        if services:
            self._c.executemany(
                "INSERT INTO alarm_services (buyer_id, service_id, alarm_id) VALUES (?, ?, ?)",
                [(alarm.buyer_id, s, alarm.id) for s in services],
            )

    def latest_alarm(self, buyer_id: str, external_id: str) -> alarm_pb2.Alarm | None:
        row = self._c.execute(
            "SELECT body FROM alarms WHERE buyer_id = ? AND external_id = ? "
            "ORDER BY reporting_time DESC, id DESC LIMIT 1",
            (buyer_id, external_id),
        ).fetchone()
        return None if row is None else Al.Alarm.FromString(bytes(row[0]))

    def active_alarms_on(self, buyer_id: str, service_id: str) -> list[alarm_pb2.Alarm]:
        rows = self._c.execute(
            "SELECT a.body FROM alarms a JOIN alarm_services s "
            "ON s.buyer_id = a.buyer_id AND s.alarm_id = a.id "
            "WHERE s.buyer_id = ? AND s.service_id = ? AND a.state <> ? "
            "ORDER BY a.reporting_time, a.id",
            (buyer_id, service_id, int(Al.ALARM_STATE_CLEARED)),
        ).fetchall()
        return [Al.Alarm.FromString(bytes(r[0])) for r in rows]

    def child_alarms(self, buyer_id: str, parent_id: str) -> list[alarm_pb2.Alarm]:
        rows = self._c.execute(
            "SELECT body FROM alarms WHERE buyer_id = ? AND parent_id = ? ORDER BY reporting_time, id",
            (buyer_id, parent_id),
        ).fetchall()
        return [Al.Alarm.FromString(bytes(r[0])) for r in rows]
