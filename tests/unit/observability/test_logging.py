"""The logging context of a gRPC call (observability/logging.py), through the processors the
server configures: a field the event names wins, then one bound with structlog's
contextvars, then the call's fields (bound once per call by api.stages)."""

from __future__ import annotations

import contextvars
import json
import logging

import pytest
import structlog
from structlog.typing import Processor

from interlude_server.observability.logging import bind_call, configure_logging, log_context

CALL = {
    "method": "/mef.lso.interlude.v1.ServiceInventoryService/GetService",
    "peer": "ipv4:127.0.0.1:40000",
    "request_id": "req-1",
    "buyer": "sp-alpha",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
}


@pytest.fixture
def server_processors() -> list[Processor]:
    """The processors (renderer last) configure_logging installs for JSON lines; structlog's
    configuration and the root logger are put back before the test runs them, so nothing
    of the server's configuration outlives this test (no logger is used in between)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", "info")
        processors = list(structlog.get_config()["processors"])
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    return processors


def _line(processors: list[Processor], **event: object) -> dict[str, object]:
    rendered: object = {**event}
    for processor in processors:
        rendered = processor(None, "info", rendered)  # type: ignore[arg-type]
    assert isinstance(rendered, str)
    parsed: dict[str, object] = json.loads(rendered)
    return parsed


def _in_a_call(processors: list[Processor]) -> tuple[dict[str, object], dict[str, object]]:
    bind_call(dict(CALL))
    structlog.contextvars.bind_contextvars(buyer="sp-later", request_id="req-later")
    line = _line(processors, event="probe", request_id="req-explicit")
    return line, log_context()


def test_an_event_field_wins_then_a_later_bound_contextvar_then_the_call(
    server_processors: list[Processor],
) -> None:
    line, context = contextvars.copy_context().run(_in_a_call, server_processors)
    assert line["request_id"] == "req-explicit"  # named by the event
    assert line["buyer"] == "sp-later"  # bound with bind_contextvars after the call's fields
    assert (line["method"], line["peer"], line["trace_id"], line["span_id"]) == (
        CALL["method"],
        CALL["peer"],
        CALL["trace_id"],
        CALL["span_id"],
    )
    assert (line["event"], line["level"]) == ("probe", "info")
    assert context == {**CALL, "buyer": "sp-later", "request_id": "req-later"}


def test_outside_a_call_an_event_carries_no_call_fields(server_processors: list[Processor]) -> None:
    line = contextvars.copy_context().run(_line, server_processors, event="idle")
    assert not set(CALL) & set(line)
    assert contextvars.copy_context().run(log_context) == {}


def test_a_call_context_stays_in_the_task_that_bound_it() -> None:
    def call() -> dict[str, object]:
        bind_call(dict(CALL))
        return log_context()

    assert contextvars.copy_context().run(call) == CALL
    assert "method" not in log_context()  # nothing of the call reached this context
