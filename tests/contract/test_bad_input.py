"""Bad input against a real server: every RPC, garbage bytes, malformed REST bodies and queries.

One long-lived server (gRPC and REST) takes every case. What must hold for each:
- gRPC never answers INTERNAL or UNKNOWN; every error carries ErrorInfo; INVALID_ARGUMENT
  names at least one field in BadRequest;
- REST never answers 5xx (503 only when shedding load) and its errors are MEF error bodies;
- the server stays healthy (health SERVING, the process alive) after every batch.

Cases per RPC: INTERLUDE_FUZZ_EXAMPLES hypothesis examples (default 10: 9,600 cases) of
INTERLUDE_FUZZ_BATCH requests each (default 8, sent concurrently); `make fuzz` raises both.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.api import contract
from interlude_server.rest.operations import REST_OPERATIONS
from tests.contract.strategies import (
    KNOWN_IDS,
    ODD_STRINGS,
    garbage,
    json_bodies,
    mef_shaped,
    messages,
    rest_texts,
)
from tests.support.helpers import ALPHA, Stubs, rich_error
from tests.support.server_process import ServerProcess, launch

pytestmark = pytest.mark.e2e  # it starts a server and throws bad input at it

EXAMPLES = int(os.environ.get("INTERLUDE_FUZZ_EXAMPLES", "10"))
BATCH = int(os.environ.get("INTERLUDE_FUZZ_BATCH", "8"))
FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Codes grpc itself may answer before any handler runs (no rich status): a message over
# --max-message-bytes, and the client's own deadline on a stream that had nothing to say yet.
TRANSPORT = {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
METHODS = [(s, m) for s in contract.services() for m in s.methods]


def _id(item: tuple[d.ServiceDescriptor, d.MethodDescriptor]) -> str:
    return f"{item[0].name}.{item[1].name}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    running = launch(workdir, "--seed", "demo", "--sim-step-delay", "0.01", "--rest-listen", "127.0.0.1:0")
    try:
        yield running
        assert running.proc.poll() is None, f"the server died:\n{running.logs()[-4000:]}"
        assert "Traceback" not in running.logs(), "the server logged an unexpected exception"
    finally:  # stopped even when a check fails, so no server outlives the tests
        code = running.stop()
    assert code == 0


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        yield ch


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=BATCH) as executor:
        yield executor


def _path(service: d.ServiceDescriptor, method: d.MethodDescriptor) -> str:
    return f"/{service.full_name}/{method.name}"


def _check_error(error: grpc.RpcError, where: str) -> None:
    assert isinstance(error, grpc.Call)
    code = error.code()
    assert code not in FAULTS, f"{where}: {code} {error.details()}"
    if (
        code in TRANSPORT
        and error.trailing_metadata() is not None
        and not any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata() or ())
    ):
        return
    details = rich_error(error)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert details.violations, f"{where}: no field named: {details}"
        assert all(details.violations), f"{where}: a violation without a field: {details}"


def _send(channel: grpc.Channel, path: str, streaming: bool, payload: bytes) -> None:
    """Send raw bytes as the request; check whatever the server answers."""
    if streaming:
        stream: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(path)
        call = stream(payload, metadata=ALPHA, timeout=0.5)
        try:
            next(iter(call), None)  # the first response (or the error) is enough
        except grpc.RpcError as error:
            _check_error(error, path)
        finally:
            call.cancel()
        return
    try:
        unary: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
        unary(payload, metadata=ALPHA, timeout=5)
    except grpc.RpcError as error:
        _check_error(error, path)


def _healthy(channel: grpc.Channel) -> None:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _batch(
    pool: ThreadPoolExecutor, channel: grpc.Channel, path: str, streaming: bool, payloads: list[bytes]
) -> None:
    for future in [pool.submit(_send, channel, path, streaming, p) for p in payloads]:
        future.result()
    _healthy(channel)


@pytest.mark.parametrize("rpc", METHODS, ids=_id)
def test_random_requests_never_fault(
    rpc: tuple[d.ServiceDescriptor, d.MethodDescriptor], channel: grpc.Channel, pool: ThreadPoolExecutor
) -> None:
    service, method = rpc
    request_type = method.input_type

    @FUZZ
    @given(st.lists(messages(request_type), min_size=BATCH, max_size=BATCH))
    def run(requests: list[Any]) -> None:
        assert all(isinstance(r, GetMessageClass(request_type)) for r in requests)
        payloads = [r.SerializeToString() for r in requests]
        _batch(pool, channel, _path(service, method), method.server_streaming, payloads)

    run()


@pytest.mark.parametrize("rpc", METHODS, ids=_id)
def test_garbage_bytes_never_fault(
    rpc: tuple[d.ServiceDescriptor, d.MethodDescriptor], channel: grpc.Channel, pool: ThreadPoolExecutor
) -> None:
    service, method = rpc

    @FUZZ
    @given(st.lists(garbage, min_size=BATCH, max_size=BATCH))
    def run(payloads: list[bytes]) -> None:
        _batch(pool, channel, _path(service, method), method.server_streaming, payloads)

    run()


# -- REST -----------------------------------------------------------------------------

# Every route the adapter serves (the one table the auth middleware and isolation matrix use).
REST_ROUTES = sorted(REST_OPERATIONS)
QUERY_KEYS = [
    "limit",
    "offset",
    "state",
    "id",
    "externalId",
    "serviceSpecification.id",
    "@type",
    "fields",
    "sort",
]
_short = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from([s for s in KNOWN_IDS + ODD_STRINGS if s]),
    rest_texts.filter(bool),  # lone surrogates, sent percent-encoded as their UTF-8-style bytes
)
_queries = st.dictionaries(st.sampled_from(QUERY_KEYS), _short, max_size=4)
_bodies = st.one_of(json_bodies, mef_shaped)
_LINE = 7000  # aiohttp answers a request line over 8190 bytes itself, before any adapter code


def _fitting(case: tuple[str, dict[str, str], bytes]) -> tuple[str, dict[str, str], bytes]:
    """`case` with query parameters left out, last first, until its request line is under the
    HTTP server's limit (a 6,000-character id or query value fits, two do not)."""
    ident, query, body = case
    query = dict(query)
    room = _LINE - len(urllib.parse.quote(ident, safe="", errors="surrogatepass"))
    while query and len(urllib.parse.urlencode(query, errors="surrogatepass")) > room:
        query.popitem()
    return ident, query, body


