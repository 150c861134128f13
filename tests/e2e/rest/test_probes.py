"""`/healthz` and `/readyz` on the REST port, against real server processes.

Both answer without credentials (a server in `--auth token` mode over HTTPS), with a small
JSON body, and are never shed. `/readyz` turns 503 from the first moment of shutdown: the
test holds one gRPC call in flight (the database's write lock held from the test, so the call
waits as under load; `--max-inflight-rpcs 1` tells when it is admitted: REST is then shed),
sends SIGTERM, and sees the REST port still answering while the call drains: `/readyz` 503,
`/healthz` 200, a MEF request 503 SHUTTING_DOWN. The starting phase (REST is up a moment
before `server.started`) is too short to observe without a hook, so it is not tested.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2_grpc
from tests.support.crash import connectivity_request
from tests.support.helpers import ALPHA
from tests.support.overload import wait_until, write_locked
from tests.support.rest import INV, RestClient
from tests.support.security import Kit
from tests.support.server_process import ServerProcess, launch, serve_demo

READY = {"status": "ready", "phase": "serving", "store": "open"}


def _probe(base_url: str, path: str, context: Any = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """GET a probe with no credentials at all: status, body, headers."""
    try:
        with urllib.request.urlopen(base_url + path, timeout=10, context=context) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(tmp_path_factory.mktemp("probes-pki"))


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    args = ("--rest-listen", "127.0.0.1:0", "--auth", "token", *kit.tls_args(), *kit.token_args())
    yield from serve_demo(tmp_path_factory.mktemp("probes-token"), *args, credentials=kit.credentials())


def test_the_probes_answer_without_credentials_where_mef_routes_need_them(
    token_server: ServerProcess, kit: Kit
) -> None:
    base = f"https://{token_server.rest}"
    context = kit.ssl_context()
    assert _probe(base, "/healthz", context)[:2] == (200, {"status": "ok"})
    status, body, headers = _probe(base, "/readyz", context)
    assert (status, body) == (200, READY)
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    # The same request to a MEF route is refused: the probes are outside every API's scopes.
    refused = RestClient(base, None, tls=context).get(f"{INV}/service")
    assert (refused.status, refused.body["code"]) == (401, "missingCredentials")


def test_readyz_turns_503_at_shutdown_while_calls_in_flight_drain(tmp_path: Any) -> None:
    server = launch(
        tmp_path,
        *("--seed", "demo", "--rest-listen", "127.0.0.1:0"),
        *("--max-inflight-rpcs", "1", "--shutdown-grace", "30"),
    )
    rest = RestClient(server.rest_url)
    try:
        assert _probe(server.rest_url, "/readyz")[:2] == (200, READY)
        with grpc.insecure_channel(server.target) as channel:
            with write_locked(tmp_path / "interlude.db"):
                stub = ordering_pb2_grpc.ServiceOrderingServiceStub(channel)
                call = stub.CreateConnectivity.future(
                    connectivity_request(0, "probe-drain"), metadata=ALPHA, timeout=60
                )
                # The call holds the one place: REST is shed (and the probes are not).
                wait_until(
                    lambda: rest.get(f"{INV}/service/alpha-uni-1").status == 429, "the call to be admitted"
                )
                assert _probe(server.rest_url, "/readyz")[:2] == (200, READY)
                server.proc.send_signal(signal.SIGTERM)
                wait_until(lambda: _probe(server.rest_url, "/readyz")[0] == 503, "/readyz to say not ready")
                status, body, _ = _probe(server.rest_url, "/readyz")
                assert (status, body) == (
                    503,
                    {"status": "notReady", "phase": "shuttingDown", "store": "open"},
                )
                assert _probe(server.rest_url, "/healthz")[:2] == (200, {"status": "ok"})  # still alive
                refused = rest.get(f"{INV}/service/alpha-uni-1")
                assert refused.status == 503, refused.body
                assert refused.headers["X-Interlude-Reason"] == "SHUTTING_DOWN"
                assert refused.headers["Retry-After"] == "1"
                assert refused.body["code"] == "internalError"
                assert "shutting down" in refused.body["message"]
                assert not call.done()  # the drain waits for it
            assert call.result(timeout=30).service_order.id  # released: it completes during the drain
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()
