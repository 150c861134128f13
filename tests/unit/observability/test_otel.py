"""OpenTelemetry spans (the otel extra), made in process with the SDK's in-memory exporter:
an RPC is a server span parented to its incoming `traceparent`, and the ids the span gets are
the ones the call's log context and current trace carry; an order item's backend call is a
child span of the order's trace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from interlude_server.api.interceptors import RpcStages
from interlude_server.observability import otel, tracing
from interlude_server.observability.logging import log_context
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.partner.ordering.simulator import FaultRule, SimulatedPartner
from interlude_server.store.sqlite.store import SqliteStore

GET_SERVICE = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    spans = otel.install(otel.provider_with(exporter, batch=False))
    try:
        yield exporter
    finally:
        tracing.install(None)
        spans.shutdown()


def _ids(span: ReadableSpan) -> tuple[str, str]:
    """The span's (trace id, span id) as W3C hex."""
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class Context:
    """What the stages use of grpc.aio's servicer context."""

    def __init__(self, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self.metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"

    def time_remaining(self) -> float | None:
        return None

    def code(self) -> grpc.StatusCode | None:
        return None

    async def abort_with_status(self, status: grpc.Status) -> None:
        raise grpc.aio.AbortError()


class Seen:
    """A handler behaviour that records the trace and the log context it ran in."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.trace: tracing.Trace | None = None
        self.log_context: dict[str, Any] = {}

    async def behavior(self, request: Any, context: Any) -> inventory_pb2.GetServiceResponse:
        self.trace = tracing.current()
        self.log_context = log_context()
        if self.fail:
            raise RuntimeError("a fault of ours")
        return inventory_pb2.GetServiceResponse()


async def _call(seen: Seen, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
    handler = RpcStages("sp-alpha").wrap(
        GET_SERVICE,
        grpc.unary_unary_rpc_method_handler(
            seen.behavior, request_deserializer=inventory_pb2.GetServiceRequest.FromString
        ),
    )
    assert handler.unary_unary is not None
    context: Any = Context(metadata)
    await handler.unary_unary(inventory_pb2.GetServiceRequest(id="svc-1"), context)


def test_an_rpc_is_a_server_span_parented_to_the_incoming_traceparent(exported: InMemorySpanExporter) -> None:
    seen = Seen()
    metadata = (("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"), ("tracestate", "rojo=1"))
    asyncio.run(_call(seen, metadata))
    (span,) = exported.get_finished_spans()
    assert span.name == GET_SERVICE
    assert span.kind == otel_trace.SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.is_remote
    assert (f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}") == (TRACE_ID, PARENT_ID)
    trace_id, span_id = _ids(span)
    assert trace_id == TRACE_ID
    context = span.get_span_context()
    assert context is not None
    assert context.trace_state.to_header() == "rojo=1"
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == "OK"
    assert span.status.is_ok
    # The handler ran in the span: its trace, and its log lines, name the span's ids.
    assert seen.trace is not None
    assert (seen.trace.trace_id, seen.trace.span_id) == (TRACE_ID, span_id)
    assert (seen.log_context["trace_id"], seen.log_context["span_id"]) == (TRACE_ID, seen.trace.span_id)


def test_an_rpc_without_a_valid_traceparent_is_the_root_of_a_new_trace(
    exported: InMemorySpanExporter,
) -> None:
    seen = Seen(fail=True)
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(_call(seen, (("traceparent", f"00-{'0' * 32}-{PARENT_ID}-01"),)))
    (span,) = exported.get_finished_spans()
    assert span.parent is None
    assert seen.trace is not None
    assert seen.trace.trace_id == _ids(span)[0]
    assert seen.trace.trace_id != "0" * 32
    assert span.status.status_code == otel_trace.StatusCode.ERROR  # INTERNAL is a server fault


def test_an_order_items_backend_call_is_a_child_span_of_the_orders_trace(
    exported: InMemorySpanExporter, tmp_path: Path
) -> None:
    order = ordering_pb2.ServiceOrder(id="ord-1", external_id="FAIL-1")
    item = ordering_pb2.ServiceOrderItem(id="1", action=ordering_pb2.SERVICE_ACTION_ADD)
    cause = tracing.Trace(TRACE_ID, PARENT_ID, "01")
    seen: list[tracing.Trace | None] = []

    class Watching(SimulatedPartner):
        async def apply(self, *args: Any) -> Any:
            seen.append(tracing.current())  # what an out-of-process backend would forward
            return await super().apply(*args)

    async def run() -> None:
        store = SqliteStore(tmp_path / "db.sqlite")
        await store.open()
        try:
            processor = OrderProcessor(store, Watching(0.0, [FaultRule("FAIL-*", "no capacity")]), 0.0)
            tracing.use(cause)
            outcome = await processor._apply("sp-alpha", order, item)
            assert not outcome.ok
            assert tracing.current() is cause  # the order's trace again once the call returned
        finally:
            await store.close()

    asyncio.run(run())
    (span,) = exported.get_finished_spans()
    assert span.name == "partner.apply"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert _ids(span)[0] == TRACE_ID
    assert span.status.status_code == otel_trace.StatusCode.ERROR
    assert span.status.description == "no capacity"
    (during,) = seen
    assert during is not None
    assert during.span_id == _ids(span)[1]