_cases = st.tuples(_short, _queries, _bodies).map(_fitting)


def _rest(
    server: ServerProcess, method: str, route: str, ident: str, query: dict[str, str], body: bytes
) -> None:
    path = route.replace("{id}", urllib.parse.quote(ident, safe="", errors="surrogatepass")) or "/"
    if query:
        path += "?" + urllib.parse.urlencode(query, errors="surrogatepass")
    host, port = server.rest.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"X-Interlude-Buyer": "sp-alpha", "Content-Type": "application/json"}
        conn.request(method, path, body=body if method in ("POST", "PATCH") else None, headers=headers)
        reply = conn.getresponse()
        text = reply.read()
    finally:
        conn.close()
    assert reply.status < 500 or (reply.status == 503 and reply.getheader("Retry-After")), (
        f"{method} {path}: {reply.status} {text[:500]!r}"
    )
    if reply.status >= 400:
        assert b'"code"' in text, f"{method} {path}: not a MEF error body: {text[:300]!r}"


@pytest.mark.parametrize("route", REST_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_rest_bad_input_never_500(
    route: tuple[str, str], server: ServerProcess, channel: grpc.Channel, pool: ThreadPoolExecutor
) -> None:
    method, path = route

    @FUZZ
    @given(
        st.lists(
            _cases,
            min_size=BATCH,
            max_size=BATCH,
        )
    )
    def run(cases: list[tuple[str, dict[str, str], bytes]]) -> None:
        futures = [
            pool.submit(_rest, server, method, path, ident, query, body) for ident, query, body in cases
        ]
        for future in futures:
            future.result()
        _healthy(channel)

    run()


# -- regressions the strategies above now generate (F14), as fixed cases --------------------

_ORD = "/mefApi/interlude/serviceOrderingManagement/v1"
_EDGE_CASES = [
    (f"{_ORD}/serviceOrder", b'{"externalId": "\\ud800", "serviceOrderItem": []}', "/externalId"),
    (f"{_ORD}/hub", b'{"callback": "http://127.0.0.1:9/\\ud800"}', "/callback"),
    ("/mefApi/interlude/serviceFunctionTesting/v3/testProfile", b'{"name": "\\ud800"}', "/name"),
    (
        "/mefApi/interlude/performanceMonitoring/v5/performanceProfile",
        b'{"description": "\\ud800"}',
        "/description",
    ),
    (f"{_ORD}/serviceOrder/o-1/cancel", b'{"cancellationReason": "\\ud800"}', "/cancellationReason"),
    (
        f"{_ORD}/serviceOrder",
        b'{"serviceOrderItem": [{"action": "modify", "service": {"id": "alpha-evc-1",'
        b' "serviceConfiguration": {"@type": "x", "cir": NaN}}}]}',
        "/serviceOrderItem/0/service/serviceConfiguration/cir",
    ),
    (
        f"{_ORD}/serviceOrder",
        b'{"externalId": "x", "requestedCompletionDate": 1e400}',
        "/requestedCompletionDate",
    ),
]


@pytest.mark.parametrize(("path", "body", "pointer"), _EDGE_CASES, ids=lambda c: str(c)[-30:])
def test_rest_refuses_lone_surrogates_and_non_finite_numbers_naming_the_field(
    server: ServerProcess, path: str, body: bytes, pointer: str
) -> None:
    host, port = server.rest.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"X-Interlude-Buyer": "sp-alpha"})
        reply = conn.getresponse()
        error = json.loads(reply.read())
    finally:
        conn.close()
    assert (reply.status, error["code"], reply.getheader("X-Interlude-Reason")) == (
        400,
        "invalidBody",
        "INVALID_BODY",
    )
    assert error["message"].startswith(f"{pointer}: ")


def test_grpc_refuses_non_finite_numbers_and_undecodable_text_naming_the_field(channel: grpc.Channel) -> None:
    request = ordering_pb2.UpdateServiceRequest()
    request.service.id = "alpha-evc-1"
    request.service.service_configuration.attributes.update({"cir": math.nan, "ebs": [1, math.inf]})
    request.update_mask.paths.append("service_configuration.attributes.cir")
    with pytest.raises(grpc.RpcError) as raised:
        Stubs.on(channel).ordering.UpdateService(request, metadata=ALPHA)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    prefix = "service.service_configuration.attributes"
    assert set(error.violations) == {f"{prefix}.cir", f"{prefix}.ebs[1]"}
    # A string holding a UTF-8-encoded lone surrogate does not parse: named, not INTERNAL.
    get: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
    )
    with pytest.raises(grpc.RpcError) as raised:
        get(b"\x0a\x03\xed\xa0\x80", metadata=ALPHA, timeout=5)
    assert rich_error(raised.value).violations.keys() == {"request"}
