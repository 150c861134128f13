"""The network's reports, each applied in one store transaction (the one entry point of
partner/network/observer.py): a state report propagates through the inventory and
re-correlates the alarms on the reported service; an alarm report raises, changes or
clears an alarm and correlates it with the services its condition holds down.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.domain.alarms import lifecycle
from interlude_server.domain.network import correlation, state
from interlude_server.store.interface.store import Tx


def state_changed(tx: Tx, report: state.Observation, now: timestamp_pb2.Timestamp) -> list[str]:
    """Record a state report; returns the ids of the services whose state changed."""
    changed = state.observe(tx, report, now)
    if changed:
        correlation.correlate_on(tx, report.buyer_id, report.service_id, now, report.observed_time)
    return changed


def alarm_reported(tx: Tx, signal: lifecycle.Signal, now: timestamp_pb2.Timestamp) -> alarm_pb2.Alarm | None:
    """Apply an alarm report; returns the alarm raised or changed (None: cleared or stale)."""
    alarm = lifecycle.report(tx, signal, now)
    if alarm is not None:
        correlation.correlate(tx, alarm, now, signal.observed_time or now)
    return alarm
