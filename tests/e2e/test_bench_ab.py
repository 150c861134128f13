"""bench.ab, the side-by-side comparison bench/README.md's "What changed" figures come from:
it starts a server from each checkout, alternates the rounds and reports both sides. Run
here with this checkout as its own base, at tiny sizes: it checks the tool, never a speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ab import compare
from tests.support.paths import REPO


@pytest.mark.parametrize("workload", ["get-service", "ack", "lifecycle"])
def test_both_sides_are_loaded_in_alternating_rounds_and_compared(workload: str, tmp_path: Path) -> None:
    result = compare(REPO, workload, rounds=2, seconds=0.5, services=50, workdir=tmp_path)
    assert set(result["rounds"]) == {"base", "this"}
    for rows in result["rounds"].values():
        assert len(rows) == 2
        for row in rows:
            assert row["calls"] > 0
            assert row["errors"] == {}
    assert result["ratio_calls_per_s"] > 0
    assert result["ratio_cpu_us_per_call"] > 0
