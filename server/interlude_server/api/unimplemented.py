"""Answer every RPC whose behaviour is not built yet with UNIMPLEMENTED.

The handlers are built from the proto descriptors: each method of each service
not given a real servicer ends with UNIMPLEMENTED and ErrorInfo reason
RPC_NOT_IMPLEMENTED. Nothing is ever answered with made-up data.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any, NoReturn

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api import errors

Behavior = Callable[[Any, Any], Coroutine[Any, Any, NoReturn]]


def _behavior(method: MethodDescriptor) -> Behavior:
    message = f"{method.full_name} is not implemented yet"
    metadata = {"method": f"/{method.containing_service.full_name}/{method.name}"}

    async def unimplemented(
        request_or_iterator: object, context: grpc.aio.ServicerContext[Any, Any]
    ) -> NoReturn:
        await errors.abort(
            context,
            errors.rich_status(
                grpc.StatusCode.UNIMPLEMENTED,
                common_pb2.ERROR_REASON_RPC_NOT_IMPLEMENTED,
                message,
                metadata=metadata,
            ),
        )

    return unimplemented


def _method_handler(method: MethodDescriptor) -> grpc.RpcMethodHandler[Any, Any]:
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    factory = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(method.client_streaming, method.server_streaming)]
    return factory(
        _behavior(method),
        request_deserializer=request_class.FromString,
        response_serializer=response_class.SerializeToString,
    )


def unimplemented_handlers(services: Iterable[ServiceDescriptor]) -> list[grpc.GenericRpcHandler]:
    """One grpc.GenericRpcHandler per service, answering all its methods UNIMPLEMENTED."""
    return [
        grpc.method_handlers_generic_handler(
            service.full_name, {method.name: _method_handler(method) for method in service.methods}
        )
        for service in services
    ]
