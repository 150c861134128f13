"""request_id idempotency: a retry gets the first response; a reused id with another request is refused.

Every mutating RPC that takes a request_id goes through `run_once`: it looks the
record up first, on a read, so that a retry is answered before anything is
validated again (a retry must not fail because its own first attempt already
changed what it validates), and checks it again inside the write that records
the response with the effect, which is the guarantee: two tries at once run once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from google.protobuf.message import Message

from interlude_server.core.errors import RequestIdReused
from interlude_server.store.interface.store import IdempotencyRecord, Store, Tx

M = TypeVar("M", bound=Message)
# What a new request does once validated: the response of a dry run (validate_only:
# nothing is written), or the effect to commit, which returns the response.
Planned: TypeAlias = M | Callable[[Tx], M]
Prepare = Callable[[], Awaitable[Planned[M]]]


def fingerprint(method: str, request: Message) -> str:
    """Digest of the method and the whole request (request_id included)."""
    return hashlib.sha256(method.encode() + b"\0" + request.SerializeToString(deterministic=True)).hexdigest()


def _answer(
    record: IdempotencyRecord | None, request_id: str, method: str, digest: str, response_type: type[M]
) -> M | None:
    """The recorded response if `record` is this request's, None if there is none."""
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


def replay(
    tx: Tx, buyer_id: str, request_id: str, method: str, digest: str, response_type: type[M]
) -> M | None:
    """The stored response for a retried request, None for a new request_id (in a write)."""
    return _answer(tx.get_idempotency(buyer_id, request_id), request_id, method, digest, response_type)


def remember(tx: Tx, buyer_id: str, request_id: str, method: str, digest: str, response: Message) -> None:
    """Store the response of a request in the same transaction as its effect."""
    tx.put_idempotency(buyer_id, request_id, IdempotencyRecord(method, digest, response.SerializeToString()))


def ready(effect: Callable[[Tx], M]) -> Prepare[M]:
    """The `prepare` of a request with nothing to validate before its write: `effect`."""

    async def prepare() -> Callable[[Tx], M]:
        return effect

    return prepare


async def run_once(
    store: Store,
    buyer_id: str,
    method: str,
    request: Any,
    response_type: type[M],
    prepare: Prepare[M],
    committed: Callable[[M], object] | None = None,
) -> M:
    """Answer a mutating request once per request_id.

    A retry gets the recorded response before `prepare` runs (a request_id recorded for
    another request is REQUEST_ID_REUSED). A new request is validated by `prepare`, which
    returns a dry run's response (returned as it is) or the effect, run in one write that
    checks the record again and stores the response with the effect; `committed` then sees
    the response. No request_id: nothing is looked up or recorded. A dry run
    (validate_only) never looks records up and never writes one."""
    rid: str = request.request_id
    digest = fingerprint(method, request) if rid else ""
    if rid and not getattr(request, "validate_only", False):
        record = await store.get_idempotency(buyer_id, rid)
        if (again := _answer(record, rid, method, digest, response_type)) is not None:
            return again
    planned = await prepare()
    if isinstance(planned, Message):  # a dry run
        return planned
    effect = planned

    def run(tx: Tx) -> M:
        if rid and (again := replay(tx, buyer_id, rid, method, digest, response_type)) is not None:
            return again
        response = effect(tx)
        if rid:
            remember(tx, buyer_id, rid, method, digest, response)
        return response

    response = await store.write(run)
    if committed is not None:
        committed(response)
    return response
