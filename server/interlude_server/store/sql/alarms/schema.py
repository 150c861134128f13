"""The tables of alarms: migration step 10 (store.sql.migrations).

Each alarm is its serialized proto (`body`) beside the columns the ListAlarms filter and
its keyset order (newest reported first) need; timestamps as `core.keys.timestamp_key`
text ('' = unset). `external_id` is the network's own alarm id (a raise, change and clear
of one network alarm find the same row); `alarm_services` is the side table of the
services each alarm affects (the `affectedServiceId` filter and the alarms of a service).
"""

from __future__ import annotations

ALARM_TABLES: tuple[str, ...] = (
    """CREATE TABLE alarms (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        alarm_type INTEGER NOT NULL,
        severity INTEGER NOT NULL,
        external_id TEXT NOT NULL,
        parent_id TEXT NOT NULL,
        alarmed_object_type TEXT NOT NULL,
        service_affecting INTEGER NOT NULL,
        planned_outage INTEGER NOT NULL,
        reporting_system_id TEXT NOT NULL,
        raised_time TEXT NOT NULL,
        reporting_time TEXT NOT NULL,
        changed_time TEXT NOT NULL,
        cleared_time TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, id)
    )""",
    "CREATE INDEX alarms_reported ON alarms (buyer_id, reporting_time, id)",
    "CREATE INDEX alarms_external ON alarms (buyer_id, external_id, state)",
    "CREATE INDEX alarms_parent ON alarms (buyer_id, parent_id)",
    """CREATE TABLE alarm_services (
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        alarm_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, service_id, alarm_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX alarm_services_alarm ON alarm_services (buyer_id, alarm_id)",
)
