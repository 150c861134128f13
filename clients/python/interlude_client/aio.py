"""The typed asyncio client: `AsyncInterludeClient`, the twin of `interlude_client.client.InterludeClient`.

    async with AsyncInterludeClient("127.0.0.1:50051", buyer="sp-alpha") as client:
        async for service in client.list_services():
            ...
        order = await client.set_administrative_state("alpha-uni-1", ADMINISTRATIVE_STATE_LOCKED)
        final = await client.wait_for_order(order.id)

Same methods, same behaviour (service config, request_id, paging, typed errors, buyer
and token metadata); the pagers are `AsyncPager`s and the streams async generators.
The operations are written once, in `interlude_client.core`; this module is the asyncio
face over them: calls awaited on a grpc.aio channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from types import TracebackType
from typing import TypeVar, Unpack

import grpc

from interlude_client import builders
from interlude_client.channel import create_aio_channel
from interlude_client.core import ClientCore
from interlude_client.errors import from_rpc_error
from interlude_client.operations import AwaitingFace, Call, Listing, Stream
from interlude_client.paging import AsyncPager, PageT
from interlude_client.streams import ResumeOptions
from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2_grpc,
    catalog_pb2_grpc,
    events_pb2_grpc,
    inventory_pb2_grpc,
    ordering_pb2,
    ordering_pb2_grpc,
    performance_pb2_grpc,
    service_test_pb2_grpc,
)

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item")


class AsyncInterludeClient(ClientCore[grpc.aio.Channel, Callable[[float], Awaitable[None]]], AwaitingFace):
    """An asyncio client of one Interlude server, acting as one buyer, on a grpc.aio channel
    (its arguments: see `interlude_client.connection.Connection`); `async with` closes it."""

    # The core's stubs, as they are on a grpc.aio channel.
    inventory: inventory_pb2_grpc.ServiceInventoryServiceAsyncStub
    catalog: catalog_pb2_grpc.ServiceCatalogServiceAsyncStub
    ordering: ordering_pb2_grpc.ServiceOrderingServiceAsyncStub
    events: events_pb2_grpc.EventServiceAsyncStub
    service_test: service_test_pb2_grpc.ServiceTestServiceAsyncStub
    performance: performance_pb2_grpc.PerformanceServiceAsyncStub
    alarms: alarm_pb2_grpc.AlarmServiceAsyncStub

    _connect = staticmethod(create_aio_channel)
    _default_sleep = staticmethod(asyncio.sleep)

    async def __aenter__(self) -> AsyncInterludeClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def _unary(self, call: Call[T]) -> T:
        try:
            response = await call.method(call.request, timeout=call.timeout, metadata=self.metadata.pairs())
        except grpc.RpcError as rpc_error:
            raise from_rpc_error(rpc_error) from rpc_error
        return call.unpack(response)

    def _pager(self, listing: Listing[PageT, Item]) -> AsyncPager[PageT, Item]:
        return AsyncPager(
            lambda token: self._unary(listing.page(token)), listing.items_of, limit=listing.limit
        )

    def _stream(self, stream: Stream[R]) -> AsyncGenerator[R, None]:
        pairs = self.metadata.pairs()
        return stream.awaiting(stream.stub, stream.request, pairs, sleep=self._sleep, **stream.options)

    async def follow_order(
        self, order_id: str, *, heartbeat_seconds: int = 5, **options: Unpack[ResumeOptions]
    ) -> AsyncIterator[ordering_pb2.ServiceOrder]:
        """The order as it is now, then each new state of it (order or item), from its
        events, until it is terminal (completed, failed, partial, rejected, cancelled)."""
        follower = builders.OrderFollower()
        request = builders.order_events_request(order_id, heartbeat_seconds)
        async with aclosing(self.stream_events(request, **options)) as stream:
            async for response in stream:
                read = await self.get_service_order(order_id) if follower.needs_read(response) else None
                if (order := follower.advance(response, read)) is not None:
                    yield order
                if follower.done:
                    return

    async def wait_for_order(
        self, order_id: str, **options: Unpack[ResumeOptions]
    ) -> ordering_pb2.ServiceOrder:
        """The order once it is terminal."""
        return builders.last_order([order async for order in self.follow_order(order_id, **options)])
