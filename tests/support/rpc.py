"""Call any contract RPC from its descriptor and capture how it ended, data or rich error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from tests.support.helpers import rich_error

Metadata = tuple[tuple[str, str], ...]


@dataclass
class Outcome:
    """The status of a call; its responses (a stream: the first ones) or its ErrorInfo."""

    code: grpc.StatusCode
    reason: str = ""
    message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: dict[str, str] = field(default_factory=dict)
    responses: list[Message] = field(default_factory=list)

    def payload(self) -> bytes:
        return b"".join(r.SerializeToString() for r in self.responses)


def path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def methods(services: list[ServiceDescriptor]) -> Iterator[MethodDescriptor]:
    for service in services:
        yield from service.methods


def request_class(method: MethodDescriptor) -> type[Message]:
    cls: type[Message] = message_factory.GetMessageClass(method.input_type)
    return cls


def invoke(
    channel: grpc.Channel,
    method: MethodDescriptor,
    request: Message | None = None,
    metadata: Metadata = (),
    max_messages: int = 1,
    timeout: float = 5.0,
) -> Outcome:
    """Call `method`; a server stream is read up to its sync marker (the end of its snapshot) or
    `max_messages` responses, then cancelled."""
    response_class: Any = message_factory.GetMessageClass(method.output_type)
    request = request if request is not None else request_class(method)()
    serialize: Any = type(request).SerializeToString
    try:
        if not method.server_streaming:
            unary: Any = channel.unary_unary(path(method), serialize, response_class.FromString)
            return Outcome(grpc.StatusCode.OK, responses=[unary(request, metadata=metadata, timeout=timeout)])
        stream: Any = channel.unary_stream(path(method), serialize, response_class.FromString)
        call = stream(request, metadata=metadata, timeout=timeout)
        responses: list[Message] = []
        try:
            for response in call:
                responses.append(response)
                synced = "sync" in response.DESCRIPTOR.fields_by_name and response.HasField("sync")
                if synced or len(responses) >= max_messages:
                    break
        finally:
            call.cancel()
        return Outcome(grpc.StatusCode.OK, responses=responses)
    except grpc.RpcError as error:
        rich = rich_error(error)
        return Outcome(rich.code, rich.reason, rich.message, rich.metadata, rich.violations)
