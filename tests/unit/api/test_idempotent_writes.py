"""The one idempotent write every mutating RPC goes through (domain/idempotency.run_once): a
retry is answered from a read before anything is validated again, a new request is validated
and committed with its record in one write, which checks the record again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar, cast

import pytest

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.core.errors import RequestIdReused
from interlude_server.domain.idempotency import Planned, fingerprint, ready, run_once
from interlude_server.store.interface.store import IdempotencyRecord, Store, Tx

Request = ordering_pb2.CancelServiceOrderRequest
Response = ordering_pb2.CancelServiceOrderResponse
METHOD = "CancelServiceOrder"
T = TypeVar("T")


class _Tx:
    def __init__(self, records: dict[tuple[str, str], IdempotencyRecord]) -> None:
        self.records = records

    def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
        return self.records.get((buyer_id, request_id))

    def put_idempotency(self, buyer_id: str, request_id: str, record: IdempotencyRecord) -> None:
        self.records[(buyer_id, request_id)] = record


class _Writes:
    """Records in a dict; counts the write transactions."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self.writes = 0

    async def write(self, fn: Callable[[Tx], T]) -> T:
        self.writes += 1
        return fn(cast(Tx, _Tx(self.records)))


class _Store(_Writes):
    """A store that also reads records outside a write transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_idempotency(self, buyer_id: str, request_id: str) -> IdempotencyRecord | None:
        self.reads += 1
        return self.records.get((buyer_id, request_id))


class _Calls:
    """A servicer's side of run_once: what it validated, committed and was told."""

    def __init__(self, order_id: str = "order-1") -> None:
        self.order_id = order_id
        self.prepared = 0
        self.effects = 0
        self.committed: list[Response] = []

    async def prepare(self) -> Planned[Response]:
        self.prepared += 1
        return self.effect

    def effect(self, tx: Tx) -> Response:
        self.effects += 1
        return Response(service_order=ordering_pb2.ServiceOrder(id=self.order_id))


def _run(store: _Writes, request: Request, calls: _Calls) -> Response:
    once = run_once(
        cast(Store, store), "buyer-a", METHOD, request, Response, calls.prepare, calls.committed.append
    )
    return asyncio.run(once)


def test_a_new_request_is_validated_then_committed_once_with_its_record() -> None:
    store, calls = _Store(), _Calls()
    response = _run(store, Request(id="order-1", request_id="r-1"), calls)
    assert response.service_order.id == "order-1"
    assert (calls.prepared, calls.effects, store.writes, store.reads) == (1, 1, 1, 1)
    assert calls.committed == [response]
    record = store.records[("buyer-a", "r-1")]
    assert record.method == METHOD
    assert record.fingerprint == fingerprint(METHOD, Request(id="order-1", request_id="r-1"))


def test_a_retry_is_answered_from_a_read_before_anything_is_validated() -> None:
    store = _Store()
    first = _run(store, Request(id="order-1", request_id="r-1"), _Calls())
    retry = _Calls(order_id="order-2")
    assert _run(store, Request(id="order-1", request_id="r-1"), retry) == first
    assert (retry.prepared, retry.effects, retry.committed) == (0, 0, [])
    assert store.writes == 1  # only the first attempt wrote


def test_a_request_id_reused_for_another_request_is_refused_before_validation() -> None:
    store = _Store()
    _run(store, Request(id="order-1", request_id="r-1"), _Calls())
    other = _Calls()
    with pytest.raises(RequestIdReused, match="already used for a different CancelServiceOrder"):
        _run(store, Request(id="order-2", request_id="r-1"), other)
    assert other.prepared == 0


def test_the_check_in_the_write_answers_a_retry_committed_after_the_read() -> None:
    """Two tries at once: both miss the record on the read; the later write finds the first's."""
    store = _Store()
    request = Request(id="order-1", request_id="r-1")
    first = Response(service_order=ordering_pb2.ServiceOrder(id="order-1"))
    late = _Calls(order_id="order-2")

    async def prepare() -> Planned[Response]:  # the first try commits while this one validates
        record = IdempotencyRecord(METHOD, fingerprint(METHOD, request), first.SerializeToString())
        store.records[("buyer-a", "r-1")] = record
        return await late.prepare()

    response = asyncio.run(run_once(cast(Store, store), "buyer-a", METHOD, request, Response, prepare))
    assert response == first
    assert late.effects == 0  # the later effect never ran


def test_a_dry_run_looks_nothing_up_and_writes_nothing() -> None:
    store = _Store()
    preview = Response(service_order=ordering_pb2.ServiceOrder(id="order-1"))

    async def prepare() -> Planned[Response]:
        return preview

    request = Request(id="order-1", request_id="r-1", validate_only=True)
    once = run_once(cast(Store, store), "buyer-a", METHOD, request, Response, prepare)
    assert asyncio.run(once) is preview
    assert (store.reads, store.writes, store.records) == (0, 0, {})


def test_without_a_request_id_nothing_is_looked_up_or_recorded() -> None:
    store, calls = _Store(), _Calls()
    _run(store, Request(id="order-1"), calls)
    assert (store.reads, store.writes, calls.effects, store.records) == (0, 1, 1, {})


def test_ready_prepares_nothing_but_the_effect() -> None:
    calls = _Calls()

    async def planned() -> Planned[Response]:
        return await ready(calls.effect)()

    assert asyncio.run(planned()) == calls.effect
