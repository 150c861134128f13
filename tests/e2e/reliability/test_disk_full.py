"""A database that takes no more writes: UNAVAILABLE with STORAGE_UNAVAILABLE, reads keep working,
nothing is corrupted. The full disk is SQLite's own quota (--db-max-bytes sets max_page_count):
past it SQLite fails a write with SQLITE_FULL, the same error a full disk gives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from tests.support.crash import connectivity_request
from tests.support.helpers import ALPHA, Stubs, rich_error
from tests.support.server_process import launch


def _fill(stubs: Stubs, acked: list[str]) -> grpc.RpcError:
    """Create connectivity orders (each adds rows and events) until a write is refused."""
    for n in range(3000):
        try:
            order = stubs.ordering.CreateConnectivity(connectivity_request(n, f"full-{n}"), metadata=ALPHA)
        except grpc.RpcError as error:
            return error
        acked.append(order.service_order.id)
    raise AssertionError("the quota was never reached")


def test_a_full_database_refuses_writes_keeps_reads_and_stays_intact(tmp_path: Path) -> None:
    workdir = tmp_path / "full"
    on_sqlite = (
        f"sqlite:///{workdir / 'interlude.db'}"  # the quota is SQLite's, whatever INTERLUDE_TEST_STORE says
    )
    first = launch(workdir, "--seed", "demo", db=on_sqlite)
    assert first.stop() == 0
    size = (workdir / "interlude.db").stat().st_size
    server = launch(
        workdir,
        "--seed",
        "demo",
        "--sim-step-delay",
        "0.01",
        "--db-max-bytes",
        str(size + 65536),
        db=on_sqlite,
    )
    acked: list[str] = []
    try:
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs.on(channel)
            error = rich_error(_fill(stubs, acked))
            assert error.code == grpc.StatusCode.UNAVAILABLE, error
            assert error.reason == "STORAGE_UNAVAILABLE"
            assert "full" in error.message
            assert acked, "the quota left no room for a single order"
            service = stubs.inventory.GetService(
                inventory_pb2.GetServiceRequest(id="alpha-uni-1"), metadata=ALPHA
            )
            assert service.service.id == "alpha-uni-1"  # reads keep working
            order = stubs.ordering.GetServiceOrder(
                ordering_pb2.GetServiceOrderRequest(id=acked[-1]), metadata=ALPHA
            )
            assert order.service_order.id == acked[-1]
    finally:
        assert server.stop() == 0
    with sqlite3.connect(workdir / "interlude.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (workdir / "ready").unlink(missing_ok=True)
    roomy = launch(workdir, "--seed", "demo", "--sim-step-delay", "0.01", db=on_sqlite)
    try:
        with grpc.insecure_channel(roomy.target) as channel:
            stubs = Stubs.on(channel)
            for order_id in acked:  # every acknowledged order survived the full disk
                stubs.ordering.GetServiceOrder(
                    ordering_pb2.GetServiceOrderRequest(id=order_id), metadata=ALPHA
                )
            stubs.ordering.CreateConnectivity(
                connectivity_request(1, "after-full"), metadata=ALPHA
            )  # writes work again
    finally:
        assert roomy.stop() == 0
