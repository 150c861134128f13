"""Each notification body a hub delivers, checked against the schema MEF's notification file
gives the listener it was POSTed to, with jsonschema-rs (the validator the server uses).

A notification file is OpenAPI: its `paths` name each listener (`/listener/{eventType}`)
and the schema of the body it takes. `schema_for(url_path)` finds the file whose server path
the delivery's URL path carries, then that listener's schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import yaml  # type: ignore[import-untyped]

from tests.support.paths import REFERENCE

MEF_OPENAPI = REFERENCE / "mef" / "interlude-sdk-kylie-copy" / "openapi"


@dataclass(frozen=True)
class NotificationFile:
    path: Path
    base: str  # the listener base in the file's server URL, e.g. /mefApi/interlude/.../v2
    document: dict[str, Any]


@cache
def files() -> tuple[NotificationFile, ...]:
    found = []
    for path in sorted(MEF_OPENAPI.glob("*-notification-openapi.yml")):
        document = yaml.safe_load(path.read_text())
        base = urlsplit(document["servers"][0]["url"].replace("{serverBase}", "x")).path.rstrip("/")
        found.append(NotificationFile(path, base, document))
    return tuple(found)


@cache
def _components(path: Path) -> dict[str, Any]:
    components: dict[str, Any] = yaml.safe_load(path.read_text())["components"]
    return components


@cache
def component_validator(path: Path, name: str) -> Any:
    """A validator of component schema `name` of MEF's OpenAPI file at `path`; the file's
    components travel with the root, so every $ref inside resolves."""
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": _components(path)}
    )


def component_problems(path: Path, name: str, body: Any) -> list[str]:
    """Every way `body` breaks component schema `name` of the file at `path` (empty: it fits)."""
    return [
        f"{'/'.join(map(str, e.instance_path)) or '/'}: {e.message}"
        for e in component_validator(path, name).iter_errors(body)
    ]


def listener_schema(path: Path, listener: str) -> str:
    """The component schema name the notification file at `path` gives `listener`
    (`/listener/{eventType}`)."""
    document = yaml.safe_load(path.read_text())
    content = document["paths"][listener]["post"]["requestBody"]["content"]
    ref: str = next(iter(content.values()))["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def violations(url_path: str, body: Any) -> tuple[str, list[str]]:
    """The schema name for a delivery to `url_path` and every way `body` breaks it (the test
    is skipped, saying where it looked, on a checkout without MEF's files)."""
    if not MEF_OPENAPI.is_dir():
        pytest.skip(f"MEF's Kylie files are not at {MEF_OPENAPI} (set INTERLUDE_REFERENCE_DIR)")
    for f in files():
        at = url_path.find(f.base + "/listener/")
        if at >= 0:
            name = listener_schema(f.path, url_path[at + len(f.base) :])
            return name, component_problems(f.path, name, body)
    raise AssertionError(f"no MEF notification file has a listener at {url_path}")
