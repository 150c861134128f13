"""OpenTelemetry spans, exported over OTLP: the optional `interlude-grpc[otel]` extra.

Enabled by `--otel-endpoint URL` or the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
`OTEL_EXPORTER_OTLP_ENDPOINT` environment (not when `OTEL_SDK_DISABLED=true`), and only when
the opentelemetry packages import: without them the server carries W3C trace context alone
(observability.tracing) and this module imports nothing of OpenTelemetry's.

`setup` installs an `OtelSpans` as tracing's span factory: every RPC and REST request is a
server span parented to its incoming `traceparent`, an order item's backend call an internal
span, a hub delivery a client span; the ids the spans get are the ones the logs and the
outgoing `traceparent` headers carry. The provider is the server's own (the global one is
left alone); `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` apply as usual.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from interlude_server.observability import tracing
from interlude_server.observability.tracing import Parent, Trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_log = structlog.get_logger("interlude_server.otel")
ENDPOINT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def requested_endpoint(flag: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The OTLP endpoint spans go to, or None when spans are not asked for."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if flag:
        return flag
    return next((env[name] for name in ENDPOINT_ENV if env.get(name)), None)


def available() -> bool:
    """Whether the opentelemetry SDK can be imported here."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


class OtelSpans:
    """A tracing.SpanFactory making OpenTelemetry SDK spans with `provider`'s tracer."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import trace

        self.provider = provider
        self._api = trace
        self._tracer = provider.get_tracer("interlude_server")
        self._kinds = {
            "server": trace.SpanKind.SERVER,
            "client": trace.SpanKind.CLIENT,
            "internal": trace.SpanKind.INTERNAL,
        }

    def _context(self, parent: Parent | None, state: str) -> Any:
        if parent is None:
            return None
        api = self._api
        remote = api.SpanContext(
            trace_id=int(parent.trace_id, 16),
            span_id=int(parent.span_id, 16),
            is_remote=True,
            trace_flags=api.TraceFlags(int(parent.flags, 16)),
            trace_state=api.TraceState.from_header([state]) if state else None,
        )
        return api.set_span_in_context(api.NonRecordingSpan(remote))

    def begin(
        self, name: str, parent: Parent | None, state: str, kind: str, attributes: Mapping[str, str]
    ) -> Trace:
        span = self._tracer.start_span(
            name, context=self._context(parent, state), kind=self._kinds[kind], attributes=dict(attributes)
        )
        ids = span.get_span_context()
        parent_id = parent.span_id if parent is not None else ""
        if not ids.is_valid:  # the SDK is disabled: carry the W3C context on alone
            trace_id = parent.trace_id if parent is not None else tracing.new_trace_id()
            flags = parent.flags if parent is not None else tracing.NOT_SAMPLED
            return Trace(trace_id, tracing.new_span_id(), flags, state, parent_id)
        return Trace(
            f"{ids.trace_id:032x}",
            f"{ids.span_id:016x}",
            f"{int(ids.trace_flags) & 1:02x}",
            state,
            parent_id,
            span,
        )

    def end(self, trace: Trace, error: str, attributes: Mapping[str, str]) -> None:
        span = trace.span
        if attributes:
            span.set_attributes(dict(attributes))
        if error:
            span.set_status(self._api.Status(self._api.StatusCode.ERROR, error))
        span.end()

    def shutdown(self) -> None:
        """Export what is still buffered, then stop."""
        self.provider.shutdown()


def provider_with(exporter: SpanExporter, *, batch: bool = True) -> TracerProvider:
    """A TracerProvider sending its spans to `exporter` (batched, or one at a time)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "interlude-server"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


def install(provider: TracerProvider) -> OtelSpans:
    """Make spans with `provider` from now on (tracing.install(None) undoes it)."""
    spans = OtelSpans(provider)
    tracing.install(spans)
    return spans


def setup(flag: str | None) -> OtelSpans | None:
    """Export spans over OTLP (gRPC) if they are asked for and the packages are here; None
    (W3C context propagation only) otherwise, with a warning when asked for but unavailable."""
    endpoint = requested_endpoint(flag)
    if endpoint is None:
        return None
    if not available():
        _log.warning(
            "otel.unavailable",
            endpoint=endpoint,
            detail="spans were asked for, but the opentelemetry packages are not installed "
            "(pip install 'interlude-grpc[otel]'): only W3C trace context is carried",
        )
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    spans = install(provider_with(OTLPSpanExporter(endpoint=endpoint)))
    _log.info("otel.enabled", endpoint=endpoint)
    return spans
