"""Log lines: those logged on an event loop are written together once per turn of the loop, in
order with the lines of other threads, and none is lost at exit or when the loop is held."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from interlude_server.observability import lines
from interlude_server.observability.lines import LineHandler, LineWriter

ROOT = Path(__file__).resolve().parents[3]


class _CountingStream(io.StringIO):
    """A text stream that counts its writes (each a system call on a real stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_logged_in_one_turn_of_the_loop_are_written_together_after_it() -> None:
    stream = _CountingStream()
    writer = LineWriter(stream)

    async def turn() -> tuple[str, str]:
        for n in range(5):
            writer.line(f"line {n}")
        during = stream.getvalue()
        await asyncio.sleep(0)  # the loop's next turn runs the write
        await asyncio.sleep(0)
        return during, stream.getvalue()

    during, after = asyncio.run(turn())
    assert during == ""
    assert after == "".join(f"line {n}\n" for n in range(5))
    assert stream.writes == 1


def test_a_line_of_another_thread_is_written_at_once_after_the_kept_lines() -> None:
    stream = _CountingStream()
    writer = LineWriter(stream)

    async def mixed() -> str:
        writer.line("loop 1")
        other = threading.Thread(target=writer.line, args=("thread",))
        other.start()
        other.join()
        written = stream.getvalue()
        writer.line("loop 2")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return written

    assert asyncio.run(mixed()) == "loop 1\nthread\n"
    assert stream.getvalue() == "loop 1\nthread\nloop 2\n"


def test_a_line_outside_any_loop_is_written_at_once() -> None:
    stream = _CountingStream()
    LineWriter(stream).line("no loop")
    assert stream.getvalue() == "no loop\n"


def test_a_loop_held_longer_than_the_bound_still_writes_its_lines() -> None:
    stream = _CountingStream()
    writer = LineWriter(stream)

    async def held() -> str:
        writer.line("progress 1")
        time.sleep(lines.MAX_KEPT_SECONDS * 2)  # the loop is held: no turn ends
        writer.line("progress 2")
        return stream.getvalue()

    assert asyncio.run(held()) == "progress 1\nprogress 2\n"


def test_standard_library_records_go_through_the_same_writer_in_order() -> None:
    stream = _CountingStream()
    writer = LineWriter(stream)
    handler = LineHandler(writer)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("interlude.test.lines")
    logger.addHandler(handler)
    logger.propagate = False
    try:

        async def logged() -> None:
            writer.line("first")
            logger.warning("second")
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        asyncio.run(logged())
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "first\ninterlude.test.lines second\n"
    assert stream.writes == 1


@pytest.mark.parametrize("how", ["exit", "stopped-loop"])
def test_lines_kept_when_the_process_exits_are_written(how: str) -> None:
    """A loop that stops before its next turn, or a process that exits from inside the loop,
    still writes the lines it kept (configure_logging installs the writer, as the server does)."""
    body = {
        "exit": "async def main():\n    log.info('kept.then.exit')\n    sys.exit(3)\n",
        "stopped-loop": (
            "async def main():\n    log.info('kept.then.stop')\n    asyncio.get_running_loop().stop()\n"
        ),
    }[how]
    script = (
        "import asyncio, sys\n"
        "import structlog\n"
        "from interlude_server.observability.logging import configure_logging\n"
        "configure_logging('json', 'info')\n"
        "log = structlog.get_logger('t')\n"
        f"{body}"
        "loop = asyncio.new_event_loop()\n"
        "try:\n    loop.run_until_complete(main())\n"
        "except RuntimeError:\n    pass\n"  # stopped before the coroutine finished
    )
    env = {"PYTHONPATH": f"{ROOT / 'server'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert f"kept.then.{'exit' if how == 'exit' else 'stop'}" in done.stderr, done.stderr
