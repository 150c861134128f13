"""Contract messages -> MEF JSON, spelled exactly as the Interlude APIs spell it.

Service: Mplify 135.1 (serviceInventory v2); ServiceOrder: Mplify 99.1
(serviceOrderingManagement v1). camelCase names, MEF enum spellings
(`inProgress`), RFC 3339 date-times, `href`s computed from the request's base
URL, extension points flattened (`@type`, `@schemaLocation` beside the
document's properties). Required properties are always present; optional
ones are left out when unset. Hand-written rather than generic, because this
runs on every REST response and must be cheap.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.mef import ProtoEnum, mef_name

INVENTORY_BASE = "/mefApi/interlude/serviceInventory/v2"
ORDERING_BASE = "/mefApi/interlude/serviceOrderingManagement/v1"
CATALOG_BASE = "/mefApi/interlude/serviceCatalog/v1"
SCHEMA_LOCATION_PREFIX = "serviceSchema/"  # of a schema document's location in the catalog

Json = dict[str, Any]


def spellings(enum: ProtoEnum, values: Any) -> dict[int, str]:
    """MEF spelling of every non-zero value of a generated enum."""
    return {int(v): mef_name(enum, int(v)) for v in values if v}


SERVICE_STATE = spellings(common_pb2.ServiceState, common_pb2.ServiceState.values())
ORDER_STATE = spellings(ordering_pb2.ServiceOrderState, ordering_pb2.ServiceOrderState.values())
ITEM_STATE = spellings(ordering_pb2.ServiceOrderItemState, ordering_pb2.ServiceOrderItemState.values())
ACTION = spellings(ordering_pb2.ServiceAction, ordering_pb2.ServiceAction.values())
DEPENDENCY = spellings(ordering_pb2.CoordinationDependency, ordering_pb2.CoordinationDependency.values())
TIME_UNIT = spellings(common_pb2.TimeUnit, common_pb2.TimeUnit.values())
NOTE_SOURCE = spellings(common_pb2.NoteSource, common_pb2.NoteSource.values())
VALIDATION_CODE = spellings(common_pb2.ValidationErrorCode, common_pb2.ValidationErrorCode.values())
EVENT_TYPE = {
    int(v): mef_name(events_pb2.EventType, int(v)) + "Event" for v in events_pb2.EventType.values() if v
}
# StartMode START_MODE_UNKNOWN (1) is MEF '0', ... START_MODE_ANY (6) is '5'.
AVAILABILITY = spellings(inventory_pb2.AvailabilityStatus, inventory_pb2.AvailabilityStatus.values())
START_MODE = {int(v): str(int(v) - 1) for v in inventory_pb2.StartMode.values() if v}


class Hrefs:
    """Absolute resource URLs under the base URL a request came in on."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._service = self.base + INVENTORY_BASE + "/service/"
        self._order = self.base + ORDERING_BASE + "/serviceOrder/"

    def service(self, service_id: str) -> str:
        return self._service + service_id

    def order(self, order_id: str) -> str:
        return self._order + order_id

    def catalog(self, location: str) -> str:
        """The URL of a catalog-relative location (a schema document's)."""
        return f"{self.base}{CATALOG_BASE}/{location}"


def time(ts: timestamp_pb2.Timestamp) -> str:
    """RFC 3339 in UTC (`2026-01-02T03:04:05.123Z`)."""
    return ts.ToJsonString()


def value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        n = v.number_value
        # JSON has one number type; integral values are written as integers (MEF `integer`).
        return int(n) if n.is_integer() and abs(n) < 2**63 else n
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        return document(v.struct_value)
    if kind == "list_value":
        return [value(x) for x in v.list_value.values]
    return None


def document(s: struct_pb2.Struct) -> Json:
    return {k: value(v) for k, v in s.fields.items()}


def extension(payload: common_pb2.ExtensionPayload) -> Json:
    """A MEF extension point: `@type` (required), `@schemaLocation`, then the document."""
    out: Json = {"@type": payload.type}
    if payload.schema_location:
        out["@schemaLocation"] = payload.schema_location
    out.update(document(payload.attributes))
    return out


def _optional(out: Json, **values: str) -> None:
    for key, v in values.items():
        if v:
            out[key] = v


def contact(c: common_pb2.RelatedContactInformation) -> Json:
    out: Json = {"name": c.name, "emailAddress": c.email_address, "number": c.number, "role": c.role}
    _optional(out, numberExtension=c.number_extension, organization=c.organization)
    if c.HasField("postal_address"):
        out["postalAddress"] = document(c.postal_address)
    return out


def note(n: common_pb2.Note) -> Json:
    return {
        "id": n.id,
        "author": n.author,
        "date": time(n.date),
        "source": NOTE_SOURCE.get(n.source, ""),
        "text": n.text,
    }


def place(p: common_pb2.RelatedPlace) -> Json:
    inner: Json = {"@type": p.type}
    _optional(inner, id=p.id, href=p.href)
    inner.update(document(p.value))
    return {"role": p.role, "place": inner}


