"""Service order validation: every change is an order, checked whole before it is acknowledged.

`prepare_order` finds every problem of an order at once: malformed items
(InvalidArgument with all violations), stale etags (EtagMismatch) and policy
refusals (PolicyViolation naming each rule). A valid order comes back
normalized: ids assigned, states ACKNOWLEDGED, defaults applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2
from interlude_server.core.errors import EtagMismatch
from interlude_server.core.ids import new_id
from interlude_server.core.mef import mef_name
from interlude_server.domain import documents, policy, resources, states
from interlude_server.domain.ordering import gate, modify_fields, plan
from interlude_server.domain.ordering.lookup import Lookup
from interlude_server.domain.schemas import validation

Ord = ordering_pb2
ACKNOWLEDGED = Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED


def item_service_field(index: int) -> str:
    """Request path of an item's service in CreateServiceOrder."""
    return f"service_order.service_order_item[{index}].service"


@dataclass(frozen=True)
class FieldNames:
    """How the request a convenience RPC sent names an item's service and its configuration,
    so violations point at the client's own fields."""

    service: Callable[[int], str] = item_service_field
    configuration: Callable[[int], str] | None = None

    def config(self, index: int) -> str:
        if self.configuration is not None:
            return self.configuration(index)
        return f"{self.service(index)}.service_configuration"


@dataclass
class PreparedOrder:
    """A validated order and the service versions its modify items were checked against."""

    order: ordering_pb2.ServiceOrder
    base_etags: dict[str, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)  # the rules the gate applied


_Check = gate.OrderCheck


async def prepare_order(
    order: ordering_pb2.ServiceOrder,
    lookup: Lookup,
    now: timestamp_pb2.Timestamp,
    names: FieldNames | None = None,
) -> PreparedOrder:
    """Validate `order` for the lookup's buyer; return it normalized or raise a domain error."""
    names = names or FieldNames()
    out = ordering_pb2.ServiceOrder()
    out.CopyFrom(order)
    check = _Check(lookup, out)
    items = out.service_order_item
    if not items:
        check.errors.add(
            "service_order.service_order_item", "an order needs at least one item", "missingProperty"
        )
    item_ids = [item.id for item in items]
    targets: set[str] = set()
    for index, item in enumerate(items):
        where = f"service_order.service_order_item[{index}]"
        if not item.id:
            check.errors.add(
                f"{where}.id", "every item needs an id unique within the order", "missingProperty"
            )
        elif item_ids.count(item.id) > 1:
            check.errors.add(f"{where}.id", f"item id {item.id!r} is used more than once")
        for r, rel in enumerate(item.service_order_item_relationship):
            if not rel.order_item.service_order_id and rel.order_item.item_id not in item_ids:
                check.errors.add(
                    f"{where}.service_order_item_relationship[{r}].order_item.item_id",
                    f"no item {rel.order_item.item_id!r} in this order",
                    "referenceNotFound",
                )
        if item.service.id and item.action != Ord.SERVICE_ACTION_ADD:
            if item.service.id in targets:
                check.errors.add(
                    f"{names.service(index)}.id", "another item of this order acts on this service"
                )
            targets.add(item.service.id)
        await _check_item(check, item, where, names.service(index), names.config(index))
    for violation in plan.check(out):  # item dependencies this Partner cannot keep
        check.errors.add(violation.field, violation.description, violation.code)
    check.raise_if_any()
    _normalize(out, lookup.buyer_id, now)
    return PreparedOrder(out, check.base_etags, check.checked)


async def _check_item(
    check: _Check, item: ordering_pb2.ServiceOrderItem, where: str, svc: str, cfg: str
) -> None:
    # The item's configuration as a dict: one working document from the schema check through
    # policy to the stored order (written back into the item only when a check changes it).
    config = documents.to_dict(item.service.service_configuration)
    validation.check_item(item, cfg, check.errors, config)  # the @type's JSON Schema, before policy ranges
    if item.action == Ord.SERVICE_ACTION_ADD:
        await _check_add(check, item, svc, cfg, config)
    elif item.action == Ord.SERVICE_ACTION_MODIFY:
        await _check_modify(check, item, svc, cfg, config)
    elif item.action == Ord.SERVICE_ACTION_DELETE:
        await _check_delete(check, item, svc)
    else:
        check.errors.add(f"{where}.action", "must be add, modify or delete", "missingProperty")


async def _check_relationships(check: _Check, item: ordering_pb2.ServiceOrderItem, svc: str) -> None:
    for r, rel in enumerate(item.service.service_relationship):
        if await check.lookup.service(rel.service.id) is None:
            check.errors.add(
                f"{svc}.service_relationship[{r}].service.id",
                f"no service {rel.service.id!r} in your inventory",
                "referenceNotFound",
            )


