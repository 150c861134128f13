"""The migrations are one numbered list, append-only: step N is version N, and a released
step's statements never change (a database already at that version would never run them
again, so an edit would make fresh and upgraded databases differ)."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing

from interlude_server.store.sql.migrations import MIGRATIONS, SCHEMA_VERSION, STEPS
from interlude_server.store.sql.schema import migrate, schema_version

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
}


def test_steps_are_numbered_one_to_n_without_gaps_and_n_is_the_schema_version() -> None:
    numbers = [number for number, _ in STEPS]
    assert numbers == list(range(1, len(STEPS) + 1))
    assert SCHEMA_VERSION == numbers[-1] == len(MIGRATIONS)
    assert list(MIGRATIONS) == [statements for _, statements in STEPS]


def test_released_steps_are_unchanged() -> None:
    steps = dict(STEPS)
    for number, digest in RELEASED.items():
        statements = steps[number]
        assert hashlib.sha256("\0".join(statements).encode()).hexdigest() == digest, f"step {number}"


def test_each_step_brings_a_database_from_the_previous_version_to_its_own() -> None:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        for number, _ in STEPS:
            assert migrate(conn, MIGRATIONS[:number]) == number
            assert schema_version(conn) == number
