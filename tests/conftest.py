"""Shared fixtures: the contract as the descriptors describe it, and real server processes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor

import interlude_grpc.mef.lso.interlude.v1 as v1pkg
from tests.server_process import ServerProcess, launch


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
