"""What a completed order item does to the inventory: add, modify or retire a service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.mef import from_upper_name, upper_name
from interlude_server.domain import audit, documents, jsonptr, resources
from interlude_server.domain.audit import PARTNER
from interlude_server.domain.network import state as network_state
from interlude_server.domain.ordering import modify_fields
from interlude_server.domain.states import SERVICE
from interlude_server.store.interface.network import ObservedState
from interlude_server.store.interface.store import Tx

Ord = ordering_pb2
Ev = events_pb2
Com = common_pb2
# Fields outside the configuration a buyer's modify may change.
_BUYER_FIELDS = ("description", "external_id", "related_contact_information", "note")
# Their pointers in the service's MEF representation (Event.changed_fields).
_BUYER_POINTERS = dict(
    zip(_BUYER_FIELDS, ("/description", "/externalId", "/relatedContactInformation", "/note"), strict=True)
)
_CHANGED_LISTED = 20  # pointers an event and a tracking record name at most
_CONFIGURATION = "/serviceConfiguration"


def _derived_operational(state: int, admin: int) -> int:
    """The simulator's network: up when active and unlocked."""
    up = state == Com.SERVICE_STATE_ACTIVE and admin != Com.ADMINISTRATIVE_STATE_LOCKED
    return Com.OPERATIONAL_STATE_ENABLED if up else Com.OPERATIONAL_STATE_DISABLED


def _sync_states(service: inventory_pb2.Service, operational: int | None) -> None:
    """Make the hoisted and component states agree with the configuration document."""
    documents.set_attributes(service.service_configuration, _synced_config(service, operational))


def _synced_config(service: inventory_pb2.Service, operational: int | None) -> dict[str, Any]:
    """`_sync_states` but for storing the document: the hoisted and component states are set
    on `service`, and its configuration document with them is returned as a dict, which the
    caller stores into the service."""
    config = documents.to_dict(service.service_configuration)
    admin = from_upper_name(
        Com.AdministrativeState, str(jsonptr.get(config, "/administrativeState/state", ""))
    )
    admin = admin or Com.ADMINISTRATIVE_STATE_UNLOCKED
    oper = operational or _derived_operational(service.state, admin)
    service.administrative_state = admin  # type: ignore[assignment]
    service.operational_state = oper  # type: ignore[assignment]
    jsonptr.put(config, "/administrativeState", {"state": upper_name(Com.AdministrativeState, admin)})
    if "adminState" in config:  # MEF's files require this spelling too for OVCs, EVCs, end points
        jsonptr.put(config, "/adminState", {"state": upper_name(Com.AdministrativeState, admin)})
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
    return config


def apply_item(
    tx: Tx,
    order: ordering_pb2.ServiceOrder,
    item: ordering_pb2.ServiceOrderItem,
    now: timestamp_pb2.Timestamp,
    operational: int | None,
) -> None:
    """Apply a completed item to the inventory, with records and events."""
    effects = _ItemEffects(tx, order, item, now)
    if item.action == Ord.SERVICE_ACTION_ADD:
        effects.add(operational)
    elif item.action == Ord.SERVICE_ACTION_MODIFY:
        effects.modify(operational)
    elif item.action == Ord.SERVICE_ACTION_DELETE:
        effects.delete()


