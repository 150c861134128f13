"""The state-machine docs are generated from the enforced tables and must not go stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_state_docs.py"


def test_state_machine_docs_match_the_enforced_tables() -> None:
    spec = importlib.util.spec_from_file_location("gen_state_docs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text() == module.render(), "run `make docs` and commit docs/state-machines.md"
