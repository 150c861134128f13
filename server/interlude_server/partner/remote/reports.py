"""What the network tells the server without being asked: state changes and alarms.

`NetworkReports` is where they go: `ObservedReports` logs each one (`network.report`) and
hands it to the server's NetworkObserver (partner/network/observer.py), which commits it
with its events exactly as a scenario of the embedded simulator does; `LoggedReports` only
logs (a server whose reports nobody commits, in tests of the contract alone). The report
classes are the observer's (partner/backend.py).
"""

from __future__ import annotations

from typing import Literal, Protocol

import structlog

from interlude_grpc.interlude.network.v1 import network_pb2
from interlude_server.partner.backend import AlarmReport, StateReport

__all__ = ["AlarmReport", "LoggedReports", "NetworkReports", "ObservedReports", "StateReport", "report_of"]

AlarmAction = Literal["raised", "changed", "cleared"]
_ACTIONS: dict[int, AlarmAction] = {
    network_pb2.ALARM_ACTION_RAISED: "raised",
    network_pb2.ALARM_ACTION_CHANGED: "changed",
    network_pb2.ALARM_ACTION_CLEARED: "cleared",
}
_log = structlog.get_logger("interlude_server.partner.network")


class NetworkReports(Protocol):
    """Receives what the network reports; each call returns once the report is handled."""

    async def state_changed(self, report: StateReport) -> None: ...

    async def alarm(self, report: AlarmReport) -> None: ...


class LoggedReports:
    """NetworkReports that logs each report (`network.report`) and keeps nothing."""

    async def state_changed(self, report: StateReport) -> None:
        _log.info(
            "network.report",
            kind="state",
            buyer=report.buyer_id,
            service_id=report.service_id,
            component_id=report.component_id,
            operational_state=report.operational_state,
            reason=report.reason,
        )

    async def alarm(self, report: AlarmReport) -> None:
        _log.info(
            "network.report",
            kind="alarm",
            buyer=report.buyer_id,
            alarm_id=report.alarm_id,
            action=report.action,
            perceived_severity=report.perceived_severity,
            service_id=report.service_id,
            component_id=report.component_id,
        )


def report_of(message: network_pb2.Report) -> StateReport | AlarmReport | None:
    """The report a worker sent, or None if it is neither a state change nor a known alarm action."""
    if message.HasField("state"):
        s = message.state
        return StateReport(
            s.buyer_id, s.service_id, s.component_id, s.operational_state, s.reason, s.observed_time
        )
    if message.HasField("alarm") and message.alarm.action in _ACTIONS:
        a = message.alarm
        return AlarmReport(
            a.buyer_id,
            a.alarm_id,
            _ACTIONS[a.action],
            a.alarm_type,
            a.perceived_severity,
            a.probable_cause,
            a.specific_problem,
            a.service_id,
            a.component_id,
            a.details,
            a.observed_time,
        )
    return None


class Observer(Protocol):
    """What commits a report (partner/network/observer.NetworkObserver; what it returns is
    not needed here)."""

    async def state_changed(self, report: StateReport) -> object: ...

    async def alarm(self, report: AlarmReport) -> object: ...


class ObservedReports(LoggedReports):
    """NetworkReports that logs each report and commits it through the server's observer."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    async def state_changed(self, report: StateReport) -> None:
        await super().state_changed(report)
        await self._observer.state_changed(report)

    async def alarm(self, report: AlarmReport) -> None:
        await super().alarm(report)
        await self._observer.alarm(report)
