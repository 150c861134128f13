"""A read-only database: writes answer UNAVAILABLE STORAGE_UNAVAILABLE naming the cause, reads
keep working, the server stays up, and once the files are writable again writes work again
(without a restart), with nothing acknowledged lost and the file intact.

SQLite keeps writing through the descriptor it opened, so a file made read-only under a
running server changes nothing until a server opens it again: the test checks that too, then
restarts the server on the read-only file, the situation an operator meets (a file or a copy
made read-only, a restore with the wrong owner). Root ignores file modes, so as root the test
servers run without the capabilities that let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
CAP_FOWNER): a mode binds them as it binds any other user."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.store.sql.migrations import MIGRATIONS, Migration
from interlude_server.store.sqlite.store import SqliteStore
from tests.support.crash import connectivity_request
from tests.support.helpers import ALPHA, OVC_EP, Stubs, rich_error, wait_for_order
from tests.support.rest import ORD, RestClient
from tests.support.server_process import launch, server_command
from tests.support.streams import event_log

Ord = ordering_pb2
LOCKED, UNLOCKED = common_pb2.ADMINISTRATIVE_STATE_LOCKED, common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
CIR = "service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
_PR_CAPBSET_DROP = 24
_FILE_CAPABILITIES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _without_file_privileges() -> None:
    """In the server's child, before the exec: as root, drop from the bounding set the
    capabilities that ignore file modes (root's program gets no more than that set)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _FILE_CAPABILITIES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"cannot drop capability {capability}")


def _set_admin(stubs: Stubs, service_id: str, state: common_pb2.AdministrativeState.ValueType) -> str:
    request = Ord.SetAdministrativeStateRequest(service_id=service_id, administrative_state=state)
    order_id: str = stubs.ordering.SetAdministrativeState(request, metadata=ALPHA).service_order.id
    assert wait_for_order(stubs, order_id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    return order_id


def _cir(service_id: str, amount: int) -> inventory_pb2.Service:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}})
    return inventory_pb2.Service(
        id=service_id, service_configuration=common_pb2.ExtensionPayload(type=OVC_EP, attributes=config)
    )


def _writes(stubs: Stubs) -> dict[str, Callable[[], Any]]:
    """One call of each kind of write, to try while the database is read-only."""
    current = _service(stubs, "alpha-ovc-1-ep-1")  # a modify order states the whole configuration
    config = json_format.MessageToDict(current.service_configuration.attributes)
    config["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"] = 60
    desired = inventory_pb2.Service(id=current.id, state=current.state)
    desired.service_configuration.type = current.service_configuration.type
    desired.service_configuration.attributes.update(config)
    order = Ord.ServiceOrder(
        service_order_item=[Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=desired)]
    )
    update = Ord.UpdateServiceRequest(
        service=_cir("alpha-ovc-1-ep-2", 70), update_mask=field_mask_pb2.FieldMask(paths=[CIR])
    )
    admin = Ord.SetAdministrativeStateRequest(service_id="alpha-uni-1", administrative_state=UNLOCKED)
    return {
        "CreateServiceOrder": lambda: stubs.ordering.CreateServiceOrder(
            Ord.CreateServiceOrderRequest(service_order=order), metadata=ALPHA
        ),
        "UpdateService": lambda: stubs.ordering.UpdateService(update, metadata=ALPHA),
        "SetAdministrativeState": lambda: stubs.ordering.SetAdministrativeState(admin, metadata=ALPHA),
        "CreateConnectivity": lambda: stubs.ordering.CreateConnectivity(
            connectivity_request(0, "read-only-0"), metadata=ALPHA
        ),
    }


def _service(stubs: Stubs, service_id: str) -> inventory_pb2.Service:
    request = inventory_pb2.GetServiceRequest(id=service_id)
    return stubs.inventory.GetService(request, metadata=ALPHA).service


