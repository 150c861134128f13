"""Server reflection, both grpc.reflection.v1 and v1alpha, serving the contract's comments.

grpcio-reflection (1.85) serves only v1alpha, while current grpcurl and
Postman ask for v1 first. The two protos are wire-identical (same messages and
field numbers, another package), so one servicer answers at both method paths,
and a v1 copy of the reflection file descriptor is added to the default pool so
that `describe grpc.reflection.v1.ServerReflection` works.

The servicer is ours rather than grpcio-reflection's because that one serves each
file as the runtime's descriptor pool copies it: without comments and without
json_name, so grpcurl's `describe` showed no comments and its JSON came out in
snake_case. Ours finds files in the same pool but answers with the contract's files
as protoc wrote them (interlude_grpc/descriptor_set.py, made by scripts/gen_protos.py:
comments and json_name included); any other file (health, reflection) is the pool's
copy with each field's json_name filled in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FileDescriptor
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from interlude_grpc.descriptor_set import FILE_DESCRIPTOR_SET

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


def contract_files() -> dict[str, bytes]:
    """Each file of the contract's descriptor set (with imports), serialized, by file name."""
    files = descriptor_pb2.FileDescriptorSet.FromString(FILE_DESCRIPTOR_SET).file
    return {file.name: file.SerializeToString() for file in files}


def _fill_json_names(
    messages: Iterable[descriptor_pb2.DescriptorProto], by_name: Mapping[str, Descriptor]
) -> None:
    for message in messages:
        descriptor = by_name[message.name]
        for field in message.field:
            field.json_name = descriptor.fields_by_name[field.name].json_name
        _fill_json_names(message.nested_type, descriptor.nested_types_by_name)


def _pool_copy(file: FileDescriptor) -> bytes:
    """A file as the pool holds it (no comments), with the json_name of every field."""
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    _fill_json_names(proto.message_type, file.message_types_by_name)
    return proto.SerializeToString()


def _error(request: Any, code: grpc.StatusCode) -> Any:
    status: tuple[int, str] = code.value
    return reflection_pb2.ServerReflectionResponse(
        error_response=reflection_pb2.ErrorResponse(error_code=status[0], error_message=status[1]),
        original_request=request,
    )


class ContractReflection(reflection_pb2_grpc.ServerReflectionServicer):  # type: ignore[misc]
    """ServerReflectionInfo over the default pool, answering with `files` where it has them."""

    def __init__(self, service_names: Iterable[str], files: Mapping[str, bytes]) -> None:
        self._names = tuple(sorted(service_names))
        self._files = dict(files)
        self._pool = descriptor_pool.Default()

    async def ServerReflectionInfo(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        async for request in request_iterator:
            yield self.answer(request)

    def answer(self, request: Any) -> Any:
        """The response to one reflection request."""
        kind = request.WhichOneof("message_request")
        try:
            if kind == "list_services":
                services = [reflection_pb2.ServiceResponse(name=name) for name in self._names]
                listed = reflection_pb2.ListServiceResponse(service=services)
                return reflection_pb2.ServerReflectionResponse(
                    list_services_response=listed, original_request=request
                )
            if kind == "all_extension_numbers_of_type":
                message = self._pool.FindMessageTypeByName(request.all_extension_numbers_of_type)
                numbers = sorted(ext.number for ext in self._pool.FindAllExtensions(message))
                found = reflection_pb2.ExtensionNumberResponse(
                    base_type_name=message.full_name, extension_number=numbers
                )
                return reflection_pb2.ServerReflectionResponse(
                    all_extension_numbers_response=found, original_request=request
                )
            file = self._find_file(kind, request)
        except KeyError:
            return _error(request, grpc.StatusCode.NOT_FOUND)
        if file is None:
            return _error(request, grpc.StatusCode.INVALID_ARGUMENT)
        files = reflection_pb2.FileDescriptorResponse(file_descriptor_proto=self._with_dependencies(file))
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=files, original_request=request
        )

    def _find_file(self, kind: str | None, request: Any) -> FileDescriptor | None:
        """The file a file request asks for (KeyError: none such); None for another request."""
        if kind == "file_by_filename":
            return self._pool.FindFileByName(request.file_by_filename)
        if kind == "file_containing_symbol":
            return self._pool.FindFileContainingSymbol(request.file_containing_symbol)
        if kind == "file_containing_extension":
            wanted = request.file_containing_extension
            message = self._pool.FindMessageTypeByName(wanted.containing_type)
            extension = self._pool.FindExtensionByNumber(message, wanted.extension_number)
            return self._pool.FindFileContainingSymbol(extension.full_name)
        return None

    def _with_dependencies(self, file: FileDescriptor) -> list[bytes]:
        """`file` first, then every file it imports, directly or not, each once."""
        seen: dict[str, FileDescriptor] = {}
        pending = [file]
        while pending:
            current = pending.pop()
            if current.name not in seen:
                seen[current.name] = current
                pending.extend(reversed(current.dependencies))
        return [self._files.get(name) or _pool_copy(found) for name, found in seen.items()]


def enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> tuple[str, ...]:
    """Serve reflection v1 and v1alpha listing `service_names` and both reflection services.

    Returns every service name the reflection service lists.
    """
    _ensure_v1_in_default_pool()
    names = tuple(sorted({*service_names, V1ALPHA_SERVICE_NAME, V1_SERVICE_NAME}))
    servicer = ContractReflection(names, contract_files())
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
