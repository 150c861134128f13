"""The migrations are one numbered list, append-only: step N is version N, and a released
step's statements never change (a database already at that version would never run them
again, so an edit would make fresh and upgraded databases differ)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.schema import migrate as pg_migrate
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.migrations import MIGRATIONS, SCHEMA_VERSION, STEPS, Migration
from interlude_server.store.sql.schema import migrate, schema_version
from tests.store.builders import BUYER, service
from tests.support.pg_cluster import PgServer

# sha256 of each released step's statements joined by NUL. Append the digest of a new step
# when it is released; never edit one.
RELEASED = {
    1: "7bc863758c0b971984da318ed3879d1aa45f341e22fe9d14d0600a92de5eb557",
    2: "eb2ebe3a77bab665db15c538e09fc4715e3e73ceefa51c1dbb765c34c5efe351",
    3: "40c55b76657ac4094805e69d376298ad3987bbbbd3b715bb86406cfdd62783fa",
    4: "13302c519e4cc8716479d61d042eb645200add86d1f7d04bee68c336c4095a25",
    5: "8d4ca6410b73f04b285278cc8a5f67f41a450513fa6d2e3863c1adae57cfdf1c",
    6: "bd3c86dac5195fa6c7ae2309caf58d8cbc138e1b442e27f6c6f9107e9af832d5",
    7: "17c8927988bf8b131d8d21b18b01c8d35a451561534baf7811616528ee50c59e",
    9: "2163e7e8cfa6dd6eec0854296dabc2d281e532afb02fc2e06ad0ee4643fd6635",
    10: "28b87da353eb097ff1b79bb11dcb100563acba2a12a15ab6d69be4b7033778a4",
}


def test_steps_are_numbered_one_to_n_without_gaps_and_n_is_the_schema_version() -> None:
    numbers = [number for number, _ in STEPS]
    assert numbers == list(range(1, len(STEPS) + 1))
    assert SCHEMA_VERSION == numbers[-1] == len(MIGRATIONS)
    assert list(MIGRATIONS) == [statements for _, statements in STEPS]


def test_released_steps_are_unchanged() -> None:
    steps = dict(STEPS)
    for number, digest in RELEASED.items():
        # A backfill counts by its name (its code is pinned by the backfill tests below).
        texts = [s if isinstance(s, str) else f"backfill {s.__qualname__}" for s in steps[number]]
        assert hashlib.sha256("\0".join(texts).encode()).hexdigest() == digest, f"step {number}"


def test_each_step_brings_a_database_from_the_previous_version_to_its_own() -> None:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        for number, _ in STEPS:
            assert migrate(conn, MIGRATIONS[:number]) == number
            assert schema_version(conn) == number


def _upgrade_with_a_stored_service(
    conn: Conn, migrate_to: Callable[[Conn, Sequence[Migration]], int]
) -> None:
    """A database at step 6 holding a service with places and a start mode, migrated to the newest."""
    assert migrate_to(conn, MIGRATIONS[:6]) == 6
    s = service("s1", start_mode=inventory_pb2.START_MODE_MANUALLY_BY_CUSTOMER)
    s.place.add(role="INSTALL_LOCATION", type="GeographicSiteRef", id="site-1")
    s.place.add(role="INSTALL_LOCATION", type="GeographicAddressRef", id="addr-1")
    s.place.add(role="INSTALL_LOCATION", type="FieldedAddress")  # a value: no id to filter on
    plain = service("s2")
    for row in (s, plain):
        conn.execute(
            "INSERT INTO services (buyer_id, id, state, config_type, service_type, external_id, "
            "admin_state, oper_state, service_date, start_date, end_date, update_time, body) "
            "VALUES (?, ?, 1, ?, '', '', 0, 0, '', '', '', '', ?)",
            (BUYER, row.id, row.service_configuration.type, row.SerializeToString()),
        )
    assert migrate_to(conn, MIGRATIONS) == SCHEMA_VERSION
    modes = conn.execute("SELECT id, start_mode FROM services ORDER BY id").fetchall()
    assert [tuple(r) for r in modes] == [
        ("s1", int(inventory_pb2.START_MODE_MANUALLY_BY_CUSTOMER)),
        ("s2", 0),
    ]
    places = conn.execute(
        "SELECT buyer_id, place_type, place_id, service_id FROM service_places ORDER BY place_type"
    ).fetchall()
    assert [tuple(r) for r in places] == [
        (BUYER, "GeographicAddressRef", "addr-1", "s1"),
        (BUYER, "GeographicSiteRef", "site-1", "s1"),
    ]


def test_step_7_backfills_start_mode_and_places_of_stored_services_on_sqlite() -> None:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        _upgrade_with_a_stored_service(conn, migrate)


def test_step_7_backfills_start_mode_and_places_of_stored_services_on_postgresql(pg_server: PgServer) -> None:
    conn = PgConn.connect(pg_server.create_database("backfill"), "tests")
    try:
        _upgrade_with_a_stored_service(conn, pg_migrate)
    finally:
        conn.close()
