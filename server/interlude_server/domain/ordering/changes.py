"""The convenience RPCs as orders: UpdateService, SetAdministrativeState, CreateConnectivity.

Each builds an ordinary service order, which then goes through the same
validation (orders.prepare_order), policy check, state machine and audit trail.
"""

from __future__ import annotations

import re
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import Errors, InvalidArgument, NotFound, NotPermitted, Violation
from interlude_server.core.mef import upper_name
from interlude_server.domain import documents, jsonptr
from interlude_server.domain.ordering import gate
from interlude_server.domain.ordering.lookup import Lookup

Ord = ordering_pb2
ATTACHED_TO = gate.ATTACHED_TO
ENDPOINT_OF = gate.ENDPOINT_OF
# The id of a connectivity order's first item; its end point items refer to it.
_CONNECTIVITY_ITEM = "connectivity"
CONFIG_PREFIX = "service_configuration.attributes"
_TOP_LEVEL = ("description", "external_id", "state")
_DERIVED = (
    "operational_state",
    "availability_status",
    "operational_state_reason",
    "operational_state_time",
    "component",
)


def _modify_order(service: inventory_pb2.Service, external_id: str) -> ordering_pb2.ServiceOrder:
    item = ordering_pb2.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=service)
    return ordering_pb2.ServiceOrder(external_id=external_id, service_order_item=[item])


def _desired_copy(current: inventory_pb2.Service, etag: str) -> inventory_pb2.Service:
    """The modify item's service: the current one with the client's etag (if any) to check."""
    desired = inventory_pb2.Service()
    desired.CopyFrom(current)
    desired.etag = etag
    # What the network reports may change under the copy before the order is checked
    # (domain/network): the item leaves it out, the Partner derives it again.
    for derived in _DERIVED:
        desired.ClearField(derived)  # type: ignore[arg-type]
    return desired


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _attribute_keys(source: Any, segments: list[str]) -> list[str]:
    """The request document's own keys for a mask's attribute path.

    A FieldMask sent as proto3 JSON (grpcurl, other languages' JSON codecs) arrives with
    each camelCase segment turned into snake_case (`cirAmount` → `cir_amount`), so a
    segment that is not a key of the document matches the one key whose snake_case form
    it is; anything else is kept as given (and then reported as having no value).
    """
    keys: list[str] = []
    for segment in segments:
        if isinstance(source, dict) and segment not in source:
            matches = [k for k in source if _snake(k) == segment]
            segment = matches[0] if len(matches) == 1 else segment
        keys.append(segment)
        source = source.get(segment) if isinstance(source, dict) else None
    return keys


def mask_pointer(path: str, source: Any = None) -> str | None:
    """`service_configuration.attributes.a.b` → `/a/b` (keys as the request document spells
    them); None for other paths."""
    if path == CONFIG_PREFIX:
        return ""
    if path.startswith(CONFIG_PREFIX + "."):
        return jsonptr.join(_attribute_keys(source, path[len(CONFIG_PREFIX) + 1 :].split(".")))
    return None


def update_order(
    current: inventory_pb2.Service, req: ordering_pb2.UpdateServiceRequest
) -> ordering_pb2.ServiceOrder:
    """A one-item modify order applying the fields `req.update_mask` names."""
    paths = list(req.update_mask.paths)
    if not paths:
        raise InvalidArgument(
            "update_mask names no field",
            [Violation("update_mask", "name at least one field to change")],
            reason="INVALID_FIELD_MASK",
        )
    desired = _desired_copy(current, req.etag)
    config = documents.to_dict(current.service_configuration)
    source = documents.to_dict(req.service.service_configuration)
    bad: list[Violation] = []
    for path in paths:
        pointer = mask_pointer(path, source)
        if path in _TOP_LEVEL:
            setattr(desired, path, getattr(req.service, path))
        elif pointer == "":
            config = source
        elif pointer is not None:
            value = jsonptr.get(source, pointer, _ABSENT)
            if value is _ABSENT:
                bad.append(
                    Violation(f"service.{path}", "the mask names it but the request has no value for it")
                )
            else:
                jsonptr.put(config, pointer, value)
        else:
            bad.append(
                Violation(
                    "update_mask",
                    f"{path!r} cannot be changed; use {', '.join(_TOP_LEVEL)} or {CONFIG_PREFIX}.*",
                )
            )
    if bad:
        raise InvalidArgument("update_mask is not valid for this service", bad, reason="INVALID_FIELD_MASK")
    documents.set_attributes(desired.service_configuration, config)
    return _modify_order(desired, req.external_id)


def admin_state_order(
    current: inventory_pb2.Service, req: ordering_pb2.SetAdministrativeStateRequest
) -> ordering_pb2.ServiceOrder:
    """A one-item modify order setting `administrativeState.state` of the service or a component."""
    known = req.administrative_state in common_pb2.AdministrativeState.values()
    if not known or req.administrative_state == common_pb2.ADMINISTRATIVE_STATE_UNSPECIFIED:
        raise InvalidArgument(
            "administrative_state is required" if known else "administrative_state is not a known value",
            [Violation("administrative_state", "must be LOCKED or UNLOCKED")],
        )
    base = ""
    if req.component_id:
        component = next((c for c in current.component if c.id == req.component_id), None)
        if component is None:
            raise NotFound("ServiceComponent", f"{current.id}/{req.component_id}", "SERVICE_NOT_FOUND")
        base = component.configuration_path
    desired = _desired_copy(current, req.etag)
    config = documents.to_dict(current.service_configuration)
    state = upper_name(common_pb2.AdministrativeState, req.administrative_state)
    jsonptr.put(config, f"{base}/administrativeState", {"state": state})
    documents.set_attributes(desired.service_configuration, config)
    return _modify_order(desired, req.external_id)


