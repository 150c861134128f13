"""`make bench-smoke`: the benchmark suite runs end to end at tiny sizes and writes its results.

It checks that the harness works (every workload ran, the JSON and the table were
written with the fields the README reads), never how fast anything was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.load import h2load_seconds
from tests.support.paths import REPO

ROOT = REPO
WORKLOADS = (
    "get_service",
    "modify_orders",
    "peak_rss",
    "list_services_paging",
    "stream_events_fanout",
    "rest_vs_grpc",
    "workers",
    "access_log",
    "read_cache",
    "sqlite_mmap",
)


def test_the_suite_runs_end_to_end_and_writes_json_and_table(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.suite", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest["mode"] == "smoke"
    for workload in WORKLOADS:
        assert workload in latest, workload
    for unary in ("get_service", "modify_orders"):
        for side in ("ours", "echo"):
            figures = latest[unary]["median"][side]
            assert set(figures) == {"calls_per_s", "p50_ms", "p99_ms", "cpu_us_per_call"}
            assert figures["calls_per_s"] > 0
        assert latest[unary]["generator"] in {"h2load", "python"}
        assert len(latest[unary]["rounds"]["ours"]) == 1
    durability = latest["modify_orders"]["durability"]
    assert durability["acked"] > 0
    assert durability["found_after_restart"] == durability["acked"], durability["missing"]
    life = latest["modify_orders"]["lifecycle"]  # a round whose every order was awaited to completion
    assert life["orders"] > 0
    assert life["completed_per_s"] > 0
    assert life["cpu_us_per_order"] > 0
    assert "whole lifecycle" in (tmp_path / "latest.md").read_text()
    assert latest["peak_rss"]["peak_mib"] > 0
    assert latest["peak_rss"]["idle_streams"] == 20
    table = (tmp_path / "latest.md").read_text()
    assert table.startswith("| workload | ours | baseline | ratio | goal |")
    assert "GetService" in table
    assert "peak RSS" in table
    # the reused benchmarks wrote their own files to the same place, not to bench/results
    assert latest["workers"]["median"]["2 workers"]["calls_per_s"] > 0
    for choice in ("all", "changes"):  # --access-log: both choices measured in the same run
        assert latest["access_log"]["median"][choice]["calls_per_s"] > 0
    assert "--access-log changes" in table
    for choice in ("on", "off"):  # --read-cache: the default and 0 in the same run
        assert latest["read_cache"]["median"][choice]["calls_per_s"] > 0
    assert "--read-cache 16384 (default) vs 0" in table
    for choice in ("mapped", "unmapped"):  # --sqlite-mmap-mb: the default and 0 in the same run
        assert latest["sqlite_mmap"]["median"][choice]["calls_per_s"] > 0
    assert "--sqlite-mmap-mb 1024 (default) vs 0" in table
    replay = latest["stream_events_fanout"]["replay"]
    for phase in ("recent_position", "after_restart", "from_database"):  # the last two after restarts
        assert replay[phase]["ours_median"] > 0, phase
        assert replay[phase]["raw_median"] > 0, phase
    assert min(latest["rest_vs_grpc"]["median_calls_per_s"].values()) > 0
    for name in (
        "store_paging.json",
        "events_fanout.json",
        "rest_vs_grpc.json",
        "workers.json",
        "access_log.json",
        "read_cache.json",
        "sqlite_mmap.json",
    ):
        assert (tmp_path / name).exists(), name


def test_h2load_run_length_is_read_in_seconds_and_in_milliseconds() -> None:
    # -D 5000ms prints seconds, -D 200ms (the smoke run's rounds) milliseconds
    assert h2load_seconds("\nfinished in 5.00s, 2225.00 req/s, 2.30MB/s\n") == 5.0
    assert h2load_seconds("\nfinished in 208.48ms, 2045.00 req/s, 2.30MB/s\n") == 0.20848
    assert h2load_seconds("no summary line") is None