async def _check_add(
    check: _Check, item: ordering_pb2.ServiceOrderItem, svc: str, cfg: str, config: dict[str, Any]
) -> None:
    service = item.service
    if service.id:
        check.errors.add(f"{svc}.id", "the Partner assigns the id of a new service", "unexpectedProperty")
    if service.state == common_pb2.SERVICE_STATE_UNSPECIFIED:
        check.errors.add(
            f"{svc}.state", "the state the new service should reach is required", "missingProperty"
        )
    elif service.state not in states.ADD_TARGETS:
        check.errors.add(f"{svc}.state", "a new service cannot start terminated")
    await _check_relationships(check, item, svc)
    type_urn = service.service_configuration.type
    if not type_urn:
        check.errors.add(f"{cfg}.@type", "the configuration's @type is required", "missingProperty")
        return
    spec = await check.lookup.spec_for_type(type_urn)
    if spec is None:
        check.errors.add(f"{cfg}.@type", f"no service specification has type {type_urn!r}")
        return
    await gate.check_add(check, item, spec, svc)
    rules = await check.lookup.policy_for_type(type_urn)
    policy.apply_defaults(rules, config)
    policy.check_values(rules, config, f"{cfg}.attributes", check.findings)
    gate.values_checked(check, rules, config)
    documents.set_attributes(service.service_configuration, config)


async def _check_modify(
    check: _Check, item: ordering_pb2.ServiceOrderItem, svc: str, cfg: str, config: dict[str, Any]
) -> None:
    service = item.service
    current = await check.lookup.service(service.id)
    if current is None:
        what = (
            f"no service {service.id!r} in your inventory"
            if service.id
            else "the id of the service is required"
        )
        check.errors.add(f"{svc}.id", what, "referenceNotFound" if service.id else "missingProperty")
        return
    if service.etag and service.etag != current.etag:
        raise EtagMismatch("Service", current.id, current.etag)
    check.base_etags[current.id] = current.etag
    if not service.HasField("service_configuration"):
        check.errors.add(
            cfg,
            "modify replaces the whole configuration: send it",
            "missingProperty",
        )
        return
    if service.service_configuration.type != current.service_configuration.type:
        check.errors.add(f"{cfg}.@type", "the @type of a service cannot change")
        return
    current_config = documents.to_dict(current.service_configuration)
    carried = modify_fields.carry_operational_state(config, current_config, current)
    modify_fields.check_partner_owned(service, current, svc, check.errors)
    hoisted = modify_fields.apply_hoisted_admin(service, current, config, current_config, svc, check.errors)
    if carried or hoisted:
        documents.set_attributes(service.service_configuration, config)
    requested = service.state or current.state
    target = mef_name(common_pb2.ServiceState, requested)
    if requested != current.state and not states.service_modify_allowed(current.state, requested):
        check.errors.add(
            f"{svc}.state",
            f"a service that is {mef_name(common_pb2.ServiceState, current.state)} "
            f"cannot be moved to {target}",
        )
    elif requested != current.state:
        await gate.lifecycle_allowed(check, current, f"{svc}.state", f"moving it to {target}")
    service.state = requested
    rules = await check.lookup.policy_for_type(current.service_configuration.type)
    gate.values_checked(check, rules, config)
    policy.check_change(rules, current, current_config, config, f"{cfg}.attributes", check.findings)


async def _check_delete(check: _Check, item: ordering_pb2.ServiceOrderItem, svc: str) -> None:
    current = await check.lookup.service(item.service.id)
    if current is None:
        check.errors.add(
            f"{svc}.id", f"no service {item.service.id!r} in your inventory", "referenceNotFound"
        )
    elif not await gate.retire_allowed(check, current, svc):
        return
    elif current.state != common_pb2.SERVICE_STATE_TERMINATED:
        state = mef_name(common_pb2.ServiceState, current.state)
        check.errors.add(f"{svc}.id", f"only a terminated service can be retired; this one is {state}")


def _normalize(order: ordering_pb2.ServiceOrder, buyer_id: str, now: timestamp_pb2.Timestamp) -> None:
    """Assign what the server owns: ids, states, dates, buyer and version."""
    for server_field in ("state", "order_date", "start_date", "completion_date", "cancellation_date"):
        order.ClearField(server_field)
    resources.stamp_new(order, buyer_id)
    order.state = ACKNOWLEDGED
    order.order_date.CopyFrom(now)
    order.cancellation_reason = ""
    for item in order.service_order_item:
        item.state = Ord.SERVICE_ORDER_ITEM_STATE_ACKNOWLEDGED
        del item.termination_error[:]
        del item.wait[:]
        item.service.buyer_id = buyer_id
        if item.action == Ord.SERVICE_ACTION_ADD:
            item.service.id = new_id()