async def connectivity_order(
    req: ordering_pb2.CreateConnectivityRequest, lookup: Lookup
) -> ordering_pb2.ServiceOrder:
    """An order adding a connectivity service and one end point per interface, if the arrangement permits."""
    type_urn = req.connectivity_configuration.type
    if not type_urn:
        raise InvalidArgument(
            "the connectivity @type is required",
            [Violation("connectivity_configuration.@type", "required", "missingProperty")],
        )
    rule = await _connectivity_rule(type_urn, lookup)
    await _check_end_points(req, rule, lookup)
    state = req.desired_state or common_pb2.SERVICE_STATE_ACTIVE
    connectivity = inventory_pb2.Service(
        state=state,
        external_id=req.external_id,
        description=req.description,
        service_configuration=req.connectivity_configuration,
    )
    items = [
        ordering_pb2.ServiceOrderItem(
            id=_CONNECTIVITY_ITEM, action=Ord.SERVICE_ACTION_ADD, service=connectivity
        )
    ]
    items += [
        _end_point_item(f"end-point-{index}", end_point, state, rule.end_point_type)
        for index, end_point in enumerate(req.end_points, start=1)
    ]
    return ordering_pb2.ServiceOrder(
        external_id=req.external_id,
        description=req.description,
        requested_completion_date=req.requested_completion_date,
        service_order_item=items,
    )


async def _connectivity_rule(type_urn: str, lookup: Lookup) -> catalog_pb2.ConnectivityRule:
    """The buyer's rule for creating connectivity of `type_urn`; NotPermitted if there is none."""
    rule = await lookup.connectivity_rule(type_urn)
    if rule is None:
        raise NotPermitted(
            f"your business arrangement does not allow creating {type_urn}",
            [gate.connectivity_refusal(type_urn)],
        )
    return rule


def _end_point_item(
    item_id: str,
    end_point: ordering_pb2.ConnectivityEndPoint,
    state: common_pb2.ServiceState.ValueType,
    default_type: str,
) -> ordering_pb2.ServiceOrderItem:
    """The item adding an end point attached to its interface, as an end point of the connectivity
    item (its configuration `@type` is the rule's end point type unless the request names one)."""
    config = common_pb2.ExtensionPayload()
    config.CopyFrom(end_point.end_point_configuration)
    config.type = config.type or default_type
    service = inventory_pb2.Service(
        state=state,
        service_configuration=config,
        service_relationship=[
            inventory_pb2.ServiceRelationship(
                relationship_type=ATTACHED_TO,
                service=common_pb2.ServiceRef(id=end_point.interface_service_id),
            )
        ],
    )
    link = ordering_pb2.ServiceOrderItemRelationship(
        relationship_type=ENDPOINT_OF,
        order_item=inventory_pb2.ServiceOrderItemRef(item_id=_CONNECTIVITY_ITEM),
    )
    # The sequencing written in the contract's terms (MEF: coordinatedAction): the end point is
    # added once its connectivity item has finished, and not at all if that item failed.
    after = ordering_pb2.ItemCoordinatedAction(
        item_id=_CONNECTIVITY_ITEM,
        coordination_dependency=Ord.COORDINATION_DEPENDENCY_FINISH_TO_START,
        coordinated_action_delay=common_pb2.MefDuration(amount=0, units=common_pb2.TIME_UNIT_SECONDS),
    )
    return ordering_pb2.ServiceOrderItem(
        id=item_id,
        action=Ord.SERVICE_ACTION_ADD,
        service=service,
        service_order_item_relationship=[link],
        coordinated_action=[after],
    )


async def _check_end_points(
    req: ordering_pb2.CreateConnectivityRequest, rule: catalog_pb2.ConnectivityRule, lookup: Lookup
) -> None:
    """The request's own shape: how many interfaces, each known, distinct and of a type the rule
    connects. Whether the arrangement allows each interface is the gate's (domain/ordering/gate.py)
    decision, the same for this RPC and for a plain order."""
    errors = Errors()
    count, low, high = len(req.end_points), max(rule.min_end_points, 2), rule.max_end_points
    if count < low or (high and count > high):
        errors.add("end_points", f"connect between {low} and {high or 'any number of'} interfaces")
    seen: set[str] = set()
    for index, end_point in enumerate(req.end_points):
        where = f"end_points[{index}].interface_service_id"
        iface = await lookup.service(end_point.interface_service_id)
        if iface is None:
            errors.add(
                where, f"no service {end_point.interface_service_id!r} in your inventory", "referenceNotFound"
            )
            continue
        if iface.id in seen:
            errors.add(where, "the same interface is named twice")
        seen.add(iface.id)
        if problem := gate.interface_problem(iface, rule):
            errors.add(where, problem)
    errors.raise_if_any("the connectivity request has invalid fields")


_ABSENT = object()
