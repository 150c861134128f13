"""The seed loader against a real SQLite store.

The demo seed loads the catalog, both buyers' policies and their inventory in
one transaction; a reload refreshes the catalog and policies but never touches
services that orders may have changed; a bad seed is refused whole, with every
problem and its JSON location.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2
from interlude_server.domain import documents, policy
from interlude_server.seed import FORMAT, SeedError, SeedSummary, load_seed
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery, Tx
from interlude_server.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALPHA_SERVICES = {
    "alpha-uni-1",
    "alpha-uni-2",
    "alpha-uni-3",
    "alpha-enni-1",
    "alpha-enni-2",
    "alpha-ovc-1",
    "alpha-ovc-1-ep-1",
    "alpha-ovc-1-ep-2",
    "alpha-evc-1",
    "alpha-evc-1-ep-1",
    "alpha-evc-1-ep-2",
    "alpha-ip-uni-1",
    "alpha-ip-uni-2",
    "alpha-ipvc-1",
    "alpha-ipvc-1-ep-1",
    "alpha-ipvc-1-ep-2",
}
BETA_SERVICES = {
    "beta-uni-1",
    "beta-uni-2",
    "beta-enni-1",
    "beta-ovc-1",
    "beta-ovc-1-ep-1",
    "beta-ovc-1-ep-2",
    "beta-ip-uni-1",
}
SPECIFICATIONS = {
    "carrier-ethernet-operator-uni",
    "carrier-ethernet-enni-service",
    "carrier-ethernet-ovc",
    "carrier-ethernet-ovc-end-point",
    "carrier-ethernet-evc",
    "carrier-ethernet-evc-end-point",
    "ip-uni",
    "ipvc",
    "ipvc-end-point",
}
UNI = "urn:mef:lso:spec:legato:carrier-ethernet-operator-uni:v0.0.1:all"
ALL = PageRequest(limit=1000)


@pytest_asyncio.fixture(loop_scope="module")
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A real store on a fresh SQLite file."""
    opened = SqliteStore(tmp_path / "x.db")
    await opened.open()
    yield opened
    await opened.close()


async def services_of(store: SqliteStore, buyer_id: str) -> dict[str, inventory_pb2.Service]:
    page = await store.list_services(buyer_id, ServiceQuery(), ALL)
    return {s.id: s for s in page.items}


async def policies_of(store: SqliteStore, buyer_id: str) -> dict[str, catalog_pb2.ServicePolicy]:
    page = await store.list_policies(buyer_id, catalog_pb2.ServicePolicyFilter(), ALL)
    return {p.service_specification_id: p for p in page.items}


def minimal_seed() -> dict[str, Any]:
    """A valid seed: one specification, one policy, a UNI and a service attached to it."""
    config = {"@type": UNI, "attributes": {"administrativeState": {"state": "UNLOCKED"}}}
    return {
        "format": FORMAT,
        "specifications": [{"id": "uni", "targetServiceSchema": {"@type": UNI}, "isServiceInterface": True}],
        "policies": [
            {"buyerId": "sp-x", "serviceSpecificationId": "uni", "administrativeStateChangeable": True}
        ],
        "services": [
            {
                "buyerId": "sp-x",
                "id": "uni-1",
                "state": "SERVICE_STATE_ACTIVE",
                "administrativeState": "ADMINISTRATIVE_STATE_UNLOCKED",
                "serviceConfiguration": config,
            },
            {
                "buyerId": "sp-x",
                "id": "uni-2",
                "state": "SERVICE_STATE_ACTIVE",
                "administrativeState": "ADMINISTRATIVE_STATE_UNLOCKED",
                "serviceConfiguration": copy.deepcopy(config),
                "serviceRelationship": [{"relationshipType": "PAIRED_WITH", "service": {"id": "uni-1"}}],
            },
        ],
    }


def write_seed(tmp_path: Path, seed: object) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    return path


async def refused(store: SqliteStore, source: Path) -> SeedError:
    with pytest.raises(SeedError) as raised:
        await load_seed(store, source)
    return raised.value


