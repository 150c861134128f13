"""What every resumable stream shares: heartbeat intervals, the envelope of heartbeats and sync
markers around its items, and the `stream.closed` event that tells an operator why a stream
ended and what it left open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar

import structlog

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.core import clock
from interlude_server.core.errors import DomainError, InvalidArgument, Violation
from interlude_server.events.hub import Hub, Sequenced
from interlude_server.events.streaming import Envelope

R = TypeVar("R")
T = TypeVar("T", bound=Sequenced)
_log = structlog.get_logger("interlude_server.stream")

DEFAULT_HEARTBEAT_S = 30.0
MIN_HEARTBEAT_S = 1.0


def heartbeat_seconds(request: Any) -> float:
    """The request's `heartbeat_interval` in seconds (default 30 s, at least 1 s)."""
    if not request.HasField("heartbeat_interval"):
        return DEFAULT_HEARTBEAT_S
    seconds = float(request.heartbeat_interval.ToNanoseconds()) / 1e9
    if seconds < MIN_HEARTBEAT_S:
        raise InvalidArgument(
            "heartbeat_interval is too short",
            [Violation("heartbeat_interval", f"must be at least {MIN_HEARTBEAT_S:g} s")],
        )
    return seconds


def envelope(
    response: Callable[..., R],
    token: Callable[[int], str],
    item: Callable[[T], R | None],
    stamped: bool = False,
) -> Envelope[T, R]:
    """The envelope of a stream whose `response` message has `heartbeat` and `sync` fields: a
    heartbeat carries a fresh resume token and the server time, the sync marker the token to
    resume after the replay. `stamped`: the response also carries the token at its top level
    (StreamTestResults sets it on every message)."""

    def stamp(resume_token: str) -> dict[str, str]:
        return {"resume_token": resume_token} if stamped else {}

    def heartbeat(resume_token: str) -> R:
        beat = common_pb2.StreamHeartbeat(resume_token=resume_token, server_time=clock.now())
        return response(heartbeat=beat, **stamp(resume_token))

    def sync(resume_token: str) -> R:
        return response(sync=common_pb2.StreamSync(resume_token=resume_token), **stamp(resume_token))

    return Envelope[T, R](token=token, item=item, heartbeat=heartbeat, sync=sync)


async def observed(stream: str, hub: Hub[Any, Any], responses: AsyncIterator[R]) -> AsyncGenerator[R, None]:
    """`responses`, then one `stream.closed` event: why the stream ended (`ended`, `cancelled`
    by the client or its deadline, or the reason it was cut, e.g. `slow_consumer`), how many
    responses it sent, and how many subscribers its hub still has (the gauge that shows a
    cancelled stream gave its subscription back). The inner stream is closed first, so its
    subscription is gone by the time the event is logged."""
    sent = 0
    why = "ended"
    try:
        async for response in responses:
            sent += 1
            yield response
    except DomainError as exc:
        why = exc.reason.lower()
        raise
    except (asyncio.CancelledError, GeneratorExit):
        why = "cancelled"
        raise
    except Exception:
        why = "failed"
        raise
    finally:
        closing = getattr(responses, "aclose", None)
        if closing is not None:
            await closing()
        _log.info("stream.closed", stream=stream, why=why, sent=sent, subscribers=hub.subscribers)
