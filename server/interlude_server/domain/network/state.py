"""Observed operational state, in the Partner's transactions: record a network report, derive
each service's state by the rules of `propagation`, and carry a change to every service that
depends on it, each changed service with its own event in the same transaction.

`settle` derives one service's state in memory (the order fulfilment calls it on the
service an item changes); `propagate` walks the dependents of changed services until
nothing changes any more (each service is settled at most MAX_VISITS times, so a cycle
of relationships cannot loop); `observe` is a network report: stored, then propagated.
A report observed no later than the last one recorded for the same object is stale and
changes nothing, so a repeated or out-of-order report is harmless.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, inventory_pb2
from interlude_server.core.errors import InvalidArgument, NotFound, Violation
from interlude_server.core.mef import upper_name
from interlude_server.domain import audit, documents, jsonptr
from interlude_server.domain.network.propagation import (
    COMPONENT_RULE,
    DISABLED,
    ENABLED,
    RULES,
    Inputs,
    Own,
    Rule,
    Verdict,
    evaluate,
    own_verdict,
)
from interlude_server.domain.states import SERVICE
from interlude_server.store.interface.network import ObservedState
from interlude_server.store.interface.store import Tx

Com = common_pb2
Ev = events_pb2
MAX_VISITS = 4


@dataclass(frozen=True)
class Observation:
    """A network report: the service (or one component of it) is ENABLED or DISABLED."""

    buyer_id: str
    service_id: str
    component_id: str
    operational_state: int
    reason: str
    observed_time: timestamp_pb2.Timestamp


def _reported_down(tx: Tx, buyer_id: str, service_id: str, component_id: str) -> tuple[bool, str]:
    seen = tx.get_observed(buyer_id, service_id, component_id)
    if seen is None:
        return False, ""
    return seen.operational_state == DISABLED, seen.reason


def _up(service: inventory_pb2.Service | None) -> bool:
    return service is not None and service.operational_state == ENABLED


def _holds(service: inventory_pb2.Service, rule: Rule, target_id: str) -> bool:
    return any(
        r.relationship_type == rule.relationship_type and r.service.id == target_id
        for r in service.service_relationship
    )


def _inputs(tx: Tx, service: inventory_pb2.Service, rule: Rule) -> Inputs:
    """(id, up) of the services on the other side of the rule's relationships."""
    buyer = service.buyer_id
    if rule.dependent == "source":
        ids = [
            r.service.id
            for r in service.service_relationship
            if r.relationship_type == rule.relationship_type
        ]
        found = [(i, tx.get_service(buyer, i)) for i in ids]
    else:
        related = [(i, tx.get_service(buyer, i)) for i in tx.related_to(buyer, service.id)]
        found = [(i, s) for i, s in related if s is not None and _holds(s, rule, service.id)]
    return Inputs(rule, [(i, _up(s)) for i, s in found if s is not None])


def dependents(tx: Tx, service: inventory_pb2.Service) -> list[str]:
    """Ids of the services whose state follows this one's by some rule."""
    out: list[str] = []
    for rule in RULES:
        if rule.dependent == "target":
            out += [
                r.service.id
                for r in service.service_relationship
                if r.relationship_type == rule.relationship_type
            ]
        else:
            for other_id in tx.related_to(service.buyer_id, service.id):
                other = tx.get_service(service.buyer_id, other_id)
                if other is not None and _holds(other, rule, service.id):
                    out.append(other_id)
    return list(dict.fromkeys(out))


def _component_verdicts(tx: Tx, service: inventory_pb2.Service, parent: Verdict) -> list[Verdict]:
    active = service.state == Com.SERVICE_STATE_ACTIVE
    verdicts = []
    for c in service.component:
        down, why = _reported_down(tx, service.buyer_id, service.id, c.id)
        own = own_verdict(Own(active, c.administrative_state == Com.ADMINISTRATIVE_STATE_LOCKED, down, why))
        verdicts.append(own if parent.up else Verdict(DISABLED, own.availability, parent.reason))
    return verdicts


def _write_states(
    service: inventory_pb2.Service, verdict: Verdict, parts: list[Verdict], config: dict[str, Any] | None
) -> None:
    """Set the hoisted states and the configuration document's `operationalState`s (in
    `config`, the configuration as a dict, when the caller has it)."""
    service.operational_state = verdict.operational_state  # type: ignore[assignment]
    del service.availability_status[:]
    service.availability_status.extend(verdict.availability)  # type: ignore[arg-type]
    service.operational_state_reason = verdict.reason
    if config is None:
        config = documents.to_dict(service.service_configuration)
    if config:
        jsonptr.put(
            config,
            "/operationalState",
            {"state": upper_name(Com.OperationalState, verdict.operational_state)},
        )
    for component, part in zip(service.component, parts, strict=True):
        component.operational_state = part.operational_state  # type: ignore[assignment]
        del component.availability_status[:]
        component.availability_status.extend(part.availability)  # type: ignore[arg-type]
        if isinstance(jsonptr.get(config, component.configuration_path), dict):
            state = {"state": upper_name(Com.OperationalState, part.operational_state)}
            jsonptr.put(config, f"{component.configuration_path}/operationalState", state)
    if config:
        documents.set_attributes(service.service_configuration, config)


