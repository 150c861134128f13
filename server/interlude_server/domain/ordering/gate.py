"""The policy gate: every change passes here, whatever its entry.

CreateServiceOrder (add, modify, delete), UpdateService, SetAdministrativeState and
CreateConnectivity all become one service order (their REST forms call the same RPCs), and
`orders.prepare_order` passes each of its items through this gate. What it applies:

- **The business arrangement** (catalog ConnectivityRule). An `add` may create a connectivity
  service of a type the buyer has a rule for, or an end point of one, attached to an interface
  of a type the rule connects and, when the rule lists interfaces, to one of them, within the
  rule's maximum number of end points. Service interfaces (UNI, ENNI) are provisioned and
  retired by the Partner. Refusals are CONNECTIVITY_NOT_PERMITTED naming each rule.
- **The administrative and lifecycle policy.** Changing the administrative state, the
  lifecycle state (INACTIVE, TERMINATED, ...) or retiring a service needs what
  SetAdministrativeState needs: the policy's `administrative_state_changeable`. Refusals are
  POLICY_VIOLATION naming `policy:<specification>:/administrativeState/state`.
- **Value policy**: each changed characteristic's changeability, range and allowed values
  (domain/policy.py), POLICY_VIOLATION naming `policy:<specification>:<pointer>`.

Bad input (unknown references, malformed items) is INVALID_REQUEST and is reported first, then
the arrangement, then policy; `validate_only` passes the same gate as the real call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import Errors, NotPermitted, PolicyRule, PolicyViolation
from interlude_server.domain import jsonptr, policy, subjects
from interlude_server.domain.ordering.lookup import Lookup

Ord = ordering_pb2
ATTACHED_TO = "ATTACHED_TO"
ENDPOINT_OF = "ENDPOINT_OF"


@dataclass
class OrderCheck:
    """Everything found while checking one order, reported at once by `raise_if_any`."""

    lookup: Lookup
    order: ordering_pb2.ServiceOrder = field(default_factory=ordering_pb2.ServiceOrder)
    errors: Errors = field(default_factory=Errors)
    refused: list[PolicyRule] = field(default_factory=list)
    findings: policy.Findings = field(default_factory=policy.Findings)
    base_etags: dict[str, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)  # the rules applied, for a validate_only answer

    def passed(self, rule: str) -> None:
        """Record that `rule` was checked (once), e.g. `connectivity:<type>: ...`."""
        if rule not in self.checked:
            self.checked.append(rule)

    def refuse(self, subject: str, description: str) -> None:
        if all(r.subject != subject for r in self.refused):
            self.refused.append(PolicyRule(subject, description))

    def raise_if_any(self) -> None:
        """Bad input first (INVALID_REQUEST), then the arrangement, then policy."""
        self.errors.raise_if_any()
        if self.refused:
            raise NotPermitted("your business arrangement does not allow this change", self.refused)
        if self.findings:
            raise PolicyViolation(
                "the order changes what your service policy does not allow",
                self.findings.rules,
                self.findings.violations,
            )


def connectivity_refusal(type_urn: str) -> PolicyRule:
    """The rule named when the buyer has no connectivity rule for `type_urn`."""
    return PolicyRule(f"connectivity:{type_urn}", "no connectivity rule for this type in your policy")


def interface_refusal(rule: catalog_pb2.ConnectivityRule, interface_id: str) -> PolicyRule:
    """The rule named when an interface is outside the buyer's arrangement for a connectivity."""
    return PolicyRule(
        f"connectivity:{rule.connectivity_type}:interface:{interface_id}",
        f"interface {interface_id!r} is not part of your business arrangement for this connectivity",
    )


def interface_problem(iface: inventory_pb2.Service, rule: catalog_pb2.ConnectivityRule) -> str:
    """Why `iface` cannot carry an end point of `rule`'s connectivity ('' if it can, as far as
    its type and state go; the arrangement's interface list is checked apart)."""
    if iface.service_configuration.type not in rule.interface_types:
        return f"a {iface.service_configuration.type} cannot be connected by {rule.connectivity_type}"
    if iface.state == common_pb2.SERVICE_STATE_TERMINATED:
        return "the interface is terminated"
    return ""


