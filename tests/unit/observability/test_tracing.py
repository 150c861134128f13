"""W3C Trace Context as the server reads and writes it: strict parsing (anything invalid is
ignored, never refused), the headers passed on, and a trace made for every request."""

from __future__ import annotations

import asyncio
import random

import pytest

from interlude_server.observability import tracing
from interlude_server.observability.tracing import Parent, Trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"


def test_a_valid_version_00_traceparent_gives_its_trace_span_and_flags() -> None:
    assert tracing.parse_traceparent(VALID) == Parent(TRACE_ID, SPAN_ID, "01")
    assert tracing.parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00") == Parent(TRACE_ID, SPAN_ID, "00")
    # Only the sampled bit is defined in version 00; the others are not passed on.
    assert tracing.parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-09") == Parent(TRACE_ID, SPAN_ID, "01")
    assert tracing.parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-fe") == Parent(TRACE_ID, SPAN_ID, "00")
    assert tracing.parse_traceparent(f" {VALID}\t") == Parent(TRACE_ID, SPAN_ID, "01")  # OWS


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        f"00-{'0' * 32}-{SPAN_ID}-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE_ID}-{SPAN_ID}-01",  # version ff is invalid
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # uppercase hex
        f"00-{TRACE_ID}-{SPAN_ID.upper()}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-0g",  # flags not hex
        f"0g-{TRACE_ID}-{SPAN_ID}-01",  # version not hex
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",  # short trace id
        f"00-{TRACE_ID}-{SPAN_ID}1-01",  # long parent id
        f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 is exactly 55 characters
        f"00-{TRACE_ID}-{SPAN_ID}-1",
        f"00_{TRACE_ID}_{SPAN_ID}_01",  # wrong separators
        f"01-{TRACE_ID}-{SPAN_ID}-01x",  # a later version continues only after a '-'
        "garbage",
    ],
)
def test_an_invalid_traceparent_is_ignored(value: str | None) -> None:
    assert tracing.parse_traceparent(value) is None


def test_a_later_version_is_read_by_its_version_00_prefix() -> None:
    assert tracing.parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01") == Parent(TRACE_ID, SPAN_ID, "01")
    assert tracing.parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01-what-comes") == Parent(
        TRACE_ID, SPAN_ID, "01"
    )


def test_tracestate_is_kept_when_well_formed_and_dropped_whole_when_not() -> None:
    assert tracing.parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE") == (
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )
    assert tracing.parse_tracestate("tenant@vendor=x,,") == "tenant@vendor=x"
    assert tracing.parse_tracestate(None) == ""
    assert tracing.parse_tracestate("Upper=1") == ""  # keys are lowercase
    assert tracing.parse_tracestate("a=1,a=2") == ""  # a key at most once
    assert tracing.parse_tracestate("a=bad=value") == ""  # '=' is not allowed in a value
    assert tracing.parse_tracestate("a=1\nb=2") == ""
    assert tracing.parse_tracestate(",".join(f"k{n}=v" for n in range(33))) == ""  # > 32 members


def test_a_long_tracestate_is_cut_at_a_member_boundary_within_512_characters() -> None:
    members = [f"k{n}={'v' * 60}" for n in range(10)]  # 63 characters each, 64 with the comma
    kept = tracing.parse_tracestate(",".join(members))
    assert len(kept) <= tracing.MAX_STATE_CHARS
    assert kept == ",".join(members[:8])  # 8 x 63 + 7 commas = 511


def test_formatting_and_the_headers_of_an_outgoing_call() -> None:
    assert tracing.format_traceparent(TRACE_ID, SPAN_ID, "01") == VALID
    trace = Trace(TRACE_ID, SPAN_ID, "01", "rojo=1", parent_id="b7ad6b7169203331")
    assert trace.traceparent == VALID
    headers = trace.outgoing()
    parent = tracing.parse_traceparent(headers["traceparent"])
    assert parent is not None
    assert (parent.trace_id, parent.flags) == (TRACE_ID, "01")
    assert parent.span_id not in (SPAN_ID, "0" * 16)  # a new span under the same trace
    assert headers["tracestate"] == "rojo=1"
    assert "tracestate" not in Trace(TRACE_ID, SPAN_ID).outgoing()


