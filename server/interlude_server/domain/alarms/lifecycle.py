"""Alarms in the Partner's transactions: raise, change and clear, each with its event.

An alarm is raised on one of the buyer's services (or a component of it) and starts
`unAcknowledged`; a change updates its severity, cause, problem or details; a clear sets
state and severity to `cleared` and clears its correlated children with it. Every change
is stored and emits its MEF notification (EVENT_TYPE_ALARM_CREATE, _ATTRIBUTE_VALUE_CHANGE,
_STATE_CHANGE) in the same transaction. The network's id of an alarm is its
`external_alarm_id`: a raise, change and clear of the same network alarm act on one alarm,
and a report observed no later than the alarm's last change is stale and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2, common_pb2, events_pb2
from interlude_server.core.errors import InvalidArgument, NotFound, Violation
from interlude_server.core.ids import new_id
from interlude_server.core.mef import mef_name
from interlude_server.domain import audit
from interlude_server.store.interface.store import Tx

Al = alarm_pb2
Ev = events_pb2
ACTIONS = ("raised", "changed", "cleared")
REPORTING_SYSTEM = "interlude"
# Severities that affect service (X.733: critical and major need corrective action now).
_AFFECTING = (Al.PERCEIVED_SEVERITY_CRITICAL, Al.PERCEIVED_SEVERITY_MAJOR)


@dataclass(frozen=True)
class Signal:
    """One report about an alarm: from the network (AlarmReport) or derived by the Partner."""

    buyer_id: str
    external_id: str  # the reporter's own id of the alarm
    action: str  # raised | changed | cleared
    alarm_type: int = 0
    perceived_severity: int = 0
    probable_cause: int = 0
    specific_problem: str = ""
    service_id: str = ""
    component_id: str = ""
    details: str = ""
    observed_time: timestamp_pb2.Timestamp | None = None
    parent_id: str = ""  # a correlated child: the root-cause alarm's id
    source: str = "partner-network"


def is_active(alarm: alarm_pb2.Alarm) -> bool:
    return alarm.state != Al.ALARM_STATE_CLEARED


def _ns(ts: timestamp_pb2.Timestamp) -> int:
    return ts.ToNanoseconds()


def _emit(
    tx: Tx, kind: int, alarm: alarm_pb2.Alarm, now: timestamp_pb2.Timestamp, observed: timestamp_pb2.Timestamp
) -> None:
    state = mef_name(Al.AlarmState, alarm.state)
    audit.emit(tx, kind, alarm, now, state=state, observed=observed)  # type: ignore[arg-type]


def _check(tx: Tx, signal: Signal) -> None:
    problems = []
    if signal.action not in ACTIONS:
        problems.append(Violation("action", f"must be one of {', '.join(ACTIONS)}", "invalidValue"))
    if not signal.external_id:
        problems.append(Violation("alarm_id", "the network's id of the alarm is required", "missingProperty"))
    if signal.action == "raised" and not signal.service_id:
        problems.append(
            Violation("service_id", "a raised alarm names the service it affects", "missingProperty")
        )
    if problems:
        raise InvalidArgument("the alarm report is not valid", problems)
    if signal.service_id:
        service = tx.get_service(signal.buyer_id, signal.service_id)
        if service is None:
            raise NotFound("Service", signal.service_id, "SERVICE_NOT_FOUND")


def _new(
    tx: Tx, signal: Signal, now: timestamp_pb2.Timestamp, observed: timestamp_pb2.Timestamp
) -> alarm_pb2.Alarm:
    service = tx.get_service(signal.buyer_id, signal.service_id)
    assert service is not None  # _check
    component = next((c for c in service.component if c.id == signal.component_id), None)
    obj = Al.AlarmedObjectRef(id=service.id, referred_type="Service")
    object_type = service.service_configuration.type or "Service"
    if component is not None:
        obj = Al.AlarmedObjectRef(id=f"{service.id}/{component.id}", referred_type="ServiceComponent")
        object_type = component.component_type or "ServiceComponent"
    severity = signal.perceived_severity or Al.PERCEIVED_SEVERITY_INDETERMINATE
    alarm = Al.Alarm(
        id=new_id(),
        alarm_type=signal.alarm_type or Al.ALARM_TYPE_COMMUNICATIONS_ALARM,  # type: ignore[arg-type]
        perceived_severity=severity,  # type: ignore[arg-type]
        probable_cause=signal.probable_cause,  # type: ignore[arg-type]
        specific_problem=signal.specific_problem,
        state=Al.ALARM_STATE_UN_ACKNOWLEDGED,
        alarm_details=signal.details or signal.specific_problem or "alarm raised by the Partner network",
        alarm_raised_time=observed,
        alarm_reporting_time=now,
        alarm_changed_time=observed,
        affected_service=[common_pb2.ServiceRef(id=service.id)],
        alarmed_object=[obj],
        alarmed_object_type=object_type,
        service_affecting=severity in _AFFECTING,
        external_alarm_id=signal.external_id,
        reporting_system_id=REPORTING_SYSTEM,
        source_system_id=signal.source,
        buyer_id=signal.buyer_id,
    )
    if signal.parent_id:
        alarm.parent_alarm.id = signal.parent_id
    tx.put_alarm(alarm)
    _emit(tx, Ev.EVENT_TYPE_ALARM_CREATE, alarm, now, observed)
    return alarm


def _change(
    tx: Tx,
    alarm: alarm_pb2.Alarm,
    signal: Signal,
    now: timestamp_pb2.Timestamp,
    observed: timestamp_pb2.Timestamp,
) -> alarm_pb2.Alarm:
    before = alarm.SerializeToString(deterministic=True)
    if signal.perceived_severity and signal.perceived_severity != Al.PERCEIVED_SEVERITY_CLEARED:
        alarm.perceived_severity = signal.perceived_severity  # type: ignore[assignment]
        alarm.service_affecting = signal.perceived_severity in _AFFECTING
    if signal.probable_cause:
        alarm.probable_cause = signal.probable_cause  # type: ignore[assignment]
    if signal.alarm_type:
        alarm.alarm_type = signal.alarm_type  # type: ignore[assignment]
    alarm.specific_problem = signal.specific_problem or alarm.specific_problem
    alarm.alarm_details = signal.details or alarm.alarm_details
    if alarm.SerializeToString(deterministic=True) != before:
        alarm.alarm_changed_time.CopyFrom(observed)
        tx.put_alarm(alarm)
        _emit(tx, Ev.EVENT_TYPE_ALARM_ATTRIBUTE_VALUE_CHANGE, alarm, now, observed)
    return alarm


def clear(
    tx: Tx,
    alarm: alarm_pb2.Alarm,
    now: timestamp_pb2.Timestamp,
    observed: timestamp_pb2.Timestamp,
    why: str = "",
) -> None:
    """Clear an active alarm and, first, every active child it is the root cause of."""
    for child in tx.child_alarms(alarm.buyer_id, alarm.id):
        if is_active(child):
            clear(tx, child, now, observed, f"its root cause {alarm.id} cleared")
    alarm.state = Al.ALARM_STATE_CLEARED
    alarm.perceived_severity = Al.PERCEIVED_SEVERITY_CLEARED
    alarm.alarm_cleared_time.CopyFrom(observed)
    alarm.alarm_changed_time.CopyFrom(observed)
    if why:
        alarm.alarm_details = f"{alarm.alarm_details} (cleared: {why})"
    tx.put_alarm(alarm)
    _emit(tx, Ev.EVENT_TYPE_ALARM_STATE_CHANGE, alarm, now, observed)


def _stale(alarm: alarm_pb2.Alarm, observed: timestamp_pb2.Timestamp) -> bool:
    last = max(_ns(alarm.alarm_changed_time), _ns(alarm.alarm_cleared_time), _ns(alarm.alarm_raised_time))
    return _ns(observed) <= last


def report(tx: Tx, signal: Signal, now: timestamp_pb2.Timestamp) -> alarm_pb2.Alarm | None:
    """Apply one alarm report; returns the alarm it raised or changed (None: nothing changed)."""
    _check(tx, signal)
    observed = signal.observed_time or now
    latest = tx.latest_alarm(signal.buyer_id, signal.external_id)
    if latest is not None and _stale(latest, observed):
        return None
    active = latest if latest is not None and is_active(latest) else None
    if signal.action == "cleared":
        if active is not None:
            clear(tx, active, now, observed)
        return None
    if active is not None:
        return _change(tx, active, signal, now, observed)
    if not signal.service_id:
        raise InvalidArgument(
            "no active alarm has that id: name the service it affects to raise it",
            [Violation("service_id", "required to raise an alarm", "missingProperty")],
        )
    return _new(tx, signal, now, observed)


def link_child(
    tx: Tx,
    root: alarm_pb2.Alarm,
    child_id: str,
    now: timestamp_pb2.Timestamp,
    observed: timestamp_pb2.Timestamp,
) -> None:
    """Record `child_id` among the root's correlated alarms (the root becomes a root cause)."""
    if any(ref.id == child_id for ref in root.correlated_alarm):
        return
    root.correlated_alarm.add(id=child_id)
    root.is_root_cause = True
    root.alarm_changed_time.CopyFrom(observed)
    tx.put_alarm(root)
    _emit(tx, Ev.EVENT_TYPE_ALARM_ATTRIBUTE_VALUE_CHANGE, root, now, observed)