async def check_add(
    check: OrderCheck, item: ordering_pb2.ServiceOrderItem, spec: catalog_pb2.ServiceSpecification, svc: str
) -> None:
    """The business arrangement for an item adding a service of `spec`."""
    type_urn = item.service.service_configuration.type
    if spec.is_service_interface:
        check.refuse(
            f"arrangement:interface:{type_urn}",
            "service interfaces are provisioned by the Partner; they cannot be added by order",
        )
    elif await check.lookup.connectivity_rule(type_urn) is None:
        await _check_end_point(check, item, svc, type_urn)
    else:
        check.passed(f"connectivity:{type_urn}: your arrangement has a rule for this type")


async def _connectivity_of(
    check: OrderCheck, item: ordering_pb2.ServiceOrderItem, svc: str
) -> tuple[str, str] | None:
    """The connectivity an end point item belongs to: ('item', id) of an add item of this order,
    or ('service', id) of an existing service; its type is found too. None if it names none."""
    by_id = {i.id: i for i in check.order.service_order_item}
    for rel in item.service_order_item_relationship:
        target = by_id.get(rel.order_item.item_id)
        if rel.relationship_type != ENDPOINT_OF or rel.order_item.service_order_id:
            continue
        if target and target.action == Ord.SERVICE_ACTION_ADD:
            return f"item:{target.id}", target.service.service_configuration.type
    if any(r.order_item.service_order_id for r in item.service_order_item_relationship):
        return None  # relating to another order's item is refused as a dependency (plan.check)
    for link in item.service.service_relationship:
        if link.relationship_type == ENDPOINT_OF:
            found = await check.lookup.service(link.service.id)
            return (f"service:{found.id}", found.service_configuration.type) if found else None
    check.errors.add(
        f"{svc}.service_relationship",
        "a new end point must be ENDPOINT_OF a connectivity service (of this order or existing)",
        "missingProperty",
    )
    return None


async def _check_end_point(
    check: OrderCheck, item: ordering_pb2.ServiceOrderItem, svc: str, type_urn: str
) -> None:
    connectivity = await _connectivity_of(check, item, svc)
    if connectivity is None:
        return
    target, connectivity_type = connectivity
    rule = await check.lookup.connectivity_rule(connectivity_type)
    if rule is None or rule.end_point_type != type_urn:
        check.refuse(
            f"arrangement:add:{type_urn}",
            f"your business arrangement has no rule adding a {type_urn} to a {connectivity_type}",
        )
        return
    attached = [
        (r, rel.service.id)
        for r, rel in enumerate(item.service.service_relationship)
        if rel.relationship_type == ATTACHED_TO
    ]
    if len(attached) != 1:
        check.errors.add(
            f"{svc}.service_relationship", "a new end point is ATTACHED_TO exactly one interface"
        )
    for r, interface_id in attached[:1]:
        iface = await check.lookup.service(interface_id)
        if iface is None:  # reported as an unknown reference already
            continue
        problem = interface_problem(iface, rule)
        siblings = [o for o in check.order.service_order_item if target in _targets(o)]
        if not problem and sum(iface.id in _attached(o) for o in siblings) > 1:
            problem = "the same interface is named twice"
        if not problem and iface.id in await _attached_already(check, target):
            problem = f"the interface already has an end point of {target.split(':', 1)[1]!r}"
        if problem:
            check.errors.add(f"{svc}.service_relationship[{r}].service.id", problem)
        elif rule.allowed_interface_ids and iface.id not in rule.allowed_interface_ids:
            refusal = interface_refusal(rule, iface.id)
            check.refuse(refusal.subject, refusal.description)
        else:
            listed = "in your arrangement" if rule.allowed_interface_ids else "no interface list"
            check.passed(f"{iface.id}: {iface.service_configuration.type} may be connected; {listed}")
    await _check_count(check, target, rule, svc)


