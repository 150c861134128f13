"""The typed sync client: every inventory, catalog, ordering, event and test call of the contract.

    from interlude_client import InterludeClient

    with InterludeClient("127.0.0.1:50051", buyer="sp-alpha") as client:
        for service in client.list_services():          # every page, fetched as needed
            print(service.id)
        cir = {"ingressBandwidthProfilePerOvcEndPoint.cir.irValue": 200}
        order = client.update_configuration("alpha-ovc-1-ep-1", cir)
        final = client.wait_for_order(order.id)        # follows the order's events

What it adds to the generated stubs: the shipped service config (deadlines, retries),
a `request_id` on every change, auto-paging, resumable streams, the buyer and bearer
token on every call, and failures raised as `interlude_client.errors.InterludeError`
subclasses carrying the ErrorInfo reason and every field violation. The stubs stay
reachable (`client.inventory`, `client.ordering`, ...) for anything not wrapped.
The asyncio twin is `interlude_client.aio.AsyncInterludeClient`.

The operations are written once, in `interlude_client.core`; this module is the sync
face over them: how a call blocks, how a pager fetches, which stream iterator opens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from types import TracebackType
from typing import TypeVar, Unpack

import grpc

from interlude_client import builders
from interlude_client.channel import create_channel
from interlude_client.connection import DEFAULT_TARGET
from interlude_client.core import ClientCore
from interlude_client.errors import from_rpc_error
from interlude_client.operations import BlockingFace, Call, Listing, Stream
from interlude_client.paging import Pager, PageT
from interlude_client.streams import ResumeOptions
from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2

__all__ = ["DEFAULT_TARGET", "InterludeClient"]

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item")


class InterludeClient(ClientCore[grpc.Channel, Callable[[float], None]], BlockingFace):
    """A sync client of one Interlude server, acting as one buyer (its arguments: see
    `interlude_client.connection.Connection`); a `with` block closes it."""

    _connect = staticmethod(create_channel)
    _default_sleep = staticmethod(time.sleep)

    def __enter__(self) -> InterludeClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()

    def _unary(self, call: Call[T]) -> T:
        try:
            response = call.method(call.request, timeout=call.timeout, metadata=self.metadata.pairs())
        except grpc.RpcError as rpc_error:
            raise from_rpc_error(rpc_error) from rpc_error
        return call.unpack(response)

    def _pager(self, listing: Listing[PageT, Item]) -> Pager[PageT, Item]:
        return Pager(lambda token: self._unary(listing.page(token)), listing.items_of, limit=listing.limit)

    def _stream(self, stream: Stream[R]) -> Generator[R, None, None]:
        pairs = self.metadata.pairs()
        return stream.blocking(stream.stub, stream.request, pairs, sleep=self._sleep, **stream.options)

    def follow_order(
        self, order_id: str, *, heartbeat_seconds: int = 5, **options: Unpack[ResumeOptions]
    ) -> Iterator[ordering_pb2.ServiceOrder]:
        """The order as it is now, then each new state of it (order or item), from its
        events, until it is terminal (completed, failed, partial, rejected, cancelled)."""
        follower = builders.OrderFollower()
        request = builders.order_events_request(order_id, heartbeat_seconds)
        with closing(self.stream_events(request, **options)) as stream:
            for response in stream:
                read = self.get_service_order(order_id) if follower.needs_read(response) else None
                if (order := follower.advance(response, read)) is not None:
                    yield order
                if follower.done:
                    return

    def wait_for_order(self, order_id: str, **options: Unpack[ResumeOptions]) -> ordering_pb2.ServiceOrder:
        """The order once it is terminal."""
        return builders.last_order(self.follow_order(order_id, **options))
