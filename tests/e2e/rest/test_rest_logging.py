"""The REST adapter's logging context, with the REST server running in this process.

While a REST request is served, structlog's contextvars carry its method, path, MEF
operationId, request id (`X-Request-Id`), peer and, once admitted, buyer, as the gRPC
interceptor binds an RPC's (tests/e2e/grpc/test_rpc_logging.py): so an event a servicer
logs during a REST call says which request it belongs to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NoReturn

import aiohttp
import pytest
import structlog
from structlog.testing import LogCapture
from structlog.typing import EventDict

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from interlude_server.api.binding import ServiceBinding
from interlude_server.auth.authenticator import Authenticator
from interlude_server.config import Listen
from interlude_server.core.errors import NotFound
from interlude_server.rest.admission import Admit
from interlude_server.rest.app import build_app
from interlude_server.rest.backend import InProcessBackend
from interlude_server.runtime.rest_server import start_rest
from tests.support.rest import INV

pytestmark = pytest.mark.asyncio(loop_scope="module")

INVENTORY = "mef.lso.interlude.v1.ServiceInventoryService"
_probe_log = structlog.get_logger("tests.probe")


class ProbeInventory:
    """A servicer for the test: logs one event from inside the call, then answers NOT_FOUND."""

    async def GetService(self, request: inventory_pb2.GetServiceRequest, context: Any) -> NoReturn:
        _probe_log.info("probe.called", service_id=request.id)
        raise NotFound("Service", request.id, "SERVICE_NOT_FOUND")


@contextmanager
def captured_with_context() -> Iterator[list[EventDict]]:
    """Like structlog.testing.capture_logs, but with the contextvars merged into every entry,
    as the server's own configuration merges them (observability.logging)."""
    capture = LogCapture()
    processors = structlog.get_config()["processors"]
    saved = processors.copy()
    processors[:] = [structlog.contextvars.merge_contextvars, capture]
    structlog.configure(processors=processors)
    try:
        yield capture.entries
    finally:
        processors[:] = saved
        structlog.configure(processors=processors)


@asynccontextmanager
async def serving() -> AsyncIterator[aiohttp.ClientSession]:
    """The REST adapter (auth none, buyer by header) over the probe, on an ephemeral port."""
    backend = InProcessBackend([ServiceBinding(INVENTORY, lambda _server: None, ProbeInventory())])
    app = build_app(backend, None, Admit(Authenticator("none", default_buyer="sp-default")), 1 << 20)
    server = await start_rest(Listen("127.0.0.1", 0), app)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.listen.port}") as session:
            yield session
    finally:
        await server.stop()


def _events(logs: list[EventDict], name: str) -> list[EventDict]:
    return [e for e in logs if e["event"] == name]


async def test_a_servicer_log_during_a_rest_request_carries_the_request_context() -> None:
    with captured_with_context() as logs:
        async with serving() as session:
            headers = {"X-Request-Id": "req-rest-1", "X-Interlude-Buyer": "sp-beta"}
            async with session.get(f"{INV}/service/svc-9", headers=headers) as reply:
                assert reply.status == 404
    (probe,) = _events(logs, "probe.called")
    assert probe["service_id"] == "svc-9"
    assert probe["method"] == "GET"
    assert probe["path"] == f"{INV}/service/svc-9"
    assert probe["operation"] == "serviceGet"
    assert probe["request_id"] == "req-rest-1"
    assert probe["buyer"] == "sp-beta"
    assert probe["peer"] == "127.0.0.1"
    (finished,) = _events(logs, "rest.finished")
    assert (finished["request_id"], finished["operation"], finished["status"]) == (
        "req-rest-1",
        "serviceGet",
        404,
    )


async def test_a_second_request_on_the_connection_carries_only_its_own_context() -> None:
    with captured_with_context() as logs:
        async with serving() as session:  # one keep-alive connection serves both requests
            async with session.get(f"{INV}/service/a", headers={"X-Request-Id": "req-first"}) as first:
                assert first.status == 404
            async with session.get(f"{INV}/service/b") as second:
                assert second.status == 404
    first_probe, second_probe = _events(logs, "probe.called")
    assert (first_probe["request_id"], first_probe["buyer"]) == ("req-first", "sp-default")
    assert (second_probe["request_id"], second_probe["path"]) == ("", f"{INV}/service/b")


async def test_a_request_matching_no_route_is_logged_with_no_operation_and_no_buyer() -> None:
    with captured_with_context() as logs:
        async with (
            serving() as session,
            session.get(f"{INV}/nothing", headers={"X-Request-Id": "req-404"}) as r,
        ):
            assert r.status == 404
    (finished,) = _events(logs, "rest.finished")
    assert (finished["request_id"], finished["operation"], finished["buyer"]) == ("req-404", "", "")


async def test_with_opentelemetry_a_request_is_a_server_span_under_its_traceparent() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace as otel_trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from interlude_server.observability import otel, tracing

    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    exporter = InMemorySpanExporter()
    spans = otel.install(otel.provider_with(exporter, batch=False))
    try:
        with captured_with_context() as logs:
            async with serving() as session:
                headers = {"traceparent": f"00-{trace_id}-{caller_span}-01", "tracestate": "sp=1"}
                async with session.get(f"{INV}/service/svc-9", headers=headers) as reply:
                    assert reply.status == 404
    finally:
        tracing.install(None)
        spans.shutdown()
    (span,) = exporter.get_finished_spans()
    context = span.get_span_context()
    assert context is not None
    assert span.parent is not None
    assert (span.name, span.kind, f"{span.parent.span_id:016x}") == (
        "serviceGet",
        otel_trace.SpanKind.SERVER,
        caller_span,
    )
    assert f"{context.trace_id:032x}" == trace_id
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == "404"
    assert span.status.status_code != otel_trace.StatusCode.ERROR  # a 4xx is the caller's, not a fault
    # What the servicer logged during the request names the span.
    (probe,) = _events(logs, "probe.called")
    assert (probe["trace_id"], probe["span_id"]) == (trace_id, f"{context.span_id:016x}")
