"""A client with no .proto files and no generated code, as grpcurl works: it learns the
contract from server reflection, builds requests from JSON at run time and prints what
it got, one JSON line per step. Run by tests/e2e/client/test_reflection_only.py.

    python tests/support/reflection_only.py HOST:PORT BUYER

Importing the project's bindings (interlude_grpc) or clients is blocked, so the run
proves that reflection alone is enough. Rich error details are decoded with Google's
own google.rpc protos (googleapis-common-protos), as grpcurl does.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

LOCAL_CONTRACT = {"interlude_grpc", "interlude_client", "interlude_server"}


class _NoLocalContract(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".")[0] in LOCAL_CONTRACT:
            raise ImportError(f"{fullname}: a reflection-only client may not use the local contract")


sys.meta_path.insert(0, _NoLocalContract())

import json  # noqa: E402 - after the import guard, on purpose

import grpc  # noqa: E402
from google.protobuf import descriptor_pool, json_format, message_factory  # noqa: E402
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: E402
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status  # noqa: E402

PACKAGE = "mef.lso.interlude.v1"


class ReflectionClient:
    def __init__(self, channel: grpc.Channel, buyer: str) -> None:
        self.channel = channel
        self.metadata = (("x-interlude-buyer", buyer),)
        self.database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.database)

    def services(self) -> list[str]:
        return sorted(s for s in self.database.get_services() if s.startswith(PACKAGE))

    def _callable(self, method_name: str) -> tuple[Any, Any]:
        """`Service/Method` -> (multi-callable, request class), from reflected descriptors only."""
        service, method = method_name.split("/")
        descriptor = self.pool.FindServiceByName(f"{PACKAGE}.{service}").methods_by_name[method]
        request_class = message_factory.GetMessageClass(descriptor.input_type)
        response_class = message_factory.GetMessageClass(descriptor.output_type)
        kind = self.channel.unary_stream if descriptor.server_streaming else self.channel.unary_unary
        call: Any = kind(
            f"/{PACKAGE}.{service}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return call, request_class

    def call(self, method_name: str, body: dict[str, Any]) -> dict[str, Any]:
        call, request_class = self._callable(method_name)
        response = call(json_format.ParseDict(body, request_class()), metadata=self.metadata, timeout=10)
        return json_format.MessageToDict(response)

    def stream(self, method_name: str, body: dict[str, Any]) -> Any:
        call, request_class = self._callable(method_name)
        for response in call(
            json_format.ParseDict(body, request_class()), metadata=self.metadata, timeout=10
        ):
            yield json_format.MessageToDict(response)


def rich_error(error: grpc.RpcError) -> dict[str, Any]:
    """What grpcurl shows of a failed call: code, message and the google.rpc.Status details."""
    assert isinstance(error, grpc.Call)
    status = rpc_status.from_call(error)
    found: dict[str, Any] = {"code": error.code().name, "message": error.details(), "fieldViolations": []}
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found.update(reason=info.reason, domain=info.domain)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found["fieldViolations"] += [v.field for v in bad.field_violations]
    return found


def main(target: str, buyer: str) -> None:
    def emit(step: str, **fields: Any) -> None:
        print(json.dumps({"step": step, **fields}), flush=True)

    with grpc.insecure_channel(target) as channel:
        client = ReflectionClient(channel, buyer)
        emit("services", names=client.services())
        listed = client.call("ServiceInventoryService/ListServices", {"pageSize": 100})
        emit("list", ids=[s["id"] for s in listed["services"]], totalSize=listed.get("totalSize", 0))
        service = client.call("ServiceInventoryService/GetService", {"id": listed["services"][0]["id"]})
        emit("get", id=service["service"]["id"], state=service["service"]["state"])
        policy = client.call(
            "ServiceCatalogService/GetServicePolicy",
            {"serviceSpecificationId": "carrier-ethernet-ovc-end-point"},
        )
        emit("policy", rules=len(policy["servicePolicy"]["characteristicPolicy"]))
        order = client.call(
            "ServiceOrderingService/SetAdministrativeState",
            {"serviceId": "alpha-uni-1", "administrativeState": "ADMINISTRATIVE_STATE_LOCKED"},
        )
        emit("order", id=order["serviceOrder"]["id"], state=order["serviceOrder"]["state"])
        events = []
        for response in client.stream("EventService/StreamEvents", {"startTime": "1970-01-01T00:00:00Z"}):
            if "sync" in response:
                break
            events.append(response["event"])
        emit("events", count=len(events), types=sorted({e["eventType"] for e in events}))
        try:
            client.call(
                "ServiceOrderingService/CreateConnectivity",
                {
                    "connectivityConfiguration": {
                        "@type": "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all"
                    },
                    "endPoints": [{"interfaceServiceId": "beta-uni-1"}, {"interfaceServiceId": "nope"}],
                },
            )
            emit("error", code="OK")
        except grpc.RpcError as error:
            emit("error", **rich_error(error))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
