"""Load a seed file (the catalog, per-buyer policies and an initial inventory) into a store.

The format is documented in docs/seed-format.md: one JSON object
`{"format": "interlude-seed/v1", "specifications": [...], "policies": [...],
"services": [...]}` whose entries are the proto3 JSON form of the contract's
ServiceSpecification, ServicePolicy and Service messages.

Loading is all or nothing. Every problem of the file is found first and
reported at once with its JSON location (SeedError); only a clean seed is
written, in one store transaction. Specifications and policies are
configuration: they are upserted on every load. Services are inventory: they
are inserted only into a store that holds no service at all, so a restart never
overwrites what orders have changed since.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2
from interlude_server.core.mef import ProtoEnum, upper_name
from interlude_server.core.text import is_decimal
from interlude_server.domain import documents, jsonptr, policy
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import Store, Tx

FORMAT = "interlude-seed/v1"
DEMO = "demo"
_SECTIONS = ("specifications", "policies", "services")
_INITIAL_ETAG = "1"

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class SeedProblem:
    """One thing wrong with a seed: where (a JSON location such as
    `services[3].serviceConfiguration.@type`) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class SeedError(ValueError):
    """The seed cannot be loaded; `problems` lists every problem found, nothing was written."""

    def __init__(self, source: str, problems: Sequence[SeedProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem" + ("" if len(self.problems) == 1 else "s")
        lines = [f"seed {source} has {count}; nothing was loaded:", *(f"  {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class SeedSummary:
    """What a load did: catalog entries upserted, services inserted or skipped."""

    source: str
    specifications: int
    policies: int
    services_loaded: int
    # Services of the seed not inserted because the store already held services.
    services_skipped: int
    # Services of the seed per buyer.
    services_by_buyer: Mapping[str, int] = field(default_factory=dict)


@dataclass
class _Entry(Generic[M]):
    """A parsed entry and where it came from, e.g. `services[3]`."""

    location: str
    message: M


@dataclass
class Seed:
    """A parsed seed: the entries that parsed, with their locations.

    `unparsed` keeps the raw JSON objects that did not parse, per section, so
    references to them are not reported a second time as dangling.
    """

    specifications: list[_Entry[catalog_pb2.ServiceSpecification]] = field(default_factory=list)
    policies: list[_Entry[catalog_pb2.ServicePolicy]] = field(default_factory=list)
    services: list[_Entry[inventory_pb2.Service]] = field(default_factory=list)
    unparsed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.items: list[SeedProblem] = []

    def add(self, location: str, message: str) -> None:
        self.items.append(SeedProblem(location, message))


# -- reading and parsing ------------------------------------------------------


def _read_text(source: str | Path) -> tuple[str, str]:
    """The seed's display name and text; `"demo"` (a str) is the packaged demo seed."""
    if isinstance(source, str) and source == DEMO:
        demo = resources.files("interlude_server.seed").joinpath("demo.json")
        return DEMO, demo.read_text(encoding="utf-8")
    path = Path(source)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(str(path), [SeedProblem("", f"cannot read the file: {exc}")]) from exc


def _decode(name: str, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(name, [SeedProblem(f"line {exc.lineno} column {exc.colno}", exc.msg)]) from exc


_AT = re.compile(r'\s+at\s+"?(?P<path>[^"\s]+?)"?\.*$')
_NO_FIELD = re.compile(r'Message type "(?P<type>[^"]+)" has no field named "(?P<name>[^"]+)"')


def _parse_problem(location: str, error: json_format.ParseError) -> SeedProblem:
    """A ParseError as a problem at the innermost location it names."""
    innermost = str(error).split(" field: ")[-1].split("\n")[0].strip()
    match = _AT.search(innermost)
    if match:
        innermost = innermost[: match.start()]
        location += "".join(re.split(r"(?=[.\[])", match["path"], maxsplit=1)[1:])
    no_field = _NO_FIELD.match(innermost)
    if no_field:
        innermost = f"unknown field {no_field['name']!r} (not in {no_field['type'].rsplit('.', 1)[-1]})"
    return SeedProblem(location, innermost)


def _parse_section(
    document: Mapping[str, Any],
    section: str,
    make: type[M],
    problems: _Problems,
    unparsed: dict[str, list[dict[str, Any]]],
) -> list[_Entry[M]]:
    raw = document.get(section, [])
    if not isinstance(raw, list):
        problems.add(section, "must be a JSON array")
        return []
    entries: list[_Entry[M]] = []
    for index, item in enumerate(raw):
        location = f"{section}[{index}]"
        if not isinstance(item, dict):
            problems.add(location, "must be a JSON object")
            continue
        message = make()
        try:
            json_format.ParseDict(item, message)
        except json_format.ParseError as exc:
            problems.items.append(_parse_problem(location, exc))
            unparsed.setdefault(section, []).append(item)
            continue
        entries.append(_Entry(location, message))
    return entries


def _parse(document: object, problems: _Problems) -> Seed:
    """Parse the seed document, adding a problem for every malformed part."""
    if not isinstance(document, dict):
        problems.add("", "the seed must be a JSON object")
        return Seed()
    tag = document.get("format")
    if tag != FORMAT:
        what = "is required" if tag is None else f"{tag!r} is not supported"
        problems.add("format", f"{what}; expected {FORMAT!r}")
    for key in document:
        if key != "format" and key not in _SECTIONS:
            problems.add(key, f"unknown field; expected format, {', '.join(_SECTIONS)}")
    seed = Seed()
    seed.specifications = _parse_section(
        document, "specifications", catalog_pb2.ServiceSpecification, problems, seed.unparsed
    )
    seed.policies = _parse_section(document, "policies", catalog_pb2.ServicePolicy, problems, seed.unparsed)
    seed.services = _parse_section(document, "services", inventory_pb2.Service, problems, seed.unparsed)
    return seed


# -- validation -----------------------------------------------------------------


def _raw(document: object, *keys: str) -> str:
    """The string at `keys` in a raw JSON object, "" if it is not there."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document if isinstance(document, str) else ""


class _Known:
    """What references may point at: the seed's own entries, then the store's.

    Entries of the seed that did not parse count as present: their own problem
    is reported already, references to them are not reported again.
    """

    def __init__(self, seed: Seed, store: Store) -> None:
        self._store = store
        self.spec_ids: dict[str, catalog_pb2.ServiceSpecification] = {}
        for entry in seed.specifications:
            self.spec_ids.setdefault(entry.message.id, entry.message)
        types = (e.message.target_service_schema.type for e in seed.specifications)
        self.types = {t for t in types if t}
        self.services = {(e.message.buyer_id, e.message.id) for e in seed.services}
        raw_specs = seed.unparsed.get("specifications", [])
        self.unparsed_spec_ids = {_raw(raw, "id") for raw in raw_specs}
        self.unparsed_types = {_raw(raw, "targetServiceSchema", "@type") for raw in raw_specs}
        raw_services = seed.unparsed.get("services", [])
        self.services |= {(_raw(raw, "buyerId"), _raw(raw, "id")) for raw in raw_services}

    async def spec(self, spec_id: str) -> catalog_pb2.ServiceSpecification | None:
        return self.spec_ids.get(spec_id) or await self._store.get_specification(spec_id)

    async def has_type(self, type_urn: str) -> bool:
        if type_urn in self.types or type_urn in self.unparsed_types:
            return True
        query = catalog_pb2.ServiceSpecificationFilter(service_configuration_type=[type_urn])
        found = bool((await self._store.list_specifications(query, PageRequest(limit=1))).items)
        if found:
            self.types.add(type_urn)
        return found

    async def has_service(self, buyer_id: str, service_id: str) -> bool:
        if (buyer_id, service_id) in self.services:
            return True
        return await self._store.get_service(buyer_id, service_id) is not None


def _first_duplicates(keys: Iterable[tuple[str, object]]) -> dict[str, str]:
    """For each location whose key was seen before: the location that used it first."""
    first: dict[object, str] = {}
    duplicates: dict[str, str] = {}
    for location, key in keys:
        if key in first:
            duplicates[location] = first[key]
        else:
            first[key] = location
    return duplicates


def _check_pointer(pointer: str, location: str, problems: _Problems) -> bool:
    try:
        jsonptr.split(pointer)
    except ValueError:
        problems.add(location, f'{pointer!r} is not a JSON Pointer (it must start with "/")')
        return False
    return True


def _check_specifications(seed: Seed, problems: _Problems) -> None:
    for entry in seed.specifications:
        spec, at = entry.message, entry.location
        if not spec.id:
            problems.add(f"{at}.id", "is required")
        if not spec.target_service_schema.type:
            problems.add(f"{at}.targetServiceSchema.@type", "is required: the @type URN of its services")
        for k, characteristic in enumerate(spec.service_spec_characteristic):
            _check_pointer(characteristic.path, f"{at}.serviceSpecCharacteristic[{k}].path", problems)
    ids = [(e.location, e.message.id) for e in seed.specifications if e.message.id]
    for at, first in _first_duplicates(ids).items():
        problems.add(f"{at}.id", f"is already the id of {first}")
    types = [(e.location, e.message.target_service_schema.type) for e in seed.specifications]
    for at, first in _first_duplicates(t for t in types if t[1]).items():
        problems.add(f"{at}.targetServiceSchema.@type", f"is already the type of {first}")


def _check_rule(rule: catalog_pb2.CharacteristicPolicy, at: str, problems: _Problems) -> None:
    _check_pointer(rule.path, f"{at}.path", problems)
    if rule.changeability == catalog_pb2.CHANGEABILITY_UNSPECIFIED:
        problems.add(f"{at}.changeability", "is required: FIXED, CUSTOMIZABLE or DYNAMIC")
    if rule.HasField("range") and rule.range.min > rule.range.max:
        problems.add(f"{at}.range", f"min {rule.range.min:g} is above max {rule.range.max:g}")
    if rule.HasField("default_value"):
        findings = policy.Findings()
        default = json_format.MessageToDict(rule.default_value)
        policy.check_value(rule, default, f"{at}.defaultValue", rule.path, findings)
        for violation in findings.violations:
            problems.add(violation.field, f"the default breaks its own rule: {violation.description}")


async def _check_connectivity(
    pol: catalog_pb2.ServicePolicy, at: str, known: _Known, problems: _Problems
) -> None:
    for k, rule in enumerate(pol.connectivity_rule):
        where = f"{at}.connectivityRule[{k}]"
        if rule.connectivity_type != pol.service_configuration_type:
            problems.add(f"{where}.connectivityType", "must be the @type of the policy's specification")
        for name, urn in [("endPointType", rule.end_point_type)] + [
            (f"interfaceTypes[{i}]", t) for i, t in enumerate(rule.interface_types)
        ]:
            if not await known.has_type(urn):
                problems.add(f"{where}.{name}", f"no specification has the type {urn!r}")
        for i, service_id in enumerate(rule.allowed_interface_ids):
            if not await known.has_service(pol.buyer_id, service_id):
                problems.add(
                    f"{where}.allowedInterfaceIds[{i}]",
                    f"buyer {pol.buyer_id!r} has no service {service_id!r} in the seed or the store",
                )
        if rule.min_end_points < 2 or (rule.max_end_points and rule.max_end_points < rule.min_end_points):
            problems.add(where, "needs minEndPoints >= 2 and maxEndPoints >= minEndPoints (0 = no maximum)")


async def _check_policies(seed: Seed, known: _Known, problems: _Problems) -> None:
    """Check each policy and complete it: its configuration type comes from its
    specification, its etag defaults to the initial version."""
    for entry in seed.policies:
        pol, at = entry.message, entry.location
        if not pol.buyer_id:
            problems.add(f"{at}.buyerId", "is required")
        if not pol.service_specification_id:
            problems.add(f"{at}.serviceSpecificationId", "is required")
            continue
        spec = await known.spec(pol.service_specification_id)
        if spec is None and pol.service_specification_id in known.unparsed_spec_ids:
            continue
        if spec is None:
            problems.add(
                f"{at}.serviceSpecificationId",
                f"no specification {pol.service_specification_id!r} in the seed or the store",
            )
            continue
        spec_type = spec.target_service_schema.type
        if pol.service_configuration_type and pol.service_configuration_type != spec_type:
            problems.add(f"{at}.serviceConfigurationType", f"is not the specification's type {spec_type!r}")
        pol.service_configuration_type = spec_type
        pol.etag = pol.etag or _INITIAL_ETAG
        for k, rule in enumerate(pol.characteristic_policy):
            _check_rule(rule, f"{at}.characteristicPolicy[{k}]", problems)
        await _check_connectivity(pol, at, known, problems)
    keys = [(e.location, (e.message.buyer_id, e.message.service_specification_id)) for e in seed.policies]
    for at, first in _first_duplicates(keys).items():
        problems.add(f"{at}.serviceSpecificationId", f"this buyer already has a policy for it in {first}")


def _config_location(service_at: str, pointer: str) -> str:
    """The JSON location of a pointer inside a service's configuration attributes."""
    steps = "".join(f"[{t}]" if is_decimal(t) else f".{t}" for t in jsonptr.split(pointer))
    return f"{service_at}.serviceConfiguration.attributes{steps}"


# The X.731 states a service and its components carry twice: hoisted into typed
# fields and inside the configuration as `<name>: {"state": ...}`.
_STATES: tuple[tuple[str, str, ProtoEnum, tuple[str, ...]], ...] = (
    ("administrative_state", "administrativeState", common_pb2.AdministrativeState, ("LOCKED", "UNLOCKED")),
    ("operational_state", "operationalState", common_pb2.OperationalState, ("ENABLED", "DISABLED")),
)


def _check_states(
    hoisting: inventory_pb2.Service | inventory_pb2.ServiceComponent,
    config: dict[str, Any],
    base: str,
    locations: tuple[str, str],
    problems: _Problems,
) -> None:
    """Hoisted states must equal the configuration's `<base>/<name>/state` where it has one.

    `locations` are the service's location and that of the message holding the hoisted fields.
    """
    service_at, holder_at = locations
    for field_name, json_name, enum, allowed in _STATES:
        document = jsonptr.get(config, f"{base}/{json_name}")
        if document is None:
            continue
        spelled = document.get("state") if isinstance(document, dict) else None
        config_at = _config_location(service_at, f"{base}/{json_name}/state")
        hoisted = int(getattr(hoisting, field_name))
        if spelled not in allowed:
            problems.add(config_at, f"must be one of {', '.join(allowed)}")
        elif upper_name(enum, hoisted) != spelled:
            problems.add(
                f"{holder_at}.{json_name}",
                f"is {enum.Name(hoisted)} but {config_at.removeprefix(service_at + '.')} is {spelled}",
            )


def _check_components(
    service: inventory_pb2.Service, config: dict[str, Any], at: str, problems: _Problems
) -> None:
    seen: set[str] = set()
    for k, component in enumerate(service.component):
        where = f"{at}.component[{k}]"
        if not component.id:
            problems.add(f"{where}.id", "is required")
        elif component.id in seen:
            problems.add(f"{where}.id", f"{component.id!r} is used by another component of this service")
        seen.add(component.id)
        path = component.configuration_path
        if not _check_pointer(path, f"{where}.configurationPath", problems):
            continue
        if jsonptr.get(config, path) is None:
            problems.add(f"{where}.configurationPath", f"{path!r} is not in the service configuration")
            continue
        _check_states(component, config, path, (at, where), problems)


async def _check_service(entry: _Entry[inventory_pb2.Service], known: _Known, problems: _Problems) -> None:
    service, at = entry.message, entry.location
    for name, value in (("buyerId", service.buyer_id), ("id", service.id)):
        if not value:
            problems.add(f"{at}.{name}", "is required")
    if service.state == common_pb2.SERVICE_STATE_UNSPECIFIED:
        problems.add(f"{at}.state", "is required (e.g. SERVICE_STATE_ACTIVE)")
    for k, rel in enumerate(service.service_relationship):
        where = f"{at}.serviceRelationship[{k}]"
        if not rel.relationship_type:
            problems.add(f"{where}.relationshipType", "is required (e.g. ATTACHED_TO, ENDPOINT_OF)")
        if not rel.service.id:
            problems.add(f"{where}.service.id", "is required")
        elif not await known.has_service(service.buyer_id, rel.service.id):
            problems.add(
                f"{where}.service.id",
                f"buyer {service.buyer_id!r} has no service {rel.service.id!r} in the seed or the store",
            )
    type_urn = service.service_configuration.type
    if not type_urn:
        problems.add(f"{at}.serviceConfiguration.@type", "is required: the MEF schema URN")
    elif not await known.has_type(type_urn):
        problems.add(f"{at}.serviceConfiguration.@type", f"no specification has this type ({type_urn})")
    config = documents.to_dict(service.service_configuration)
    _check_states(service, config, "", (at, at), problems)
    _check_components(service, config, at, problems)


async def _check_services(seed: Seed, known: _Known, problems: _Problems) -> None:
    for entry in seed.services:
        await _check_service(entry, known, problems)
    keys = [(e.location, (e.message.buyer_id, e.message.id)) for e in seed.services if e.message.id]
    for at, first in _first_duplicates(keys).items():
        problems.add(f"{at}.id", f"this buyer already has a service with this id in {first}")


async def _validate(seed: Seed, store: Store, problems: _Problems) -> None:
    """Check references and invariants across the seed (and against what the store holds)."""
    known = _Known(seed, store)
    _check_specifications(seed, problems)
    await _check_policies(seed, known, problems)
    await _check_services(seed, known, problems)


# -- loading --------------------------------------------------------------------


def _stamp(services: Iterable[inventory_pb2.Service], now: timestamp_pb2.Timestamp) -> None:
    """A loaded service starts at version 1, last changed when it was created."""
    for service in services:
        service.etag = _INITIAL_ETAG
        if not service.HasField("update_time"):
            service.update_time.CopyFrom(service.service_date if service.HasField("service_date") else now)


async def load_seed(store: Store, source: str | Path) -> SeedSummary:
    """Load `source` ("demo" or the path of a seed file) into `store` in one transaction.

    Raises SeedError listing every problem (and writes nothing) if the seed is not valid.
    """
    name, text = await asyncio.to_thread(_read_text, source)
    problems = _Problems()
    seed = _parse(_decode(name, text), problems)
    await _validate(seed, store, problems)
    if problems.items:
        raise SeedError(name, problems.items)
    specs = [e.message for e in seed.specifications]
    policies = [e.message for e in seed.policies]
    services = [e.message for e in seed.services]
    insert = await store.count_services() == 0
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    _stamp(services, now)

    def write(tx: Tx) -> None:
        for spec in specs:
            tx.put_specification(spec)
        for pol in policies:
            tx.put_policy(pol)
        for service in services if insert else ():
            tx.put_service(service)

    await store.write(write)
    by_buyer: dict[str, int] = {}
    for service in services:
        by_buyer[service.buyer_id] = by_buyer.get(service.buyer_id, 0) + 1
    return SeedSummary(
        source=name,
        specifications=len(specs),
        policies=len(policies),
        services_loaded=len(services) if insert else 0,
        services_skipped=0 if insert else len(services),
        services_by_buyer=by_buyer,
    )
