"""SQLite errors that mean "no writes now" name their cause; the read-only probe writes nothing.

The errors are SQLite's own: a connection opened read-only (`mode=ro`, which binds root too)
and a quota (`max_page_count`) refuse writes exactly as a read-only file and a full disk do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from interlude_server.store.sql.schema import is_read_only_error, refuses_writes
from interlude_server.store.sqlite.store import _storage_failure


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x BLOB)")
        conn.execute("PRAGMA user_version = 7")
    return path


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)


def _error(conn: sqlite3.Connection, sql: str, *params: object) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute(sql, params)
    return raised.value


def test_a_write_to_a_read_only_database_is_a_storage_failure_that_says_read_only(db_file: Path) -> None:
    error = _error(_read_only(db_file), "INSERT INTO t VALUES (1)")
    assert is_read_only_error(error)
    assert _storage_failure(error) == (
        "the database is read-only (SQLITE_READONLY: attempt to write a readonly database)"
    )
    lost = RuntimeError("the write group was rolled back")
    lost.__cause__ = error
    assert "read-only" in (_storage_failure(lost) or "")  # found through the cause too


def test_a_full_database_is_a_storage_failure_that_says_full(db_file: Path) -> None:
    conn = sqlite3.connect(db_file, isolation_level=None)
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    error = _error(conn, "INSERT INTO t VALUES (?)", b"x" * 100_000)
    assert not is_read_only_error(error)
    assert (_storage_failure(error) or "").startswith("the database or the disk is full (SQLITE_FULL")


def test_a_wrong_write_is_not_a_storage_failure(db_file: Path) -> None:
    conn = sqlite3.connect(db_file, isolation_level=None)
    assert _storage_failure(_error(conn, "INSERT INTO missing VALUES (1)")) is None


def test_the_read_only_probe_tells_the_two_apart_and_changes_nothing(db_file: Path) -> None:
    writable = sqlite3.connect(db_file, isolation_level=None)
    read_only = _read_only(db_file)
    assert not refuses_writes(writable)
    assert refuses_writes(read_only)
    for conn in (writable, read_only):
        assert not conn.in_transaction
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
