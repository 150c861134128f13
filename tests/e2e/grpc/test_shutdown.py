"""Graceful shutdown of a real server process on SIGTERM.

Health flips to NOT_SERVING first (watchers hear it), in-flight RPCs get the
drain deadline (--shutdown-grace) to finish, and the process exits 0.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.server_process import ServerProcess

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_sigterm_tells_health_watchers_not_serving_then_exits_zero(
    launch_server: Callable[..., ServerProcess],
) -> None:
    grace = 5.0
    server = launch_server("--shutdown-grace", str(grace))
    with grpc.insecure_channel(server.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        assert next(watch).status == SERVING
        server.proc.send_signal(signal.SIGTERM)
        assert next(watch).status == NOT_SERVING
        watch.cancel()  # the last in-flight RPC is done: the drain can end early
    started = time.monotonic()
    assert server.proc.wait(timeout=grace + 2) == 0
    assert time.monotonic() - started < grace
    logs = server.logs()
    assert '"event": "server.stopping"' in logs
    assert '"event": "server.stopped"' in logs
    assert not (server.workdir / "ready").exists()


def test_rpc_still_open_at_the_drain_deadline_is_ended_and_exit_is_zero(
    launch_server: Callable[..., ServerProcess],
) -> None:
    grace = 1.0
    server = launch_server("--shutdown-grace", str(grace))
    with grpc.insecure_channel(server.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        assert next(watch).status == SERVING
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert next(watch).status == NOT_SERVING
        with pytest.raises(grpc.RpcError):  # the server ends the watch at the deadline
            next(watch)
        assert server.proc.wait(timeout=grace + 3) == 0
    assert time.monotonic() - started >= grace * 0.8  # it did wait for the in-flight RPC
    assert '"code": "CANCELLED"' in server.logs()
