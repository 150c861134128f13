"""How the CLI prints: a human table (default) or JSON (`--output json`).

JSON is the proto3 JSON mapping (camelCase names, enum names, RFC 3339 times), the same
form grpcurl prints, so the output of one tool reads as the input of the other. A list
prints one JSON array; a stream or a followed order prints one JSON object per line.
Numbers that are whole print as integers (`1522`, not `1522.0`): a configuration's
attributes are a google.protobuf.Struct, whose numbers are doubles, and Python would
otherwise print every one of them with a `.0` (grpcurl prints them as integers too).
The keys of a map (a Struct's too) print sorted: protobuf's maps keep no order (upb's
order changes from one process to the next), and the same resource must print the same
text twice, for diffs and scripts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from interlude_client.errors import InterludeError

Column = tuple[str, Callable[[Any], str]]


def whole_numbers(value: Any) -> Any:
    """`value` (parsed JSON) with every float that is a whole number made an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


_JSON_VALUES = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})


def _sorted_json(value: Any) -> Any:
    """Parsed JSON with the keys of every object in sorted order."""
    if isinstance(value, dict):
        return {key: _sorted_json(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(item) for item in value]
    return value


def _in_map_order(descriptor: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    """`data` (MessageToDict of a `descriptor` message) with its maps' keys sorted, its
    message fields in descriptor order as they came."""
    if descriptor.full_name in _JSON_VALUES:
        return _sorted_json(data)  # type: ignore[no-any-return]
    for field in descriptor.fields:
        if field.json_name not in data or field.message_type is None:
            continue
        value = data[field.json_name]
        kind = field.message_type
        if kind.GetOptions().map_entry:
            entry = kind.fields_by_name["value"]
            data[field.json_name] = {key: _field_value(entry, value[key]) for key in sorted(value)}
        elif field.is_repeated:
            data[field.json_name] = [_field_value(field, item) for item in value]
        else:
            data[field.json_name] = _field_value(field, value)
    return data


def _field_value(field: FieldDescriptor, value: Any) -> Any:
    kind = field.message_type
    if kind is None:
        return value
    if kind.full_name in _JSON_VALUES:
        return _sorted_json(value)
    if isinstance(value, dict):
        return _in_map_order(kind, value)
    return value  # a well-known type with a scalar JSON form (Timestamp, wrappers, ...)


def as_dict(message: Message) -> dict[str, Any]:
    """The message's proto3 JSON form, whole numbers as integers, maps' keys sorted."""
    descriptor: Descriptor = message.DESCRIPTOR  # type: ignore[assignment]
    data: dict[str, Any] = whole_numbers(_in_map_order(descriptor, json_format.MessageToDict(message)))
    return data


def enum_label(message: Message, field_name: str) -> str:
    """An enum field's value name without the enum's prefix (SERVICE_STATE_ACTIVE -> ACTIVE)."""
    descriptor = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    assert descriptor is not None
    value = descriptor.values_by_number.get(getattr(message, field_name))
    if value is None:
        return str(getattr(message, field_name))
    prefix = descriptor.values[0].name.removesuffix("UNSPECIFIED")
    return value.name.removeprefix(prefix)


def short_type(urn: str) -> str:
    """`urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all` -> `carrier-ethernet-evc`."""
    parts = urn.split(":")
    return parts[5] if len(parts) > 6 and urn.startswith("urn:mef:") else urn


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class Output:
    """Where and how a command prints its results and errors."""

    json: bool = False
    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def one(self, message: Message) -> None:
        """One resource: pretty JSON, or `field: value` lines (nested values as compact JSON)."""
        data = as_dict(message)
        if self.json:
            self.line(json.dumps(data, indent=2))
            return
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            self.line(f"{key.ljust(width)}  {_cell(value)}")

    def json_line(self, message: Message) -> None:
        self.line(json.dumps(as_dict(message), separators=(",", ":")))

    def item(self, message: Message, text: str) -> None:
        """One item of a stream or of a followed change: a JSON line, or `text`."""
        if self.json:
            self.json_line(message)
        else:
            self.line(text)

    def marker(self, response: Message, kind: str) -> None:
        """A stream's sync marker or heartbeat (shown on request): its JSON, or its token."""
        self.item(response, f"-- {kind} {getattr(response, kind).resume_token}")

    def table(self, items: Iterable[Message], columns: Sequence[Column]) -> int:
        """A list: an aligned table with a header, or a JSON array; the number of items."""
        rows = list(items)
        if self.json:
            self.line(json.dumps([as_dict(m) for m in rows], indent=2))
            return len(rows)
        cells = [[name for name, _ in columns]] + [[get(m) for _, get in columns] for m in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        for row in cells:
            self.line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return len(rows)

    def error(self, error: InterludeError) -> None:
        """A failed call: code, reason, message, then every field violation and failed rule."""
        if self.json:
            self.err.write(json.dumps(error_dict(error), indent=2) + "\n")
            return
        head = f"{error.code.name} {error.reason}".strip()
        self.err.write(f"error: {head}: {error.message}\n")
        for violation in error.field_violations:
            code = f" ({violation.reason})" if violation.reason else ""
            self.err.write(f"  field {violation.field}: {violation.description}{code}\n")
        for failed in error.precondition_violations:
            self.err.write(f"  rule {failed.subject}: {failed.description}\n")
        for key, value in sorted(error.metadata.items()):
            self.err.write(f"  {key}: {value}\n")

    def problem(self, text: str) -> None:
        self.err.write(f"error: {text}\n")


def error_dict(error: InterludeError) -> dict[str, Any]:
    return {
        "code": error.code.name,
        "reason": error.reason,
        "message": error.message,
        "metadata": error.metadata,
        "fieldViolations": [
            {"field": v.field, "description": v.description, "reason": v.reason}
            for v in error.field_violations
        ],
        "preconditionViolations": [
            {"type": p.type, "subject": p.subject, "description": p.description}
            for p in error.precondition_violations
        ],
    }
