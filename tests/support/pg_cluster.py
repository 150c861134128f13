"""A real PostgreSQL server for tests, and a fresh database per test or server.

The server is the one named by INTERLUDE_TEST_PG_DSN (its role needs CREATEDB),
or else a private throwaway cluster: `initdb` into a temporary directory and
`pg_ctl start` on a free port of 127.0.0.1, stopped at the end of the session.
The binaries come from PATH or Debian's /usr/lib/postgresql/<version>/bin
(`.ci/run` installs the `postgresql` package when they are missing).
PostgreSQL refuses to run as root, so as root the cluster runs as `nobody`. A
watchdog process stops the cluster if the test run dies before its teardown.
When neither is possible the tests fail with a message saying what to do:
PostgreSQL tests never skip.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.schema import migrate

DSN_ENV = "INTERLUDE_TEST_PG_DSN"
_RUN_AS = "nobody"
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "shared_buffers": "64MB",
}
# A throwaway test cluster has nothing to keep across a crash of the machine (benchmarks keep fsync).
_NOT_DURABLE = {"fsync": "off", "full_page_writes": "off"}
_names = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """Neither INTERLUDE_TEST_PG_DSN nor a local PostgreSQL installation can be used."""


def find_bindir() -> Path | None:
    """The directory of initdb/pg_ctl: PATH first, then the newest Debian version."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A reachable PostgreSQL server; `create_database` gives a DSN of a new, empty database."""

    dsn: str  # a postgresql:// URL of the maintenance database
    datadir: Path | None = None  # a private cluster's, None for INTERLUDE_TEST_PG_DSN
    bindir: Path | None = None
    watchdog: subprocess.Popen[bytes] | None = None
    created: list[str] = field(default_factory=list)

    template: str = ""  # a database with the current schema, made on first use

    def create_database(self, hint: str = "t", *, migrated: bool = False) -> str:
        """A new database; `migrated`: a copy of one the store already migrated (opening it
        then costs no migration: for the many store unit tests; servers migrate their own)."""
        label = "".join(c for c in hint.lower() if c.isalnum())[:20]
        name = f"interlude_{os.getpid()}_{next(_names)}_{label}"
        template = "template0"
        if migrated:
            if not self.template:
                dsn = self.create_database("template")
                migrating = PgConn.connect(dsn, "tests")
                try:
                    migrate(migrating)
                finally:
                    migrating.close()
                self.template = self.created[-1]
            template = self.template
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            # FILE_COPY (PostgreSQL 15+) copies a small template faster than WAL-logging it.
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        self.created.append(name)
        return urlunsplit(urlsplit(self.dsn)._replace(path=f"/{name}"))

    def stop(self) -> None:
        if self.datadir is None:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                for name in self.created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        assert self.bindir is not None
        _as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.datadir.parent, ignore_errors=True)
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()


def _as_owner(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the cluster's owner (`nobody` when we are root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", _RUN_AS, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)


def start_private_cluster(*, durable: bool = False) -> PgServer:
    """initdb + pg_ctl start in a new temporary directory; raises PostgresUnavailable.
    `durable`: fsync on, as in production (benchmarks); tests run without it."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL tests need a server: set INTERLUDE_TEST_PG_DSN=postgresql://USER@HOST/DB "
            "(a role with CREATEDB), or install the PostgreSQL server binaries "
            "(Debian: apt-get install postgresql; `.ci/run` does this) so the tests can start their own"
        )
    base = Path(tempfile.mkdtemp(prefix="interlude-pg-"))
    datadir, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, _RUN_AS)
        shutil.chown(sockets, _RUN_AS)
    initdb = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    init = _as_owner([*initdb, "--no-sync"])
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    port = _free_port()
    settings = {**_SETTINGS, **({} if durable else _NOT_DURABLE), "port": str(port)}
    options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    start = _as_owner(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(base / "server.log"),
            "-o",
            f"{options} -k {sockets}",
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    if start.returncode != 0:
        log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"pg_ctl start failed ({start.returncode}):\n{start.stderr}\n{log}")
    # Over the Unix socket: faster than TCP for the many small statements of a test.
    dsn = f"postgresql://postgres@/postgres?host={quote(str(sockets), safe='')}&port={port}"
    return PgServer(dsn=dsn, datadir=datadir, bindir=bindir, watchdog=_watchdog(bindir, datadir))


def _watchdog(bindir: Path, datadir: Path) -> subprocess.Popen[bytes]:
    """A process that stops the cluster and removes its directory once this one is gone,
    so a test run killed before its teardown leaves no PostgreSQL running."""
    stop = [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", _RUN_AS, "--", *stop]
    script = (
        f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
        f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(datadir.parent))}"
    )
    return subprocess.Popen(
        ["sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def provide(*, durable: bool = False) -> PgServer:
    """The server of INTERLUDE_TEST_PG_DSN if set, else a private cluster (see start_private_cluster)."""
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        if not dsn.startswith(("postgresql://", "postgres://")):
            raise PostgresUnavailable(f"{DSN_ENV} must be a postgresql:// URL, got {dsn!r}")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"{DSN_ENV}={dsn!r} cannot be used: {exc}") from exc
        return PgServer(dsn=dsn)
    return start_private_cluster(durable=durable)
