"""Every ordered configuration is checked against its @type's JSON Schema before policy ranges:
the project's own schemas, or with `--schema-dir` MEF's published files."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format, struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2, ordering_pb2
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, Stubs, rich_error, wait_for_order
from tests.support.paths import MEF_SERVICE_SCHEMAS, needs_reference
from tests.support.server_process import ServerProcess, server_command

MEF_CARRIER_ETHERNET = MEF_SERVICE_SCHEMAS / "carrierEthernet"
ATTRS = "service_configuration.attributes"
OVC_CIR = f"{ATTRS}.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
IPVC_CIR = f"{ATTRS}.ingressBandwidthProfileEnvelope.cir.irValue"


def _update(service_id: str, mask: str, attributes: dict[str, Any]) -> ordering_pb2.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update(attributes)
    return ordering_pb2.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(paths=[mask]),
    )


def _ovc_cir(amount: object) -> ordering_pb2.UpdateServiceRequest:
    return _update(
        "alpha-ovc-1-ep-1", OVC_CIR, {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}}
    )


def _ipvc_cir(amount: object) -> ordering_pb2.UpdateServiceRequest:
    return _update(
        "alpha-ipvc-1-ep-1", IPVC_CIR, {"ingressBandwidthProfileEnvelope": {"cir": {"irValue": amount}}}
    )


def _attributes(stubs: Stubs, service_id: str) -> dict[str, Any]:
    service = stubs.inventory.GetService(
        inventory_pb2.GetServiceRequest(id=service_id), metadata=ALPHA
    ).service
    return json_format.MessageToDict(service.service_configuration.attributes)


@pytest.mark.parametrize("bad", ["abc", True, None, {"x": 1}])
def test_a_cir_that_is_not_a_number_is_refused_at_its_json_pointer(stubs: Stubs, bad: object) -> None:
    before = _attributes(stubs, "alpha-ovc-1-ep-1")
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.UpdateService(_ovc_cir(bad), metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_REQUEST"
    assert list(error.violations) == [f"service.{OVC_CIR}"]
    assert "number" in error.violations[f"service.{OVC_CIR}"]
    assert _attributes(stubs, "alpha-ovc-1-ep-1") == before


def test_every_schema_violation_of_an_order_comes_back_at_once(stubs: Stubs) -> None:
    config = struct_pb2.Struct()
    config.update(
        {
            "identifier": "OVC-ALPHA-0001-EP9",
            "role": "CAPTAIN",
            "ceVlanIdList": [5000],
            "ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": "abc"}, "couplingFlag": "no"},
        }
    )
    service = inventory_pb2.Service(
        state=common_pb2.SERVICE_STATE_ACTIVE,
        service_configuration=common_pb2.ExtensionPayload(
            type="urn:mef:lso:spec:legato:carrier-ethernet-ovc-end-point:v0.0.1:all", attributes=config
        ),
    )
    item = ordering_pb2.ServiceOrderItem(id="1", action=ordering_pb2.SERVICE_ACTION_ADD, service=service)
    request = ordering_pb2.CreateServiceOrderRequest(
        service_order=ordering_pb2.ServiceOrder(service_order_item=[item])
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.CreateServiceOrder(request, metadata=ALPHA)
    error = rich_error(raised.value)
    prefix = f"service_order.service_order_item[0].service.{ATTRS}"
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {
        f"{prefix}.role",
        f"{prefix}.ceVlanIdList[0]",
        f"{prefix}.ingressBandwidthProfilePerOvcEndPoint.cir.irValue",
        f"{prefix}.ingressBandwidthProfilePerOvcEndPoint.couplingFlag",
    } <= set(error.violations)


@pytest.fixture(scope="module")
def mef_stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stubs]:
    workdir = tmp_path_factory.mktemp("mef-schemas")
    running: ServerProcess = launch_demo(workdir, "--schema-dir", str(MEF_CARRIER_ETHERNET))
    try:
        with grpc.insecure_channel(running.target) as channel:
            yield Stubs.on(channel)
    finally:
        assert running.stop() == 0


@needs_reference
def test_with_schema_dir_the_server_checks_mefs_schema(mef_stubs: Stubs, stubs: Stubs) -> None:
    # The demo's configurations are MEF's shapes: a change within them passes MEF's schema.
    order = mef_stubs.ordering.UpdateService(_ovc_cir(500), metadata=ALPHA).service_order
    assert wait_for_order(mef_stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    # MEF's ColorIdentifier requires colorFieldType; the project's schema leaves it optional.
    no_field_type = _update("alpha-ovc-1-ep-2", f"{ATTRS}.colorMap", {"colorMap": {}})
    with pytest.raises(grpc.RpcError) as raised:
        mef_stubs.ordering.UpdateService(no_field_type, metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(error.violations) == [f"service.{ATTRS}.colorMap.colorFieldType"]
    # The same change passes the project's own schema: the default server refuses it only by policy.
    with pytest.raises(grpc.RpcError) as raised:
        stubs.ordering.UpdateService(no_field_type, metadata=ALPHA)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "POLICY_VIOLATION")
    assert error.rules == ["policy:carrier-ethernet-ovc-end-point:/colorMap/colorFieldType"]


@needs_reference
def test_with_schema_dir_types_it_does_not_describe_keep_the_projects_schema(mef_stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        mef_stubs.ordering.UpdateService(_ipvc_cir("abc"), metadata=ALPHA)
    assert list(rich_error(raised.value).violations) == [f"service.{IPVC_CIR}"]
    order = mef_stubs.ordering.UpdateService(_ipvc_cir(300), metadata=ALPHA).service_order
    assert wait_for_order(mef_stubs, order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED


def test_a_schema_dir_that_does_not_exist_stops_the_server(tmp_path: Path) -> None:
    command = server_command(tmp_path, "--schema-dir", str(tmp_path / "missing"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--schema-dir" in done.stderr


@needs_reference
def test_with_schema_dir_specifications_point_at_mefs_files_and_those_are_served(mef_stubs: Stubs) -> None:
    ovc_ep = mef_stubs.catalog.GetServiceSpecification(
        catalog_pb2.GetServiceSpecificationRequest(id="carrier-ethernet-ovc-end-point")
    ).service_specification
    location = ovc_ep.target_service_schema.schema_location
    assert location.startswith("serviceSchema/")
    assert location.endswith(".yaml")  # MEF's file, not the project's
    served = mef_stubs.catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest(location=location))
    assert json_format.MessageToDict(served.schema)["$id"] == ovc_ep.target_service_schema.type
    ipvc = mef_stubs.catalog.GetServiceSpecification(
        catalog_pb2.GetServiceSpecificationRequest(id="ipvc")
    ).service_specification
    assert ipvc.target_service_schema.schema_location == "serviceSchema/ipvc.json"  # the project's
