"""NetworkService (interlude.network.v1): the stream a network worker attaches with.

The servicer only moves messages: the worker's go to the broker (partner/remote/broker.py),
the broker's requests for this worker are written back. It is served on its own listener
(`--network-listen`, runtime/network_server.py), never on the buyers' port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog

from interlude_grpc.interlude.network.v1 import network_pb2, network_pb2_grpc
from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import abort, rich_status
from interlude_server.partner.remote.broker import NetworkBroker, Session

Net = network_pb2
_log = structlog.get_logger("interlude_server.partner.network")


class NetworkServicer(network_pb2_grpc.NetworkServiceServicer):
    """Attach: hello, welcome, then the worker's results and reports in, requests out."""

    def __init__(self, broker: NetworkBroker, server_version: str) -> None:
        self.broker = broker
        self.server_version = server_version

    async def Attach(
        self,
        request_iterator: AsyncIterator[network_pb2.AttachRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[network_pb2.AttachResponse]:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("hello"):
            status = rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_REQUEST,
                "the first message of Attach must be hello",
            )
            await abort(context, status)
        session = self.broker.attach(first.hello)
        reader = asyncio.create_task(self._read(session, request_iterator))
        try:
            yield Net.AttachResponse(
                welcome=Net.Welcome(session_id=session.session_id, server_version=self.server_version)
            )
            while (message := await session.outbox.get()) is not None:
                yield message
        finally:
            self.broker.detach(session)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, session: Session, messages: AsyncIterator[network_pb2.AttachRequest]) -> None:
        """Hand each of the worker's messages to the broker; end the session when it stops."""
        try:
            async for message in messages:
                await self.broker.received(session, message)
        except grpc.RpcError:
            pass
        except Exception:
            _log.exception("network.read_failed", session=session.session_id)
        finally:
            session.outbox.put_nowait(None)
