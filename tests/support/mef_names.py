"""The property names MEF defines for every resource the REST adapter emits (Mplify 135.1
serviceInventory v2, Mplify 99.1 serviceOrderingManagement v1, the notification APIs), plus
our documented extensions. `check` walks a document and names every property MEF does not
define; the insides of extension points (`serviceConfiguration`, place values) are the
service schema's business and are not walked."""

from __future__ import annotations

from typing import Any

CONTACT = {"name", "emailAddress", "number", "role", "numberExtension", "organization", "postalAddress"}
NOTE = {"id", "author", "date", "source", "text"}
SERVICE_REF = {"id", "href"}
ITEM_REF = {"itemId", "serviceOrderId", "serviceOrderHref"}
SERVICE_COMMON = {
    "id",
    "href",
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
    "serviceOrderItem",
}
SERVICE = SERVICE_COMMON | {"serviceDate", "startMode"}
SERVICE_VALUE = SERVICE_COMMON | {"name"}
ORDER = {
    "id",
    "href",
    "state",
    "orderDate",
    "requestedStartDate",
    "requestedCompletionDate",
    "startDate",
    "expectedCompletionDate",
    "completionDate",
    "externalId",
    "description",
    "note",
    "orderRelationship",
    "relatedContactInformation",
    "coordinatedAction",
    "serviceOrderItem",
}
ORDER_EXTENSIONS = {"cancellationDate", "cancellationReason"}  # TMF641-style cancel (README)
ITEM = {
    "id",
    "action",
    "state",
    "service",
    "serviceOrderItemRelationship",
    "coordinatedAction",
    "relatedContactInformation",
    "note",
    "terminationError",
}
ITEM_EXTENSIONS = {"wait"}  # why an item waits pending or held (README "Orders that wait")
WAIT = {
    "state",
    "reason",
    "informationRequired",
    "startTime",
    "resumeTime",
    "expiryTime",
    "endTime",
    "resolution",
}
HUB = {"id", "callback", "query"}
HUB_EXTENSIONS = {"deliveryStatus"}
ERROR = {"code", "reason", "message", "referenceError"}
ERROR_422 = ERROR | {"propertyPath"}
EVENT = {"eventId", "eventTime", "eventType", "event"}
EVENT_PAYLOAD = {"id", "href", "state", "orderItemId"}

# Where to look inside a property: the name set of its value (None: an extension point).
_CHILDREN: dict[str, dict[str, Any]] = {
    "service": {
        "serviceRelationship": ({"relationshipType", "service"}, {"service": (SERVICE_REF, {})}),
        "serviceOrderItem": (ITEM_REF, {}),
        "relatedContactInformation": (CONTACT, {}),
        "note": (NOTE, {}),
        "place": ({"place", "role", "contact"}, {}),
    },
}


def _walk(doc: Any, allowed: set[str], children: dict[str, Any], where: str, out: list[str]) -> None:
    items = doc if isinstance(doc, list) else [doc]
    for i, item in enumerate(items):
        here = f"{where}/{i}" if isinstance(doc, list) else where
        assert isinstance(item, dict), f"{here} is not an object"
        out.extend(f"{here}/{key}" for key in item if key not in allowed)
        for key, (names, grandchildren) in children.items():
            if key in item:
                _walk(item[key], names, grandchildren, f"{here}/{key}", out)


def _service_children() -> dict[str, Any]:
    return _CHILDREN["service"]


def unknown_in_service(doc: Any, *, as_value: bool = False) -> list[str]:
    out: list[str] = []
    _walk(doc, SERVICE_VALUE if as_value else SERVICE, _service_children(), "", out)
    return out


