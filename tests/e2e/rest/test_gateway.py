"""Gateway mode: `interlude-rest-gateway` in front of a remote gRPC server answers what the
in-process adapter answers (same mapping, same error table), through the generated stubs."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rest import INV, ORD, SFT, Reply, RestClient, gateway_process
from tests.support.server_process import ServerProcess, launch


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch(tmp_path_factory.mktemp("upstream"), "--seed", "demo", "--rest-listen", "127.0.0.1:0")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def gateway(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestClient]:
    with gateway_process(tmp_path_factory.mktemp("gateway"), server.target) as url:
        yield RestClient(url)


def _rebased(doc: object, old: str, new: str) -> object:
    return json.loads(json.dumps(doc).replace(old, new))


@pytest.mark.parametrize(
    "path",
    [
        f"{INV}/service/alpha-uni-1",
        f"{INV}/service/alpha-ovc-1",
        f"{INV}/service?state=active&offset=2&limit=4",
        f"{INV}/service/beta-uni-1",
        f"{INV}/service?colour=red",
        f"{ORD}/serviceOrder?limit=5",
        f"{ORD}/serviceOrder/unknown",
        f"{SFT}/testJob?limit=5",
        f"{SFT}/testJob/unknown",
        f"{SFT}/testProfile?colour=red",
        f"{SFT}/suspendTestJob?state=accepted",
        f"{SFT}/testResult/unknown",
        "/mefApi/interlude/performanceMonitoring/v5/performanceProfile?limit=5",
        "/mefApi/interlude/performanceMonitoring/v5/performanceJob/unknown",
    ],
)
def test_gateway_answers_what_the_in_process_adapter_answers(
    gateway: RestClient, server: ServerProcess, path: str
) -> None:
    direct = RestClient(server.rest_url).get(path)
    through = gateway.get(path)
    assert through.status == direct.status
    assert through.body == _rebased(direct.body, server.rest_url, gateway.base_url)
    for header in ("X-Total-Count", "X-Result-Count", "X-Pagination-Throttled", "X-Interlude-Reason", "ETag"):
        assert through.headers.get(header) == direct.headers.get(header)


def test_gateway_refuses_the_hub_and_reports_an_unreachable_upstream(
    gateway: RestClient, tmp_path: Path
) -> None:
    hub = gateway.post(f"{ORD}/hub", {"callback": "http://127.0.0.1:9/x"})
    assert (hub.status, hub.body["code"], hub.headers["X-Interlude-Reason"]) == (
        501,
        "notImplemented",
        "RPC_NOT_IMPLEMENTED",
    )
    assert hub.body["message"]  # like every MEF error body
    with gateway_process(tmp_path, "127.0.0.1:1") as url:
        down = RestClient(url).get(f"{INV}/service/alpha-uni-1")
    assert (down.status, down.headers["X-Interlude-Reason"]) == (503, "UPSTREAM_UNAVAILABLE")


def test_a_huge_unknown_id_is_404_with_a_bounded_body_directly_and_through_the_gateway(
    gateway: RestClient, server: ServerProcess
) -> None:
    # F14: through the gateway the upstream's trailer grew past gRPC's metadata limit
    # (RESOURCE_EXHAUSTED -> 503); in-process the body echoed the whole id.
    path = f"{INV}/service/{'z' * 6000}"
    for client in (RestClient(server.rest_url), gateway):
        reply = client.get(path)
        assert (reply.status, reply.body["code"], reply.headers["X-Interlude-Reason"]) == (
            404,
            "notFound",
            "SERVICE_NOT_FOUND",
        )
        assert "6002 characters" in reply.body["reason"]
        assert len(json.dumps(reply.body)) < 1024


def test_an_over_long_request_line_or_header_gets_a_mef_error_directly_and_through_the_gateway(
    gateway: RestClient, server: ServerProcess
) -> None:
    # F14: past aiohttp's default 8190 bytes aiohttp itself answered a plain-text 400.
    def refusal(reply: Reply) -> tuple[int, str, str, str]:
        return (
            reply.status,
            reply.body["code"],
            reply.headers["X-Interlude-Reason"],
            reply.body["referenceError"],
        )

    invalid = "urn:mef:lso:interlude:error:INVALID_REQUEST"
    long_query = f"{INV}/service?description={'q' * 9000}"
    for client in (RestClient(server.rest_url), gateway):
        reply = client.get(long_query)
        assert refusal(reply) == (414, "invalidQuery", "INVALID_REQUEST", invalid)
        assert "8190 bytes" in reply.body["reason"]
        big = client.call("GET", f"{INV}/service/alpha-uni-1", headers={"X-Padding": "p" * 9000})
        assert refusal(big) == (431, "otherIssue", "INVALID_REQUEST", invalid)
        # Just within the limits the request is served as usual.
        fine = client.call("GET", f"{INV}/service/alpha-uni-1", headers={"X-Padding": "p" * 8000})
        assert fine.status == 200, fine.body
        # Past what aiohttp's parser reads (64 KiB), the server's connection handler answers.
        assert refusal(client.get(f"{INV}/service?description={'q' * 70_000}"))[:3] == (
            414,
            "invalidQuery",
            "INVALID_REQUEST",
        )
        huge = client.call("GET", f"{INV}/service/alpha-uni-1", headers={"X-Padding": "p" * 70_000})
        assert refusal(huge)[:3] == (431, "otherIssue", "INVALID_REQUEST")


def test_a_request_that_is_not_http_gets_a_mef_error_body(gateway: RestClient, server: ServerProcess) -> None:
    for base in (server.rest_url, gateway.base_url):
        host, port = base.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"GAR\x01BAGE / HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.0 400"), head
        assert b"X-Interlude-Reason: INVALID_BODY" in head
        document = json.loads(body)
        assert document["code"] == "invalidBody"
        assert document["reason"].startswith("the request is not valid HTTP")
        assert document["message"].startswith("the request is not valid HTTP")
    assert "Traceback" not in server.logs()


def test_the_gateway_carries_the_callers_trace_to_the_upstream(
    gateway: RestClient, server: ServerProcess
) -> None:
    trace_id, caller_span = "5c1f0a7d2e9b4c3a8d6e7f1029384756", "a1b2c3d4e5f60718"
    headers = {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Request-Id": "through-gateway"}
    assert gateway.call("GET", f"{INV}/service/alpha-uni-1", headers=headers).status == 200
    finished = [
        json.loads(line)
        for line in server.logs().splitlines()
        if line.startswith("{") and '"rpc.finished"' in line and trace_id in line
    ]
    # The upstream's call is a child of the gateway's span: same trace, neither caller's span.
    assert [entry["method"] for entry in finished] == [
        "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
    ]
    assert finished[0]["span_id"] != caller_span