def _snapshot(service: inventory_pb2.Service) -> tuple[object, ...]:
    parts = tuple((c.operational_state, tuple(c.availability_status)) for c in service.component)
    return (
        service.operational_state,
        tuple(service.availability_status),
        service.operational_state_reason,
        parts,
    )


def settle(tx: Tx, service: inventory_pb2.Service, config: dict[str, Any] | None = None) -> bool:
    """Derive the service's state (and its components') in place; True if it changed.
    `config`: the service's configuration as a dict, if the caller works on one that the
    service does not hold yet; it is changed in place and stored into the service."""
    before = _snapshot(service)
    down, why = _reported_down(tx, service.buyer_id, service.id, "")
    locked = service.administrative_state == Com.ADMINISTRATIVE_STATE_LOCKED
    own = Own(service.state == Com.SERVICE_STATE_ACTIVE, locked, down, why)
    parent = own_verdict(own)
    parts = _component_verdicts(tx, service, parent)
    groups = [_inputs(tx, service, rule) for rule in RULES]
    if service.component:
        groups.append(
            Inputs(COMPONENT_RULE, [(c.id, p.up) for c, p in zip(service.component, parts, strict=True)])
        )
    _write_states(service, evaluate(own, groups), parts, config)
    return _snapshot(service) != before


def _record(
    tx: Tx, service: inventory_pb2.Service, now: timestamp_pb2.Timestamp, observed: timestamp_pb2.Timestamp
) -> None:
    """Store a service whose derived state changed, with its state-change event."""
    service.operational_state_time.CopyFrom(observed)
    service.update_time.CopyFrom(now)
    # The etag versions what a buyer may change: a state the network reports does not move it,
    # so an order based on the service is not refused because the network spoke meanwhile.
    tx.put_service(service)
    state = upper_name(Com.OperationalState, service.operational_state)
    reason = f"operational state {state}" + (
        f": {service.operational_state_reason}" if service.operational_state_reason else ""
    )
    audit.emit(
        tx,
        Ev.EVENT_TYPE_SERVICE_STATE_CHANGE,
        service,
        now,
        state=SERVICE.state_name(service.state),
        reason=reason,
        observed=observed,
    )


def propagate(
    tx: Tx,
    buyer_id: str,
    changed: Iterable[str],
    now: timestamp_pb2.Timestamp,
    observed: timestamp_pb2.Timestamp,
    also: Iterable[str] = (),
) -> list[str]:
    """Settle the dependents of the `changed` services (and the services `also`), and theirs,
    until nothing changes; returns the ids of the services it changed, in that order."""
    queue: deque[str] = deque(also)
    visits: dict[str, int] = {}
    out: list[str] = []

    def follow(service_id: str) -> None:
        service = tx.get_service(buyer_id, service_id)
        if service is not None:
            queue.extend(dependents(tx, service))

    for service_id in changed:
        follow(service_id)
    while queue:
        service_id = queue.popleft()
        service = tx.get_service(buyer_id, service_id)
        if service is None or visits.get(service_id, 0) >= MAX_VISITS:
            continue
        visits[service_id] = visits.get(service_id, 0) + 1
        if settle(tx, service):
            _record(tx, service, now, observed)
            out.append(service_id)
            follow(service_id)
    return out


def observe(tx: Tx, report: Observation, now: timestamp_pb2.Timestamp) -> list[str]:
    """Record a network report and carry it through the inventory; returns the ids of the
    services whose state changed (the reported one first, if it changed)."""
    if report.operational_state not in (ENABLED, DISABLED):
        raise InvalidArgument(
            "the operational state must be ENABLED or DISABLED",
            [Violation("operational_state", "must be ENABLED or DISABLED", "invalidValue")],
        )
    service = tx.get_service(report.buyer_id, report.service_id)
    if service is None:
        raise NotFound("Service", report.service_id, "SERVICE_NOT_FOUND")
    if report.component_id and all(c.id != report.component_id for c in service.component):
        raise NotFound("ServiceComponent", f"{report.service_id}/{report.component_id}", "SERVICE_NOT_FOUND")
    seen = tx.get_observed(report.buyer_id, report.service_id, report.component_id)
    if seen is not None and seen.observed_time.ToNanoseconds() >= report.observed_time.ToNanoseconds():
        return []  # stale: a later report is already recorded
    state = ObservedState(report.operational_state, report.reason, report.observed_time)
    tx.put_observed(report.buyer_id, report.service_id, report.component_id, state)
    if not settle(tx, service):
        return []
    _record(tx, service, now, report.observed_time)
    return [service.id, *propagate(tx, report.buyer_id, [service.id], now, report.observed_time)]
