"""1,000 idle streams + one slow consumer + write load (F10 part 3), against a real server.

The scenario lives in bench/idle_streams.py (which also reports writes/s with vs without
the idle streams as a ratio); here only functional facts are asserted, never a timing.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.idle_streams import run, server_args
from tests.support.server_process import launch

# `make soak` raises these (INTERLUDE_IDLE_STREAMS, INTERLUDE_IDLE_SECONDS per phase).
IDLE = int(os.environ.get("INTERLUDE_IDLE_STREAMS", "1000"))
SECONDS = float(os.environ.get("INTERLUDE_IDLE_SECONDS", "3"))
RSS_BOUND_MIB = 500


def _received_exactly_the_log(seen: list[int], start: int, log: list[int]) -> bool:
    """`seen` holds each event of the log after `start` once, in log order (the simulator may
    have committed more after the log was read: those come after it, in order too)."""
    assert seen == sorted(set(seen)), "an event was received twice or out of order"
    return [s for s in seen if s <= log[-1]] == [s for s in log if s > start]


def test_idle_streams_and_a_slow_consumer_do_not_stop_writers_or_fast_readers(tmp_path: Path) -> None:
    server = launch(tmp_path, *server_args())
    try:
        report = run(server, idle=IDLE, writers=8, seconds=SECONDS)
    finally:
        assert server.stop() == 0
    # Writers keep completing: every write of both phases was acknowledged.
    assert report.write_errors == []
    assert report.without.acks > 0
    assert report.with_idle.acks > 0
    # Every idle stream stayed open (and, being another buyer's, received nothing).
    assert report.idle_synced == IDLE
    assert report.idle_ended == 0
    assert report.idle_events == 0
    # The fast reader received every event of the log, once, in order.
    assert report.log, "the writes made events"
    assert _received_exactly_the_log(report.fast, report.fast_start, report.log)
    # The slow consumer was cut for falling behind, resumed from its token, and lost nothing.
    assert "SLOW_CONSUMER" in report.slow_cuts
    assert set(report.slow_cuts) == {"SLOW_CONSUMER"}
    assert _received_exactly_the_log(report.slow, report.slow_start, report.log)
    # Memory stays bounded with every stream open.
    assert 0 < report.rss_mib < RSS_BOUND_MIB
