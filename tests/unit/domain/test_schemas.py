"""Configurations checked against their @type's JSON Schema: the project's own files, MEF's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import Errors
from interlude_server.domain.schemas import validation
from tests.support.paths import MEF_SERVICE_SCHEMAS, REPO, needs_reference

MEF = MEF_SERVICE_SCHEMAS
DEMO = json.loads((REPO / "server/interlude_server/seed/demo.json").read_text())
OVC_EP = "urn:mef:lso:spec:legato:carrier-ethernet-ovc-end-point:v0.0.1:all"
IPVC_EP = "urn:mef:lso:spec:legato:ipvc-end-point:v0.0.4:all"
CFG = "service_order.service_order_item[0].service.service_configuration"
CIR = f"{CFG}.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"


def _item(
    attributes: dict[str, Any], type_urn: str = OVC_EP, action: int = ordering_pb2.SERVICE_ACTION_ADD
) -> ordering_pb2.ServiceOrderItem:
    struct = struct_pb2.Struct()
    struct.update(attributes)
    service = inventory_pb2.Service(
        service_configuration=common_pb2.ExtensionPayload(type=type_urn, attributes=struct)
    )
    return ordering_pb2.ServiceOrderItem(id="1", action=action, service=service)  # type: ignore[arg-type]


def _violations(item: ordering_pb2.ServiceOrderItem) -> dict[str, str]:
    errors = Errors()
    validation.check_item(item, CFG, errors)
    return {v.field: v.code for v in errors.items}


def _demo_configurations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (s["id"], s["serviceConfiguration"]["@type"], s["serviceConfiguration"]["attributes"])
        for s in DEMO["services"]
    ]


def test_every_demo_specification_type_has_a_project_schema() -> None:
    types = {spec["targetServiceSchema"]["@type"] for spec in DEMO["specifications"]}
    assert types <= set(validation.load(validation.BUNDLED).validators)


def test_the_demo_seed_validates_under_the_projects_schemas() -> None:
    schemas = validation.load(validation.BUNDLED)
    for service_id, type_urn, attributes in _demo_configurations():
        assert schemas.violations(type_urn, attributes) == [], service_id


@needs_reference
def test_mefs_published_files_load_and_describe_every_demo_type() -> None:
    schemas = validation.load(MEF)
    for _, type_urn, _ in _demo_configurations():
        assert type_urn in schemas.validators or type_urn in schemas.unusable, type_urn
    # MEF's own ipvcEndPoint.yaml puts `required` inside `properties`: no validator can compile it.
    assert "ipvcEndPoint.yaml" in schemas.unusable[IPVC_EP]
    assert "carrierEthernetOvcEndPoint.yaml" in str(schemas.sources[OVC_EP])


@needs_reference
def test_the_demo_seed_validates_under_mefs_files() -> None:
    schemas = validation.load(MEF)
    found = {
        service_id: schemas.violations(type_urn, attributes)
        for service_id, type_urn, attributes in _demo_configurations()
    }
    assert not any(found.values()), found


@pytest.mark.parametrize("bad", ["abc", True, None, {"x": 1}, [100]])
def test_a_cir_value_that_is_not_a_number_is_refused_at_its_pointer(bad: object) -> None:
    item = _item({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": bad, "irUnits": "MBPS"}}})
    assert _violations(item) == {CIR: "invalidValue"}


def test_a_number_passes_the_schema_and_is_left_to_policy_ranges() -> None:
    item = _item({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 5000, "irUnits": "MBPS"}}})
    assert _violations(item) == {}


def test_every_violation_of_a_configuration_comes_back_at_once() -> None:
    item = _item(
        {
            "role": "CAPTAIN",
            "ceVlanIdList": [101, 0, "7"],
            "ingressBandwidthProfilePerOvcEndPoint": {
                "cir": {"irValue": "abc", "irUnits": "Mbps"},  # MEF spells units MBPS
                "cbs": {"dataSizeUnits": "LITRES"},
            },
        },
        action=ordering_pb2.SERVICE_ACTION_MODIFY,
    )
    assert set(_violations(item)) == {
        f"{CFG}.attributes.role",
        f"{CFG}.attributes.ceVlanIdList[1]",
        f"{CFG}.attributes.ceVlanIdList[2]",
        CIR,
        f"{CFG}.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irUnits",
        f"{CFG}.attributes.ingressBandwidthProfilePerOvcEndPoint.cbs.dataSizeUnits",
    }


def test_delete_items_and_types_without_a_schema_are_not_checked() -> None:
    assert _violations(_item({"role": 1}, action=ordering_pb2.SERVICE_ACTION_DELETE)) == {}
    assert _violations(_item({"role": 1}, type_urn="urn:example:unknown")) == {}


@needs_reference
def test_mefs_schema_reports_missing_required_properties_at_their_pointer() -> None:
    schemas = validation.load(MEF)
    found = {v.field: v.code for v in schemas.violations(OVC_EP, {"identifier": "x" * 46})}
    assert found["/identifier"] == "invalidValue"  # MEF: maxLength 45
    assert found["/endPointMap"] == "missingProperty"


def test_a_schema_dir_overrides_the_types_it_names_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "ovc-ep.yaml").write_text(
        f"$id: {OVC_EP}\ntype: object\nproperties:\n  role:\n    type: integer\n"
    )
    try:
        schemas = validation.use(tmp_path)
        assert _violations(_item({"role": "ROOT"})) == {f"{CFG}.attributes.role": "invalidValue"}
        assert _violations(_item({"role": 3})) == {}
        assert schemas.violations(IPVC_EP, {"role": 3}) != []  # still the project's schema
    finally:
        validation.use(None)
    assert _violations(_item({"role": 3})) == {f"{CFG}.attributes.role": "invalidValue"}


def test_a_schema_file_that_is_not_an_object_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("- just\n- a list\n")
    with pytest.raises(validation.SchemaError, match=r"broken\.yaml"):
        validation.load(tmp_path)
