"""W3C Trace Context: which trace a piece of work belongs to, carried from a buyer's request
through the server to the Partner backend and back out to the buyer's hub callback.

A request's `traceparent` (and `tracestate`) is parsed strictly (W3C Trace Context level 1):
a version of two lowercase hex digits (not `ff`; version 00 exactly 55 characters, a later
version at least that and cut at a `-`), a 32-hex trace-id and a 16-hex parent-id, neither
all zeros, and 2-hex flags. Anything else is ignored, never refused: the server starts a new
trace instead, and a `tracestate` is kept only beside a valid `traceparent`.

The work a request causes runs as `current()` (a contextvar: tasks spawned while serving
inherit it); the store records it with each event, so a hub delivery made later, perhaps
by another process, names the same trace (`Trace.outgoing`: a new span id under it).

Spans are this process's own only when OpenTelemetry is enabled (observability.otel installs
a `SpanFactory` with `install`); otherwise `begin` costs two random numbers and no OTel code
runs at all.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
SAMPLED = "01"
NOT_SAMPLED = "00"

_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# version-traceid-parentid-flags; a later version may go on after a '-' (checked in the parser)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.S)
# A tracestate list member (key=value); keys may be multi-tenant (tenant@system).
_MEMBER = re.compile(
    r"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
MAX_STATE_MEMBERS = 32
MAX_STATE_CHARS = 512


@dataclass(frozen=True, slots=True)
class Parent:
    """A valid incoming `traceparent`: the caller's trace, its span, its flags."""

    trace_id: str
    span_id: str
    flags: str  # 2 hex: only the sampled bit is kept (the one flag of version 00)

    @property
    def sampled(self) -> bool:
        return self.flags == SAMPLED


def parse_traceparent(value: str | None) -> Parent | None:
    """The caller's trace from a `traceparent` value; None if it is absent or invalid."""
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Parent(trace_id, span_id, SAMPLED if int(flags, 16) & 1 else NOT_SAMPLED)


def parse_tracestate(value: str | None) -> str:
    """The `tracestate` to carry on ('' if absent or invalid: an invalid one is dropped whole).
    Empty members are removed; past MAX_STATE_CHARS the members at the end are left off."""
    if not value:
        return ""
    members = [m.strip(" \t") for m in value.split(",")]
    members = [m for m in members if m]
    if len(members) > MAX_STATE_MEMBERS or not all(_MEMBER.fullmatch(m) for m in members):
        return ""
    keys = [m.split("=", 1)[0] for m in members]
    if len(set(keys)) != len(keys):
        return ""
    kept: list[str] = []
    size = -1
    for member in members:
        size += len(member) + 1
        if size > MAX_STATE_CHARS:
            break
        kept.append(member)
    return ",".join(kept)


# An id's text is bytes.hex() of its bits: the same lowercase hex as f"{bits:032x}", at less
# than half the cost (0.43 -> 0.18 µs; a call with no traceparent makes two ids).
def new_trace_id() -> str:
    while not (bits := random.getrandbits(128)):
        pass
    return bits.to_bytes(16, "big").hex()


def new_span_id() -> str:
    while not (bits := random.getrandbits(64)):
        pass
    return bits.to_bytes(8, "big").hex()


def new_ids() -> tuple[str, str]:
    """A new trace id and span id, from one random draw (the two are independent bits)."""
    bits = random.getrandbits(192)
    if not bits >> 64 or not bits & _SPAN_BITS:  # an all-zero id is invalid: draw each anew
        return new_trace_id(), new_span_id()
    text = bits.to_bytes(24, "big").hex()
    return text[:32], text[32:]


_SPAN_BITS = (1 << 64) - 1


def format_traceparent(trace_id: str, span_id: str, flags: str) -> str:
    return f"00-{trace_id}-{span_id}-{flags}"


