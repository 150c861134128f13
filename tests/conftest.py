"""Shared fixtures: the contract as the descriptors describe it, real server processes, and
the store they keep their data in.

Modules marked `pytest.mark.stores("sqlite", "postgresql")` run once per store: their
servers get their `--db` from `db_for` (a SQLite file in the server's directory, or a fresh
database of the session's PostgreSQL server). Unmarked modules run on SQLite only.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor

import interlude_grpc.mef.lso.interlude.v1 as v1pkg
from tests.support import server_process
from tests.support.pg_cluster import PgServer, PostgresUnavailable, provide
from tests.support.server_process import ServerProcess, launch

DbFor = Callable[[Path], "str | None"]
STORE_ENV = "INTERLUDE_TEST_STORE"


def _contract_services() -> list[ServiceDescriptor]:
    services = []
    for module_info in pkgutil.iter_modules(v1pkg.__path__):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"{v1pkg.__name__}.{module_info.name}")
            services.extend(module.DESCRIPTOR.services_by_name.values())
    return services


@pytest.fixture(scope="session")
def contract_services() -> list[ServiceDescriptor]:
    """Every service in the generated bindings of mef.lso.interlude.v1."""
    services = _contract_services()
    assert services, "the contract declares no service"
    return services


E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is `e2e`; the few tests elsewhere that start a server say
    so themselves (`pytestmark = pytest.mark.e2e`)."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("stores")
    if marker is not None and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", marker.args, indirect=True, scope="module")


@pytest.fixture(scope="module")
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store of this module's servers: sqlite, or each of the module's `stores` marker."""
    return str(getattr(request, "param", "sqlite"))


def _databases(pg: PgServer) -> Callable[[Path], str]:
    """A PostgreSQL database per server directory (the same one again on a restart)."""
    made: dict[Path, str] = {}

    def url(workdir: Path) -> str:
        if workdir not in made:
            made[workdir] = pg.create_database(workdir.name)
        return made[workdir]

    return url


@pytest.fixture(scope="module")
def db_for(store_kind: str, request: pytest.FixtureRequest) -> DbFor:
    """The `--db` of a server living in a directory: None (a SQLite file there, or whatever
    INTERLUDE_TEST_STORE chose) or a PostgreSQL database made for that directory."""
    if store_kind == "sqlite":
        return lambda workdir: None
    return _databases(request.getfixturevalue("pg_server"))


@pytest.fixture(scope="session", autouse=True)
def every_server_on_postgresql(request: pytest.FixtureRequest) -> Iterator[None]:
    """INTERLUDE_TEST_STORE=postgresql: every test server without an explicit `--db` runs on
    PostgreSQL (a whole-suite run on it; `make test` runs only the marked modules twice)."""
    choice = os.environ.get(STORE_ENV, "sqlite")
    if choice not in ("sqlite", "postgresql"):
        pytest.fail(f"{STORE_ENV} must be sqlite or postgresql, got {choice!r}", pytrace=False)
    if choice == "sqlite":
        yield
        return
    server_process.default_db = _databases(request.getfixturevalue("pg_server"))
    yield
    server_process.default_db = server_process.sqlite_in_workdir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the whole session (tests/support/pg_cluster.py); fails, never skips,
    when none can be provided."""
    try:
        running = provide()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server process shared by the tests of a module."""
    running = launch(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    """A client channel to the module's server."""
    with grpc.insecure_channel(server.target) as ch:
        yield ch


@pytest.fixture
def launch_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start dedicated server processes (extra flags as arguments); all stopped at teardown."""
    started: list[ServerProcess] = []

    def _launch(*extra_args: str) -> ServerProcess:
        running = launch(tmp_path / f"server{len(started)}", *extra_args)
        started.append(running)
        return running

    yield _launch
    for running in started:
        running.stop(timeout=5.0)