async def _attached_already(check: OrderCheck, target: str) -> set[str]:
    """The interfaces the live end points of an existing connectivity (`service:<id>`) are
    attached to; none for a connectivity this order adds."""
    kind, ident = target.split(":", 1)
    if kind != "service":
        return set()
    related = await subjects.related(check.lookup.store, check.lookup.buyer_id, ident)
    return {
        iface
        for other in related
        if other.state != common_pb2.SERVICE_STATE_TERMINATED
        and ident in subjects.targets(other, ENDPOINT_OF)
        for iface in subjects.targets(other, ATTACHED_TO)
    }


def _attached(item: ordering_pb2.ServiceOrderItem) -> set[str]:
    return {r.service.id for r in item.service.service_relationship if r.relationship_type == ATTACHED_TO}


def _targets(item: ordering_pb2.ServiceOrderItem) -> set[str]:
    """The connectivity services an add item is an end point of, as `_connectivity_of` names them."""
    if item.action != Ord.SERVICE_ACTION_ADD:
        return set()
    of_items = {
        f"item:{rel.order_item.item_id}"
        for rel in item.service_order_item_relationship
        if rel.relationship_type == ENDPOINT_OF and not rel.order_item.service_order_id
    }
    return of_items | {
        f"service:{rel.service.id}"
        for rel in item.service.service_relationship
        if rel.relationship_type == ENDPOINT_OF
    }


async def _check_count(check: OrderCheck, target: str, rule: catalog_pb2.ConnectivityRule, svc: str) -> None:
    """A connectivity never has more end points than its rule allows (existing ones count)."""
    kind, ident = target.split(":", 1)
    count = await check.lookup.end_point_count(ident) if kind == "service" else 0
    count += sum(target in _targets(other) for other in check.order.service_order_item)
    high = rule.max_end_points or "any"
    check.passed(
        f"connectivity:{rule.connectivity_type}: end points {count} within {rule.min_end_points}..{high}"
    )
    if rule.max_end_points and count > rule.max_end_points:
        check.errors.add(
            f"{svc}.service_relationship",
            f"a {rule.connectivity_type} has at most {rule.max_end_points} end points; "
            f"this order would give it {count}",
        )


async def lifecycle_allowed(check: OrderCheck, current: inventory_pb2.Service, where: str, what: str) -> bool:
    """The lifecycle policy: a lifecycle change (`what`) needs the permission SetAdministrativeState
    needs for the service as a whole. False (with the policy finding) if the policy refuses it."""
    rules = await check.lookup.policy_for_type(current.service_configuration.type)
    spec = rules.service_specification_id if rules else "none"
    check.passed(f"policy:{spec}:{policy.ADMIN_STATE}/state")
    if rules is not None and rules.administrative_state_changeable:
        return True
    why = (
        f"{what} is not allowed: the administrative state of this service is not changeable by the buyer"
        if rules
        else "no policy allows you to change services of this kind"
    )
    check.findings.refuse(where, f"policy:{spec}:{policy.ADMIN_STATE}/state", why)
    return False


async def retire_allowed(check: OrderCheck, current: inventory_pb2.Service, svc: str) -> bool:
    """Retiring (delete) needs the lifecycle permission, and interfaces are the Partner's to retire."""
    if not await lifecycle_allowed(check, current, f"{svc}.id", "retiring it"):
        return False
    spec = await check.lookup.spec_for_type(current.service_configuration.type)
    if spec is not None and spec.is_service_interface:
        check.refuse(
            f"arrangement:interface:{current.service_configuration.type}",
            "service interfaces are provisioned and retired by the Partner; they cannot be deleted by order",
        )
        return False
    return True


def values_checked(
    check: OrderCheck, rules: catalog_pb2.ServicePolicy | None, config: dict[str, Any]
) -> None:
    """Record the value rules of `rules` that bound a characteristic `config` has."""
    if rules is None:
        return
    for rule in rules.characteristic_policy:
        if jsonptr.get(config, rule.path, _ABSENT) is not _ABSENT:
            check.passed(f"policy:{rules.service_specification_id}:{rule.path}")


_ABSENT = object()
