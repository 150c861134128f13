"""Serving a contract service whose handlers may return pre-serialized responses.

Streams that share one response's bytes among many subscribers (events/streaming
SharedWire) yield `bytes`; the generated `add_*_to_server` would serialize
them again, so such services are registered from their descriptor with a
serializer that passes bytes through and serializes messages as usual.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message


def serialize(response: bytes | Message) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def passthrough_handler(service: ServiceDescriptor, servicer: Any) -> grpc.GenericRpcHandler:
    """Handlers for every unary-request method of `service`, bound to `servicer`'s methods."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request = message_factory.GetMessageClass(method.input_type)
        build = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = build(
            getattr(servicer, method.name),
            request_deserializer=request.FromString,
            response_serializer=serialize,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
