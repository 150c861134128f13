"""The descriptor set reflection serves, against the bindings the server runs.

interlude_grpc/descriptor_set.py and the _pb2 modules come from one protoc run
(scripts/gen_protos.py); these tests fail if they drift apart, so reflection never
describes a contract other than the one served.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_reflection.v1alpha import reflection_pb2

import interlude_grpc.mef.lso.interlude.v1 as v1pkg
from interlude_server.api.reflection import ContractReflection, contract_files


def _binding_files() -> dict[str, FileDescriptor]:
    files = {}
    for module_info in pkgutil.iter_modules(v1pkg.__path__):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"{v1pkg.__name__}.{module_info.name}")
            files[module.DESCRIPTOR.name] = module.DESCRIPTOR
    return files


def _messages(
    proto: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    """(full name, message) of every message of `proto`, nested ones included."""
    pending = [(f"{proto.package}.{m.name}", m) for m in proto.message_type]
    while pending:
        name, message = pending.pop()
        yield name, message
        pending.extend((f"{name}.{nested.name}", nested) for nested in message.nested_type)


def _without_comments_and_json_names(
    proto: descriptor_pb2.FileDescriptorProto,
) -> descriptor_pb2.FileDescriptorProto:
    bare = descriptor_pb2.FileDescriptorProto()
    bare.CopyFrom(proto)
    bare.ClearField("source_code_info")
    for _, message in _messages(bare):
        for field in message.field:
            field.ClearField("json_name")
    return bare


def test_the_descriptor_set_holds_exactly_the_contract_the_bindings_hold() -> None:
    served = {
        name: descriptor_pb2.FileDescriptorProto.FromString(raw) for name, raw in contract_files().items()
    }
    bindings = _binding_files()
    assert {name for name in served if name.startswith("mef/")} == set(bindings)
    for name, descriptor in bindings.items():
        bound = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(bound)
        assert _without_comments_and_json_names(served[name]) == _without_comments_and_json_names(bound), name


def test_each_served_json_name_is_the_one_the_server_itself_uses() -> None:
    served = {
        name: descriptor_pb2.FileDescriptorProto.FromString(raw) for name, raw in contract_files().items()
    }
    pool = descriptor_pool.Default()
    checked = 0
    for name in _binding_files():
        for full_name, message in _messages(served[name]):
            fields = pool.FindMessageTypeByName(full_name).fields_by_name
            for field in message.field:
                assert field.json_name == fields[field.name].json_name, f"{full_name}.{field.name}"
                checked += 1
    assert checked > 500  # every field of the contract, not a handful


def test_every_contract_file_carries_its_comments() -> None:
    for name, raw in contract_files().items():
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        commented = [loc for loc in proto.source_code_info.location if loc.leading_comments.strip()]
        assert commented, f"{name} carries no comments"


def test_a_request_of_no_known_kind_is_invalid_and_an_unknown_file_not_found() -> None:
    servicer = ContractReflection(["mef.lso.interlude.v1.ServiceInventoryService"], contract_files())
    empty = servicer.answer(reflection_pb2.ServerReflectionRequest())
    assert empty.error_response.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    missing = servicer.answer(reflection_pb2.ServerReflectionRequest(file_by_filename="mef/nope.proto"))
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing.original_request.file_by_filename == "mef/nope.proto"
