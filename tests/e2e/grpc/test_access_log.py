"""The access log keeps what the operator chose (`--access-log`): by default every change,
every error and every slow call, not the successful reads (metrics count those)."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, Stubs, wait_for_order
from tests.support.rest import INV, RestClient
from tests.support.server_process import ServerProcess

GET = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
LOCK = "/mef.lso.interlude.v1.ServiceOrderingService/SetAdministrativeState"


def _lines(server: ServerProcess, event: str) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in server.logs().splitlines()
        if line.startswith("{") and f'"event": "{event}"' in line
    ]


def _load(server: ServerProcess) -> None:
    """A successful read, a refused read, a change, and the same three over REST."""
    with grpc.insecure_channel(server.target) as channel:
        stubs = Stubs.on(channel)
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id="alpha-uni-1"), metadata=ALPHA)
        with pytest.raises(grpc.RpcError):
            stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id="nope"), metadata=ALPHA)
        lock = ordering_pb2.SetAdministrativeStateRequest(
            service_id="alpha-uni-2",
            administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED,
            request_id="access-log-1",
        )
        order = stubs.ordering.SetAdministrativeState(lock, metadata=ALPHA).service_order
        wait_for_order(stubs, order.id)
    rest = RestClient(server.rest_url)
    assert rest.get(f"{INV}/service/alpha-uni-1").status == 200
    assert rest.get(f"{INV}/service/nope").status == 404
    assert rest.post(f"{INV}/hub", {"callback": "http://127.0.0.1:9/x"}).status == 201


@pytest.mark.parametrize(
    ("flags", "grpc_kept", "rest_kept"),
    [
        # The default (changes): the change and the errors, not the successful reads. A slow
        # bar far above any call here keeps "slow" out of the picture on a busy machine.
        (
            ("--access-log-slow-ms", "60000"),
            {(GET, "NOT_FOUND"), (LOCK, "OK")},
            {("GET", 404), ("POST", 201)},
        ),
        (("--access-log", "errors", "--access-log-slow-ms", "60000"), {(GET, "NOT_FOUND")}, {("GET", 404)}),
        # Every call is "slow" past 0 ms: all kept, as with --access-log all.
        (
            ("--access-log", "errors", "--access-log-slow-ms", "0"),
            {(GET, "OK"), (GET, "NOT_FOUND"), (LOCK, "OK")},
            {("GET", 200), ("GET", 404), ("POST", 201)},
        ),
    ],
    ids=["default", "errors", "slow"],
)
def test_the_access_log_keeps_what_the_operator_chose(
    tmp_path: Path, flags: tuple[str, ...], grpc_kept: set[tuple[str, str]], rest_kept: set[tuple[str, int]]
) -> None:
    server = launch_demo(tmp_path, "--rest-listen", "127.0.0.1:0", *flags)
    try:
        _load(server)
    finally:
        assert server.stop() == 0
    contract = [e for e in _lines(server, "rpc.finished") if str(e["method"]).startswith("/mef.")]
    got = {(str(e["method"]), str(e["code"])) for e in contract if e["method"] in (GET, LOCK)}
    assert got == grpc_kept
    rest = {(str(e["method"]), int(str(e["status"]))) for e in _lines(server, "rest.finished")}
    assert rest == rest_kept
    # The server says what it keeps when it starts.
    (started,) = _lines(server, "server.started")
    assert started["access_log"] == (flags[1] if flags[0] == "--access-log" else "changes")
