"""Load shedding: a bound on the work in flight, refused at once past it.

Without a bound, every call that arrives is accepted and waits for the event loop, the
store's writer and the reader pool: latency grows without limit and memory with it,
until clients time out on work the server still does. Here a call past the bound is
answered immediately with RESOURCE_EXHAUSTED, ErrorInfo reason OVERLOADED and a
google.rpc.RetryInfo delay (REST: 429 with Retry-After), before authentication, parsing
or any store access, so refusing costs almost nothing and nothing accepted is lost.

Two counters: unary calls (gRPC and in-process REST share one `LoadLimiter`, so the
bound is the server's, whatever the form) and long-lived streams (whose cost is memory
held for minutes, not work). Health and reflection are never shed: a load balancer must
see a busy server as SERVING, not as dead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import structlog
from google.rpc import status_pb2  # type: ignore[import-untyped,unused-ignore]

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import rich_status

# Method prefixes of the infrastructure services that are never shed.
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_log = structlog.get_logger("interlude_server.overload")


@dataclass
class LoadCounts:
    """What is in flight now and what was shed so far (a cheap gauge for logs and tests)."""

    unary: int = 0
    streams: int = 0
    shed_unary: int = 0
    shed_streams: int = 0


class Overloaded(Exception):
    """A call refused because the server is at its bound; `status` is what the caller gets."""

    def __init__(self, status: status_pb2.Status, retry_after: float) -> None:
        super().__init__(status.message)
        self.status = status
        self.retry_after = retry_after


class LoadLimiter:
    """Counts calls in flight and refuses those past `max_unary` / `max_streams`."""

    def __init__(self, max_unary: int, max_streams: int, retry_after: float) -> None:
        self.max_unary = max_unary
        self.max_streams = max_streams
        self.retry_after = retry_after
        self.counts = LoadCounts()
        self._logged_at = 0.0

    def _shed(self, kind: str, in_flight: int, bound: int) -> None:
        """Log `overload.shed` at most once a second (a flood of refusals must not become a
        flood of log lines), with the totals so far."""
        now = time.monotonic()
        if now - self._logged_at >= 1.0:
            self._logged_at = now
            c = self.counts
            _log.warning(
                "overload.shed",
                kind=kind,
                in_flight=in_flight,
                bound=bound,
                shed_unary=c.shed_unary,
                shed_streams=c.shed_streams,
            )

    @staticmethod
    def exempt(method: str) -> bool:
        return method.startswith(EXEMPT_PREFIXES)

    def _refusal(self, what: str, bound: int) -> Overloaded:
        message = f"the server is at its bound of {bound} {what} in flight; retry after the delay given"
        status = rich_status(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            common_pb2.ERROR_REASON_OVERLOADED,
            message,
            metadata={"limit": what.replace(" ", "_"), "bound": str(bound)},
            retry_delay=self.retry_after,
        )
        return Overloaded(status, self.retry_after)

    def enter(self, streaming: bool) -> None:
        """Take a place for one call; raises Overloaded if none is free. Pair with `leave`."""
        counts = self.counts
        if streaming:
            if counts.streams >= self.max_streams:
                counts.shed_streams += 1
                self._shed("stream", counts.streams, self.max_streams)
                raise self._refusal("streams", self.max_streams)
            counts.streams += 1
        else:
            if counts.unary >= self.max_unary:
                counts.shed_unary += 1
                self._shed("unary", counts.unary, self.max_unary)
                raise self._refusal("unary calls", self.max_unary)
            counts.unary += 1

    def leave(self, streaming: bool) -> None:
        if streaming:
            self.counts.streams -= 1
        else:
            self.counts.unary -= 1

    @contextmanager
    def admitted(self, streaming: bool = False) -> Iterator[None]:
        """Hold a place for one call while the block runs; raises Overloaded if none is free."""
        self.enter(streaming)
        try:
            yield
        finally:
            self.leave(streaming)