async def test_demo_seed_loads_the_catalog_both_buyers_policies_and_their_inventory(
    store: SqliteStore,
) -> None:
    summary = await load_seed(store, "demo")

    assert summary == SeedSummary(
        source="demo",
        specifications=9,
        policies=18,
        services_loaded=23,
        services_skipped=0,
        services_by_buyer={"sp-alpha": 16, "sp-beta": 7},
    )
    specs = await store.list_specifications(catalog_pb2.ServiceSpecificationFilter(), ALL)
    assert {s.id for s in specs.items} == SPECIFICATIONS
    assert set(await services_of(store, "sp-alpha")) == ALPHA_SERVICES
    assert set(await services_of(store, "sp-beta")) == BETA_SERVICES
    assert set(await policies_of(store, "sp-alpha")) == SPECIFICATIONS
    assert set(await policies_of(store, "sp-beta")) == SPECIFICATIONS
    assert await store.count_services() == 23


async def test_demo_services_start_at_version_1_with_consistent_states(store: SqliteStore) -> None:
    await load_seed(store, "demo")
    alpha = await services_of(store, "sp-alpha")

    for service in [*alpha.values(), *(await services_of(store, "sp-beta")).values()]:
        assert service.etag == "1", service.id
        assert service.update_time == service.service_date, service.id
        config = documents.to_dict(service.service_configuration)
        admin = common_pb2.AdministrativeState.Name(service.administrative_state)
        oper = common_pb2.OperationalState.Name(service.operational_state)
        assert admin == "ADMINISTRATIVE_STATE_" + config["administrativeState"]["state"], service.id
        assert oper == "OPERATIONAL_STATE_" + config["operationalState"]["state"], service.id
    uni3 = alpha["alpha-uni-3"]
    assert (uni3.state, uni3.administrative_state, uni3.operational_state) == (
        common_pb2.SERVICE_STATE_ACTIVE,
        common_pb2.ADMINISTRATIVE_STATE_UNLOCKED,
        common_pb2.OPERATIONAL_STATE_DISABLED,
    )
    (link,) = uni3.component
    assert (link.id, link.component_type, link.configuration_path) == (
        "link-1",
        "physicalLink",
        "/physicalLinks/0",
    )
    assert link.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED


async def test_demo_end_points_attach_to_an_interface_and_belong_to_a_connectivity_service_policy_allows(
    store: SqliteStore,
) -> None:
    """Every end point is ATTACHED_TO one interface and ENDPOINT_OF one connectivity service
    of the same buyer, and that buyer's connectivity rule admits exactly that combination."""
    await load_seed(store, "demo")
    specs = await store.list_specifications(catalog_pb2.ServiceSpecificationFilter(), ALL)
    spec_of_type = {s.target_service_schema.type: s for s in specs.items}
    end_points = 0
    for buyer_id in ("sp-alpha", "sp-beta"):
        services = await services_of(store, buyer_id)
        policies = await policies_of(store, buyer_id)
        for service in services.values():
            relations = {r.relationship_type: r.service.id for r in service.service_relationship}
            if not relations:
                continue
            end_points += 1
            assert set(relations) == {"ATTACHED_TO", "ENDPOINT_OF"}, service.id
            interface, connectivity = services[relations["ATTACHED_TO"]], services[relations["ENDPOINT_OF"]]
            assert spec_of_type[interface.service_configuration.type].is_service_interface
            connectivity_spec = spec_of_type[connectivity.service_configuration.type]
            (rule,) = policies[connectivity_spec.id].connectivity_rule
            assert rule.end_point_type == service.service_configuration.type
            assert interface.service_configuration.type in rule.interface_types
            assert not rule.allowed_interface_ids or interface.id in rule.allowed_interface_ids
    assert end_points == 8


async def test_demo_configurations_respect_their_buyers_policy_ranges_and_allowed_values(
    store: SqliteStore,
) -> None:
    await load_seed(store, "demo")
    findings = policy.Findings()
    for buyer_id in ("sp-alpha", "sp-beta"):
        by_type = {p.service_configuration_type: p for p in (await policies_of(store, buyer_id)).values()}
        for service in (await services_of(store, buyer_id)).values():
            rules = by_type[service.service_configuration.type]
            config = documents.to_dict(service.service_configuration)
            policy.check_values(rules, config, f"{buyer_id}/{service.id}", findings)
    assert findings.violations == []


