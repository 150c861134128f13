"""Fixtures for the client tests: the in-process probe server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.probe import ProbeServer


@pytest.fixture(scope="module")
def probe() -> Iterator[ProbeServer]:
    server = ProbeServer()
    yield server
    server.stop()


# The e2e suite's demo server (demo seed, fast simulator, FAIL-* fault rule), shared here.
from tests.e2e.conftest import demo_server  # noqa: E402, F401
