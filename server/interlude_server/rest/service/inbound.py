"""MEF JSON -> contract messages: the body of `POST /serviceOrder` (`ServiceOrder_Create`).

Every problem is collected with a JSON Pointer into the body and reported at
once (422, one entry per problem), like the gRPC field violations. Properties
MEF defines but this Partner cannot keep (e.g. order-level `coordinatedAction`)
are refused rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.rest import mapping as m

Json = dict[str, Any]


def _reverse(table: dict[int, str]) -> dict[str, int]:
    return {name: number for number, name in table.items()}


_SERVICE_STATE = _reverse(m.SERVICE_STATE)
_ACTION = _reverse(m.ACTION)
_DEPENDENCY = _reverse(m.DEPENDENCY)
_TIME_UNIT = _reverse(m.TIME_UNIT)
_NOTE_SOURCE = _reverse(m.NOTE_SOURCE)

_ORDER_KEYS = {
    "description",
    "externalId",
    "note",
    "orderRelationship",
    "relatedContactInformation",
    "requestedCompletionDate",
    "requestedStartDate",
    "serviceOrderItem",
}
_ITEM_KEYS = {
    "id",
    "action",
    "service",
    "serviceOrderItemRelationship",
    "coordinatedAction",
    "relatedContactInformation",
}
_SERVICE_KEYS = {
    "href",
    "id",
    "description",
    "externalId",
    "startDate",
    "endDate",
    "state",
    "note",
    "serviceType",
    "serviceRelationship",
    "relatedContactInformation",
    "place",
    "serviceConfiguration",
}
_CONTACT_KEYS = {"name", "emailAddress", "number", "role", "numberExtension", "organization", "postalAddress"}
_NOT_KEPT = "this Partner does not keep this property; leave it out"
_NOT_KEPT_KEYS = ("coordinatedAction", "note", "name", "contact")


class Reader:
    """Reads a JSON body, collecting every violation with its JSON Pointer."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, path: str, description: str, code: str = "invalidValue") -> None:
        self.violations.append(Violation(path, description, code))

    def obj(self, doc: Any, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> Json:
        if not isinstance(doc, dict):
            self.add(path or "/", "must be an object", "invalidFormat")
            return {}
        for key in doc:
            if key not in allowed:
                why = _NOT_KEPT if key in _NOT_KEPT_KEYS else "not a property here"
                self.add(f"{path}/{_escape(key)}", why, "unexpectedProperty")
        for key in required:
            if key not in doc:
                self.add(f"{path}/{key}", "required", "missingProperty")
        return doc

    def string(self, doc: Json, key: str, path: str) -> str:
        v = doc.get(key, "")
        if not isinstance(v, str):
            self.add(f"{path}/{key}", "must be a string", "invalidFormat")
            return ""
        return v

    def time(self, doc: Json, key: str, path: str, into: timestamp_pb2.Timestamp) -> None:
        if key not in doc:
            return
        try:
            into.FromJsonString(doc[key])
        except (ValueError, TypeError, AttributeError):
            self.add(f"{path}/{key}", "must be an RFC 3339 date-time", "invalidFormat")

    def enum(self, doc: Json, key: str, path: str, table: dict[str, int]) -> int:
        if key not in doc:
            return 0
        v = doc[key]
        if not isinstance(v, str) or v not in table:
            self.add(f"{path}/{key}", f"must be one of: {', '.join(table)}")
            return 0
        return table[v]

    def array(self, doc: Json, key: str, path: str) -> list[tuple[str, Any]]:
        v = doc.get(key, [])
        if not isinstance(v, list):
            self.add(f"{path}/{key}", "must be an array", "invalidFormat")
            return []
        return [(f"{path}/{key}/{i}", x) for i, x in enumerate(v)]

    def each(self, doc: Json, key: str, path: str, read: Callable[[Any, str], Any], into: Any) -> None:
        for where, x in self.array(doc, key, path):
            into.append(read(x, where))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument("the request body has invalid properties", self.violations)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _struct(doc: Json, r: Reader | None = None, path: str = "") -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    try:
        s.update(doc)
    except (ValueError, TypeError, OverflowError):
        if r is not None:
            r.add(path, "holds a value JSON numbers cannot carry", "invalidFormat")
    return s


def contact(r: Reader, doc: Any, path: str) -> common_pb2.RelatedContactInformation:
    d = r.obj(doc, path, _CONTACT_KEYS, ("name", "emailAddress", "number", "role"))
    out = common_pb2.RelatedContactInformation(
        name=r.string(d, "name", path),
        email_address=r.string(d, "emailAddress", path),
        number=r.string(d, "number", path),
        number_extension=r.string(d, "numberExtension", path),
        role=r.string(d, "role", path),
        organization=r.string(d, "organization", path),
    )
    if isinstance(d.get("postalAddress"), dict):
        out.postal_address.CopyFrom(_struct(d["postalAddress"], r, f"{path}/postalAddress"))
    return out


def note(r: Reader, doc: Any, path: str) -> common_pb2.Note:
    d = r.obj(doc, path, {"id", "author", "date", "source", "text"}, ("author", "date", "source", "text"))
    out = common_pb2.Note(
        id=r.string(d, "id", path),
        author=r.string(d, "author", path),
        text=r.string(d, "text", path),
        source=r.enum(d, "source", path, _NOTE_SOURCE),  # type: ignore[arg-type]
    )
    r.time(d, "date", path, out.date)
    return out


def place(r: Reader, doc: Any, path: str) -> common_pb2.RelatedPlace:
    # MEF's RelatedPlace may name a `contact`; the contract's RelatedPlace has no room for one,
    # so it is refused (relatedContactInformation of the service carries contacts).
    d = r.obj(doc, path, {"place", "role"}, ("place", "role"))
    inner = d.get("place", {})
    if not isinstance(inner, dict) or not isinstance(inner.get("@type"), str):
        r.add(f"{path}/place/@type", "required", "missingProperty")
        inner = {}
    rest = {k: v for k, v in inner.items() if k not in ("@type", "id", "href")}
    return common_pb2.RelatedPlace(
        role=r.string(d, "role", path),
        type=inner.get("@type", ""),
        id=str(inner.get("id", "")),
        href=str(inner.get("href", "")),
        value=_struct(rest, r, f"{path}/place"),
    )


def extension(r: Reader, doc: Any, path: str) -> common_pb2.ExtensionPayload:
    if not isinstance(doc, dict):
        r.add(path, "must be an object", "invalidFormat")
        return common_pb2.ExtensionPayload()
    if not isinstance(doc.get("@type"), str):
        r.add(f"{path}/@type", "required", "missingProperty")
    rest = {k: v for k, v in doc.items() if k not in ("@type", "@schemaLocation")}
    return common_pb2.ExtensionPayload(
        type=str(doc.get("@type", "")),
        schema_location=str(doc.get("@schemaLocation", "")),
        attributes=_struct(rest, r, path),
    )


def service_value(r: Reader, doc: Any, path: str) -> inventory_pb2.Service:
    d = r.obj(doc, path, _SERVICE_KEYS)
    out = inventory_pb2.Service(
        id=r.string(d, "id", path),
        description=r.string(d, "description", path),
        external_id=r.string(d, "externalId", path),
        service_type=r.string(d, "serviceType", path),
        state=r.enum(d, "state", path, _SERVICE_STATE),  # type: ignore[arg-type]
    )
    r.time(d, "startDate", path, out.start_date)
    r.time(d, "endDate", path, out.end_date)
    if "serviceConfiguration" in d:
        out.service_configuration.CopyFrom(
            extension(r, d["serviceConfiguration"], f"{path}/serviceConfiguration")
        )
    for where, x in r.array(d, "serviceRelationship", path):
        rel = r.obj(x, where, {"relationshipType", "service"}, ("relationshipType", "service"))
        ref = r.obj(rel.get("service", {}), f"{where}/service", {"id", "href"}, ("id",))
        out.service_relationship.append(
            inventory_pb2.ServiceRelationship(
                relationship_type=r.string(rel, "relationshipType", where),
                service=common_pb2.ServiceRef(id=r.string(ref, "id", f"{where}/service")),
            )
        )
    r.each(
        d, "relatedContactInformation", path, lambda x, w: contact(r, x, w), out.related_contact_information
    )
    r.each(d, "place", path, lambda x, w: place(r, x, w), out.place)
    r.each(d, "note", path, lambda x, w: note(r, x, w), out.note)
    return out


def _item_ref(r: Reader, doc: Any, path: str) -> inventory_pb2.ServiceOrderItemRef:
    d = r.obj(doc, path, {"itemId", "serviceOrderId", "serviceOrderHref"}, ("itemId",))
    return inventory_pb2.ServiceOrderItemRef(
        item_id=r.string(d, "itemId", path), service_order_id=r.string(d, "serviceOrderId", path)
    )


def _coordinated(r: Reader, doc: Any, path: str) -> ordering_pb2.ItemCoordinatedAction:
    keys = ("itemId", "coordinationDependency", "coordinatedActionDelay")
    d = r.obj(doc, path, set(keys), keys)
    delay = r.obj(d.get("coordinatedActionDelay", {}), f"{path}/coordinatedActionDelay", {"amount", "units"})
    amount = delay.get("amount", 0)
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**31:
        r.add(f"{path}/coordinatedActionDelay/amount", "must be a non-negative integer")
        amount = 0
    return ordering_pb2.ItemCoordinatedAction(
        item_id=r.string(d, "itemId", path),
        coordination_dependency=r.enum(d, "coordinationDependency", path, _DEPENDENCY),  # type: ignore[arg-type]
        coordinated_action_delay=common_pb2.MefDuration(
            amount=amount,
            units=r.enum(delay, "units", f"{path}/coordinatedActionDelay", _TIME_UNIT),  # type: ignore[arg-type]
        ),
    )


def _item(r: Reader, doc: Any, path: str) -> ordering_pb2.ServiceOrderItem:
    d = r.obj(doc, path, _ITEM_KEYS, ("id", "action", "service"))
    out = ordering_pb2.ServiceOrderItem(
        id=r.string(d, "id", path),
        action=r.enum(d, "action", path, _ACTION),  # type: ignore[arg-type]
    )
    if "service" in d:
        out.service.CopyFrom(service_value(r, d["service"], f"{path}/service"))
    for where, x in r.array(d, "serviceOrderItemRelationship", path):
        rel = r.obj(x, where, {"relationshipType", "orderItem"}, ("relationshipType", "orderItem"))
        out.service_order_item_relationship.append(
            ordering_pb2.ServiceOrderItemRelationship(
                relationship_type=r.string(rel, "relationshipType", where),
                order_item=_item_ref(r, rel.get("orderItem", {}), f"{where}/orderItem"),
            )
        )
    r.each(d, "coordinatedAction", path, lambda x, w: _coordinated(r, x, w), out.coordinated_action)
    r.each(
        d, "relatedContactInformation", path, lambda x, w: contact(r, x, w), out.related_contact_information
    )
    return out


def service_order(doc: Any) -> ordering_pb2.ServiceOrder:
    """The contract's ServiceOrder for a MEF `ServiceOrder_Create` body; InvalidArgument lists
    every problem with its JSON Pointer."""
    r = Reader()
    d = r.obj(doc, "", _ORDER_KEYS, ("requestedCompletionDate", "requestedStartDate", "serviceOrderItem"))
    out = ordering_pb2.ServiceOrder(
        external_id=r.string(d, "externalId", ""), description=r.string(d, "description", "")
    )
    r.time(d, "requestedStartDate", "", out.requested_start_date)
    r.time(d, "requestedCompletionDate", "", out.requested_completion_date)
    r.each(d, "serviceOrderItem", "", lambda x, w: _item(r, x, w), out.service_order_item)
    r.each(d, "relatedContactInformation", "", lambda x, w: contact(r, x, w), out.related_contact_information)
    r.each(d, "note", "", lambda x, w: note(r, x, w), out.note)
    for where, x in r.array(d, "orderRelationship", ""):
        rel = r.obj(x, where, {"relationshipType", "serviceOrder"}, ("relationshipType", "serviceOrder"))
        ref = r.obj(rel.get("serviceOrder", {}), f"{where}/serviceOrder", {"id", "href"}, ("id",))
        out.order_relationship.append(
            ordering_pb2.OrderRelationship(
                relationship_type=r.string(rel, "relationshipType", where),
                service_order_id=r.string(ref, "id", f"{where}/serviceOrder"),
            )
        )
    r.raise_if_any()
    return out


def order_information(doc: Any) -> ordering_pb2.ProvideOrderInformationRequest:
    """The ProvideOrderInformation request for the body of `POST /serviceOrder/{id}/information`
    (extension): `{"itemId", "serviceConfiguration": {the values asked}, "note": [{"text"}]}`."""
    r = Reader()
    d = r.obj(doc, "", {"itemId", "serviceConfiguration", "note"}, ("itemId",))
    out = ordering_pb2.ProvideOrderInformationRequest(item_id=r.string(d, "itemId", ""))
    values = d.get("serviceConfiguration", {})
    if not isinstance(values, dict):
        r.add("/serviceConfiguration", "must be an object", "invalidFormat")
    elif values:
        out.service_configuration.CopyFrom(_struct(values, r, "/serviceConfiguration"))
    for where, x in r.array(d, "note", ""):
        n = r.obj(x, where, {"text"}, ("text",))
        out.note.add(text=r.string(n, "text", where))
    r.raise_if_any()
    return out


def job_ref(r: Reader, d: Json, noun: str) -> str:
    """The id of the `{noun}` reference (`{noun}Id`, with optional `{noun}Href` and `@type`)
    inside a task body `d` (e.g. `performanceJob` of a PM job's cancel task); "" when `d` has
    none (reported missing already)."""
    if noun not in d:
        return ""
    ref = r.obj(d[noun], f"/{noun}", {"@type", f"{noun}Id", f"{noun}Href"}, (f"{noun}Id",))
    return r.string(ref, f"{noun}Id", f"/{noun}")


def task_subject(doc: Any, noun: str) -> str:
    """The job a cancel task body (`{"{noun}": {"{noun}Id": ...}}`) names; raises the
    Reader's error when the body is not one."""
    r = Reader()
    job_id = job_ref(r, r.obj(doc, "", {noun}, (noun,)), noun)
    r.raise_if_any()
    return job_id
