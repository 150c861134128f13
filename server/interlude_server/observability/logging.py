"""structlog configuration: events with fields, one line each, to stderr.

A gRPC call's context (method, peer, request id, buyer, trace_id, span_id) is one dict in one
contextvar, set once per call by the access log (api.stages, `bind_call`): binding six
structlog contextvars cost a call ~1.3 µs more. `merge_call_fields` adds it to every event
logged while the call is served, after structlog's merge_contextvars, and both only fill in
fields an event lacks: a field the event names wins, then one bound with
structlog.contextvars.bind_contextvars (a REST request's context, rest.middleware, or a field
bound later in a call), then the call's. `log_context()` is that merged view. The standard
library's loggers (grpc's own) are routed through the same renderer. Credentials are
redacted from every event just before it is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


REDACTED = "[redacted]"
# Fields that hold credentials whatever their value looks like.
SECRET_FIELDS = frozenset(
    {"authorization", "token", "access_token", "id_token", "bearer", "password", "secret", "client_secret"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


# The fields of the call the running task serves (None outside a call). grpc.aio serves each
# call in a task of its own, created with a copy of the server's context, in which this is
# None: a call's fields never reach another call, and need no clearing when it ends.
_call_fields: ContextVar[dict[str, object] | None] = ContextVar("interlude_call_fields", default=None)


def bind_call(fields: dict[str, object]) -> None:
    """Make `fields` the logging context of the call the running task serves (the dict is the
    call's own: a later stage of the same call may update it in place)."""
    _call_fields.set(fields)


def merge_call_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Add the running call's fields to the event, each unless the event has it already."""
    fields = _call_fields.get()
    if fields:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
    return event_dict


def log_context() -> dict[str, object]:
    """The context every event logged now would carry: structlog's contextvars, then the
    running call's fields where those lack them (the precedence of the processors)."""
    merged: dict[str, object] = structlog.contextvars.get_contextvars()
    for key, value in (_call_fields.get() or {}).items():
        merged.setdefault(key, value)
    return merged


def _scrub(text: str) -> str:
    # Most text (every field of every rpc.finished line) holds neither pattern's literal; two
    # substring tests cost ~0.2 µs against ~2.7 µs for the two substitutions (bench/README.md).
    if "eyJ" not in text and "bearer" not in text.lower():
        return text
    return _BEARER.sub(rf"\1 {REDACTED}", _JWT.sub(REDACTED, text))


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Never let a credential reach a log line: secret fields are replaced, and bearer tokens
    or JWTs inside any text (messages, tracebacks, peer-supplied strings) are cut out."""
    for key, value in event_dict.items():
        if key.lower() in SECRET_FIELDS:
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = _scrub(value)
    return event_dict


def configure_logging(log_format: str, level: str, fields: dict[str, object] | None = None) -> None:
    """Configure structlog (and stdlib logging) for the given format and level; `fields` are
    added to every line (e.g. the worker number and pid of a `--workers N` process)."""
    numeric_level = _LEVELS[level]
    constant = dict(fields or {})

    def add_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        for key, value in constant.items():
            event_dict.setdefault(key, value)
        return event_dict

    shared: list[Processor] = [
        *([add_fields] if constant else []),
        structlog.contextvars.merge_contextvars,
        merge_call_fields,  # after merge_contextvars: a field bound there wins over the call's
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    shared.append(redact_secrets)  # last before rendering: it also sees formatted tracebacks
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        # Each module's logger is assembled once, not on every event (a per-RPC cost): only the
        # server process calls this, and tests that capture logs in-process never do.
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
