"""Check a notification body against the schema MEF's published notification file gives it.

MEF's files are OpenAPI 3.0; their notification schemas use only `$ref`, `allOf`, `type`,
`required`, `properties`, `enum` and `format: date-time`, which `violations` checks (the
project installs no JSON Schema library). Unknown properties are allowed, as in MEF's files.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.support.paths import REFERENCE

MEF_OPENAPI = REFERENCE / "mef" / "interlude-sdk-kylie-copy" / "openapi"
ORDERING_NOTIFICATIONS = MEF_OPENAPI / "mef-lso-interlude-service-ordering-notification-openapi.yml"
_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "string": str,
    "array": list,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


@cache
def _schemas(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())["components"]["schemas"]
    return loaded


def violations(path: Path, schema_name: str, doc: Any) -> list[str]:
    """Every way `doc` breaks the schema `schema_name` of MEF's file `path` (empty: it fits)."""
    out: list[str] = []
    _check(_schemas(path), {"$ref": f"#/components/schemas/{schema_name}"}, doc, "", out)
    return out


def _check(schemas: dict[str, Any], schema: dict[str, Any], doc: Any, where: str, out: list[str]) -> None:
    if "$ref" in schema:
        _check(schemas, schemas[schema["$ref"].rsplit("/", 1)[1]], doc, where, out)
    for part in schema.get("allOf", ()):
        _check(schemas, part, doc, where, out)
    expected = schema.get("type")
    if expected and not isinstance(doc, _TYPES[expected]):
        out.append(f"{where or '/'}: expected {expected}, got {type(doc).__name__}")
        return
    if "enum" in schema and doc not in schema["enum"]:
        out.append(f"{where or '/'}: {doc!r} is not one of {schema['enum']}")
    if schema.get("format") == "date-time" and isinstance(doc, str):
        try:
            datetime.fromisoformat(doc.replace("Z", "+00:00"))
        except ValueError:
            out.append(f"{where}: {doc!r} is not a date-time")
    if isinstance(doc, dict):
        out.extend(f"{where}/{key}: required" for key in schema.get("required", ()) if key not in doc)
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                _check(schemas, sub, doc[key], f"{where}/{key}", out)
