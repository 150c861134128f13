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
from google.protobuf.descriptor import Descriptor, ServiceDescriptor
from google.protobuf.message import Message

from interlude_server.api.binding import ServiceBinding


def serialize(response: bytes | Message) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_key(message: Descriptor, field: str) -> bytes:
    """The wire key of `message`'s message-typed `field` (its number, length-delimited)."""
    return _varint(message.fields_by_name[field].number << 3 | 2)


def wrapped(key: bytes, stored: bytes) -> bytes:
    """A response whose one message field (`key`) holds the stored bytes of a message, as
    they are: the response with that message parsed, serialized without parsing it."""
    return key + _varint(len(stored)) + stored


def spliced(key: bytes, stored: bytes, extra: Message) -> bytes:
    """A response whose one message field (`key`) holds the stored bytes of a message merged
    with `extra`, built without parsing them: serialized messages concatenate as a merge, so
    the stored bytes followed by `extra`'s are that message with `extra`'s fields set. The
    same message, field for field, as setting them on the parsed one (bytes may differ in
    order)."""
    return wrapped(key, stored + extra.SerializeToString())


def passthrough_binding(
    service: ServiceDescriptor, servicer: Any, shared: object | None = None
) -> ServiceBinding:
    """The binding of every unary-request method of `service` to `servicer`'s methods, each
    response passed through as it is when `bytes`. Its handlers are registered by method path
    (as generated code does: the stages serve them from one table, api.interceptors);
    `shared` is the servicer the in-process REST adapter calls (default `servicer`)."""
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
    name = service.full_name
    return ServiceBinding(
        name,
        lambda server: server.add_registered_method_handlers(name, handlers),
        servicer if shared is None else shared,
    )
