"""request_id idempotency: a retry gets the first response; a reused id with another request is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from interlude_server.core.errors import RequestIdReused
from interlude_server.store.interface.store import IdempotencyRecord, Store, Tx

M = TypeVar("M", bound=Message)


def fingerprint(method: str, request: Message) -> str:
    """Digest of the method and the whole request (request_id included)."""
    return hashlib.sha256(method.encode() + b"\0" + request.SerializeToString(deterministic=True)).hexdigest()


def replay(
    tx: Tx, buyer_id: str, request_id: str, method: str, digest: str, response_type: type[M]
) -> M | None:
    """The stored response for a retried request, None for a new request_id."""
    record = tx.get_idempotency(buyer_id, request_id)
    if record is None:
        return None
    if record.method != method or record.fingerprint != digest:
        raise RequestIdReused(
            f"request_id {request_id!r} was already used for a different {record.method} request; "
            "use a new request_id for a new request"
        )
    response = response_type()
    response.ParseFromString(record.response)
    return response


def remember(tx: Tx, buyer_id: str, request_id: str, method: str, digest: str, response: Message) -> None:
    """Store the response of a request in the same transaction as its effect."""
    tx.put_idempotency(buyer_id, request_id, IdempotencyRecord(method, digest, response.SerializeToString()))


async def run_once(
    store: Store, buyer_id: str, method: str, request: Any, response_type: type[M], effect: Callable[[Tx], M]
) -> M:
    """Run `effect` and store its response under the request's request_id, in one transaction;
    a retry of the same request gets the stored response instead (no request_id: just run it)."""
    rid: str = request.request_id
    digest = fingerprint(method, request)

    def run(tx: Tx) -> M:
        if rid and (again := replay(tx, buyer_id, rid, method, digest, response_type)) is not None:
            return again
        response = effect(tx)
        if rid:
            remember(tx, buyer_id, rid, method, digest, response)
        return response

    return await store.write(run)