def test_new_ids_are_lowercase_hex_of_the_right_length_and_differ() -> None:
    traces = {tracing.new_trace_id() for _ in range(100)}
    spans = {tracing.new_span_id() for _ in range(100)}
    assert len(traces) == len(spans) == 100
    assert all(tracing.parse_traceparent(f"00-{t}-{s}-00") for t, s in zip(traces, spans, strict=True))


def test_one_draw_makes_both_ids_and_an_all_zero_part_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    state = random.getstate()
    try:
        random.seed(11)
        bits = random.getrandbits(192)
        random.seed(11)
        assert tracing.new_ids() == (f"{bits >> 64:032x}", f"{bits & ((1 << 64) - 1):016x}")
    finally:
        random.setstate(state)
    # the span's bits zero, then the trace's: each time each id is drawn on its own
    draws = iter([5 << 64, 7, 3, 9, 4, 6])
    monkeypatch.setattr(random, "getrandbits", lambda _bits: next(draws))
    assert tracing.new_ids() == (f"{7:032x}", f"{3:016x}")
    assert tracing.new_ids() == (f"{4:032x}", f"{6:016x}")


def test_an_id_is_the_zero_padded_hex_of_its_random_bits() -> None:
    state = random.getstate()
    try:
        random.seed(7)
        expected = (f"{random.getrandbits(128):032x}", f"{random.getrandbits(64):016x}")
        random.seed(7)
        assert (tracing.new_trace_id(), tracing.new_span_id()) == expected
    finally:
        random.setstate(state)


def test_a_request_continues_a_valid_trace_and_starts_one_otherwise() -> None:
    async def request(parent: str | None, state: str | None) -> tuple[Trace, Trace | None]:
        trace = tracing.begin_request("Get", parent, state)
        return trace, tracing.current()

    continued, current = asyncio.run(request(VALID, "rojo=1"))
    assert current is continued
    assert (continued.trace_id, continued.parent_id, continued.flags, continued.state) == (
        TRACE_ID,
        SPAN_ID,
        "01",
        "rojo=1",
    )
    assert continued.span_id != SPAN_ID
    assert continued.span is None
    started, _ = asyncio.run(request(f"00-{'0' * 32}-{SPAN_ID}-01", "rojo=1"))
    assert started.trace_id != "0" * 32
    assert tracing.parse_traceparent(started.traceparent) is not None
    assert (started.parent_id, started.state, started.flags) == ("", "", "00")  # state only with a parent
    assert tracing.current() is None  # each asyncio.run had its own context


def test_a_child_is_a_new_span_in_the_same_trace_and_a_stored_trace_comes_back() -> None:
    cause = Trace(TRACE_ID, SPAN_ID, "01", "rojo=1")
    child = tracing.child("work", cause)
    assert (child.trace_id, child.parent_id, child.flags, child.state) == (TRACE_ID, SPAN_ID, "01", "rojo=1")
    assert child.span_id != SPAN_ID
    assert tracing.from_stored(VALID, "rojo=1") == cause
    assert tracing.from_stored(None, None) is None
    assert tracing.from_stored("00-bad", "rojo=1") is None


def test_spans_are_asked_for_by_the_flag_or_the_standard_environment() -> None:
    from interlude_server.observability.otel import requested_endpoint

    assert requested_endpoint(None, {}) is None
    assert requested_endpoint("http://collector:4317", {}) == "http://collector:4317"
    assert requested_endpoint(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"}) == "http://a:4317"
    both = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4317",
    }
    assert requested_endpoint(None, both) == "http://t:4317"
    assert requested_endpoint("http://collector:4317", {"OTEL_SDK_DISABLED": "TRUE"}) is None


def test_the_server_imports_no_opentelemetry_unless_spans_are_asked_for() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from interlude_server.runtime import main, gateway\n"
        "from interlude_server.observability import otel\n"
        "assert otel.setup(None) is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