def service(s: inventory_pb2.Service, hrefs: Hrefs, *, as_value: bool = False) -> Json:
    """A MEF `Service` (inventory), or with `as_value` a `ServiceValue` (order item)."""
    out: Json = {}
    if s.id:
        out["id"] = s.id
        out["href"] = hrefs.service(s.id)
    if s.state or not as_value:
        out["state"] = SERVICE_STATE.get(s.state, "")
    _optional(out, serviceType=s.service_type, description=s.description, externalId=s.external_id)
    if not as_value and s.HasField("service_date"):
        out["serviceDate"] = time(s.service_date)
    if s.HasField("start_date"):
        out["startDate"] = time(s.start_date)
    if s.HasField("end_date"):
        out["endDate"] = time(s.end_date)
    if not as_value and s.start_mode:
        out["startMode"] = START_MODE[s.start_mode]
    if s.HasField("service_configuration"):
        out["serviceConfiguration"] = extension(s.service_configuration)
    if s.service_relationship:
        out["serviceRelationship"] = [
            {
                "relationshipType": r.relationship_type,
                "service": {"id": r.service.id, "href": hrefs.service(r.service.id)},
            }
            for r in s.service_relationship
        ]
    if s.service_order_item:
        out["serviceOrderItem"] = [item_ref(r, hrefs) for r in s.service_order_item]
    if s.place:
        out["place"] = [place(p) for p in s.place]
    if s.availability_status and not as_value:  # our extension: X.731 availability (degraded, ...)
        out["availabilityStatus"] = [AVAILABILITY[a] for a in s.availability_status if a]
    return _contacts_and_notes(out, s)


def _contacts_and_notes(out: Json, resource: inventory_pb2.Service | ordering_pb2.ServiceOrder) -> Json:
    """The contacts and notes a service and an order both end with (each only when there are any)."""
    if resource.related_contact_information:
        out["relatedContactInformation"] = [contact(c) for c in resource.related_contact_information]
    if resource.note:
        out["note"] = [note(n) for n in resource.note]
    return out


def item_ref(r: inventory_pb2.ServiceOrderItemRef, hrefs: Hrefs) -> Json:
    out: Json = {"itemId": r.item_id}
    if r.service_order_id:
        out["serviceOrderId"] = r.service_order_id
        out["serviceOrderHref"] = hrefs.order(r.service_order_id)
    return out


def _item(i: ordering_pb2.ServiceOrderItem, hrefs: Hrefs) -> Json:
    out: Json = {
        "id": i.id,
        "action": ACTION.get(i.action, ""),
        "state": ITEM_STATE.get(i.state, ""),
        "service": service(i.service, hrefs, as_value=True),
    }
    if i.service_order_item_relationship:
        out["serviceOrderItemRelationship"] = [
            {"relationshipType": r.relationship_type, "orderItem": item_ref(r.order_item, hrefs)}
            for r in i.service_order_item_relationship
        ]
    if i.coordinated_action:
        out["coordinatedAction"] = [
            {
                "itemId": a.item_id,
                "coordinationDependency": DEPENDENCY.get(a.coordination_dependency, ""),
                "coordinatedActionDelay": {
                    "amount": a.coordinated_action_delay.amount,
                    "units": TIME_UNIT.get(a.coordinated_action_delay.units, ""),
                },
            }
            for a in i.coordinated_action
        ]
    if i.related_contact_information:
        out["relatedContactInformation"] = [contact(c) for c in i.related_contact_information]
    if i.termination_error:
        out["terminationError"] = [termination_error(e) for e in i.termination_error]
    if i.note:
        out["note"] = [note(n) for n in i.note]
    if i.wait:  # extension: why the item waits (or waited), what it asks, until when
        out["wait"] = [_wait(w) for w in i.wait]
    return out


def _wait(w: ordering_pb2.ServiceOrderItemWait) -> Json:
    out: Json = {"state": ITEM_STATE.get(w.state, ""), "reason": w.reason}
    if w.information_required:
        out["informationRequired"] = list(w.information_required)
    times = {"startTime": w.start_time, "resumeTime": w.resume_time, "expiryTime": w.expiry_time}
    times["endTime"] = w.end_time
    out.update({key: time(ts) for key, ts in times.items() if ts.ByteSize()})
    _optional(out, resolution=w.resolution)
    return out


def termination_error(e: common_pb2.TerminationError) -> Json:
    out: Json = {"code": VALIDATION_CODE.get(e.code, "otherIssue")}
    _optional(out, propertyPath=e.property_path, value=e.value)
    return out


_ORDER_TIMES: tuple[tuple[Any, str], ...] = (
    ("order_date", "orderDate"),
    ("requested_start_date", "requestedStartDate"),
    ("requested_completion_date", "requestedCompletionDate"),
    ("start_date", "startDate"),
    ("expected_completion_date", "expectedCompletionDate"),
    ("completion_date", "completionDate"),
    # TMF641 cancellation extension (MEF has no order cancellation).
    ("cancellation_date", "cancellationDate"),
)


def order(o: ordering_pb2.ServiceOrder, hrefs: Hrefs) -> Json:
    """A MEF `ServiceOrder`."""
    out: Json = {"id": o.id, "href": hrefs.order(o.id), "state": ORDER_STATE.get(o.state, "")}
    for field, name in _ORDER_TIMES:
        if o.HasField(field):
            out[name] = time(getattr(o, field))
    _optional(
        out, externalId=o.external_id, description=o.description, cancellationReason=o.cancellation_reason
    )
    out["serviceOrderItem"] = [_item(i, hrefs) for i in o.service_order_item]
    if o.order_relationship:
        out["orderRelationship"] = [
            {
                "relationshipType": r.relationship_type,
                "serviceOrder": {"id": r.service_order_id, "href": hrefs.order(r.service_order_id)},
            }
            for r in o.order_relationship
        ]
    return _contacts_and_notes(out, o)
