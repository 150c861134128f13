"""Service policy: which characteristics a buyer may change, and to what.

A policy (catalog ServicePolicy) lists rules by JSON Pointer into the service
configuration. Anything no rule covers is FIXED. Administrative state is
governed by the policy's and components' `administrative_state_changeable`
flags; operational state is reported by the Partner and never set by a buyer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, inventory_pb2
from interlude_server.core.errors import PolicyRule, Violation
from interlude_server.core.text import is_decimal
from interlude_server.domain import documents, jsonptr

ADMIN_STATE = "/administrativeState"
OPER_STATE = "/operationalState"
_Changeability = catalog_pb2.Changeability


@dataclass
class Findings:
    """Field violations and the policy rules behind them, gathered across a request."""

    violations: list[Violation] = field(default_factory=list)
    rules: list[PolicyRule] = field(default_factory=list)

    def refuse(self, field_path: str, subject: str, description: str) -> None:
        if any(v.field == field_path for v in self.violations):
            return
        self.violations.append(Violation(field_path, description))
        self.rules.append(PolicyRule(subject, description))

    def __bool__(self) -> bool:
        return bool(self.violations)


def field_path(prefix: str, pointer: str) -> str:
    """A request field path for a pointer inside a configuration, e.g. `x.attributes.cir.irValue`."""
    parts = [f"[{t}]" if is_decimal(t) else f".{t}" for t in jsonptr.split(pointer)]
    return prefix + "".join(parts)


def _subject(policy: catalog_pb2.ServicePolicy | None, pointer: str) -> str:
    spec = policy.service_specification_id if policy else "none"
    return f"policy:{spec}:{pointer or '/'}"


def _rule_for(policy: catalog_pb2.ServicePolicy, pointer: str) -> catalog_pb2.CharacteristicPolicy | None:
    covering = [r for r in policy.characteristic_policy if jsonptr.covers(r.path, pointer)]
    return max(covering, key=lambda r: len(r.path), default=None)


def _value(v: Any) -> Any:
    return documents.value_to_python(v) if isinstance(v, struct_pb2.Value) else v


def check_value(
    rule: catalog_pb2.CharacteristicPolicy, value: Any, where: str, subject: str, findings: Findings
) -> None:
    """Check a value against a rule's range and allowed values."""
    allowed = [_value(v) for v in rule.allowed_values]
    if allowed and value not in allowed:
        findings.refuse(where, subject, f"{value!r} is not allowed; allowed values: {allowed}")
        return
    if not rule.HasField("range"):
        return
    low, high, step = rule.range.min, rule.range.max, rule.range.step
    unit = f" {rule.unit_of_measure}" if rule.unit_of_measure else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        # The schema of the type decides what the value must be; a range can only bound a
        # number, so a value it cannot compare is refused rather than let through unchecked.
        findings.refuse(where, subject, f"{value!r} is not a number in [{low:g}, {high:g}]{unit}")
    elif not low <= value <= high:
        findings.refuse(
            where, subject, f"{value:g}{unit} is outside the allowed range [{low:g}, {high:g}]{unit}"
        )
    elif step and not math.isclose((value - low) / step, round((value - low) / step)):
        findings.refuse(where, subject, f"{value:g}{unit} is not {low:g} plus a multiple of {step:g}")


def check_values(
    policy: catalog_pb2.ServicePolicy | None, config: dict[str, Any], prefix: str, findings: Findings
) -> None:
    """Check every value the policy bounds (new services must respect ranges too)."""
    for rule in policy.characteristic_policy if policy else ():
        value = jsonptr.get(config, rule.path, _ABSENT)
        if value is not _ABSENT:
            check_value(rule, value, field_path(prefix, rule.path), _subject(policy, rule.path), findings)


def apply_defaults(policy: catalog_pb2.ServicePolicy | None, config: dict[str, Any]) -> None:
    """Fill in the default of every rule whose characteristic the buyer left out."""
    for rule in policy.characteristic_policy if policy else ():
        if rule.HasField("default_value") and jsonptr.get(config, rule.path, _ABSENT) is _ABSENT:
            jsonptr.put(config, rule.path, _value(rule.default_value))


def _component_at(
    components: Iterable[inventory_pb2.ServiceComponent], pointer: str
) -> inventory_pb2.ServiceComponent | None:
    return next(
        (c for c in components if c.configuration_path and jsonptr.covers(c.configuration_path, pointer)),
        None,
    )


def _admin_changeable(
    policy: catalog_pb2.ServicePolicy, component: inventory_pb2.ServiceComponent | None
) -> bool:
    if component is None:
        return policy.administrative_state_changeable
    rules = [r for r in policy.component_policy if r.component_type in (component.component_type, "*")]
    return any(r.administrative_state_changeable for r in rules)


def check_change(
    policy: catalog_pb2.ServicePolicy | None,
    service: inventory_pb2.Service,
    old: dict[str, Any],
    new: dict[str, Any],
    prefix: str,
    findings: Findings,
) -> None:
    """Check every changed leaf of a service configuration against the buyer's policy."""
    for pointer in jsonptr.changed_leaves(old, new):
        where = field_path(prefix, pointer)
        subject = _subject(policy, pointer)
        component = _component_at(service.component, pointer)
        local = pointer[len(component.configuration_path) :] if component else pointer
        if policy is None:
            findings.refuse(where, subject, "no policy allows you to change services of this kind")
        elif jsonptr.covers(OPER_STATE, local):
            findings.refuse(where, subject, "operational state is reported by the Partner and cannot be set")
        elif jsonptr.covers(ADMIN_STATE, local):
            if not _admin_changeable(policy, component):
                what = f"component {component.id!r}" if component else "this service"
                findings.refuse(
                    where, subject, f"the administrative state of {what} is not changeable by the buyer"
                )
        else:
            rule = _rule_for(policy, pointer)
            if rule is None or rule.changeability in (
                _Changeability.CHANGEABILITY_FIXED,
                _Changeability.CHANGEABILITY_UNSPECIFIED,
            ):
                findings.refuse(where, subject, "is fixed by the Partner and cannot be changed")
            else:
                value = jsonptr.get(new, rule.path, _ABSENT)
                if value is not _ABSENT:
                    check_value(
                        rule, value, field_path(prefix, rule.path), _subject(policy, rule.path), findings
                    )


_ABSENT = object()