@dataclass(frozen=True)
class _ItemEffects:
    """One completed order item being applied to the inventory, in the transaction `tx`."""

    tx: Tx
    order: ordering_pb2.ServiceOrder
    item: ordering_pb2.ServiceOrderItem
    now: timestamp_pb2.Timestamp

    def _track(self, attribute: str, change: tuple[str, str], description: str, actor: str = PARTNER) -> None:
        """A tracking record of a change the item made to its service."""
        audit.track(self.tx, self.order, self.now, attribute, change, description, actor, self.item)

    def _stamp(self, service: inventory_pb2.Service, operational: int | None) -> dict[str, Any]:
        """What every change by an item sets: agreeing states, the item reference, the time;
        the service's configuration as a dict (one working document: converted once, stored
        into the service once, by `settle`)."""
        config = _synced_config(service, operational)
        if operational:  # the network reported the state with the item: its own report
            why = "reported by the network as the order item completed"
            self.tx.put_observed(service.buyer_id, service.id, "", ObservedState(operational, why, self.now))
        if network_state.settle(self.tx, service, config):  # the rules of domain/network/propagation
            service.operational_state_time.CopyFrom(self.now)
        ref = inventory_pb2.ServiceOrderItemRef(item_id=self.item.id, service_order_id=self.order.id)
        service.service_order_item.append(ref)
        service.update_time.CopyFrom(self.now)
        return config

    def add(self, operational: int | None) -> None:
        service = inventory_pb2.Service()
        service.CopyFrom(self.item.service)
        service.buyer_id = self.order.buyer_id
        # Only items that completed created a service: never relate to one that does not exist.
        by_item = {
            i.id: i.service.id
            for i in self.order.service_order_item
            if i.state == Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED
        }
        for rel in self.item.service_order_item_relationship:
            target = by_item.get(rel.order_item.item_id)
            if target and not rel.order_item.service_order_id:
                service.service_relationship.add(
                    relationship_type=rel.relationship_type, service={"id": target}
                )
        service.service_date.CopyFrom(self.now)
        if service.state == Com.SERVICE_STATE_ACTIVE:
            service.start_date.CopyFrom(self.now)
        service.etag = "1"
        self._stamp(service, operational)
        self.tx.put_service(service)
        self._track("state", ("", SERVICE.state_name(service.state)), "service created")
        audit.emit(self.tx, Ev.EVENT_TYPE_SERVICE_CREATE, service, self.now)
        self._propagate(service.id)

    def _propagate(self, service_id: str, also: tuple[str, ...] = ()) -> None:
        """Carry the service's state to the services that depend on it."""
        network_state.propagate(self.tx, self.order.buyer_id, [service_id], self.now, self.now, also)

    def modify(self, operational: int | None) -> None:
        current = self.tx.get_service(self.order.buyer_id, self.item.service.id)
        if current is None:  # retired by another order meanwhile: nothing to change
            return
        wanted = self.item.service
        updated = inventory_pb2.Service()
        updated.CopyFrom(current)
        updated.state = wanted.state or current.state
        updated.description = wanted.description
        updated.external_id = wanted.external_id
        updated.service_configuration.CopyFrom(wanted.service_configuration)
        modify_fields.merge_contacts_and_notes(updated, wanted)
        if updated.state == Com.SERVICE_STATE_ACTIVE and not updated.HasField("start_date"):
            updated.start_date.CopyFrom(self.now)
        if updated.state == Com.SERVICE_STATE_TERMINATED:
            updated.end_date.CopyFrom(self.now)
        config = self._stamp(updated, operational)
        updated.etag = resources.next_etag(current.etag)
        self.tx.put_service(updated)
        self._record_changes(current, updated, config)
        self._propagate(updated.id)

    def _record_changes(
        self, old: inventory_pb2.Service, new: inventory_pb2.Service, new_config: dict[str, Any]
    ) -> None:
        buyer = f"buyer:{self.order.buyer_id}"
        if old.state != new.state:
            states = SERVICE.state_name(old.state), SERVICE.state_name(new.state)
            self._track("state", states, "lifecycle", buyer)
            audit.emit(self.tx, Ev.EVENT_TYPE_SERVICE_STATE_CHANGE, new, self.now, state=states[1])
        elif old.operational_state != new.operational_state:  # e.g. locked: operationally down too
            oper = upper_name(Com.OperationalState, new.operational_state)
            why = f"operational state {oper}: {new.operational_state_reason}".removesuffix(": ")
            state = SERVICE.state_name(new.state)
            audit.emit(self.tx, Ev.EVENT_TYPE_SERVICE_STATE_CHANGE, new, self.now, state=state, reason=why)
        for attribute in ("administrative_state", "operational_state"):
            before, after = getattr(old, attribute), getattr(new, attribute)
            if before != after:
                enum = (
                    Com.AdministrativeState if attribute == "administrative_state" else Com.OperationalState
                )
                change = upper_name(enum, before), upper_name(enum, after)
                self._track(attribute, change, "service as a whole", buyer)
        old_config: dict[str, Any] = documents.to_dict(old.service_configuration)
        changed = jsonptr.changed_leaves(old_config, new_config)
        fields = [_BUYER_POINTERS[f] for f in _BUYER_FIELDS if getattr(old, f) != getattr(new, f)]
        if changed or fields:
            listed = ", ".join(changed[:_CHANGED_LISTED])
            self._track("serviceConfiguration", ("", listed), "changed attributes", buyer)
            pointers = sorted(fields + [_CONFIGURATION + p for p in changed])[:_CHANGED_LISTED]
            audit.emit(self.tx, Ev.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE, new, self.now, changed=pointers)

    def delete(self) -> None:
        current = self.tx.get_service(self.order.buyer_id, self.item.service.id)
        if current is None:
            return
        followers = tuple(network_state.dependents(self.tx, current))
        self.tx.delete_service(self.order.buyer_id, current.id)
        self._track("state", (SERVICE.state_name(current.state), ""), "service retired")
        audit.emit(self.tx, Ev.EVENT_TYPE_SERVICE_DELETE, current, self.now)
        network_state.propagate(self.tx, self.order.buyer_id, [], self.now, self.now, followers)