def unknown_in_order(doc: Any) -> list[str]:
    item_children = {
        "service": (SERVICE_VALUE, _service_children()),
        "serviceOrderItemRelationship": ({"relationshipType", "orderItem"}, {"orderItem": (ITEM_REF, {})}),
        "coordinatedAction": (
            {"itemId", "coordinationDependency", "coordinatedActionDelay"},
            {"coordinatedActionDelay": ({"amount", "units"}, {})},
        ),
        "relatedContactInformation": (CONTACT, {}),
        "terminationError": ({"code", "propertyPath", "value"}, {}),
        "note": (NOTE, {}),
        "wait": (WAIT, {}),
    }
    children = {
        "serviceOrderItem": (ITEM | ITEM_EXTENSIONS, item_children),
        "orderRelationship": ({"relationshipType", "serviceOrder"}, {"serviceOrder": (SERVICE_REF, {})}),
        "relatedContactInformation": (CONTACT, {}),
        "note": (NOTE, {}),
    }
    out: list[str] = []
    _walk(doc, ORDER | ORDER_EXTENSIONS, children, "", out)
    return out


def unknown_in(doc: Any, names: set[str], children: dict[str, Any] | None = None) -> list[str]:
    out: list[str] = []
    _walk(doc, names, children or {}, "", out)
    return out


# Service Function Testing v3 (Mplify 149), plus our documented job extensions.
SFT_REF = {"id", "href"}
SFT_CONTACT = {"name", "emailAddress", "phoneNumber", "phoneNumberExtension", "organization", "postalAddress"}
PROFILE_REF_OR_VALUE = {
    "@type",
    "id",
    "href",
    "serviceSpecificTestProfileConfiguration",
    "relatedServiceSpecification",
    "relatedContact",
}
JOB_COMMON = {
    "name",
    "description",
    "requestedStartDateTime",
    "requestedEndDateTime",
    "recurrencePeriod",
    "testProfile",
    "relatedServiceFrom",
    "relatedServiceTo",
    "serviceSpecificTestJobConfiguration",
}
JOB_EXTENSIONS = {"testMode", "outOfServiceConsent"}
TEST_JOB = (
    JOB_COMMON
    | JOB_EXTENSIONS
    | {
        "id",
        "href",
        "state",
        "creationDate",
        "lastModifiedDate",
        "actualStartDateTime",
        "actualEndDateTime",
        "terminationError",
    }
)
TEST_JOB_FIND = {
    "id",
    "name",
    "requestedStartDateTime",
    "requestedEndDateTime",
    "relatedServiceFrom",
    "relatedServiceTo",
    "testProfile",
}
TASK = {"id", "href", "state", "creationDate", "testJob"}
TASK_REASONS = {
    "cancelTestJob": {"cancellationReason", "cancellationDeniedReason"},
    "modifyTestJob": {"modificationReason", "modificationDeniedReason"} | JOB_COMMON | JOB_EXTENSIONS,
    "suspendTestJob": {"suspensionReason", "suspensionDeniedReason"},
    "resumeTestJob": {"resumptionReason", "resumptionDeniedReason"},
}
TEST_PROFILE = {
    "id",
    "href",
    "creationDate",
    "lastUpdate",
    "lifecycleState",
    "name",
    "description",
    "isBundled",
    "lifecycleStatus",
    "validFor",
    "testProfileRelationship",
    "serviceSpecificTestProfileConfiguration",
    "relatedServiceSpecification",
    "relatedContact",
}
TEST_RESULT_COMMON = {
    "id",
    "href",
    "testJob",
    "relatedServiceFrom",
    "relatedServiceTo",
    "actualStartDateTime",
    "actualEndDateTime",
}
TEST_RESULT = TEST_RESULT_COMMON | {"serviceSpecificTestResultConfiguration"}
SFT_CHILDREN: dict[str, Any] = {
    "testJob": (SFT_REF, {}),
    "relatedServiceFrom": (SFT_REF, {}),
    "relatedServiceTo": (SFT_REF, {}),
    "relatedServiceSpecification": (SFT_REF, {}),
    "relatedContact": (SFT_CONTACT, {}),
    "recurrencePeriod": ({"amount", "units"}, {}),
    "terminationError": ({"code", "propertyPath", "value"}, {}),
    "testProfile": (
        PROFILE_REF_OR_VALUE,
        {"relatedServiceSpecification": (SFT_REF, {}), "relatedContact": (SFT_CONTACT, {})},
    ),
    "testProfileRelationship": (
        {"id", "name", "role", "relatedServiceSpecification", "order", "validFor"},
        {"relatedServiceSpecification": (SFT_REF, {})},
    ),
}
