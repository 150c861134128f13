"""Root cause and correlation: the services an alarm's condition took down get alarms of
their own, children of it.

When a network alarm is active on a service and services that depend on it (by the rules
of `propagation`) are DISABLED because of it (availability DEPENDENCY), each of them gets
a communicationsAlarm (probable cause underlyingResourceUnavailable) whose `parentAlarm`
is the network alarm; the network alarm becomes a root cause (`isRootCause`) listing them
in `correlatedAlarm`. A child clears when its service is up again, and with its root.
"""

from __future__ import annotations

from collections import deque

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.domain.alarms import lifecycle
from interlude_server.domain.network.propagation import DEPENDENCY, DISABLED
from interlude_server.domain.network.state import dependents
from interlude_server.store.interface.store import Tx

Al = alarm_pb2


def down_dependents(tx: Tx, buyer_id: str, origins: list[str]) -> dict[str, str]:
    """{service id: its reason} of the services down because of `origins`, nearest first."""
    found: dict[str, str] = {}
    queue = deque(origins)
    while queue:
        service = tx.get_service(buyer_id, queue.popleft())
        if service is None:
            continue
        for other_id in dependents(tx, service):
            other = tx.get_service(buyer_id, other_id)
            if other_id in found or other_id in origins or other is None:
                continue
            if other.operational_state == DISABLED and DEPENDENCY in other.availability_status:
                found[other_id] = other.operational_state_reason
                queue.append(other_id)
    return found


def correlate(
    tx: Tx, root: alarm_pb2.Alarm, now: timestamp_pb2.Timestamp, observed: timestamp_pb2.Timestamp
) -> None:
    """Make the root's children match the services its condition holds down now."""
    if not lifecycle.is_active(root) or root.parent_alarm.id:
        return
    buyer = root.buyer_id
    down = down_dependents(tx, buyer, [s.id for s in root.affected_service])
    children = {
        c.affected_service[0].id: c
        for c in tx.child_alarms(buyer, root.id)
        if lifecycle.is_active(c) and c.affected_service
    }
    for service_id, reason in down.items():
        if service_id in children:
            continue
        signal = lifecycle.Signal(
            buyer_id=buyer,
            external_id=f"{root.id}/{service_id}",
            action="raised",
            alarm_type=Al.ALARM_TYPE_COMMUNICATIONS_ALARM,
            perceived_severity=Al.PERCEIVED_SEVERITY_MAJOR,
            probable_cause=Al.PROBABLE_CAUSE_UNDERLYING_RESOURCE_UNAVAILABLE,
            specific_problem=f"service down: {reason}",
            service_id=service_id,
            details=f"{service_id} is down because of alarm {root.id} ({root.specific_problem})",
            observed_time=observed,
            parent_id=root.id,
            source=lifecycle.REPORTING_SYSTEM,
        )
        child = lifecycle.report(tx, signal, now)
        if child is not None:
            lifecycle.link_child(tx, root, child.id, now, observed)
    for service_id, child in children.items():
        if service_id not in down:
            lifecycle.clear(tx, child, now, observed, f"{service_id} is up again")


def correlate_on(
    tx: Tx, buyer_id: str, service_id: str, now: timestamp_pb2.Timestamp, observed: timestamp_pb2.Timestamp
) -> None:
    """Correlate every active root-candidate alarm on the service (its state just changed)."""
    for alarm in tx.active_alarms_on(buyer_id, service_id):
        correlate(tx, alarm, now, observed)
