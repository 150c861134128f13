"""Server reflection, both grpc.reflection.v1 and v1alpha.

grpcio-reflection (1.85) serves only v1alpha, while current grpcurl and
Postman ask for v1 first. The two protos are wire-identical (same messages and
field numbers, another package), so the v1alpha servicer also answers at the
v1 method path, and a v1 copy of the reflection file descriptor is added to
the default pool so that `describe grpc.reflection.v1.ServerReflection` works.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_FILE = "grpc/reflection/v1/reflection.proto"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
_V1ALPHA_PACKAGE = reflection_pb2.DESCRIPTOR.package


def _retype(type_name: str) -> str:
    old = f".{_V1ALPHA_PACKAGE}."
    return f".{V1_PACKAGE}.{type_name[len(old) :]}" if type_name.startswith(old) else type_name


def v1_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The v1alpha reflection file descriptor, renamed into package grpc.reflection.v1."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = V1_PACKAGE
    proto.options.Clear()
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.java_multiple_files = True
    proto.options.java_outer_classname = "ServerReflectionProto"
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    for message in proto.message_type:  # the reflection messages have no nested types
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = _retype(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type = _retype(method.input_type)
            method.output_type = _retype(method.output_type)
    return proto


def _ensure_v1_in_default_pool() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.AddSerializedFile(v1_file_descriptor().SerializeToString())


def enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> tuple[str, ...]:
    """Serve reflection v1 and v1alpha listing `service_names` and both reflection services.

    Returns every service name the reflection service lists.
    """
    _ensure_v1_in_default_pool()
    names = tuple(sorted({*service_names, V1ALPHA_SERVICE_NAME, V1_SERVICE_NAME}))
    servicer = reflection.aio.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)  # v1alpha
    # v1: the same servicer at the v1 path; the wire format is identical.
    v1_method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": v1_method}),)
    )
    return names
