"""A store the server cannot open stops it at start with the documented one-line error: a
single `store.unavailable` log line naming the cause, exit code 1, and no traceback.

Each case is a real `interlude-server` process on a database it cannot use: a directory that
cannot be made (a regular file in the way, a path under /proc), a read-only directory for a
new file, a path that is a directory, a file that is not a database, a database written by a
newer server, a PostgreSQL URL that is not a URI (whose password must not be echoed) and one
whose server cannot be reached. Root ignores file modes, so the read-only directory case runs
the server without the capabilities that let it (as tests/e2e/reliability/test_read_only_db.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from interlude_server.store.sqlite.store import SqliteStore
from tests.e2e.reliability.test_read_only_db import _without_file_privileges
from tests.support.server_process import server_command


def _start(workdir: Path, db: str, preexec_fn: Callable[[], None] | None = None) -> tuple[int, list[str]]:
    """Start a server on `db`; its exit code and the non-empty lines it wrote (JSON log)."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(
        server_command(workdir, db=db),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )
    lines = [line for line in (started.stdout + started.stderr).splitlines() if line.strip()]
    return started.returncode, lines


def _assert_one_line_refusal(code: int, lines: list[str], *said: str) -> str:
    """Exit 1 and exactly one line, `store.unavailable` at level error, naming each of `said`."""
    said_at_start = "\n".join(lines)
    assert code == 1, said_at_start
    assert "Traceback" not in said_at_start
    assert len(lines) == 1, said_at_start
    entry = json.loads(lines[0])
    assert entry["event"] == "store.unavailable"
    assert entry["level"] == "error"
    error = str(entry["error"])
    for text in said:
        assert text in error, error
    return error


def _not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a SQLite database, but it is long enough to look like one" * 20)
    return str(path)


def _a_directory(tmp_path: Path) -> str:
    path = tmp_path / "a-directory.db"
    path.mkdir()
    return f"sqlite:///{path}"


def _parent_is_a_file(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("in the way\n")
    return f"sqlite:///{tmp_path / 'a-file' / 'interlude.db'}"


def _newer_schema(tmp_path: Path) -> str:
    path = tmp_path / "newer.db"
    store = SqliteStore(path)
    asyncio.run(store.open())
    asyncio.run(store.close())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = version + 1")
    return str(path)


@pytest.mark.parametrize(
    ("case", "make_db", "said"),
    [
        ("parent is a file", _parent_is_a_file, ("cannot be created", "a file is in the way")),
        ("a directory at the path", _a_directory, ("cannot be opened", "SQLITE_CANTOPEN")),
        ("not a database", _not_a_database, ("not a SQLite database", "SQLITE_NOTADB")),
        ("newer schema", _newer_schema, ("newer than this server supports",)),
    ],
)
def test_a_sqlite_database_that_cannot_be_opened_stops_the_server_with_one_line(
    tmp_path: Path, case: str, make_db: Callable[[Path], str], said: tuple[str, ...]
) -> None:
    code, lines = _start(tmp_path / "server", make_db(tmp_path))
    _assert_one_line_refusal(code, lines, *said)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_database_under_proc_cannot_be_created_and_says_so_in_one_line(tmp_path: Path) -> None:
    code, lines = _start(tmp_path, "/proc/interlude-no-such-dir/interlude.sqlite")
    _assert_one_line_refusal(code, lines, "cannot be created", "/proc/interlude-no-such-dir")


def test_a_new_database_in_a_read_only_directory_stops_the_server_with_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, lines = _start(
            tmp_path / "server", f"sqlite:///{locked / 'interlude.db'}", _without_file_privileges
        )
    finally:
        locked.chmod(0o755)
    _assert_one_line_refusal(code, lines, "cannot be opened", "SQLITE_CANTOPEN")
    assert not (locked / "interlude.db").exists()


def test_a_postgresql_url_that_is_not_a_uri_stops_the_server_without_echoing_its_password(
    tmp_path: Path,
) -> None:
    code, lines = _start(tmp_path, "postgresql://interlude:s3cr%zzet@db.invalid/interlude")
    error = _assert_one_line_refusal(code, lines, "not a valid libpq connection URI")
    assert "s3cr" not in "\n".join(lines), error


def test_an_unreachable_postgresql_server_stops_the_server_with_one_line(tmp_path: Path) -> None:
    # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    code, lines = _start(tmp_path, "postgresql://interlude@127.0.0.1:1/interlude?connect_timeout=5")
    _assert_one_line_refusal(code, lines, "cannot reach the database")