async def test_alpha_ovc_rule_admits_its_unis_and_only_its_first_enni(store: SqliteStore) -> None:
    await load_seed(store, "demo")
    alpha, beta = await policies_of(store, "sp-alpha"), await policies_of(store, "sp-beta")

    (alpha_rule,) = alpha["carrier-ethernet-ovc"].connectivity_rule
    (beta_rule,) = beta["carrier-ethernet-ovc"].connectivity_rule
    assert list(alpha_rule.allowed_interface_ids) == [
        "alpha-uni-1",
        "alpha-uni-2",
        "alpha-uni-3",
        "alpha-enni-1",
    ]
    assert list(beta_rule.allowed_interface_ids) == ["beta-uni-1", "beta-uni-2", "beta-enni-1"]
    assert (alpha_rule.min_end_points, alpha_rule.max_end_points) == (2, 2)
    assert not alpha["carrier-ethernet-enni-service"].administrative_state_changeable
    assert all(p.etag == "1" for p in [*alpha.values(), *beta.values()])


async def test_reloading_keeps_services_changed_since_and_restores_catalog_and_policies(
    store: SqliteStore,
) -> None:
    await load_seed(store, "demo")
    seeded_policy = await store.get_policy("sp-alpha", "carrier-ethernet-ovc-end-point")
    assert seeded_policy is not None

    def change_everything(tx: Tx) -> None:
        uni = tx.get_service("sp-alpha", "alpha-uni-1")
        assert uni is not None
        uni.description = "locked by order 42"
        uni.administrative_state = common_pb2.ADMINISTRATIVE_STATE_LOCKED
        uni.etag = "2"
        tx.put_service(uni)
        tx.delete_service("sp-beta", "beta-ovc-1-ep-2")
        loose = catalog_pb2.ServicePolicy()
        loose.CopyFrom(seeded_policy)
        loose.characteristic_policy[0].range.max = 5000
        loose.etag = "7"
        tx.put_policy(loose)
        tx.put_specification(catalog_pb2.ServiceSpecification(id="ipvc", name="renamed"))

    await store.write(change_everything)

    summary = await load_seed(store, "demo")

    assert (summary.services_loaded, summary.services_skipped) == (0, 23)
    uni = await store.get_service("sp-alpha", "alpha-uni-1")
    assert uni is not None
    assert (uni.description, uni.etag) == ("locked by order 42", "2")
    assert uni.administrative_state == common_pb2.ADMINISTRATIVE_STATE_LOCKED
    assert await store.get_service("sp-beta", "beta-ovc-1-ep-2") is None
    restored = await store.get_policy("sp-alpha", "carrier-ethernet-ovc-end-point")
    assert restored is not None
    assert (restored.characteristic_policy[0].range.max, restored.etag) == (1000, "1")
    spec = await store.get_specification("ipvc")
    assert spec is not None
    assert spec.name == "IP Virtual Connection"


async def test_a_seed_file_in_the_documented_format_loads_from_a_path(
    store: SqliteStore, tmp_path: Path
) -> None:
    summary = await load_seed(store, write_seed(tmp_path, minimal_seed()))

    assert (summary.specifications, summary.policies, summary.services_loaded) == (1, 1, 2)
    loaded = await store.get_service("sp-x", "uni-2")
    assert loaded is not None
    assert loaded.etag == "1"
    assert loaded.update_time.seconds > 0  # no service date: stamped with the load time
    pol = await store.get_policy("sp-x", "uni")
    assert pol is not None
    assert (pol.service_configuration_type, pol.etag) == (UNI, "1")


async def test_a_bad_seed_reports_every_problem_with_its_location_and_writes_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    seed = minimal_seed()
    seed["format"] = "interlude-seed/v0"
    seed["specifications"].append({"id": "uni", "targetServiceSchema": {"@type": UNI + ":copy"}})
    seed["policies"].append({"buyerId": "sp-x", "serviceSpecificationId": "no-such-spec"})
    uni_1, uni_2 = seed["services"]
    del uni_1["buyerId"]
    del uni_2["state"]
    uni_2["serviceConfiguration"]["@type"] = "urn:mef:lso:spec:legato:no-such-thing:v0.0.1:all"
    uni_2["serviceRelationship"].append({"relationshipType": "ATTACHED_TO", "service": {"id": "uni-9"}})
    seed["services"].append({"buyerId": "sp-x", "id": "uni-3", "colour": "blue"})
    seed["services"].append(copy.deepcopy(uni_2))

    error = await refused(store, write_seed(tmp_path, seed))

    locations = [p.location for p in error.problems]
    assert sorted(locations) == sorted(
        [
            "format",
            "specifications[1].id",
            "policies[1].serviceSpecificationId",
            "services[0].buyerId",
            "services[1].state",
            "services[1].serviceConfiguration.@type",
            "services[1].serviceRelationship[0].service.id",  # uni-1 has no buyer: not sp-x's
            "services[1].serviceRelationship[1].service.id",
            "services[2]",
            "services[3].state",
            "services[3].serviceConfiguration.@type",
            "services[3].serviceRelationship[0].service.id",
            "services[3].serviceRelationship[1].service.id",
            "services[3].id",
        ]
    )
    message = str(error)
    assert message.startswith(f"seed {tmp_path / 'seed.json'} has 14 problems; nothing was loaded:")
    assert "services[1].serviceConfiguration.@type: no specification has this type" in message
    assert "services[2]: unknown field 'colour'" in message
    assert "services[3].id: this buyer already has a service with this id in services[1]" in message
    assert await store.count_services() == 0
    assert await store.get_specification("uni") is None


