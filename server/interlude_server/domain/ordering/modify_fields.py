"""What a `modify` item does with each field of its service: applied, or refused, never ignored.

A modify item carries the whole service as the buyer wants it (MEF ServiceValue). A field left
out (empty) means "unchanged". Of the fields a buyer may send:

- `state`, `description`, `external_id` and `service_configuration` are applied (policy-checked);
- `administrative_state` (the hoisted copy) is applied as the configuration's
  `administrativeState`, so it passes the same policy as SetAdministrativeState;
- `related_contact_information` replaces the service's contacts; `note` adds the notes the
  service does not have yet (notes are a log: they are never removed);
- what the Partner engineers or reports (relationships, places, components, operational state,
  dates, service type, start mode) may be sent back unchanged, and is refused when it differs:
  a modify cannot move an end point to another interface or relocate a service.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from interlude_server.core.errors import Errors
from interlude_server.core.mef import upper_name
from interlude_server.domain import jsonptr

_ADMIN = "/administrativeState/state"
_UNCHANGED = "a modify cannot change it (send it unchanged or leave it out)"
_PARTNER_OWNED = {
    "service_relationship": "relationships are set when a service is created",
    "place": "the places of a service are engineered by the Partner",
    "component": "components are engineered by the Partner (lock one with SetAdministrativeState)",
    "operational_state": "operational state is reported by the Partner and cannot be set",
    "availability_status": "availability status is derived by the Partner and cannot be set",
    "operational_state_reason": "the operational state's reason is reported by the Partner",
    "operational_state_time": "the operational state's time is reported by the Partner",
    "service_type": "the service type is set by the Partner",
    "start_mode": "the start mode is set by the Partner",
    "service_date": "the service date is set by the Partner",
    "start_date": "the start date is set by the Partner when the service becomes active",
    "end_date": "the end date is set by the Partner when the service is terminated",
}


def _same(sent: Any, current: Any) -> bool:
    """Equal, ignoring the order of repeated messages."""
    if isinstance(sent, Message | str | int | float):
        return bool(sent == current)
    key = lambda m: m.SerializeToString(deterministic=True) if isinstance(m, Message) else repr(m)  # noqa: E731
    return sorted(map(key, sent)) == sorted(map(key, current))


def check_partner_owned(
    wanted: inventory_pb2.Service, current: inventory_pb2.Service, svc: str, errors: Errors
) -> None:
    """Refuse a change to a field the Partner owns (sending it back unchanged is fine)."""
    for descriptor, value in wanted.ListFields():
        why = _PARTNER_OWNED.get(descriptor.name)
        if why and not _same(value, getattr(current, descriptor.name)):
            errors.add(
                f"{svc}.{descriptor.name}",
                f"{why}; a modify cannot change it (send it unchanged or leave it out)",
            )


def apply_hoisted_admin(
    wanted: inventory_pb2.Service,
    current: inventory_pb2.Service,
    config: dict[str, Any],
    current_config: dict[str, Any],
    svc: str,
    errors: Errors,
) -> bool:
    """A changed `administrative_state` becomes the configuration's administrative state (so the
    policy checks it); refused when the configuration asks for another one. `config` is the
    wanted configuration as a dict (changed in place), `current_config` the current one's;
    True if `config` changed (the caller stores it back into `wanted`)."""
    if not wanted.administrative_state or wanted.administrative_state == current.administrative_state:
        return False
    if wanted.administrative_state not in common_pb2.AdministrativeState.values():
        errors.add(f"{svc}.administrative_state", "must be LOCKED or UNLOCKED")
        return False
    asked = upper_name(common_pb2.AdministrativeState, wanted.administrative_state)
    in_config = jsonptr.get(config, _ADMIN, None)
    was = jsonptr.get(current_config, _ADMIN, None)
    if in_config not in (None, was, asked):
        errors.add(
            f"{svc}.administrative_state",
            f"says {asked} but service_configuration.administrativeState says {in_config}",
        )
        return False
    jsonptr.put(config, "/administrativeState", {"state": asked})
    return True


def merge_contacts_and_notes(updated: inventory_pb2.Service, wanted: inventory_pb2.Service) -> None:
    """Apply a modify's contacts (replacing) and notes (adding the new ones)."""
    if wanted.related_contact_information:
        del updated.related_contact_information[:]
        updated.related_contact_information.extend(wanted.related_contact_information)
    for note in wanted.note:
        if note not in updated.note:
            updated.note.append(note)


_OPER = "/operationalState"
_NONE = object()


def carry_operational_state(
    config: dict[str, Any], current_config: dict[str, Any], current: inventory_pb2.Service
) -> bool:
    """Give the modify's configuration (`config`, changed in place) the current
    `operationalState`s (of the service and its components, from `current_config`): the network
    changes them at any time (domain/network), so a configuration read a moment ago may hold
    another one; they are the Partner's, derived again when the item completes, never the
    buyer's to set. True if `config` changed (the caller stores it back)."""
    places = [_OPER, *(c.configuration_path + _OPER for c in current.component if c.configuration_path)]
    carried = False
    for pointer in places:
        value = jsonptr.get(current_config, pointer, None)
        parent = jsonptr.get(config, pointer[: pointer.rfind("/")], None)
        if value is not None and isinstance(parent, dict) and jsonptr.get(config, pointer, _NONE) != value:
            jsonptr.put(config, pointer, value)
            carried = True
    return carried
