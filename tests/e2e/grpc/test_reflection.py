"""Server reflection on a real server process, through both v1alpha and v1.

grpcurl and Postman try grpc.reflection.v1 first; older tools use v1alpha.
Both must list every contract service plus health and reflection, and return
file descriptors a client can build a working descriptor pool from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.proto_source import leading_comment

# grpc_reflection ships no type information: its messages are Any to mypy.
Request = reflection_pb2.ServerReflectionRequest
Response = reflection_pb2.ServerReflectionResponse
Exchange = Callable[[grpc.Channel, Any], Any]

V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
INVENTORY = "mef.lso.interlude.v1.ServiceInventoryService"


def _via_v1alpha(channel: grpc.Channel, request: Any) -> Any:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    (response,) = stub.ServerReflectionInfo(iter([request]), timeout=5)
    return response


def _via_v1(channel: grpc.Channel, request: Any) -> Any:
    # The v1 messages are wire-identical to v1alpha's, so v1alpha classes decode them.
    call = channel.stream_stream(
        V1_METHOD,
        request_serializer=Request.SerializeToString,
        response_deserializer=Response.FromString,
    )
    (response,) = call(iter([request]), timeout=5)
    return response


VERSIONS = pytest.mark.parametrize("exchange", [_via_v1alpha, _via_v1], ids=["v1alpha", "v1"])


def _listed(exchange: Exchange, channel: grpc.Channel) -> set[str]:
    response = exchange(channel, Request(list_services=""))
    return {service.name for service in response.list_services_response.service}


def _pool(files: Iterable[bytes]) -> descriptor_pool.DescriptorPool:
    """Build a descriptor pool as a reflection client does: dependencies first."""
    pending = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in files]
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    while pending:
        ready = [f for f in pending if set(f.dependency) <= added]
        assert ready, f"unresolvable dependencies in {[f.name for f in pending]}"
        for file in ready:
            pool.Add(file)
            added.add(file.name)
            pending.remove(file)
    return pool


def _file_containing(
    exchange: Exchange, channel: grpc.Channel, symbol: str
) -> descriptor_pool.DescriptorPool:
    response = exchange(channel, Request(file_containing_symbol=symbol))
    assert not response.HasField("error_response"), response.error_response.error_message
    return _pool(response.file_descriptor_response.file_descriptor_proto)


@VERSIONS
def test_reflection_lists_every_contract_service_health_and_both_reflections(
    exchange: Exchange, channel: grpc.Channel, contract_services: list[ServiceDescriptor]
) -> None:
    listed = _listed(exchange, channel)
    expected = {s.full_name for s in contract_services} | {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
    assert expected <= listed, f"missing: {sorted(expected - listed)}"


@VERSIONS
def test_reflection_describes_a_contract_service_with_all_its_dependencies(
    exchange: Exchange, channel: grpc.Channel
) -> None:
    pool = _file_containing(exchange, channel, INVENTORY)
    service = pool.FindServiceByName(INVENTORY)
    assert service.file.name == "mef/lso/interlude/v1/inventory.proto"
    assert "GetService" in service.methods_by_name


def test_v1_reflection_describes_itself_in_the_v1_package(channel: grpc.Channel) -> None:
    pool = _file_containing(_via_v1, channel, "grpc.reflection.v1.ServerReflection")
    method = pool.FindMethodByName("grpc.reflection.v1.ServerReflection.ServerReflectionInfo")
    assert method.containing_service.file.name == "grpc/reflection/v1/reflection.proto"
    assert method.input_type.full_name == "grpc.reflection.v1.ServerReflectionRequest"
    assert method.output_type.full_name == "grpc.reflection.v1.ServerReflectionResponse"
    assert method.client_streaming
    assert method.server_streaming


@VERSIONS
def test_reflection_of_an_unknown_symbol_is_not_found(exchange: Exchange, channel: grpc.Channel) -> None:
    response = exchange(channel, Request(file_containing_symbol="mef.lso.interlude.v1.NoSuchThing"))
    assert response.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def _files(
    exchange: Exchange, channel: grpc.Channel, symbol: str
) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    response = exchange(channel, Request(file_containing_symbol=symbol))
    assert not response.HasField("error_response"), response.error_response.error_message
    protos = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    return {proto.name: proto for proto in protos}


def _fields_without_json_name(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    missing: list[str] = []

    def visit(scope: str, messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            name = f"{scope}.{message.name}"
            missing.extend(f"{name}.{f.name}" for f in message.field if not f.json_name)
            visit(name, message.nested_type)

    for file in files:
        visit(file.package, file.message_type)
    return missing


@VERSIONS
def test_reflection_serves_the_contract_with_its_comments_and_every_json_name(
    exchange: Exchange, channel: grpc.Channel
) -> None:
    files = _files(exchange, channel, INVENTORY)
    inventory = files["mef/lso/interlude/v1/inventory.proto"]
    assert {"mef/lso/interlude/v1/common.proto", "google/protobuf/timestamp.proto"} <= set(files)
    assert not _fields_without_json_name(files.values())
    (service,) = inventory.service
    # The service is declaration 6 of the file, number 0 of its kind: its comment's location path.
    (location,) = [loc for loc in inventory.source_code_info.location if list(loc.path) == [6, 0]]
    expected = leading_comment("mef/lso/interlude/v1/inventory.proto", f"service {service.name}")
    assert [line.strip() for line in location.leading_comments.splitlines()] == expected
    (message,) = [m for m in inventory.message_type if m.name == "Service"]
    json_names = {field.name: field.json_name for field in message.field}
    assert json_names["operational_state"] == "operationalState"


@VERSIONS
def test_reflection_gives_every_field_a_json_name_in_files_outside_the_contract(
    exchange: Exchange, channel: grpc.Channel
) -> None:
    for symbol in ("grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"):
        files = _files(exchange, channel, symbol)
        assert not _fields_without_json_name(files.values()), symbol
    (request,) = [
        m
        for m in _files(exchange, channel, "grpc.reflection.v1.ServerReflection")[
            "grpc/reflection/v1/reflection.proto"
        ].message_type
        if m.name == "ServerReflectionRequest"
    ]
    json_names = {field.name: field.json_name for field in request.field}
    assert json_names["file_containing_symbol"] == "fileContainingSymbol"
