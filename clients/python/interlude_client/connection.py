"""What every client holds: its channel (with the shipped service config), the buyer's
call metadata, one generated stub per service, and how its streams wait between reconnects.

`Connection` is the constructor both faces share (`InterludeClient`, `AsyncInterludeClient`):
a face says which channel it opens (`_connect`: `create_channel` or `create_aio_channel`)
and how it sleeps by default; everything else is the same.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar, cast

import grpc

from interlude_client.channel import CallMetadata, ChannelOptions, Token
from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2_grpc,
    catalog_pb2_grpc,
    events_pb2_grpc,
    inventory_pb2_grpc,
    ordering_pb2_grpc,
    performance_pb2_grpc,
    service_test_pb2_grpc,
)

DEFAULT_TARGET = "127.0.0.1:50051"
ChannelT = TypeVar("ChannelT", grpc.Channel, grpc.aio.Channel)
SleepT = TypeVar("SleepT")
Inventory = inventory_pb2_grpc.ServiceInventoryServiceStub
Catalog = catalog_pb2_grpc.ServiceCatalogServiceStub
Ordering = ordering_pb2_grpc.ServiceOrderingServiceStub
Events = events_pb2_grpc.EventServiceStub
Testing = service_test_pb2_grpc.ServiceTestServiceStub
Performance = performance_pb2_grpc.PerformanceServiceStub
Alarms = alarm_pb2_grpc.AlarmServiceStub


class Connection(Generic[ChannelT, SleepT]):
    """A client's connection to one Interlude server, acting as one buyer. A face sets
    `_connect` (its channel factory) and `_default_sleep`."""

    _connect: ClassVar[staticmethod[..., Any]]  # the face's channel factory (see channel.py)
    _default_sleep: ClassVar[staticmethod[[float], Any]]

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        buyer: str | None = None,
        token: Token | None = None,
        server_name: str | None = None,
        config: dict[str, Any] | None = None,
        options: ChannelOptions = (),
        channel: ChannelT | None = None,
        sleep: SleepT | None = None,
    ) -> None:
        """`credentials` (see `interlude_client.channel.tls_credentials`) make the channel TLS
        or mutual TLS; without them it is plaintext. `buyer` is sent as `x-interlude-buyer`,
        `token` (a string or a callable returning one) as `authorization: Bearer ...`.
        `timeout` on a method overrides the service config's deadline for that call.
        Pass `channel` to use a channel of your own (then the client does not close it).
        `sleep` waits between a stream's reconnects (None: `time.sleep` on the sync face,
        `asyncio.sleep` on the asyncio face)."""
        self._owns_channel = channel is None
        self.channel: ChannelT = channel or type(self)._connect(
            target, credentials, config=config, server_name=server_name, options=options
        )
        self.metadata = CallMetadata(buyer, token)
        # Typed as the sync stubs: on a grpc.aio channel the same classes make the aio
        # stubs (their subclasses in the .pyi), which the asyncio face declares.
        self.inventory: Inventory = Inventory(self.channel)
        self.catalog: Catalog = Catalog(self.channel)
        self.ordering: Ordering = Ordering(self.channel)
        self.events: Events = Events(self.channel)
        self.service_test: Testing = Testing(self.channel)
        self.performance: Performance = Performance(self.channel)
        self.alarms: Alarms = Alarms(self.channel)
        self._sleep = cast(SleepT, sleep or type(self)._default_sleep)