@dataclass(slots=True)  # not frozen: made once per call, and a frozen __init__ costs 3x
class Trace:
    """The trace a piece of work runs in: its trace id, this work's span id, the flags and
    tracestate to pass on, and the caller's span (`parent_id`, '' for a trace started here).
    `span` is the OpenTelemetry span when OTel is enabled (None otherwise). Never changed
    once made: tasks share it."""

    trace_id: str
    span_id: str
    flags: str = NOT_SAMPLED
    state: str = ""
    parent_id: str = ""
    span: Any = None

    @property
    def traceparent(self) -> str:
        """This work as the parent of what it calls."""
        return format_traceparent(self.trace_id, self.span_id, self.flags)

    def outgoing(self) -> dict[str, str]:
        """Headers (or metadata) for a call this work makes: the same trace, a new span id
        (the span of the outgoing call, a child of this work's)."""
        headers = {TRACEPARENT: format_traceparent(self.trace_id, new_span_id(), self.flags)}
        if self.state:
            headers[TRACESTATE] = self.state
        return headers

    def log_fields(self) -> dict[str, str]:
        return {"trace_id": self.trace_id, "span_id": self.span_id}


class SpanFactory(Protocol):
    """Makes this process's spans (observability.otel, when enabled)."""

    def begin(
        self, name: str, parent: Parent | None, state: str, kind: str, attributes: Mapping[str, str]
    ) -> Trace:
        """A started span as a Trace, parented to `parent` (a new trace if None); `kind` is
        "server", "client" or "internal"."""

    def end(self, trace: Trace, error: str, attributes: Mapping[str, str]) -> None:
        """End the span of `trace` (`error` '' for success, else the failure in short), with
        these attributes added."""


_factory: SpanFactory | None = None
_current: ContextVar[Trace | None] = ContextVar("interlude_trace", default=None)


def install(factory: SpanFactory | None) -> None:
    """Make spans with `factory` from now on (None: propagate the W3C context only)."""
    global _factory
    _factory = factory


def spans_enabled() -> bool:
    return _factory is not None


def begin(
    name: str,
    parent: Parent | None,
    state: str = "",
    kind: str = "server",
    attributes: Mapping[str, str] | None = None,
) -> Trace:
    """The trace of new work: a child span of `parent`, or the root of a new trace (not made
    current: see `use`)."""
    factory = _factory
    if factory is not None:
        return factory.begin(name, parent, state if parent else "", kind, attributes or {})
    if parent is None:
        return Trace(*new_ids())
    return Trace(parent.trace_id, new_span_id(), parent.flags, state, parent.span_id)


def begin_request(name: str, traceparent: str | None, tracestate: str | None, **attributes: str) -> Trace:
    """The trace of a request that arrived with these headers (either may be None), made
    current for the task serving it (and the tasks it spawns from now on)."""
    parent = parse_traceparent(traceparent)
    state = parse_tracestate(tracestate) if parent is not None else ""
    trace = begin(name, parent, state, "server", attributes)
    _current.set(trace)
    return trace


def child(name: str, of: Trace | None = None, kind: str = "internal", **attributes: str) -> Trace:
    """Work done for `of` (default: the current trace) as a new span under it, or the root of
    a new trace if there is none (not made current: see `use`)."""
    of = of if of is not None else _current.get()
    if of is None:
        return begin(name, None, "", kind, attributes)
    return begin(name, Parent(of.trace_id, of.span_id, of.flags), of.state, kind, attributes)


def end(trace: Trace | None, error: str = "", attributes: Mapping[str, str] | None = None) -> None:
    """End the span of `trace` (a no-op without OTel or without a span)."""
    if trace is not None and trace.span is not None and _factory is not None:
        _factory.end(trace, error, attributes or {})


def current() -> Trace | None:
    return _current.get()


def use(trace: Trace | None) -> None:
    """Make `trace` the current one for the running task."""
    _current.set(trace)


def from_stored(traceparent: str | None, tracestate: str | None) -> Trace | None:
    """A trace as recorded with a change (the store's event rows), to carry on later."""
    parent = parse_traceparent(traceparent)
    if parent is None:
        return None
    return Trace(parent.trace_id, parent.span_id, parent.flags, parse_tracestate(tracestate))
