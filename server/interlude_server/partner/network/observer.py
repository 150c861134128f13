"""The one entry point of what the Partner network reports: state changes and alarms.

Each report is committed like any change: one store transaction with every event it
causes (domain/network/reports.py), the changed services and alarms reaching buyers
through the event log. The in-process simulator's scenarios (scenario.py) and the
southbound gRPC contract both call a NetworkObserver.
"""

from __future__ import annotations

import structlog

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.core import clock
from interlude_server.domain.alarms.lifecycle import Signal
from interlude_server.domain.network import reports
from interlude_server.domain.network.state import Observation
from interlude_server.partner.backend import AlarmReport, StateReport
from interlude_server.store.interface.store import Store

_log = structlog.get_logger("interlude_server.partner.network")


class NetworkObserver:
    """Applies the network's reports to the store, one transaction each."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def state_changed(self, report: StateReport) -> list[str]:
        """Record a state report; returns the ids of the services whose state changed
        (empty: nothing changed, e.g. a stale or repeated report)."""
        observation = Observation(
            report.buyer_id,
            report.service_id,
            report.component_id,
            report.operational_state,
            report.reason,
            report.observed_time,
        )
        changed = await self.store.write(lambda tx: reports.state_changed(tx, observation, clock.now()))
        _log.info(
            "network.state_changed",
            buyer=report.buyer_id,
            service=report.service_id,
            component=report.component_id,
            changed=len(changed),
        )
        return changed

    async def alarm(self, report: AlarmReport) -> alarm_pb2.Alarm | None:
        """Apply an alarm report; returns the alarm it raised or changed (None: cleared, stale)."""
        signal = Signal(
            buyer_id=report.buyer_id,
            external_id=report.alarm_id,
            action=report.action,
            alarm_type=report.alarm_type,
            perceived_severity=report.perceived_severity,
            probable_cause=report.probable_cause,
            specific_problem=report.specific_problem,
            service_id=report.service_id,
            component_id=report.component_id,
            details=report.details,
            observed_time=report.observed_time,
        )
        alarm = await self.store.write(lambda tx: reports.alarm_reported(tx, signal, clock.now()))
        _log.info("network.alarm", buyer=report.buyer_id, alarm=report.alarm_id, action=report.action)
        return alarm
