"""What a completed order item does to the inventory: add, modify or retire a service."""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.mef import from_upper_name, mef_name, upper_name
from interlude_server.domain import audit, documents, jsonptr
from interlude_server.store.interface.store import Tx

Ord = ordering_pb2
Ev = events_pb2
Com = common_pb2
PARTNER = "partner"


def _derived_operational(state: int, admin: int) -> int:
    """The simulator's network: up when active and unlocked."""
    up = state == Com.SERVICE_STATE_ACTIVE and admin != Com.ADMINISTRATIVE_STATE_LOCKED
    return Com.OPERATIONAL_STATE_ENABLED if up else Com.OPERATIONAL_STATE_DISABLED


def _sync_states(service: inventory_pb2.Service, operational: int | None) -> None:
    """Make the hoisted and component states agree with the configuration document."""
    config = documents.to_dict(service.service_configuration)
    admin = from_upper_name(
        Com.AdministrativeState, str(jsonptr.get(config, "/administrativeState/state", ""))
    )
    admin = admin or Com.ADMINISTRATIVE_STATE_UNLOCKED
    oper = operational or _derived_operational(service.state, admin)
    service.administrative_state = admin  # type: ignore[assignment]
    service.operational_state = oper  # type: ignore[assignment]
    jsonptr.put(config, "/administrativeState", {"state": upper_name(Com.AdministrativeState, admin)})
    jsonptr.put(config, "/operationalState", {"state": upper_name(Com.OperationalState, oper)})
    for component in service.component:
        base = component.configuration_path
        c_admin = (
            from_upper_name(
                Com.AdministrativeState, str(jsonptr.get(config, f"{base}/administrativeState/state", ""))
            )
            or component.administrative_state
            or Com.ADMINISTRATIVE_STATE_UNLOCKED
        )
        c_oper = (
            _derived_operational(service.state, c_admin) if oper == Com.OPERATIONAL_STATE_ENABLED else oper
        )
        component.administrative_state = c_admin  # type: ignore[assignment]
        component.operational_state = c_oper  # type: ignore[assignment]
        if isinstance(jsonptr.get(config, base), dict):
            jsonptr.put(
                config, f"{base}/administrativeState", {"state": upper_name(Com.AdministrativeState, c_admin)}
            )
            jsonptr.put(
                config, f"{base}/operationalState", {"state": upper_name(Com.OperationalState, c_oper)}
            )
    documents.set_attributes(service.service_configuration, config)


def _item_ref(
    order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
) -> inventory_pb2.ServiceOrderItemRef:
    return inventory_pb2.ServiceOrderItemRef(item_id=item.id, service_order_id=order.id)


def _track_item(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
    service_id: str,
    attribute: str,
    change: tuple[str, str],
    description: str,
    actor: str = PARTNER,
) -> None:
    """A tracking record of a service change made by an order item."""
    audit.track(
        tx,
        order.buyer_id,
        now,
        service_id=service_id,
        order_id=order.id,
        item_id=item.id,
        attribute=attribute,
        old=change[0],
        new=change[1],
        description=description,
        actor=actor,
    )


def apply_item(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
    operational: int | None,
) -> None:
    """Apply a completed item to the inventory, with records and events."""
    if item.action == Ord.SERVICE_ACTION_ADD:
        _add(tx, order, item, now, operational)
    elif item.action == Ord.SERVICE_ACTION_MODIFY:
        _modify(tx, order, item, now, operational)
    elif item.action == Ord.SERVICE_ACTION_DELETE:
        _delete(tx, order, item, now)


def _add(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
    operational: int | None,
) -> None:
    service = inventory_pb2.Service()
    service.CopyFrom(item.service)
    service.buyer_id = order.buyer_id
    by_item = {i.id: i.service.id for i in order.service_order_item}
    for rel in item.service_order_item_relationship:
        target = by_item.get(rel.order_item.item_id)
        if target and not rel.order_item.service_order_id:
            service.service_relationship.add(relationship_type=rel.relationship_type, service={"id": target})
    service.service_order_item.append(_item_ref(order, item))
    service.service_date.CopyFrom(now)
    if service.state == Com.SERVICE_STATE_ACTIVE:
        service.start_date.CopyFrom(now)
    service.update_time.CopyFrom(now)
    service.etag = "1"
    _sync_states(service, operational)
    tx.put_service(service)
    created = ("", mef_name(Com.ServiceState, service.state))
    _track_item(tx, order, item, now, service.id, "state", created, "service created")
    audit.service_event(tx, Ev.EVENT_TYPE_SERVICE_CREATE, service, now)


def _modify(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
    operational: int | None,
) -> None:
    current = tx.get_service(order.buyer_id, item.service.id)
    if current is None:  # retired by another order meanwhile: nothing to change
        return
    updated = inventory_pb2.Service()
    updated.CopyFrom(current)
    updated.state = item.service.state or current.state
    updated.description = item.service.description
    updated.external_id = item.service.external_id
    updated.service_configuration.CopyFrom(item.service.service_configuration)
    if updated.state == Com.SERVICE_STATE_ACTIVE and not updated.HasField("start_date"):
        updated.start_date.CopyFrom(now)
    if updated.state == Com.SERVICE_STATE_TERMINATED:
        updated.end_date.CopyFrom(now)
    _sync_states(updated, operational)
    updated.service_order_item.append(_item_ref(order, item))
    updated.update_time.CopyFrom(now)
    updated.etag = str(int(current.etag or "0") + 1)
    tx.put_service(updated)
    _record_changes(tx, order, item, current, updated, now)


def _record_changes(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    old: inventory_pb2.Service,
    new: inventory_pb2.Service,
    now: timestamp_pb2.Timestamp,
) -> None:
    def track(attribute: str, before: str, after: str, description: str) -> None:
        buyer = f"buyer:{order.buyer_id}"
        _track_item(tx, order, item, now, new.id, attribute, (before, after), description, buyer)

    old_config: dict[str, Any] = documents.to_dict(old.service_configuration)
    new_config: dict[str, Any] = documents.to_dict(new.service_configuration)
    if old.state != new.state:
        track(
            "state", mef_name(Com.ServiceState, old.state), mef_name(Com.ServiceState, new.state), "lifecycle"
        )
        audit.service_event(
            tx, Ev.EVENT_TYPE_SERVICE_STATE_CHANGE, new, now, mef_name(Com.ServiceState, new.state)
        )
    for attribute in ("administrative_state", "operational_state"):
        before, after = getattr(old, attribute), getattr(new, attribute)
        if before != after:
            enum = Com.AdministrativeState if attribute == "administrative_state" else Com.OperationalState
            track(attribute, upper_name(enum, before), upper_name(enum, after), "service as a whole")
    changed = jsonptr.changed_leaves(old_config, new_config)
    if changed or old.description != new.description or old.external_id != new.external_id:
        track("serviceConfiguration", "", ", ".join(changed[:20]), "changed attributes")
        audit.service_event(tx, Ev.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE, new, now)


def _delete(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
) -> None:
    current = tx.get_service(order.buyer_id, item.service.id)
    if current is None:
        return
    tx.delete_service(order.buyer_id, current.id)
    retired = (mef_name(Com.ServiceState, current.state), "")
    _track_item(tx, order, item, now, current.id, "state", retired, "service retired")
    audit.service_event(tx, Ev.EVENT_TYPE_SERVICE_DELETE, current, now)
