"""The sync and asyncio clients are two faces of one core: the same operations, with the
same parameters, sending the same requests and reading the same answers; only how a
call is made (blocking, or awaited) differs. Checked without a server, over a channel
that records what each stub method is asked."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import pytest

from interlude_client import AsyncInterludeClient, InterludeClient, errors
from interlude_client.core import ClientCore
from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2

# Besides the list_ pagers and the streams: an (async) generator, and the query pagers.
ITERATING = {"follow_order", "query_performance_jobs", "query_performance_reports"}


class _Refused(grpc.RpcError):
    """A failed call as grpc raises it, without rich details."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.NOT_FOUND

    def details(self) -> str:
        return "no such service"


@dataclass
class _Recorder:
    """A channel whose unary methods answer from `answers` (by method name, in order) and
    record (method, request, timeout, metadata); `awaits` makes the answers awaitable."""

    answers: dict[str, list[Any]]
    awaits: bool = False
    asked: list[tuple[str, Any, float | None, Any]] = field(default_factory=list)

    def unary_unary(self, path: str, **_: Any) -> Callable[..., Any]:
        name = path.rsplit("/", 1)[-1]

        def answer(request: Any, *, timeout: float | None = None, metadata: Any = None) -> Any:
            self.asked.append((name, request, timeout, metadata))
            found = self.answers[name].pop(0)
            if isinstance(found, Exception):
                raise found
            return found

        async def awaited(request: Any, **kwargs: Any) -> Any:
            return answer(request, **kwargs)

        return awaited if self.awaits else answer

    unary_stream = stream_unary = stream_stream = unary_unary


def _answers() -> dict[str, list[Any]]:
    order = ordering_pb2.ServiceOrder(id="o-1", state=ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED)
    pages = [
        inventory_pb2.ListServicesResponse(
            services=[inventory_pb2.Service(id="s1"), inventory_pb2.Service(id="s2")], next_page_token="t2"
        ),
        inventory_pb2.ListServicesResponse(services=[inventory_pb2.Service(id="s3")]),
    ]
    return {
        "CreateServiceOrder": [ordering_pb2.CreateServiceOrderResponse(service_order=order)],
        "ListServices": pages,
        "GetService": [_Refused()],
    }


def _public(face: type[ClientCore[Any, Any]]) -> dict[str, Any]:
    return {
        name: getattr(face, name)
        for name in dir(face)
        if not name.startswith("_") and callable(getattr(face, name)) and name != "close"
    }


def test_both_faces_offer_every_operation_with_the_same_parameters() -> None:
    sync, aio = _public(InterludeClient), _public(AsyncInterludeClient)
    assert sync.keys() == aio.keys()
    assert len(sync) > 40
    for name, method in sync.items():
        assert inspect.signature(method).parameters == inspect.signature(aio[name]).parameters, name
        assert method.__doc__ == aio[name].__doc__, name
        assert not inspect.iscoroutinefunction(method), name
        # One answer is awaited on the asyncio face; pagers and streams are iterated.
        iterated = name.startswith(("list_", "stream_")) or name in ITERATING
        assert inspect.iscoroutinefunction(aio[name]) is not iterated, name


def test_the_faces_show_their_own_return_types() -> None:
    def returns(method: Any) -> str:
        return str(inspect.signature(method).return_annotation)

    assert returns(InterludeClient.get_service) == returns(AsyncInterludeClient.get_service)
    assert returns(InterludeClient.get_service) == "inventory_pb2.Service"
    assert returns(InterludeClient.list_services).startswith("Pager[")
    assert returns(AsyncInterludeClient.list_services).startswith("AsyncPager[")
    assert returns(InterludeClient.stream_events).startswith("Generator[")
    assert returns(AsyncInterludeClient.stream_events).startswith("AsyncGenerator[")


def _check_sent(channel: _Recorder, buyer: str) -> None:
    (name, request, timeout, metadata), *pages, refused = channel.asked
    assert (name, timeout) == ("CreateServiceOrder", 3.0)
    assert uuid.UUID(request.request_id)  # filled, since the caller left it empty
    assert (("x-interlude-buyer", buyer),) == metadata
    assert [(p[0], p[1].page_token, p[1].page_size) for p in pages] == [
        ("ListServices", "", 2),
        ("ListServices", "t2", 2),
    ]
    assert refused[0] == "GetService"


def test_the_sync_face_blocks_on_each_call() -> None:
    channel = _Recorder(_answers())
    client = InterludeClient(channel=cast(grpc.Channel, channel), buyer="sp-alpha")
    order = client.create_service_order(ordering_pb2.ServiceOrder(), timeout=3.0)
    assert order.id == "o-1"
    assert [s.id for s in client.list_services(page_size=2)] == ["s1", "s2", "s3"]
    with pytest.raises(errors.NotFound, match="no such service"):
        client.get_service("s9")
    _check_sent(channel, "sp-alpha")


async def test_the_asyncio_face_awaits_the_same_calls() -> None:
    channel = _Recorder(_answers(), awaits=True)
    client = AsyncInterludeClient(channel=cast(grpc.aio.Channel, channel), buyer="sp-beta")
    order = await client.create_service_order(ordering_pb2.ServiceOrder(), timeout=3.0)
    assert order.id == "o-1"
    assert [s.id for s in await client.list_services(page_size=2).all()] == ["s1", "s2", "s3"]
    with pytest.raises(errors.NotFound, match="no such service"):
        await client.get_service("s9")
    _check_sent(channel, "sp-beta")