def test_a_read_only_database_refuses_writes_serves_reads_and_recovers(tmp_path: Path) -> None:
    workdir = tmp_path / "ro"
    db_file = workdir / "interlude.db"
    on_sqlite = f"sqlite:///{db_file}"  # the file mode is SQLite's, whatever INTERLUDE_TEST_STORE says
    args = ("--seed", "demo", "--sim-step-delay", "0.01", "--rest-listen", "127.0.0.1:0")
    first = launch(workdir, *args, db=on_sqlite, preexec_fn=_without_file_privileges)
    try:
        with grpc.insecure_channel(first.target) as channel:
            stubs = Stubs.on(channel)
            acked = [_set_admin(stubs, "alpha-uni-1", LOCKED)]
            db_file.chmod(0o444)
            # Under the running server: SQLite writes through the descriptor it opened.
            acked.append(_set_admin(stubs, "alpha-uni-2", LOCKED))
            before = event_log(first.target)
            total = stubs.inventory.ListServices(
                inventory_pb2.ListServicesRequest(), metadata=ALPHA
            ).total_size
    finally:
        assert first.stop() == 0
    server = launch(workdir, *args, db=on_sqlite, preexec_fn=_without_file_privileges)
    try:
        logs = server.logs()
        assert '"store.read_only"' in logs, logs  # said at start, with what to do
        assert '"seed.not_loaded"' in logs, logs  # the seed cannot be written: served as stored
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs.on(channel)
            for name, write in _writes(stubs).items():
                with pytest.raises(grpc.RpcError) as refused:
                    write()
                error = rich_error(refused.value)
                assert error.code == grpc.StatusCode.UNAVAILABLE, (name, error)
                assert error.reason == "STORAGE_UNAVAILABLE", (name, error)
                assert "read-only" in error.message, (name, error)
            reply = RestClient(server.rest_url).post(
                f"{ORD}/hub", {"callback": "http://127.0.0.1:9/listener"}
            )
            assert reply.status == 503, reply
            assert reply.headers["Retry-After"] == "5"
            assert reply.body["referenceError"].endswith(":STORAGE_UNAVAILABLE")
            assert "read-only" in reply.body["reason"]
            # Reads keep working: every acknowledged write is there, the event log replays.
            assert _service(stubs, "alpha-uni-1").administrative_state == LOCKED
            assert _service(stubs, "alpha-uni-2").administrative_state == LOCKED
            listed = stubs.inventory.ListServices(inventory_pb2.ListServicesRequest(), metadata=ALPHA)
            assert listed.total_size == total
            for order_id in acked:
                stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order_id), metadata=ALPHA)
            assert [e.event_id for e in event_log(server.target)] == [e.event_id for e in before]
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # reads are served
            # The operator gives the write permission back (the -wal and -shm files the
            # read-only server created copied the file's mode): writes work, no restart.
            for path in workdir.glob("interlude.db*"):
                path.chmod(0o644)
            acked.append(_set_admin(stubs, "alpha-uni-1", UNLOCKED))
            assert _service(stubs, "alpha-uni-1").administrative_state == UNLOCKED
            after = event_log(server.target)
            assert [e.event_id for e in after[: len(before)]] == [e.event_id for e in before]
            assert len(after) > len(before)
        assert '"store.writable"' in server.logs()
    finally:
        assert server.stop() == 0
    with sqlite3.connect(db_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orders = {row[0] for row in db.execute("SELECT id FROM orders")}
    assert set(acked) <= orders  # every acknowledged order is in the file


@pytest.mark.parametrize(
    ("case", "migrations", "said"),
    [
        ("schema behind", MIGRATIONS[:-1], "must be migrated"),  # an upgrade needs writes
        ("read-only directory", MIGRATIONS, "SQLITE_READONLY_DIRECTORY"),  # WAL needs its -shm file
    ],
)
def test_a_read_only_database_the_server_cannot_serve_stops_it_at_start_saying_why(
    tmp_path: Path, case: str, migrations: tuple[Migration, ...], said: str
) -> None:
    db_file = tmp_path / "interlude.db"
    store = SqliteStore(db_file, migrations=migrations)
    asyncio.run(store.open())
    asyncio.run(store.close())
    db_file.chmod(0o444)
    if case == "read-only directory":
        tmp_path.chmod(0o555)
    try:
        started = subprocess.run(
            server_command(tmp_path, db=f"sqlite:///{db_file}"),
            capture_output=True,
            text=True,
            timeout=30,
            preexec_fn=_without_file_privileges,
        )
    finally:
        tmp_path.chmod(0o755)
    said_at_start = started.stdout + started.stderr  # the log, JSON lines
    assert started.returncode == 1, said_at_start
    assert '"store.unavailable"' in said_at_start
    assert "read-only" in said_at_start
    assert said in said_at_start
    assert "Traceback" not in said_at_start
    db_file.chmod(0o644)
    with sqlite3.connect(db_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(migrations)
