"""Docs generated from the enforced tables (state machines, test capabilities) must not go stale."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.support.paths import REPO

SCRIPTS = REPO / "scripts"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_state_machine_docs_match_the_enforced_tables() -> None:
    module = _script("gen_state_docs")
    assert module.TARGET.read_text() == module.render(), "run `make docs` and commit docs/state-machines.md"


def test_testing_docs_match_the_advertised_capabilities() -> None:
    module = _script("gen_test_docs")
    assert module.TARGET.read_text() == module.render(), "run `make docs` and commit docs/testing.md"
