"""The v1 contract itself: coverage of the nine Interlude interactions and the
conventions every generated client relies on (paging, idempotency, resume)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf import descriptor as _d

import interlude_grpc.mef.lso.interlude.v1 as v1pkg

PACKAGE = "mef.lso.interlude.v1"
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Cancel", "Modify", "Suspend", "Resume", "Set")
DRY_RUN_PREFIXES = ("Create", "Update", "Modify", "Set")
VERSIONED_PREFIXES = ("Update", "Delete", "Cancel", "Modify", "Set")


def _files() -> list[_d.FileDescriptor]:
    files = []
    for mod in pkgutil.iter_modules(v1pkg.__path__):
        if mod.name.endswith("_pb2"):
            files.append(importlib.import_module(f"{v1pkg.__name__}.{mod.name}").DESCRIPTOR)
    return files


FILES = _files()
METHODS = {m.full_name: m for f in FILES for s in f.services_by_name.values() for m in s.methods}


def _field_names(msg: _d.Descriptor) -> set[str]:
    return {f.name for f in msg.fields}


def test_contract_has_one_file_per_service_plus_common() -> None:
    names = sorted(f.name.rsplit("/", 1)[-1] for f in FILES)
    assert names == [
        "alarm.proto",
        "catalog.proto",
        "common.proto",
        "events.proto",
        "fault_management.proto",
        "inventory.proto",
        "ordering.proto",
        "performance.proto",
        "service_test.proto",
    ]
    for f in FILES:
        assert f.package == PACKAGE
        # Shared messages only: common, and the Fault Management settings the test service carries.
        messages_only = f.name.endswith(("common.proto", "fault_management.proto"))
        assert len(f.services_by_name) == (0 if messages_only else 1), f.name


# Each Interlude interaction (MEF 55.1 Table 4) and the RPCs that carry it.
INTERACTIONS = {
    "1 change dynamic service parameters": [
        "ServiceOrderingService.UpdateService",
        "ServiceCatalogService.GetServicePolicy",
    ],
    "2 query operational state": ["ServiceInventoryService.GetService"],
    "3 change administrative state": ["ServiceOrderingService.SetAdministrativeState"],
    "4 customise defaulted parameters": [
        "ServiceOrderingService.CreateServiceOrder",
        "ServiceCatalogService.ListServicePolicies",
    ],
    "5 create connectivity": ["ServiceOrderingService.CreateConnectivity"],
    "6 query service inventory": ["ServiceInventoryService.ListServices"],
    "7 receive service events": ["EventService.StreamEvents"],
    "8 receive performance information": [
        "PerformanceService.CreatePerformanceJob",
        "PerformanceService.ListPerformanceReports",
        "PerformanceService.StreamPerformanceData",
    ],
    "9 start tests and receive results": [
        "ServiceTestService.GetTestCapabilities",
        "ServiceTestService.CreateTestJob",
        "ServiceTestService.StreamTestResults",
    ],
}


@pytest.mark.parametrize("interaction", sorted(INTERACTIONS))
def test_every_interlude_interaction_has_an_rpc(interaction: str) -> None:
    for rpc in INTERACTIONS[interaction]:
        assert f"{PACKAGE}.{rpc}" in METHODS, f"{interaction}: missing {rpc}"


def test_events_and_performance_are_server_streams() -> None:
    for rpc in (
        "EventService.StreamEvents",
        "PerformanceService.StreamPerformanceData",
        "ServiceTestService.StreamTestResults",
    ):
        m = METHODS[f"{PACKAGE}.{rpc}"]
        assert m.server_streaming
        assert not m.client_streaming


def test_queries_and_changes_are_unary() -> None:
    unary = [m for m in METHODS.values() if not m.name.startswith("Stream")]
    assert unary
    for m in unary:
        assert not m.server_streaming, m.full_name
        assert not m.client_streaming, m.full_name


@pytest.mark.parametrize("method", sorted(n for n in METHODS if n.split(".")[-1].startswith("List")))
def test_every_list_rpc_pages_and_filters(method: str) -> None:
    m = METHODS[method]
    assert {"page_size", "page_token", "filter"} <= _field_names(m.input_type)
    assert {"next_page_token", "total_size"} <= _field_names(m.output_type)


@pytest.mark.parametrize(
    "method", sorted(n for n in METHODS if n.split(".")[-1].startswith(MUTATING_PREFIXES))
)
def test_every_mutating_rpc_takes_a_request_id(method: str) -> None:
    assert "request_id" in _field_names(METHODS[method].input_type)


@pytest.mark.parametrize(
    "method", sorted(n for n in METHODS if n.split(".")[-1].startswith(DRY_RUN_PREFIXES))
)
def test_creates_and_changes_support_validate_only(method: str) -> None:
    # Suspend/Resume/Cancel/Delete are plain state changes; everything that
    # carries content to validate offers a dry run.
    assert "validate_only" in _field_names(METHODS[method].input_type)


@pytest.mark.parametrize(
    "method",
    sorted(n for n in METHODS if n.split(".")[-1].startswith(VERSIONED_PREFIXES)),
)
def test_changes_to_editable_resources_carry_an_etag(method: str) -> None:
    assert "etag" in _field_names(METHODS[method].input_type)


@pytest.mark.parametrize("method", sorted(n for n, m in METHODS.items() if m.server_streaming))
def test_every_streaming_rpc_can_resume(method: str) -> None:
    m = METHODS[method]
    assert "resume_token" in _field_names(m.input_type)
    assert "heartbeat_interval" in _field_names(m.input_type)


def test_every_rpc_has_its_own_request_and_response() -> None:
    seen: set[str] = set()
    for m in METHODS.values():
        name = m.name
        assert m.input_type.name == f"{name}Request"
        assert m.output_type.name == f"{name}Response"
        assert m.input_type.full_name not in seen
        seen.add(m.input_type.full_name)


def test_every_enum_starts_with_an_unspecified_zero() -> None:
    enums = [e for f in FILES for e in f.enum_types_by_name.values()]
    assert len(enums) > 10
    for e in enums:
        zero = e.values_by_number[0]
        assert zero.name.endswith("_UNSPECIFIED"), e.full_name


def test_every_file_sets_the_language_options_consistently() -> None:
    options = [f.GetOptions() for f in FILES]
    for f, o in zip(FILES, options, strict=True):
        for opt in ("java_package", "java_outer_classname", "go_package", "csharp_namespace"):
            assert o.HasField(opt), f"{f.name} lacks {opt}"
        assert o.java_multiple_files, f.name
    assert len({o.java_package for o in options}) == 1
    assert len({o.go_package for o in options}) == 1
    assert len({o.csharp_namespace for o in options}) == 1


def test_mef_extension_point_is_spelled_at_type_in_json() -> None:
    from interlude_grpc.mef.lso.interlude.v1 import common_pb2

    fields = common_pb2.ExtensionPayload.DESCRIPTOR.fields_by_name
    assert fields["type"].json_name == "@type"
    assert fields["schema_location"].json_name == "@schemaLocation"


def test_services_carry_lifecycle_administrative_and_operational_state() -> None:
    from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2

    fields = inventory_pb2.Service.DESCRIPTOR.fields_by_name
    for field, enum in [
        ("state", "ServiceState"),
        ("administrative_state", "AdministrativeState"),
        ("operational_state", "OperationalState"),
    ]:
        enum_type = fields[field].enum_type
        assert enum_type is not None, field
        assert enum_type.name == enum
    assert {"etag", "service_configuration"} <= set(fields)