async def test_hoisted_states_that_disagree_with_the_configuration_are_reported(
    store: SqliteStore, tmp_path: Path
) -> None:
    seed = minimal_seed()
    uni_1 = seed["services"][0]
    uni_1["administrativeState"] = "ADMINISTRATIVE_STATE_LOCKED"
    uni_1["serviceConfiguration"]["attributes"]["physicalLinks"] = [
        {"operationalState": {"state": "ENABLED"}}
    ]
    uni_1["component"] = [
        {
            "id": "link-1",
            "componentType": "physicalLink",
            "configurationPath": "/physicalLinks/0",
            "operationalState": "OPERATIONAL_STATE_DISABLED",
        }
    ]
    seed["services"][1]["serviceConfiguration"]["attributes"]["operationalState"] = {"state": "enabled"}

    error = await refused(store, write_seed(tmp_path, seed))

    assert [str(p) for p in error.problems] == [
        "services[0].administrativeState: is ADMINISTRATIVE_STATE_LOCKED"
        " but serviceConfiguration.attributes.administrativeState.state is UNLOCKED",
        "services[0].component[0].operationalState: is OPERATIONAL_STATE_DISABLED"
        " but serviceConfiguration.attributes.physicalLinks[0].operationalState.state is ENABLED",
        "services[1].serviceConfiguration.attributes.operationalState.state:"
        " must be one of ENABLED, DISABLED",
    ]


async def test_policies_are_checked_against_the_catalog_and_their_own_rules(
    store: SqliteStore, tmp_path: Path
) -> None:
    seed = minimal_seed()
    seed["policies"][0]["characteristicPolicy"] = [
        {"path": "maximumFrameSize", "changeability": "CHANGEABILITY_CUSTOMIZABLE"},
        {
            "path": "/cir",
            "changeability": "CHANGEABILITY_DYNAMIC",
            "range": {"min": 10, "max": 100},
            "defaultValue": 5,
        },
    ]
    seed["policies"][0]["connectivityRule"] = [
        {"connectivityType": UNI, "endPointType": "urn:nope", "allowedInterfaceIds": ["uni-1", "beta-uni-1"]}
    ]
    seed["policies"].append(copy.deepcopy(seed["policies"][0]))

    error = await refused(store, write_seed(tmp_path, seed))

    locations = {p.location for p in error.problems}
    assert {
        "policies[0].characteristicPolicy[0].path",
        "policies[0].characteristicPolicy[1].defaultValue",
        "policies[0].connectivityRule[0].endPointType",
        "policies[0].connectivityRule[0].allowedInterfaceIds[1]",
        "policies[0].connectivityRule[0]",
        "policies[1].serviceSpecificationId",
    } <= locations
    assert "outside the allowed range [10, 100]" in str(error)


async def test_malformed_json_is_reported_with_its_line_and_column(
    store: SqliteStore, tmp_path: Path
) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{\n  "format": "interlude-seed/v1",\n  "services": [,]\n}\n', encoding="utf-8")

    error = await refused(store, path)

    (problem,) = error.problems
    assert (problem.location, problem.message) == ("line 3 column 16", "Expecting value")


async def test_a_missing_file_is_a_seed_error_naming_the_file(store: SqliteStore, tmp_path: Path) -> None:
    error = await refused(store, tmp_path / "absent.json")

    assert error.source == str(tmp_path / "absent.json")
    assert "cannot read the file" in str(error)
