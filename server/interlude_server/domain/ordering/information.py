"""The buyer's answer to a Partner that asked for information: checked before it is stored.

An item waiting `pending` with `information_required` names what it needs (JSON Pointers into
its service configuration, or `/note`). The answer must supply every value asked and nothing
else (INVALID_REQUEST naming each missing or unasked value), and the configuration it makes
passes the same gate as any order: the `@type`'s JSON Schema and the buyer's policy (ranges,
allowed values, changeability; POLICY_VIOLATION naming each rule). An item that asks nothing
is ORDER_INFORMATION_NOT_REQUIRED.
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.core.errors import Errors
from interlude_server.domain import documents, jsonptr, policy
from interlude_server.domain.ordering import gate, waiting, waits
from interlude_server.domain.ordering.lookup import Lookup
from interlude_server.domain.schemas import validation

Ord = ordering_pb2
FIELD = "service_configuration"  # the request field that carries the values
_ABSENT = object()
_SCHEMA_FIELD = "@cfg"


def _leaves(doc: Any, prefix: str = "") -> list[str]:
    """The pointer of every value in `doc` that is not an object (an empty object counts)."""
    if isinstance(doc, dict) and doc:
        return [leaf for key, v in doc.items() for leaf in _leaves(v, prefix + jsonptr.join([key]))]
    return [prefix]


def _matches_request(asked: list[str], values: dict[str, Any], notes: list[str], errors: Errors) -> None:
    for pointer in asked:
        if pointer == waits.NOTE_POINTER:
            if not any(n.strip() for n in notes):
                errors.add("note", "the Partner asked for a note", "missingProperty")
        elif jsonptr.get(values, pointer, _ABSENT) is _ABSENT:
            errors.add(
                policy.field_path(FIELD, pointer), "the Partner asked for this value", "missingProperty"
            )
    values_asked = [p for p in asked if p != waits.NOTE_POINTER]
    for leaf in _leaves(values) if values else ():
        if not any(jsonptr.covers(p, leaf) for p in values_asked):
            errors.add(
                policy.field_path(FIELD, leaf),
                f"the Partner did not ask for this value (it asks for {', '.join(asked)})",
                "unexpectedProperty",
            )


async def check(
    order: ordering_pb2.ServiceOrder, item_id: str, values: dict[str, Any], notes: list[str], lookup: Lookup
) -> None:
    """Refuse an answer that does not fit what the item asks, or whose configuration the schema
    or the buyer's policy refuses; return quietly when it may be stored (waiting.answer)."""
    item, wait = waiting.asked(order, item_id)
    errors = Errors()
    _matches_request(list(wait.information_required), values, notes, errors)
    errors.raise_if_any("the answer does not match what the Partner asked for")
    merged = Ord.ServiceOrderItem()
    merged.CopyFrom(item)
    config = documents.to_dict(merged.service.service_configuration)
    for pointer in wait.information_required:
        if pointer != waits.NOTE_POINTER:
            jsonptr.put(config, pointer, jsonptr.get(values, pointer))
    documents.set_attributes(merged.service.service_configuration, config)
    result = gate.OrderCheck(lookup)
    schema = Errors()
    validation.check_item(merged, _SCHEMA_FIELD, schema)
    prefix = f"{_SCHEMA_FIELD}.attributes"
    for v in schema.items:
        result.errors.add(
            FIELD + v.field[len(prefix) :] if v.field.startswith(prefix) else FIELD, v.description, v.code
        )
    rules = await lookup.policy_for_type(merged.service.service_configuration.type)
    if item.action == Ord.SERVICE_ACTION_MODIFY and (current := await lookup.service(item.service.id)):
        old = documents.to_dict(current.service_configuration)
        policy.check_change(rules, current, old, config, FIELD, result.findings)
    else:
        policy.check_values(rules, config, FIELD, result.findings)
    result.raise_if_any()
