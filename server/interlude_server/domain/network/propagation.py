"""How operational state propagates along service relationships: the rules as data, and the
pure evaluation of one service's state from its own report and its inputs.

A service's operational state is derived, never stored as reported:

- its own part: DISABLED if it is not active (lifecycle), administratively LOCKED, or the
  network reported it down (availability FAILED); else up;
- then each rule of RULES whose *dependent* side it is: its inputs are the services on the
  other side of relationships of that type. It is DISABLED (availability DEPENDENCY) when
  fewer than `min_up` of its inputs are up (`min_up` None: all of them must be up; never
  more than it has), and, for a rule with `degrade`, it stays ENABLED but DEGRADED when
  some but not all are up;
- a service with components is judged on them by COMPONENT_RULE the same way.

MEF's OperationalState has only ENABLED and DISABLED: "degraded" is carried as the X.731
availability status (inventory.proto AvailabilityStatus). Recovery reverses everything:
the state is recomputed from the same inputs, so nothing has to be remembered but the
network's own reports (store.sql.network.schema).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2

Com = common_pb2
Inv = inventory_pb2
ENABLED, DISABLED = Com.OPERATIONAL_STATE_ENABLED, Com.OPERATIONAL_STATE_DISABLED
FAILED = Inv.AVAILABILITY_STATUS_FAILED
DEPENDENCY = Inv.AVAILABILITY_STATUS_DEPENDENCY
DEGRADED = Inv.AVAILABILITY_STATUS_DEGRADED


@dataclass(frozen=True)
class Rule:
    """Services related by `relationship_type` pass their state to the `dependent` side:
    "source" is the service that holds the relationship (an end point ATTACHED_TO a UNI),
    "target" the service it names (the EVC an end point is ENDPOINT_OF)."""

    relationship_type: str
    dependent: Literal["source", "target"]
    min_up: int | None  # None: every input must be up
    degrade: bool  # some but not all inputs up: ENABLED + DEGRADED
    what: str  # how the inputs are named in a reason, e.g. "interface"


# The rules, as data (README "Observed operational state"). Order matters only for reasons.
RULES: tuple[Rule, ...] = (
    # A UNI or ENNI (interface) down takes down the end points attached to it.
    Rule("ATTACHED_TO", dependent="source", min_up=None, degrade=False, what="interface"),
    # An EVC/OVC/IPVC needs two end points up; fewer up than all of them: degraded.
    Rule("ENDPOINT_OF", dependent="target", min_up=2, degrade=True, what="end point"),
)
# A service with components (e.g. a UNI's access links) is down when none is up, degraded
# when some are down.
COMPONENT_RULE = Rule("component", dependent="source", min_up=1, degrade=True, what="component")


@dataclass(frozen=True)
class Own:
    """The service's (or component's) own part of its state."""

    active: bool  # lifecycle ACTIVE (a component: its service's)
    locked: bool  # administrative state LOCKED
    reported_down: bool  # the network's last report was DISABLED
    reason: str = ""  # the network's reason, if it reported one


@dataclass(frozen=True)
class Inputs:
    """The inputs of one rule: (id, up) of each service on the other side."""

    rule: Rule
    states: Sequence[tuple[str, bool]]


@dataclass(frozen=True)
class Verdict:
    """A derived state: operational state, X.731 availability status, and why."""

    operational_state: int
    availability: tuple[int, ...] = ()
    reason: str = ""
    causes: tuple[str, ...] = field(default=(), compare=False)  # ids of the inputs that are down

    @property
    def up(self) -> bool:
        return self.operational_state == ENABLED


def own_verdict(own: Own) -> Verdict:
    """The state from the service's own part alone."""
    if not own.active:
        return Verdict(DISABLED, (), "not active")
    if own.reported_down:
        return Verdict(DISABLED, (FAILED,), own.reason or "reported down by the network")
    if own.locked:
        return Verdict(DISABLED, (), "administratively locked")
    return Verdict(ENABLED, (), own.reason)


def _names(rule: Rule, ids: Sequence[str]) -> str:
    plural = "s" if len(ids) > 1 else ""
    return f"{rule.what}{plural} {', '.join(ids)}"


def evaluate(own: Own, groups: Sequence[Inputs]) -> Verdict:
    """The derived state of a service: its own part, then each rule's inputs (module docstring)."""
    verdict = own_verdict(own)
    if not verdict.up:
        return verdict
    degraded: list[str] = []
    for group in groups:
        if not group.states:
            continue
        down = [i for i, up in group.states if not up]
        total = len(group.states)
        needed = total if group.rule.min_up is None else min(group.rule.min_up, total)
        if total - len(down) < needed:
            verb = "is" if len(down) == 1 else "are"
            why = f"{_names(group.rule, down)} {verb} down"
            return Verdict(DISABLED, (DEPENDENCY,), why, tuple(down))
        if down and group.rule.degrade:
            degraded.append(f"{_names(group.rule, down)} down")
    if degraded:
        return Verdict(ENABLED, (DEGRADED,), "degraded: " + "; ".join(degraded))
    return Verdict(ENABLED, (), own.reason if not own.reported_down else "")
