"""What the network tells the server without being asked: state changes and alarms.

`NetworkReports` is where they go. Until the observer that commits them (events,
inventory) is wired in, `LoggedReports` logs each one as `network.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog
from google.protobuf import json_format, timestamp_pb2

from interlude_grpc.interlude.network.v1 import network_pb2

AlarmAction = Literal["raised", "changed", "cleared"]
_ACTIONS: dict[int, AlarmAction] = {
    network_pb2.ALARM_ACTION_RAISED: "raised",
    network_pb2.ALARM_ACTION_CHANGED: "changed",
    network_pb2.ALARM_ACTION_CLEARED: "cleared",
}
_log = structlog.get_logger("interlude_server.partner.network")


@dataclass(frozen=True)
class StateReport:
    """A service (or one of its components, `component_id`) changed operational state
    (`operational_state`: the contract's OperationalState value)."""

    buyer_id: str
    service_id: str
    component_id: str
    operational_state: int
    reason: str
    observed_time: timestamp_pb2.Timestamp


@dataclass(frozen=True)
class AlarmReport:
    """An alarm of the network (`alarm_id`, the network's own id) was raised, changed or cleared."""

    buyer_id: str
    alarm_id: str
    action: AlarmAction
    alarm_type: str
    perceived_severity: str
    probable_cause: str
    specific_problem: str
    service_id: str
    component_id: str
    observed_time: timestamp_pb2.Timestamp
    details: dict[str, Any] = field(default_factory=dict)


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
            a.observed_time,
            json_format.MessageToDict(a.details),
        )
    return None
