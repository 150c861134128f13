"""Service configurations checked against the JSON Schema of their `@type`.

A catalog specification names the `@type` of its services' configurations
(`target_service_schema.type`); this module keeps one compiled validator per
`@type`, keyed by the `$id` of the schema that describes it. The schemas are the
project's own files (this package's `*.json`) unless the server is started with
`--schema-dir DIR`: then every JSON or YAML schema under DIR (MEF's published
`serviceSchema` files, for instance) describes the types it names, and the
project's files describe the rest. Relative `$ref`s between the files of one
folder resolve as MEF's do (`carrierEthernetCommon.yaml#/definitions/VlanId`).

`check_item` is the one call order validation makes: it adds a field violation
(JSON-pointer path inside the configuration, in the request's field path style)
for every problem the validator finds, all at once. Types no schema describes are
left to policy alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml  # type: ignore[import-untyped]

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.core.errors import Errors, Violation
from interlude_server.domain import documents, jsonptr
from interlude_server.domain.policy import field_path

BUNDLED = Path(__file__).parent
DRAFT7 = "http://json-schema.org/draft-07/schema#"
LOCATION_PREFIX = "serviceSchema/"  # of every served document's location, relative to the catalog
MAX_VIOLATIONS = 50  # per configuration: enough to fix a document, small enough for any trailer
MAX_MESSAGE = 200  # characters of a validator message (it quotes the offending value)
_CHECKED_ACTIONS = (ordering_pb2.SERVICE_ACTION_ADD, ordering_pb2.SERVICE_ACTION_MODIFY)


class SchemaError(ValueError):
    """A schema file that cannot be read as a JSON or YAML object."""


@dataclass
class SchemaSet:
    """The compiled validators by `@type`; `unusable` says why a named type has none.

    `documents` are the files that can be served, by location (`serviceSchema/` and the path
    inside the folder they were loaded from, so relative `$ref`s between them resolve against
    a location as they do against the files); `locations` says where each `@type`'s is."""

    validators: dict[str, jsonschema_rs.Validator] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)
    documents: dict[str, Path] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)

    def location_of(self, type_urn: str) -> str:
        """Where the schema of `type_urn` is served; '' when no schema describes it."""
        return self.locations.get(type_urn, "") if type_urn in self.validators else ""

    def document(self, location: str) -> dict[str, Any] | None:
        """The schema document served at `location`, as published; None if there is none."""
        path = self.documents.get(location)
        return None if path is None else _read(path)

    def violations(self, type_urn: str, config: Any) -> list[Violation]:
        """Every problem of `config` under the schema of `type_urn` (fields are JSON pointers
        into the configuration); empty when valid or when no schema describes the type."""
        validator = self.validators.get(type_urn)
        if validator is None:
            return []
        found = []
        for error in validator.iter_errors(config):
            tokens = [str(t) for t in error.instance_path]
            code = "invalidValue"
            if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
                tokens.append(error.kind.property)
                code = "missingProperty"
            message = error.message
            if len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 1] + "…"
            found.append(Violation(jsonptr.join(tokens), message, code))
            if len(found) == MAX_VIOLATIONS:
                break
        return found

    def merged_over(self, base: SchemaSet) -> SchemaSet:
        """This set, with `base` describing the types this one does not."""
        validators = {**base.validators, **self.validators}
        sources = {urn: self.sources.get(urn, base.sources.get(urn, BUNDLED)) for urn in validators}
        documents = {**base.documents, **self.documents}
        locations = {**base.locations, **self.locations}
        return SchemaSet(validators, sources, dict(self.unusable), documents, locations)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeError, ValueError, yaml.YAMLError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    if not isinstance(document, dict):
        raise SchemaError(f"{path}: a schema must be an object")
    return document


def load(directory: Path) -> SchemaSet:
    """Compile every schema with a `$id` under `directory` (`*.json`, `*.yaml`, `*.yml`)."""
    resources: list[tuple[str, Any]] = []
    named: dict[str, Path] = {}
    schemas = SchemaSet()
    for path in sorted(directory.rglob("*")):
        if path.suffix not in (".json", ".yaml", ".yml") or not path.is_file():
            continue
        document = _read(path)
        # Registered by file URI, so relative $refs resolve against the folder, as MEF's do.
        urn = document.pop("$id", None)
        resources.append((path.resolve().as_uri(), document))
        location = f"{LOCATION_PREFIX}{path.relative_to(directory).as_posix()}"
        schemas.documents[location] = path
        if isinstance(urn, str):
            named[urn] = path
            schemas.locations[urn] = location
    registry = jsonschema_rs.Registry(resources)
    for urn, path in named.items():
        root = {"$schema": DRAFT7, "$ref": path.resolve().as_uri()}
        try:
            schemas.validators[urn] = jsonschema_rs.validator_for(root, registry=registry)
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            schemas.unusable[urn] = f"{path}: {str(exc).splitlines()[0]}"
        else:
            schemas.sources[urn] = path
    return schemas


_active: SchemaSet | None = None


def use(directory: Path | None) -> SchemaSet:
    """Make the schemas under `directory` (over the project's own) or, with None, the project's
    own the ones orders are checked against; returns them (see `unusable`)."""
    global _active
    bundled = load(BUNDLED)
    _active = bundled if directory is None else load(directory).merged_over(bundled)
    return _active


def active() -> SchemaSet:
    """The schemas orders are checked against (the project's own until `use` says otherwise)."""
    return _active if _active is not None else use(None)


def check_item(
    item: ordering_pb2.ServiceOrderItem, cfg: str, errors: Errors, config: dict[str, Any] | None = None
) -> None:
    """Add a violation for every schema problem of an add or modify item's configuration;
    `cfg` is the request's field path of that configuration. `config`: that configuration's
    attributes as a dict, if the caller has it already (not changed here)."""
    if item.action not in _CHECKED_ACTIONS or not item.service.HasField("service_configuration"):
        return
    configuration = item.service.service_configuration
    document = config if config is not None else documents.to_dict(configuration)
    for found in active().violations(configuration.type, document):
        errors.add(field_path(f"{cfg}.attributes", found.field), found.description, found.code)
